"""A big store is linked in parts by birth month, then across the parts; the cases are
those of one link of the whole store."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from conftest import Recon

from recon.link import partition
from recon.link.partition import plan

GOLDEN = Path(__file__).parents[1] / "data" / "golden"
AS_OF = date(2024, 12, 31)


def test_months_are_grouped_into_parts_of_at_most_the_limit() -> None:
    months = [(202311, 400), (202312, 500), (202401, 300), (202402, 900), (202403, 1200), (None, 7)]
    assert plan(months, 1000) == [
        (202311, 202312), (202401, 202401), (202402, 202402), (202403, 202403)
    ]  # fmt: skip
    assert plan(months, 10_000) == [(202311, 202403)]
    assert plan([(None, 5)], 1000) == []


def test_a_night_linked_in_parts_gives_the_recorded_worklist(tmp_path: Path) -> None:
    work = tmp_path / "work"
    recon, config, result = _night_in_parts(tmp_path, work)
    assert result.exit_code == 0, result.output
    assert list(work.iterdir()) == []  # the parts' records kept for reconcile are gone
    assert "分 3 段链接" in result.output  # months of at most 3,000 records
    parts = recon.query("SELECT DISTINCT part FROM link_births ORDER BY part")
    assert parts == [(0,), (1,), (2,), (3,)]  # three parts and the pass across them
    assert _worklist(recon) == _worklist(None)

    # Each stage alone on the store linked in parts gives the same tables again: reconcile
    # alone reads the records from the store, the night read those link kept for it.
    tables = _tables(recon)
    for stage in ("link", "reconcile"):
        again = _alone(recon, stage, config)
        assert again.exit_code == 0, again.output
    assert _tables(recon) == tables


def test_reconcile_reads_the_records_link_kept_and_finds_what_the_store_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The night's reconcile takes each part's records from the link stage's Parquet (one
    read instead of five scans of `link_records`), and its tables are those reconcile
    alone, reading the store, makes; a store linked in one piece reads the store."""
    read_kept: list[int] = []
    original = partition.KeptRecords.scan

    def scan(self: partition.KeptRecords, part: int) -> pl.LazyFrame | None:
        found = original(self, part)
        if found is not None:
            read_kept.append(part)
        return found

    monkeypatch.setattr(partition.KeptRecords, "scan", scan)
    inbox = tmp_path / "inbox"
    shutil.copytree(GOLDEN / "inbox", inbox)
    for births, parts in ((1_500_000, []), (1000, [0, 1, 2, 3])):
        root = tmp_path / str(births)
        root.mkdir()
        config = root / "recon.toml"
        config.write_text(f"[reconcile]\npartition_births = {births}\n", encoding="utf-8")
        recon = Recon(root)
        read_kept.clear()
        assert recon.run(inbox, "--config", str(config), as_of=AS_OF).exit_code == 0
        assert read_kept == parts
        night = _tables(recon)
        alone = _alone(recon, "reconcile", config)
        assert alone.exit_code == 0, alone.output
        assert _tables(recon) == night
        assert len(night["findings"]) > 100


def test_links_an_older_version_wrote_without_their_part_reconcile_to_the_same_findings(
    tmp_path: Path,
) -> None:
    recon, config, result = _night_in_parts(tmp_path, tmp_path / "work")
    assert result.exit_code == 0, result.output
    night = _tables(recon)
    assert recon.query("SELECT count(*) FROM links WHERE part IS NULL") == [(0,)]
    con = duckdb.connect(str(recon.db))
    con.execute("UPDATE links SET part = NULL")  # as links were before they carried one
    con.close()
    alone = _alone(recon, "reconcile", config)
    assert alone.exit_code == 0, alone.output
    assert _tables(recon)["findings"] == night["findings"]
    assert len(night["findings"]) > 100


def test_a_work_folder_that_cannot_be_written_costs_time_not_the_night(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder", encoding="utf-8")
    recon, _config, result = _night_in_parts(tmp_path, blocked)
    assert result.exit_code == 0, result.output
    assert "could not be kept" in result.output and "work_dir" in result.output
    assert _worklist(recon) == _worklist(None)


RECONCILED = ("link_births", "links", "link_duplicates", "births", "findings")


def _night_in_parts(root: Path, work_dir: Path) -> tuple[Recon, Path, Any]:
    """The recorded night linked in parts of 1,000 births, the engine's work in `work_dir`."""
    inbox = root / "inbox"
    shutil.copytree(GOLDEN / "inbox", inbox)
    config = root / "recon.toml"
    config.write_text(
        f"[reconcile]\npartition_births = 1000\n[engine]\nwork_dir = '{work_dir}'\n",
        encoding="utf-8",
    )
    recon = Recon(root)
    return recon, config, recon.run(inbox, "--config", str(config), as_of=AS_OF)


def _worklist(recon: Recon | None) -> str:
    """The night's worklist; the recorded one for None."""
    path = GOLDEN / "expected" / "worklist.csv" if recon is None else recon.out / "worklist.csv"
    return path.read_text(encoding="utf-8-sig")


def _tables(recon: Recon) -> dict[str, list[tuple[Any, ...]]]:
    return {t: sorted(recon.query(f"SELECT * FROM {t}"), key=repr) for t in RECONCILED}


def _alone(recon: Recon, stage: str, config: Path) -> Any:
    return recon("stage", stage, "--db", str(recon.db), "--config", str(config),
                 "--as-of", AS_OF.isoformat())  # fmt: skip
