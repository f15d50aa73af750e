"""A file longer than `[ingest] chunk_rows` is validated and stored a chunk at a time,
with the same outcome as in one piece: a key repeated far apart is still caught, and
the counts, quarantine and expectations are the whole file's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import Recon, hosp_row, police_row, pop_row, write_csv, write_divisions

from recon.ingest import stage


def inbox_with_a_repeat(folder: Path) -> Path:
    folder.mkdir()
    pop = [pop_row(记录编号=f"P{n:05d}", 姓名=f"张{n}") for n in range(2500)]
    pop.append(pop_row(记录编号="P00007", 姓名="李四"))  # line 2502 repeats line 9's key
    pop.append(pop_row(记录编号="", 姓名="王五"))  # no key: quarantined
    write_csv(folder / "pop_births.csv", pop)
    write_csv(folder / "hosp_deliveries.csv", [hosp_row()])
    write_csv(folder / "police_births.csv", [police_row()])
    write_divisions(folder)
    return folder


def night(root: Path, chunk_rows: int) -> tuple[Recon, dict[str, Any]]:
    root.mkdir()
    recon = Recon(root)
    config = root / "recon.toml"
    config.write_text(f"[ingest]\nchunk_rows = {chunk_rows}\n", encoding="utf-8")
    result = recon.run(inbox_with_a_repeat(root / "inbox"), "--config", str(config))
    assert result.exit_code == 0, result.output
    return recon, json.loads((recon.out / "run.json").read_text(encoding="utf-8"))


def test_a_file_in_chunks_is_stored_as_in_one_piece(tmp_path: Path) -> None:
    whole, whole_run = night(tmp_path / "whole", 1_000_000)
    chunked, chunked_run = night(tmp_path / "chunked", 1000)
    pop = chunked_run["files"][0]
    assert pop["rows_read"] == 2502 == pop["rows_accepted"] + pop["rows_quarantined"]
    assert pop["rows_quarantined"] == 2
    assert chunked_run["files"] == whole_run["files"]
    assert chunked_run["validation"] == whole_run["validation"]
    quarantined = chunked.query("SELECT line, reasons FROM quarantine ORDER BY line")
    assert [line for line, _ in quarantined] == [2502, 2503]
    assert "重复" in quarantined[0][1]
    for table in ("quarantine", "warnings", "rule_results"):
        assert sorted(chunked.query(f"SELECT * EXCLUDE (file_id) FROM {table}")) == sorted(
            whole.query(f"SELECT * EXCLUDE (file_id) FROM {table}")
        ), table
    same = "SELECT feed, expectation, success, observed_value, unexpected_count FROM "
    assert chunked.query(same + "expectation_results ORDER BY ALL") == whole.query(
        same + "expectation_results ORDER BY ALL"
    )
    names = "SELECT record_id, name FROM pop ORDER BY record_id"
    assert chunked.query(names) == whole.query(names)


def test_a_chunk_that_fails_after_others_were_stored_stops_the_night_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two chunks are stored when the third breaks: the night stops with none of its rows.
    recon, _ = night(tmp_path / "store", 1_000_000)
    before = recon.dump()
    checked = stage.check_chunk
    calls: list[int] = []

    def third_breaks(tables: Any, **kwargs: Any) -> Any:
        calls.append(tables["rows"].height)
        if len(calls) == 3:
            raise RuntimeError("chunk three broke")
        return checked(tables, **kwargs)

    monkeypatch.setattr(stage, "check_chunk", third_breaks)
    folder = tmp_path / "store" / "inbox"
    write_csv(folder / "pop_births.csv", [pop_row(记录编号=f"Q{n:05d}") for n in range(2500)])
    config = tmp_path / "store" / "recon.toml"
    config.write_text("[ingest]\nchunk_rows = 1000\n", encoding="utf-8")
    with pytest.raises(RuntimeError, match="chunk three broke"):
        recon.run(folder, "--config", str(config))
    assert len(calls) == 3
    assert recon.dump() == before


def test_the_next_nights_file_in_chunks_versions_only_the_rows_that_changed(
    tmp_path: Path,
) -> None:
    # Each chunk looks for its keys' current versions in the files stored before it (not
    # in its own file's other chunks, which hold none of its keys): a changed row is a
    # second version, an unchanged one adds nothing, whichever chunk it falls in.
    recon, _ = night(tmp_path / "store", 1000)
    folder = tmp_path / "store" / "inbox"
    changed = {7, 1234, 2499}
    pop = [
        pop_row(记录编号=f"P{n:05d}", 姓名=f"赵{n}" if n in changed else f"张{n}")
        for n in range(2500)
    ]
    write_csv(folder / "pop_births.csv", pop)
    config = tmp_path / "store" / "recon.toml"
    result = recon.run(folder, "--config", str(config))
    assert result.exit_code == 0, result.output
    second = json.loads((recon.out / "run.json").read_text(encoding="utf-8"))["files"]
    assert [(f["rows_new"], f["rows_unchanged"]) for f in second if f["feed"] == "pop"] == [
        (3, 2497)
    ]
    versions = recon.query(
        "SELECT record_id, name FROM pop_records WHERE version = 2 ORDER BY record_id"
    )
    assert versions == [(f"P{n:05d}", f"赵{n}") for n in sorted(changed)]
    assert recon.query("SELECT count(*) FROM pop") == [(2500,)]
