"""A big store is linked in parts by birth month, then across the parts; the cases are
those of one link of the whole store."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

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
    inbox = tmp_path / "inbox"
    shutil.copytree(GOLDEN / "inbox", inbox)
    config = tmp_path / "recon.toml"
    work = tmp_path / "work"
    config.write_text(
        f"[reconcile]\npartition_births = 1000\n[engine]\nwork_dir = '{work}'\n",
        encoding="utf-8",
    )
    recon = Recon(tmp_path)
    result = recon.run(inbox, "--config", str(config), as_of=AS_OF)
    assert result.exit_code == 0, result.output
    assert list(work.iterdir()) == []  # the parts' records kept for reconcile are gone
    assert "分 3 段链接" in result.output  # months of at most 3,000 records
    parts = recon.query("SELECT DISTINCT part FROM link_births ORDER BY part")
    assert parts == [(0,), (1,), (2,), (3,)]  # three parts and the pass across them
    got = (recon.out / "worklist.csv").read_text(encoding="utf-8-sig")
    assert got == (GOLDEN / "expected" / "worklist.csv").read_text(encoding="utf-8-sig")

    # Each stage alone on the store linked in parts gives the same tables again: reconcile
    # alone reads the records from the store, the night read those link kept for it.
    tables = {t: sorted(recon.query(f"SELECT * FROM {t}"), key=repr) for t in RECONCILED}
    for stage in ("link", "reconcile"):
        again = recon("stage", stage, "--db", str(recon.db), "--config", str(config),
                      "--as-of", AS_OF.isoformat())  # fmt: skip
        assert again.exit_code == 0, again.output
    assert {t: sorted(recon.query(f"SELECT * FROM {t}"), key=repr) for t in RECONCILED} == tables


RECONCILED = ("link_births", "links", "link_duplicates", "births", "findings")


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
        night = {t: sorted(recon.query(f"SELECT * FROM {t}"), key=repr) for t in RECONCILED}
        alone = recon("stage", "reconcile", "--db", str(recon.db), "--config", str(config),
                      "--as-of", AS_OF.isoformat())  # fmt: skip
        assert alone.exit_code == 0, alone.output
        assert {t: sorted(recon.query(f"SELECT * FROM {t}"), key=repr) for t in RECONCILED} == night
        assert len(night["findings"]) > 100


def test_a_work_folder_that_cannot_be_written_costs_time_not_the_night(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    shutil.copytree(GOLDEN / "inbox", inbox)
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder", encoding="utf-8")
    config = tmp_path / "recon.toml"
    config.write_text(
        f"[reconcile]\npartition_births = 1000\n[engine]\nwork_dir = '{blocked}'\n",
        encoding="utf-8",
    )
    recon = Recon(tmp_path)
    result = recon.run(inbox, "--config", str(config), as_of=AS_OF)
    assert result.exit_code == 0, result.output
    assert "could not be kept" in result.output and "work_dir" in result.output
    got = (recon.out / "worklist.csv").read_text(encoding="utf-8-sig")
    assert got == (GOLDEN / "expected" / "worklist.csv").read_text(encoding="utf-8-sig")
