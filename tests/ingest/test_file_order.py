"""A file's expectations run beside the next file's reading and storing; what they judge
and what the store says of each file stays as if the files were taken one by one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import Recon, hosp_row, police_row, pop_row, write_csv, write_divisions

from recon.validate import expectations


def pop_rows(count: int, prefix: str) -> list[dict[str, Any]]:
    return [pop_row(记录编号=f"{prefix}{n:04d}", 姓名=f"张{n}") for n in range(count)]


def two_pop_files(folder: Path, first: int, second: int) -> Path:
    folder.mkdir()
    write_csv(folder / "pop_births_1.csv", pop_rows(first, "A"))
    write_csv(folder / "pop_births_2.csv", pop_rows(second, "B"))
    write_csv(folder / "hosp_deliveries.csv", [hosp_row()])
    write_csv(folder / "police_births.csv", [police_row()])
    write_divisions(folder)
    return folder


def collapsed(recon: Recon) -> list[tuple[Any, ...]]:
    return recon.query(
        "SELECT f.file_name, e.success, e.observed_value FROM expectation_results e "
        "JOIN files f USING (file_id) WHERE e.expectation = 'row_count_not_collapsed' "
        "ORDER BY f.file_id"
    )


def test_a_second_file_of_a_feed_is_judged_against_the_first_of_the_same_night(
    recon: Recon, tmp_path: Path
) -> None:
    # The first file's row in `files` is written only once its expectations are done,
    # after the second file is read: the second must still be compared with the first.
    result = recon.run(two_pop_files(tmp_path / "inbox", 40, 10))
    assert result.exit_code == 0, result.output
    assert collapsed(recon) == [("pop_births_2.csv", False, "10.0")]
    files = recon.query("SELECT file_name, rows_read, file_id FROM files ORDER BY file_id")
    assert [(name, rows) for name, rows, _ in files] == [
        ("pop_births_1.csv", 40), ("pop_births_2.csv", 10),
        ("hosp_deliveries.csv", 1), ("police_births.csv", 1),
    ]  # fmt: skip
    entries = recon.query(
        "SELECT subject FROM audit_log WHERE action = 'ingest' ORDER BY seq"
    )  # in the files' order
    assert [s for (s,) in entries] == [f"file:{file_id}" for _, _, file_id in files]


def test_a_file_repeating_the_bytes_of_the_one_before_is_not_stored_twice(
    recon: Recon, tmp_path: Path
) -> None:
    folder = two_pop_files(tmp_path / "inbox", 5, 5)
    shutil.copy(folder / "pop_births_1.csv", folder / "pop_births_2.csv")
    result = recon.run(folder)
    assert result.exit_code == 0, result.output
    run = json.loads((recon.out / "run.json").read_text(encoding="utf-8"))
    pop = [f for f in run["files"] if f["feed"] == "pop"]
    assert [(f.get("skipped", False), f["rows_new"]) for f in pop] == [(False, 5), (True, 0)]
    assert recon.query("SELECT count(*) FROM files WHERE feed = 'pop'") == [(1,)]


def test_expectations_that_break_stop_the_night_and_leave_the_store_as_it_was(
    recon: Recon, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = two_pop_files(tmp_path / "inbox", 5, 5)
    assert recon.run(folder).exit_code == 0
    before = recon.dump()
    (folder / "pop_births_1.csv").unlink()
    write_csv(folder / "pop_births_3.csv", pop_rows(7, "C"))

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("great expectations broke")

    monkeypatch.setattr(expectations, "check_feed", broken)
    with pytest.raises(RuntimeError, match="great expectations broke"):
        recon.run(folder)  # in the night's own thread, as if run one file at a time
    assert recon.dump() == before  # (opening the store read-only: no thread holds it)


def test_files_already_stored_keep_their_place_among_the_new(recon: Recon, tmp_path: Path) -> None:
    folder = two_pop_files(tmp_path / "inbox", 5, 5)
    (folder / "pop_births_2.csv").unlink()
    assert recon.run(folder).exit_code == 0
    write_csv(folder / "pop_births_2.csv", pop_rows(6, "B"))  # new; the feeds after it not
    assert recon.run(folder).exit_code == 0
    run = json.loads((recon.out / "run.json").read_text(encoding="utf-8"))
    assert [(f["file"], f.get("skipped", False)) for f in run["files"]] == [
        ("pop_births_1.csv", True), ("pop_births_2.csv", False),
        ("hosp_deliveries.csv", True), ("police_births.csv", True),
    ]  # fmt: skip
