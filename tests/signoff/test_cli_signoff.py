"""The sign-off and audit commands as an officer runs them."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import duckdb
import openpyxl
from conftest import (
    Recon,
    hosp_row,
    police_row,
    pop_row,
    sign_workbook,
    write_csv,
    write_divisions,
)

AS_OF = date(2024, 12, 31)
ROLES = ["计生专干", "村组干部", "包保国家干部", "统计员", "分管领导", "单位一把手"]


def night(root: Path) -> Path:
    root.mkdir()
    write_csv(root / "pop_births.csv", [pop_row(性别="女")])  # a sex to correct
    write_csv(root / "hosp_deliveries.csv", [hosp_row()])
    write_csv(root / "police_births.csv", [police_row()])
    write_divisions(root)
    return root


def test_from_a_nights_run_to_an_applied_correction(recon: Recon, tmp_path: Path) -> None:
    assert recon.run(night(tmp_path / "in"), as_of=AS_OF).exit_code == 0
    book = tmp_path / "张湾街道.xlsx"
    result = recon(
        "worklist", "export", "--db", str(recon.db), "--division", "420607101", "--out", str(book)
    )
    assert result.exit_code == 0, result.output

    workbook = openpyxl.load_workbook(book)
    sheet = workbook["工作清单"]  # the machine sheet; the first one is the printed form
    header = [c.value for c in sheet[1]]
    for n, role in enumerate(ROLES, start=1):
        sheet.cell(2, header.index(f"签字人{n}姓名") + 1, f"签字人{n}")
        sheet.cell(2, header.index(f"签字人{n}日期") + 1, date(2025, 1, n))
        sheet.cell(2, header.index(f"签字人{n}意见") + 1, "同意")
        assert sheet.cell(2, header.index(f"签字人{n}角色") + 1).value == role
    workbook.save(book)

    result = recon("worklist", "import", str(book), "--db", str(recon.db))
    assert result.exit_code == 0, result.output
    result = recon("apply", "--db", str(recon.db), "--out", str(recon.out))
    assert result.exit_code == 0, result.output
    with (recon.out / "corrected_pop.csv").open(encoding="utf-8-sig") as handle:
        register = list(csv.DictReader(handle))
    assert [(r["record_id"], r["sex"]) for r in register] == [("P0001", "M")]

    assert recon("audit", "verify", "--db", str(recon.db)).exit_code == 0
    actions = [a for (a,) in recon.query("SELECT action FROM audit_log ORDER BY seq")]
    assert actions[:4] == ["run", "ingest", "ingest", "ingest"]
    assert {"case_opened", "export", "signature", "import", "case_status", "apply"} <= set(actions)


def test_audit_verify_catches_an_edited_row(recon: Recon, tmp_path: Path) -> None:
    assert recon.run(night(tmp_path / "in"), as_of=AS_OF).exit_code == 0
    assert recon("audit", "verify", "--db", str(recon.db)).exit_code == 0
    con = duckdb.connect(str(recon.db))
    con.execute(
        "UPDATE audit_log SET details = ? WHERE action = 'case_opened'", ['{"category":"missing"}']
    )
    con.close()
    result = recon("audit", "verify", "--db", str(recon.db))
    assert result.exit_code == 1
    assert "第" in result.output and "entry" in result.output


def test_a_workbook_not_exported_by_recon_is_refused(recon: Recon, tmp_path: Path) -> None:
    assert recon.run(night(tmp_path / "in"), as_of=AS_OF).exit_code == 0
    forged = tmp_path / "forged.csv"
    forged.write_text("case_id,category\nC1,missing\n", encoding="utf-8")
    result = recon("worklist", "import", str(forged), "--db", str(recon.db))
    assert result.exit_code == 3
    assert "forged.csv" in result.output


def test_signatures_survive_later_nights(recon: Recon, tmp_path: Path) -> None:
    assert recon.run(night(tmp_path / "in"), as_of=AS_OF).exit_code == 0
    book = tmp_path / "wl.xlsx"
    assert recon("worklist", "export", "--db", str(recon.db), "--out", str(book)).exit_code == 0
    sign_workbook(book, 1, "王专干", date(2025, 1, 2), "同意")
    assert recon("worklist", "import", str(book), "--db", str(recon.db)).exit_code == 0

    later = tmp_path / "in2"
    later.mkdir()
    write_csv(later / "police_births_2.csv", [police_row(登记日期="2024-05-02")])  # a new version
    for inbox in (later, tmp_path / "in"):
        assert recon.run(inbox, as_of=AS_OF).exit_code == 0
        with (recon.out / "worklist.csv").open(encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
        assert [
            (r["status"], r["sig1_name"], r["sig1_decision"], r["sig2_name"]) for r in rows
        ] == [("signing", "王专干", "同意", "")]


def test_audit_verify_catches_entries_cut_from_the_end(recon: Recon, tmp_path: Path) -> None:
    assert recon.run(night(tmp_path / "in"), as_of=AS_OF).exit_code == 0
    con = duckdb.connect(str(recon.db))
    con.execute("DELETE FROM audit_log WHERE seq > (SELECT max(seq) - 2 FROM audit_log)")
    con.close()
    result = recon("audit", "verify", "--db", str(recon.db))
    assert result.exit_code == 1
    assert "截断" in result.output  # the head kept in audit-heads beside the store
    (recon.db.parent / "audit-heads").unlink()  # without it, the head in run.json still shows
    result = recon("audit", "verify", "--db", str(recon.db))
    assert result.exit_code == 1
    assert "deleted" in result.output
