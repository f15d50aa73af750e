"""`recon apply` through the CLI: every category and target reaches the right file, exactly.

One night with a case of each kind: births missing from the register and from the
police, a fictitious and a duplicate register record, and a misreported sex in each of
the register, the police and the hospital. Six 同意 each (except where a test says).
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from conftest import (
    Recon,
    hosp_row,
    id_with_check,
    police_row,
    pop_row,
    write_csv,
    write_divisions,
)

AS_OF = date(2024, 12, 31)
NAMES = ("王计生", "李村干", "张包保", "赵统计", "钱分管", "孙书记")


def mother(n: int) -> str:
    return id_with_check(f"42062119900101{n:02d}2")


def child(n: int, day: str = "20240305") -> str:
    return id_with_check(f"420607{day}{n:02d}1")


def night(root: Path) -> Path:
    """Births A..G, one finding each (see the module docstring)."""
    root.mkdir()
    pop, hosp, police = [], [], []
    # A: hospital and police, not in the register -> missing / pop.
    hosp.append(
        hosp_row(
            登记编号="H-A",
            产妇姓名="陈红",
            产妇公民身份号码=mother(1),
            出生医学证明编号="Q420000001",
        )
    )
    police.append(
        police_row(
            公民身份号码=child(1),
            姓名="陈一",
            母亲姓名="陈红",
            母亲公民身份号码=mother(1),
            出生医学证明编号="Q420000001",
        )
    )
    # B: hospital and register, not with the police -> missing / police.
    hosp.append(
        hosp_row(
            登记编号="H-B",
            产妇姓名="刘梅",
            产妇公民身份号码=mother(2),
            出生医学证明编号="Q420000002",
            新生儿性别="女",
        )
    )
    pop.append(
        pop_row(
            记录编号="P-B",
            姓名="刘二",
            性别="女",
            公民身份号码=child(2),
            母亲姓名="刘梅",
            母亲公民身份号码=mother(2),
        )
    )
    # C: the register alone -> fictitious / pop.
    pop.append(
        pop_row(
            记录编号="P-C",
            姓名="周三",
            公民身份号码=child(3, "20240601"),
            出生日期="2024-06-01",
            上报日期="2024-07-01",
            母亲姓名="周兰",
            母亲公民身份号码=mother(3),
        )
    )
    # D: in every feed, and the register twice -> duplicate / pop (the later report).
    hosp.append(
        hosp_row(
            登记编号="H-D", 产妇姓名="吴霞", 产妇公民身份号码=mother(4),
            出生医学证明编号="Q420000004",
        )
    )  # fmt: skip
    police.append(
        police_row(
            公民身份号码=child(4), 姓名="吴四", 母亲姓名="吴霞", 母亲公民身份号码=mother(4),
            出生医学证明编号="Q420000004",
        )
    )  # fmt: skip
    first = pop_row(
        记录编号="P-D1", 姓名="吴四", 公民身份号码=child(4), 母亲姓名="吴霞",
        母亲公民身份号码=mother(4),
    )  # fmt: skip
    pop += [first, {**first, "记录编号": "P-D2", "上报日期": "2024-06-01"}]
    # E, F, G: one feed's sex against the two others -> misreported pop, police, hosp.
    for n, wrong in ((5, "pop"), (6, "police"), (7, "hosp")):
        sex = {f: ("女" if f == wrong else "男") for f in ("pop", "police", "hosp")}
        hosp.append(
            hosp_row(
                登记编号=f"H-{n}",
                产妇姓名=f"母{n}",
                产妇公民身份号码=mother(n),
                出生医学证明编号=f"Q42000000{n}",
                新生儿性别=sex["hosp"],
            )
        )
        police.append(
            police_row(
                公民身份号码=child(n),
                姓名=f"子{n}",
                性别=sex["police"],
                母亲姓名=f"母{n}",
                母亲公民身份号码=mother(n),
                出生医学证明编号=f"Q42000000{n}",
            )
        )
        pop.append(
            pop_row(
                记录编号=f"P-{n}",
                姓名=f"子{n}",
                性别=sex["pop"],
                公民身份号码=child(n),
                母亲姓名=f"母{n}",
                母亲公民身份号码=mother(n),
            )
        )
    write_csv(root / "pop_births.csv", pop)
    write_csv(root / "hosp_deliveries.csv", hosp)
    write_csv(root / "police_births.csv", police)
    write_divisions(root)
    return root


def sign(book: Path, decisions: dict[str, list[str]] | None = None) -> None:
    """Six signatures on every row of an exported workbook, 同意 unless `decisions` (by
    case id: the decisions of the first positions; fewer than six leaves the rest blank)."""
    workbook = openpyxl.load_workbook(book)
    sheet = workbook["工作清单"]
    header = [c.value for c in sheet[1]]
    for row in range(2, sheet.max_row + 1):
        case_id = sheet.cell(row, header.index("案件编号") + 1).value
        given = (decisions or {}).get(case_id, ["同意"] * 6)
        for n, decision in enumerate(given, start=1):
            sheet.cell(row, header.index(f"签字人{n}姓名") + 1, NAMES[n - 1])
            sheet.cell(row, header.index(f"签字人{n}日期") + 1, date(2025, 1, n))
            sheet.cell(row, header.index(f"签字人{n}意见") + 1, decision)
            if decision == "不同意":
                sheet.cell(row, header.index(f"签字人{n}理由") + 1, "入户核实：情况属实无误")
    workbook.save(book)


def rows_of(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def case_ids(recon: Recon) -> dict[tuple[str, str], str]:
    return {
        (category, target): case_id
        for case_id, category, target in recon.query(
            "SELECT case_id, category, target_system FROM cases"
        )
    }


@pytest.fixture
def signed(recon: Recon, tmp_path: Path) -> Recon:
    assert recon.run(night(tmp_path / "in"), as_of=AS_OF).exit_code == 0
    book = tmp_path / "worklist.xlsx"
    assert recon("worklist", "export", "--db", str(recon.db), "--out", str(book)).exit_code == 0
    sign(book)
    result = recon("worklist", "import", str(book), "--db", str(recon.db))
    assert result.exit_code == 0, result.output
    return recon


def test_every_category_and_target_is_applied_exactly(signed: Recon) -> None:
    recon = signed
    ids = case_ids(recon)
    assert len(ids) == 7
    result = recon("apply", "--db", str(recon.db), "--out", str(recon.out))
    assert result.exit_code == 0, result.output
    assert "已应用 7 个案件" in result.output

    register = {r["record_id"]: r for r in rows_of(recon.out / "corrected_pop.csv")}
    added = ids[("missing", "pop")]
    # Fictitious P-C and the later duplicate P-D2 are gone; the missing birth is added.
    assert sorted(register) == sorted(["P-B", "P-D1", "P-5", "P-6", "P-7", added])
    assert (
        register["P-5"]["sex"] == "M" and register["P-5"]["case_id"] == ids[("misreported", "pop")]
    )
    birth = register[added]
    assert (birth["name"], birth["sex"], birth["birth_date"]) == ("陈一", "M", "2024-03-05")
    assert (birth["id_number"], birth["mother_id"]) == (child(1), mother(1))
    assert (birth["mother_name"], birth["division_code"]) == ("陈红", "420607101203")
    assert birth["case_id"] == added

    ledger = {r["case_id"]: r for r in rows_of(recon.out / "corrections.csv")}
    assert len(ledger) == 7
    got = {
        (r["target_system"], r["action"], r["record_id"], r["field"], r["old_value"])
        for r in ledger.values()
    }
    assert got == {
        ("pop", "add", added, "", ""),
        ("police", "add", ids[("missing", "police")], "", ""),
        ("pop", "remove", "P-C", "", "出生登记"),
        ("pop", "remove", "P-D2", "", "出生登记"),
        ("pop", "update", "P-5", "sex", "F"),
        ("police", "update", child(6), "sex", "F"),
        ("hosp", "update", "H-7", "sex", "F"),
    }
    assert ledger[ids[("duplicate", "pop")]]["new_value"] == "duplicate_of:P-D1"
    assert ledger[ids[("misreported", "hosp")]]["new_value"] == "M"
    police_add = ledger[ids[("missing", "police")]]["new_value"]
    assert "姓名：刘二" in police_add and f"公民身份号码：{child(2)}" in police_add
    for row in ledger.values():
        assert [row[f"sig{n}_name"] for n in range(1, 7)] == list(NAMES)
        assert [row[f"sig{n}_date"] for n in range(1, 7)] == [f"2025-01-0{n}" for n in range(1, 7)]
    assert recon("audit", "verify", "--db", str(recon.db)).exit_code == 0


def test_applying_twice_changes_nothing(signed: Recon) -> None:
    recon = signed
    assert recon("apply", "--db", str(recon.db), "--out", str(recon.out)).exit_code == 0
    first = (recon.out / "corrected_pop.csv").read_bytes(), rows_of(recon.out / "corrections.csv")
    again = recon("apply", "--db", str(recon.db), "--out", str(recon.out))
    assert "已应用 0 个案件" in again.output
    assert (recon.out / "corrected_pop.csv").read_bytes() == first[0]
    assert rows_of(recon.out / "corrections.csv") == first[1]


def test_rejected_and_half_signed_cases_reach_no_file(recon: Recon, tmp_path: Path) -> None:
    assert recon.run(night(tmp_path / "in"), as_of=AS_OF).exit_code == 0
    ids = case_ids(recon)
    book = tmp_path / "worklist.xlsx"
    assert recon("worklist", "export", "--db", str(recon.db), "--out", str(book)).exit_code == 0
    rejected, half = ids[("missing", "pop")], ids[("fictitious", "pop")]
    sign(book, {rejected: ["同意", "不同意"], half: ["同意"] * 5})
    assert recon("worklist", "import", str(book), "--db", str(recon.db)).exit_code == 0
    result = recon("apply", "--db", str(recon.db), "--out", str(recon.out))
    assert result.exit_code == 0, result.output
    assert "已应用 5 个案件" in result.output
    ledger = {r["case_id"] for r in rows_of(recon.out / "corrections.csv")}
    assert rejected not in ledger and half not in ledger and len(ledger) == 5
    register = {r["record_id"] for r in rows_of(recon.out / "corrected_pop.csv")}
    assert rejected not in register  # the missing birth was not added
    assert "P-C" in register  # the fictitious record was not removed
    status = dict(recon.query("SELECT case_id, status FROM cases"))
    assert (status[rejected], status[half]) == ("rejected", "signing")


def notice_rows(book: Path) -> list[list[Any]]:
    sheet = openpyxl.load_workbook(book)["更正通报"]
    return [list(r) for r in sheet.iter_rows(min_row=5, values_only=True) if any(r)]


def test_notices_for_the_police_and_the_hospital(signed: Recon, tmp_path: Path) -> None:
    recon = signed
    ids = case_ids(recon)
    assert recon("apply", "--db", str(recon.db), "--out", str(recon.out)).exit_code == 0
    police = tmp_path / "police.xlsx"
    result = recon(
        "corrections", "export", "--target", "police", "--db", str(recon.db), "--out", str(police)
    )
    assert result.exit_code == 0, result.output
    rows = notice_rows(police)
    assert {r[1] for r in rows} == {ids[("missing", "police")], ids[("misreported", "police")]}
    assert {r[3] for r in rows} == {"新增登记", "更正"}
    assert all("王计生" in r[9] and "孙书记" in r[9] for r in rows)  # the six signers
    hosp = tmp_path / "hosp.xlsx"
    args = ("corrections", "export", "--target", "hosp", "--db", str(recon.db), "--out")
    assert recon(*args, str(hosp)).exit_code == 0
    assert [r[1] for r in notice_rows(hosp)] == [ids[("misreported", "hosp")]]
    # A second notice holds only what the first did not send; --all holds everything.
    assert recon(*args, str(hosp)).exit_code == 0
    assert notice_rows(hosp) == []
    assert recon(*args, str(hosp), "--all").exit_code == 0
    assert len(notice_rows(hosp)) == 1
    bad = recon("corrections", "export", "--target", "pop", "--db", str(recon.db), "--out", "x")
    assert bad.exit_code == 2


def test_identity_numbers_follow_one_policy(recon: Recon, tmp_path: Path) -> None:
    """System files hold identity numbers in full; what people read masks them."""
    assert recon.run(night(tmp_path / "in"), as_of=AS_OF).exit_code == 0
    full = child(1)
    masked = full[:6] + "*" * 8 + full[-4:]
    nightly = (recon.out / "worklist.csv").read_text(encoding="utf-8-sig")
    assert full in nightly
    export = tmp_path / "export.csv"
    args = ("worklist", "export", "--db", str(recon.db), "--format", "csv", "--out")
    assert recon(*args, str(export)).exit_code == 0
    text = export.read_text(encoding="utf-8-sig")
    assert full not in text and masked in text  # the 漏报 proposal and police id too
    assert recon(*args, str(export), "--full-id").exit_code == 0
    assert full in export.read_text(encoding="utf-8-sig")
