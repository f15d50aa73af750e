"""The printed field form (现场核实表): a case per page, its evidence whole, six rows to sign."""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import openpyxl
import pytest
from conftest import (
    CHILD_ID,
    Recon,
    four_case_inbox,
    sign_workbook,
)
from openpyxl.worksheet.worksheet import Worksheet

from recon.cases.worklist import DEFAULT_ROLES

AS_OF = date(2024, 12, 31)
TOWNSHIP = (
    "420607101"  # 张湾街道: the sex, fictitious and missing cases; the duplicate is elsewhere
)
# Longer than any evidence line the tool writes, with an identity number in it.
LONG_EVIDENCE = (
    "入户核实记录：" + "母亲称孩子出生后随外婆在外地生活，户口尚未迁回，村委会证明与医院记录一致；" * 6
    + f"公安户籍号码 {CHILD_ID}，请核对原件。"
)  # fmt: skip
A4_BODY_PT = 29.7 / 2.54 * 72  # less the margins, per sheet


@pytest.fixture
def store(recon: Recon, tmp_path: Path) -> Recon:
    """P0001 sex wrong, P0007 fictitious, H0002 missing in pop (张湾街道); P0009 duplicate (刘集镇)."""
    inbox = four_case_inbox(tmp_path / "in")
    assert recon.run(inbox, as_of=AS_OF).exit_code == 0
    # Evidence is no part of what is signed (the fingerprint), so the workbook still imports.
    con = duckdb.connect(str(recon.db))
    con.execute("UPDATE cases SET evidence = ? WHERE category = 'fictitious'", [LONG_EVIDENCE])
    con.execute(
        "UPDATE cases SET evidence = '=HYPERLINK(\"http://x\")' WHERE category = 'misreported'"
    )
    con.close()
    return recon


def export(recon: Recon, path: Path, *extra: str) -> Path:
    result = recon("worklist", "export", "--db", str(recon.db), "--out", str(path), *extra)
    assert result.exit_code == 0, result.output
    return path


@dataclass
class Block:
    """One case as the form prints it, read back from the sheet."""

    case_id: str
    first: int  # the heading row
    last: int = 0  # the last signature row
    fields: dict[str, tuple[int, str]] = field(default_factory=dict)  # label: (row, value)
    signers: list[int] = field(default_factory=list)  # the signature rows


def blocks(sheet: Worksheet) -> list[Block]:
    found: list[Block] = []
    in_grid = False
    for row in range(1, sheet.max_row + 1):
        first = sheet.cell(row, 1).value
        text = "" if first is None else str(first)
        heading = re.match(r"第 \d+ 件（共 \d+ 件）\s+案件编号 (\S+)", text)
        if heading:
            found.append(Block(heading.group(1), row))
            in_grid = False
        elif found and text == "序号":
            in_grid = True
        elif found and in_grid and text.isdigit():
            found[-1].signers.append(row)
            found[-1].last = row
        elif found and text:
            found[-1].fields[text] = (row, str(sheet.cell(row, 3).value or ""))
    return found


def machine_rows(book: openpyxl.Workbook) -> dict[str, dict[str, str]]:
    sheet = book["工作清单"]
    header = [str(c.value) for c in sheet[1]]
    rows = {}
    for values in sheet.iter_rows(min_row=2, values_only=True):
        row = {h: "" if v is None else str(v) for h, v in zip(header, values, strict=False)}
        rows[row["案件编号"]] = row
    return rows


def test_the_first_sheet_is_a_printable_a4_form(store: Recon, tmp_path: Path) -> None:
    book = openpyxl.load_workbook(export(store, tmp_path / "w.xlsx", "--division", TOWNSHIP))
    assert book.sheetnames[:2] == ["现场核实表", "工作清单"]
    form = book.active
    assert isinstance(form, Worksheet) and form.title == "现场核实表"
    export_id = str(book["_recon"]["B1"].value)

    # The first rows and every page's header and footer name the township, date and export.
    top = " ".join(str(form.cell(r, 1).value or "") for r in range(1, 4))
    assert "张湾街道" in top and export_id in top and re.search(r"导出日期：\d{4}-\d\d-\d\d", top)
    assert "张湾街道" in form.oddHeader.left.text
    assert "导出日期" in form.oddHeader.right.text
    assert export_id in form.oddFooter.left.text
    assert form.oddFooter.right.text == "第 &P 页，共 &N 页"

    setup = form.page_setup
    assert (int(setup.paperSize), setup.orientation) == (9, "portrait")  # 9: A4
    assert (setup.fitToWidth, setup.fitToHeight, form.sheet_properties.pageSetUpPr.fitToPage) == (
        1, 0, True,
    )  # fmt: skip
    assert form.print_area == f"'现场核实表'!$A$1:$F${form.max_row}"
    assert not form.print_options.gridLines and not form.sheet_view.showGridLines
    margins = form.page_margins
    assert all(1.2 <= m * 2.54 <= 2.0 for m in (margins.left, margins.right, margins.top))


