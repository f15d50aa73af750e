"""Worklist import checks what a row says, not only its case id (and the file's size)."""

from __future__ import annotations

import csv
import zipfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any, Literal

import duckdb
import pytest
from conftest import (
    MOTHER_ID_2,
    Recon,
    hosp_row,
    police_row,
    pop_row,
    write_csv,
    write_divisions,
)
from test_signoff import Sheet

from recon import signoff
from recon.cases.worklist import DEFAULT_ROLES
from recon.signoff import SignoffError

AS_OF = date(2024, 12, 31)  # the run that opens the cases
TODAY = date(2025, 1, 31)
NAMES = ("王计生", "李村干", "张包保", "赵统计", "钱分管", "孙书记")


@pytest.fixture
def store(recon: Recon, tmp_path: Path) -> Recon:
    """Two cases: P0001's sex (F, should be M) and P0007, a record of no birth."""
    inbox = tmp_path / "in"
    inbox.mkdir()
    pop = [
        pop_row(性别="女"),
        pop_row(
            记录编号="P0007", 母亲公民身份号码=MOTHER_ID_2, 母亲姓名="王芳",
            出生日期="2024-06-01", 公民身份号码="",
        ),
    ]  # fmt: skip
    write_csv(inbox / "pop_births.csv", pop)
    write_csv(inbox / "hosp_deliveries.csv", [hosp_row()])
    write_csv(inbox / "police_births.csv", [police_row()])
    write_divisions(inbox)
    assert recon.run(inbox, as_of=AS_OF).exit_code == 0
    return recon


@pytest.fixture
def con(store: Recon) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(store.db))
    try:
        yield connection
    finally:
        connection.close()


Store = Recon | duckdb.DuckDBPyConnection  # the CLI's store, or a connection to it


def query(store: Store, sql: str) -> list[tuple[Any, ...]]:
    if isinstance(store, Recon):
        return store.query(sql)
    return store.execute(sql).fetchall()


def case_of(store: Store, category: str) -> str:
    return str(query(store, f"SELECT case_id FROM cases WHERE category = '{category}'")[0][0])


def signed_positions(store: Store) -> dict[str, list[int]]:
    rows = query(
        store, "SELECT case_id, list(position ORDER BY position) FROM signatures GROUP BY case_id"
    )
    return {case_id: positions for case_id, positions in rows}


def export(store: Store, out: Path, *extra: str) -> Path:
    """`recon worklist export`, or (on a connection) the same call in one transaction."""
    if isinstance(store, Recon):
        result = store("worklist", "export", "--db", str(store.db), "--out", str(out), *extra)
        assert result.exit_code == 0, result.output
        return out
    fmt: Literal["xlsx", "csv"] = "csv" if out.suffix == ".csv" else "xlsx"
    store.begin()
    signoff.export_worklist(store, out, roles=DEFAULT_ROLES, fmt=fmt)
    store.commit()
    return out


def flat(text: str) -> str:
    """Console output without the line breaks and spaces its wrapping puts in."""
    return "".join(text.split())


def import_(recon: Recon, path: Path, *extra: str) -> Any:
    return recon("worklist", "import", str(path), "--db", str(recon.db), *extra)


def import_in(con: duckdb.DuckDBPyConnection, path: Path, **kwargs: Any) -> signoff.ImportResult:
    """The import as the CLI runs it: one transaction, rolled back on error."""
    con.begin()
    try:
        result = signoff.import_worklist(con, path, roles=DEFAULT_ROLES, today=TODAY, **kwargs)
    except BaseException:
        con.rollback()
        raise
    con.commit()
    return result


def test_swapped_case_ids_are_refused_naming_the_rows(store: Recon, tmp_path: Path) -> None:
    sex, fake = case_of(store, "misreported"), case_of(store, "fictitious")
    book = Sheet(export(store, tmp_path / "w.xlsx"))
    book.sign_all(sex)
    book.sign_all(fake, upto=2)
    # The case ids of the two rows swapped: each row's signatures now name the other case.
    row_sex, row_fake = book.rows[sex], book.rows[fake]
    book.sheet.cell(row_sex, 1).value, book.sheet.cell(row_fake, 1).value = fake, sex
    problems = tmp_path / "problems.csv"
    result = import_(store, book.save(), "--problems", str(problems))

    assert result.exit_code == 0, result.output
    assert signed_positions(store) == {}
    assert store.query("SELECT DISTINCT status FROM cases") == [("open",)]
    with problems.open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted((int(r["行"]), r["案件编号"]) for r in rows) == sorted(
        [(row_sex, fake), (row_fake, sex)]
    )
    for row in rows:
        assert row["问题"].startswith(f"第{row['行']}行：行指纹与案件 {row['案件编号']} 不符")
        assert "本行签字未导入" in row["问题"]
    other = {fake: sex, sex: fake}
    assert all(f"本行导出时属于案件 {other[r['案件编号']]}" in r["问题"] for r in rows)
    assert "行指纹不符2" in flat(result.output) and f"第{row_sex}行" in flat(result.output)


