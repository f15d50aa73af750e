"""`recon run` end to end: counts add up, re-runs change nothing, new extracts make versions."""

from __future__ import annotations

import csv
import fcntl
import json
from pathlib import Path

import pytest
from conftest import Recon, pop_row, write_csv


def run_json(recon: Recon) -> dict:  # type: ignore[type-arg]
    return json.loads((recon.out / "run.json").read_text(encoding="utf-8"))


def test_run_reports_every_file_and_the_counts_add_up(recon: Recon, inbox: Path) -> None:
    write_csv(
        inbox / "pop_births.csv",
        [pop_row(), pop_row(记录编号="P2", 出生日期="2024-02-30"), pop_row(记录编号="")],
    )
    result = recon.run(inbox)
    assert result.exit_code == 0, result.output
    summary = run_json(recon)
    files = {f["file"]: f for f in summary["files"]}
    assert set(files) == {"pop_births.csv", "hosp_deliveries.csv", "police_births.csv"}
    for f in files.values():
        assert f["rows_read"] == f["rows_accepted"] + f["rows_quarantined"]
    assert files["pop_births.csv"]["rows_quarantined"] == 2
    with (recon.out / "quarantine.csv").open(encoding="utf-8-sig") as handle:
        quarantine = list(csv.DictReader(handle))
    assert [(q["feed"], q["file"], q["line"]) for q in quarantine] == [
        ("pop", "pop_births.csv", "3"),
        ("pop", "pop_births.csv", "4"),
    ]
    assert "2024-02-30" in quarantine[0]["reasons"]
    assert set(summary) >= {"files", "findings", "cases", "timings_s"}
    assert "全员人口" in result.output  # the summary table


def test_second_run_on_the_same_inbox_changes_nothing(recon: Recon, inbox: Path) -> None:
    assert recon.run(inbox).exit_code == 0
    first = recon.dump()
    quarantine = (recon.out / "quarantine.csv").read_bytes()
    assert recon.run(inbox).exit_code == 0
    second = recon.dump()
    for table in first:
        if table not in ("runs", "audit_log", "run_metrics"):  # records of the run itself
            assert second[table] == first[table], table
    assert len(second["runs"]) == 2
    # No new audit entries except the run (contract.md).
    new = [row for row in second["audit_log"] if row not in first["audit_log"]]
    assert [row[3] for row in new] == ["run"]
    summary = run_json(recon)
    assert all(f["skipped"] for f in summary["files"])
    assert (recon.out / "quarantine.csv").read_bytes() == quarantine


def test_a_later_extract_versions_changed_records(recon: Recon, inbox: Path) -> None:
    assert recon.run(inbox).exit_code == 0
    night2 = inbox.parent / "night2"
    night2.mkdir()
    write_csv(night2 / "pop_births_2.csv", [pop_row(姓名="张玮"), pop_row(记录编号="P0002")])
    assert recon.run(night2).exit_code == 0
    versions = recon.query(
        "SELECT record_id, version, name FROM pop_records ORDER BY record_id, version"
    )
    assert versions == [("P0001", 1, "张伟"), ("P0001", 2, "张玮"), ("P0002", 1, "张伟")]
    assert recon.query("SELECT record_id, name FROM pop ORDER BY record_id") == [
        ("P0001", "张玮"),
        ("P0002", "张伟"),
    ]
    night3 = inbox.parent / "night3"
    night3.mkdir()
    write_csv(night3 / "pop_births_3.csv", [pop_row(姓名="张玮"), pop_row(记录编号="P0003")])
    assert recon.run(night3).exit_code == 0
    summary = run_json(recon)
    assert summary["files"][0]["rows_unchanged"] == 1  # P0001 as in version 2
    assert recon.query("SELECT count(*) FROM pop_records WHERE record_id = 'P0001'") == [(2,)]


def test_a_second_run_while_one_holds_the_store_is_refused(recon: Recon, inbox: Path) -> None:
    assert recon.run(inbox).exit_code == 0
    before = recon.dump()
    lock = recon.db.with_name(recon.db.name + ".lock")
    with lock.open("a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = recon.run(inbox)
    assert result.exit_code == 4
    assert "in use" in result.output
    assert recon.dump() == before


def test_unknown_files_are_listed_not_read(recon: Recon, inbox: Path) -> None:
    (inbox / "readme.txt").write_text("hello", encoding="utf-8")
    assert recon.run(inbox).exit_code == 0
    assert run_json(recon)["ignored_files"] == ["readme.txt"]


def test_bad_config_is_a_usage_error(recon: Recon, inbox: Path, tmp_path: Path) -> None:
    config = tmp_path / "recon.toml"
    config.write_text("[deadlines]\npop_dayz = 120\n", encoding="utf-8")
    result = recon.run(inbox, "--config", str(config))
    assert result.exit_code == 2
    assert "pop_dayz" in result.output
    assert not recon.db.exists()


def test_formula_text_is_neutralised_in_quarantine_csv(recon: Recon, inbox: Path) -> None:
    write_csv(inbox / "pop_births.csv", [pop_row(记录编号="=1+2", 出生日期="bad")])
    assert recon.run(inbox).exit_code == 0
    with (recon.out / "quarantine.csv").open(encoding="utf-8-sig") as handle:
        row = next(csv.DictReader(handle))
    assert row["raw"].startswith("'=")


def test_a_store_out_of_its_memory_cap_is_a_setting_not_a_crash(
    recon: Recon, inbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import duckdb

    from recon import run as night

    def out_of_memory(night: object) -> dict[str, int]:
        raise duckdb.OutOfMemoryException(
            "Out of Memory Error: failed to pin block (4.6 GiB/4.6 GiB used)"
        )

    stages = [
        night.Stage(s.name, out_of_memory if s.name == "metrics" else s.run) for s in night.STAGES
    ]
    monkeypatch.setattr(night, "STAGES", tuple(stages))
    result = recon.run(inbox)
    assert result.exit_code == 2
    assert "memory_limit" in result.output and "Traceback" not in result.output
    assert not recon.db.exists()  # a first night that fails leaves no store