def test_each_case_has_its_evidence_whole_and_six_rows_to_sign(
    store: Recon, tmp_path: Path
) -> None:
    book = openpyxl.load_workbook(export(store, tmp_path / "w.xlsx", "--division", TOWNSHIP))
    form = book["现场核实表"]
    machine = machine_rows(book)
    found = blocks(form)
    assert sorted(b.case_id for b in found) == sorted(machine) and len(found) == 3

    masked_child = CHILD_ID[:6] + "********" + CHILD_ID[-4:]
    for block in found:
        row, evidence = block.fields["证据"]
        assert evidence == machine[block.case_id]["证据"]  # whole, masked as the machine sheet
        cell = form.cell(row, 3)
        assert cell.alignment.wrap_text and cell.data_type == "s"
        # However wide the font, a CJK character takes at least 1.8 width units: the row must
        # be tall enough for the lines the evidence wraps to at 14 pt each.
        width = sum(form.column_dimensions[c].width for c in "CDEF")
        lines = math.ceil(len(evidence) * 1.8 / width)
        assert form.row_dimensions[row].height >= lines * 14
        assert len(block.signers) == 6
        roles = [form.cell(r, 2).value for r in block.signers]
        assert roles == list(DEFAULT_ROLES)
        for r in block.signers:
            assert form.row_dimensions[r].height >= 28  # 10 mm, to sign by hand
            assert form.cell(r, 5).value == "□同意　□不同意"
            assert all(form.cell(r, c).border.left.style == "thin" for c in range(1, 7))
        assert {"类别", "字段", "现值", "村（区划）", "现场核实情况"} <= set(block.fields)

    long = next(b for b in found if b.fields["证据"][1].startswith("入户核实记录"))
    assert (
        long.fields["证据"][1].endswith("请核对原件。") and masked_child in long.fields["证据"][1]
    )
    assert form.row_dimensions[long.fields["证据"][0]].height >= 8 * 14
    values = [str(c.value) for row in form.iter_rows() for c in row if c.value is not None]
    assert not any(CHILD_ID in v for v in values)  # masked on paper too
    # Text that looks like a formula stays text.
    assert any(v.startswith("'=HYPERLINK") for v in values)
    assert all(c.data_type == "s" for row in form.iter_rows() for c in row if c.value is not None)


def test_no_case_is_split_across_pages(store: Recon, tmp_path: Path) -> None:
    book = openpyxl.load_workbook(export(store, tmp_path / "w.xlsx"))
    form = book["现场核实表"]
    found = blocks(form)
    assert len(found) == 4
    breaks = sorted(b.id for b in form.row_breaks.brk)  # a break falls below row `id`
    for block in found:
        assert not [b for b in breaks if block.first <= b < block.last], block.case_id
    for before, after in itertools.pairwise(found):
        assert [b for b in breaks if before.last <= b < after.first], "cases share a page"
    # And each page's rows fit on A4 inside the margins, so no renderer breaks one itself.
    body = A4_BODY_PT - (form.page_margins.top + form.page_margins.bottom) * 72
    edges = [0, *breaks, form.max_row]
    for top, bottom in itertools.pairwise(edges):
        height = sum(form.row_dimensions[r].height or 15 for r in range(top + 1, bottom + 1))
        assert height <= body, f"rows {top + 1}-{bottom}: {height:.0f} pt"
    assert "襄州区" in str(form["A1"].value)  # no division given: the whole county


def test_a_signature_written_on_the_machine_sheet_is_imported_and_printed(
    store: Recon, tmp_path: Path
) -> None:
    book = export(store, tmp_path / "w.xlsx", "--division", TOWNSHIP)
    sign_workbook(book, 1, "王计生", date(2025, 1, 2), "同意")
    result = store("worklist", "import", str(book), "--db", str(store.db))
    assert result.exit_code == 0, result.output
    signed = store.query("SELECT case_id, position, name, decision FROM signatures")
    assert len(signed) == 1 and signed[0][1:] == (1, "王计生", "同意")

    # The next export prints the signature already given on the case's form.
    again = openpyxl.load_workbook(export(store, tmp_path / "again.xlsx", "--division", TOWNSHIP))
    form = again["现场核实表"]
    block = next(b for b in blocks(form) if b.case_id == signed[0][0])
    first = block.signers[0]
    assert [form.cell(first, c).value for c in (3, 4, 5)] == [
        "王计生", "2025-01-02", "■同意　□不同意",
    ]  # fmt: skip
    assert form.cell(block.signers[1], 3).value is None