def test_an_edited_proposed_value_is_refused_and_the_rest_imported(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    sex, fake = case_of(con, "misreported"), case_of(con, "fictitious")
    book = Sheet(export(con, tmp_path / "w.xlsx"))
    book.sign_all(sex)
    book.sign_all(fake, upto=2)
    book.cell(sex, "建议值").value = "F"  # signed as F; the store would apply M
    result = import_in(con, book.save())

    row = book.rows[sex]
    assert [(p.row, p.case_id, p.kind) for p in result.problems] == [(row, sex, "changed")]
    assert result.problems[0].problem == (
        f"第{row}行：案件 {sex} 的内容与导出时不符（建议值 导出为“M”，本行为“F”），本行签字未导入"
    )
    assert signed_positions(con) == {fake: [1, 2]}  # the other row is imported


def test_workbook_labels_masked_ids_and_apostrophes_are_no_change(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    sex = case_of(con, "misreported")
    book = Sheet(export(con, tmp_path / "w.xlsx"))
    assert book.cell(sex, "类别").value == "错报"  # what the workbook shows, not the code
    book.cell(sex, "类别").value = "misreported"  # the CSV's spelling is as good
    book.cell(sex, "字段").value = "性别"
    book.sign_all(sex)
    result = import_in(con, book.save())
    assert (result.problems, result.signatures_added) == ([], 6)


def test_a_row_without_its_fingerprint_is_refused(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    sex = case_of(con, "misreported")
    book = Sheet(export(con, tmp_path / "w.xlsx"))
    book.sign_all(sex, upto=2)
    book.cell(sex, "行指纹（请勿修改）").value = None
    result = import_in(con, book.save())
    assert [p.kind for p in result.problems] == ["no_fingerprint"]
    assert result.problems[0].problem.startswith(f"第{book.rows[sex]}行：缺少行指纹")
    assert signed_positions(con) == {}


def test_one_person_may_not_sign_two_roles(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    sex, fake = case_of(con, "misreported"), case_of(con, "fictitious")
    book = Sheet(export(con, tmp_path / "w.xlsx"))
    book.sign_all(sex, upto=3)
    book.sign(sex, 2, name=" 王计生 ")  # the first signer again, spaces around
    book.sign(fake, 1, name="Wang  Jisheng")
    result = import_in(con, book.save())

    row = book.rows[sex]
    twice = [p for p in result.problems if p.kind == "signer_twice"]
    assert [(p.row, p.case_id) for p in twice] == [(row, sex)]
    assert twice[0].problem == (
        f"第{row}行：第2签字（村组干部）：“王计生”已签第1签字（计生专干），"
        "同一人不得签同一案件的两个角色，本签字未导入"
    )
    assert signed_positions(con) == {sex: [1], fake: [1]}  # the 2nd and after refused

    # Against a signature imported earlier too, whatever the spacing or case.
    again = Sheet(export(con, tmp_path / "again.xlsx"))
    again.sign(fake, 2, name="wang jisheng")
    result = import_in(con, again.save())
    assert [(p.row, p.kind) for p in result.problems] == [(again.rows[fake], "signer_twice")]
    assert "第1签字（计生专干）" in result.problems[0].problem
    assert signed_positions(con) == {sex: [1], fake: [1]}

    # The rule is a setting ([signoff] distinct_signers).
    result = import_in(con, again.save(), distinct_signers=False)
    assert (result.problems, signed_positions(con)) == ([], {sex: [1], fake: [1, 2]})


def test_a_date_before_the_case_was_opened_is_refused(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    sex = case_of(con, "misreported")
    book = Sheet(export(con, tmp_path / "w.xlsx"))
    book.sign(sex, 1, when=date(1900, 1, 1))
    book.sign(sex, 2, when=date(2025, 1, 2))
    result = import_in(con, book.save())
    row = book.rows[sex]
    assert [(p.row, p.case_id, p.kind, p.problem) for p in result.problems] == [
        (
            row, sex, "date_before_case",
            f"第{row}行：第1签字（计生专干）：日期 1900-01-01 早于案件立案日期 {AS_OF}，本签字未导入",
        )
    ]  # fmt: skip
    assert signed_positions(con) == {}


def test_an_oversized_file_is_refused_before_it_is_read(store: Recon, tmp_path: Path) -> None:
    sex = case_of(store, "misreported")
    config = tmp_path / "recon.toml"
    config.write_text("[signoff]\nmax_file_mb = 1\nmax_rows = 1\n", encoding="utf-8")
    before = store.dump()

    big = export(store, tmp_path / "big.csv", "--format", "csv")
    with big.open("a", encoding="utf-8") as handle:
        handle.write(" " * (1024 * 1024))
    result = import_(store, big, "--config", str(config))
    assert result.exit_code == 3
    assert "big.csv" in result.output and "超过上限 1 MB" in result.output
    assert "max_file_mb" in result.output and "nothing was imported" in result.output

    # A workbook that unpacks to far more than it weighs (a zip bomb) is never unpacked.
    bomb = Sheet(export(store, tmp_path / "bomb.xlsx"))
    bomb.sign_all(sex)
    bomb.save()
    with zipfile.ZipFile(bomb.path, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/padding.xml", b"\0" * (11 * 1024 * 1024))
    assert bomb.path.stat().st_size < 1024 * 1024
    result = import_(store, bomb.path, "--config", str(config))
    assert result.exit_code == 3 and "解压后" in result.output and "压缩炸弹" in result.output

    fake = tmp_path / "fake.xlsx"
    fake.write_text("case_id\n", encoding="utf-8")
    result = import_(store, fake, "--config", str(config))
    assert result.exit_code == 3 and "不是 zip 文件" in result.output

    # More rows than max_rows: refused whole, naming the first row past the limit.
    rows = Sheet(export(store, tmp_path / "rows.xlsx"))
    rows.sign_all(sex)
    rows.save()
    result = import_(store, rows.path, "--config", str(config))
    assert result.exit_code == 3
    assert "第3行起超过行数上限 1 行" in result.output and "max_rows" in result.output
    assert store.dump()["signatures"] == before["signatures"] == []


def test_csv_keeps_a_line_break_in_a_reason_and_counts_physical_lines(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    sex, fake = case_of(con, "misreported"), case_of(con, "fictitious")
    path = export(con, tmp_path / "w.csv")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    by_id = {r["case_id"]: r for r in rows}
    by_id[fake].update(
        sig1_name=NAMES[0], sig1_date="2025-01-02", sig1_decision="不同意",
        sig1_reason="入户核实\n确有此孩",
    )  # fmt: skip
    by_id[sex].update(sig1_name=NAMES[0], sig1_date="1999-01-01", sig1_decision="同意")
    ordered = [by_id[fake], by_id[sex]]  # the row after the two-line reason
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(ordered)
    result = import_in(con, path)

    assert [(p.row, p.case_id, p.kind) for p in result.problems] == [
        (4, sex, "date_before_case")  # header 1, the reason's row 2-3, this row 4
    ]
    assert result.problems[0].problem.startswith("第4行：")
    reason = con.execute("SELECT reason FROM signatures WHERE case_id = ?", [fake]).fetchall()
    assert reason == [("入户核实\n确有此孩",)]


def test_problems_are_summarised_and_written_in_full(store: Recon, tmp_path: Path) -> None:
    sex, fake = case_of(store, "misreported"), case_of(store, "fictitious")
    config = tmp_path / "recon.toml"
    config.write_text("[signoff]\nproblems_shown = 1\n", encoding="utf-8")
    book = Sheet(export(store, tmp_path / "w.xlsx"))
    book.sign(sex, 1, when=date(1900, 1, 1))
    book.sign(fake, 1)
    book.cell(fake, "现值").value = "=HYPERLINK(1)"
    extra = book.sheet.max_row + 1
    book.sheet.cell(extra, 1).value = "=CMD()"  # a case id the export never had
    book.sheet.cell(extra, book.columns["签字人1姓名"]).value = "x"
    problems = tmp_path / "out" / "problems.csv"
    result = import_(store, book.save(), "--config", str(config), "--problems", str(problems))

    assert result.exit_code == 0, result.output
    output = flat(result.output)
    assert "问题3" in output
    for kind in ("日期早于立案1", "案件内容被改动1", "案件不在本次导出中1"):
        assert kind in output
    assert "另有2个问题未列出" in output and problems.name in output
    raw = problems.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with problems.open(encoding="utf-8-sig") as handle:
        written = list(csv.DictReader(handle))
    assert list(written[0]) == ["行", "案件编号", "问题"]
    by_row = {int(r["行"]): r for r in written}
    assert sorted(by_row) == sorted([book.rows[sex], book.rows[fake], extra])
    assert by_row[extra]["案件编号"] == "'=CMD()"  # inert when the file is opened
    assert "本行为“=HYPERLINK(1)”" in by_row[book.rows[fake]]["问题"]
    assert signed_positions(store) == {}


def test_a_whole_file_refusal_leaves_the_store_as_it_was(
    con: duckdb.DuckDBPyConnection,
    tmp_path: Path,
) -> None:
    book = Sheet(export(con, tmp_path / "w.xlsx"))
    book.sign_all(case_of(con, "misreported"))
    book.save()
    with pytest.raises(SignoffError, match="行数上限 1 行"):
        import_in(con, book.path, max_rows=1)
    with pytest.raises(SignoffError, match="超过上限 1 MB"):
        import_in(con, _padded(book.path), max_file_mb=1)
    assert con.execute("SELECT count(*) FROM signatures").fetchall() == [(0,)]


def _padded(path: Path) -> Path:
    """A copy of the workbook grown past 1 MB with an incompressible part."""
    copy = path.with_name("padded.xlsx")
    copy.write_bytes(path.read_bytes())
    with zipfile.ZipFile(copy, "a", zipfile.ZIP_STORED) as archive:
        archive.writestr("xl/media/noise.bin", bytes(range(256)) * (5 * 1024))
    return copy
