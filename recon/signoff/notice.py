"""Notices (通报): the applied corrections of police or hospital records, for that department.

The county office cannot correct another department's system; it sends the corrections,
each with its evidence and six signers, as a workbook. Every notice is recorded (table
`notices`, an audit entry), and by default holds only corrections no earlier notice sent.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import openpyxl
import polars as pl
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from recon.outputs import save_workbook
from recon.resources import sql
from recon.signoff.apply import corrections_table
from recon.signoff.common import SignoffError, now
from recon.signoff.form import row_height, safe_text, set_default_font
from recon.store import audit
from recon.vocabulary import ACTION_ZH, CATEGORY_LABELS, DEPARTMENT_ZH, FEED_LABELS, FIELD_ZH

COLUMNS = (
    ("序号", 5), ("案件编号", 18), ("类别", 7), ("操作", 9), ("记录编号", 20), ("字段", 14),
    ("原值", 20), ("新值", 34), ("证据", 44), ("六签字（姓名 日期）", 40), ("应用日期", 12),
)  # fmt: skip


@dataclass(frozen=True)
class NoticeResult:
    notice_id: str
    path: Path
    target: str
    corrections: int


def export_notice(
    con: duckdb.DuckDBPyConnection, target: str, out: Path, *, include_sent: bool = False
) -> NoticeResult:
    """Write the notice of `target`'s applied corrections (not yet sent, unless
    `include_sent`) as a workbook, and record it."""
    if target not in DEPARTMENT_ZH:
        raise SignoffError(f"target {target!r}: use police or hosp")
    ledger = corrections_table(con, target)
    if not include_sent:
        sent = {
            case_id
            for (ids,) in con.execute(sql("signoff/sent_notices"), {"target": target}).fetchall()
            for case_id in json.loads(ids)
        }
        ledger = ledger.filter(~pl.col("case_id").is_in(list(sent)))
    notice_id = "N" + datetime.now(UTC).strftime("%Y%m%d%H%M%S") + uuid.uuid4().hex[:8].upper()
    _write(out, ledger, target, notice_id)
    case_ids = ledger["case_id"].to_list()
    con.execute(
        sql("signoff/notices"),
        {
            "notice_id": notice_id, "target": target, "created_at": now(),
            "case_ids": json.dumps(case_ids),
        },
    )  # fmt: skip
    audit.append(con, "notice", notice_id, {"target": target, "cases": case_ids})
    return NoticeResult(notice_id=notice_id, path=out, target=target, corrections=len(case_ids))


def _text(value: object) -> str:
    return safe_text("" if value is None else str(value))


def _write(path: Path, ledger: pl.DataFrame, target: str, notice_id: str) -> None:
    workbook = openpyxl.Workbook()
    set_default_font(workbook)  # column widths measured alike in Excel and LibreOffice
    sheet = workbook.active
    assert isinstance(sheet, Worksheet)
    sheet.title = "更正通报"
    width = len(COLUMNS)
    last = get_column_letter(width)
    sheet.merge_cells(f"A1:{last}1")
    sheet["A1"] = f"出生人口信息更正通报（致{DEPARTMENT_ZH[target]}）"
    sheet["A1"].font = Font(bold=True, size=14)
    sheet["A1"].alignment = Alignment(horizontal="center")
    sheet.merge_cells(f"A2:{last}2")
    sheet["A2"] = (
        f"通报编号 {notice_id}　生成日期 {datetime.now().date().isoformat()}　"
        f"共 {ledger.height} 条。以下更正均经六签字（六人全部同意）后应用，请核对后在"
        f"{FEED_LABELS[target]}系统中更正，并回复办理结果。"
    )
    sheet["A2"].alignment = Alignment(wrap_text=True, vertical="top")
    sheet.row_dimensions[2].height = 32
    thin = Side(style="thin")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    for col, (title, col_width) in enumerate(COLUMNS, start=1):
        cell = sheet.cell(row=4, column=col, value=title)
        cell.font = Font(bold=True)
        cell.border = box
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        sheet.column_dimensions[get_column_letter(col)].width = col_width
    wrap = Alignment(wrap_text=True, vertical="top")
    for n, row in enumerate(ledger.iter_rows(named=True), start=1):
        signers = "；".join(
            f"{row[f'sig{k}_role']} {row[f'sig{k}_name']} {row[f'sig{k}_date']}"
            for k in range(1, 7)
            if row.get(f"sig{k}_name")
        )
        field = row["field"]
        values = [
            str(n),
            row["case_id"],
            CATEGORY_LABELS.get(row["category"] or "", row["category"]),
            ACTION_ZH.get(row["action"], row["action"]),
            row["record_id"],
            FIELD_ZH.get(field, field) if field else "",
            row["old_value"],
            row["new_value"],
            row["evidence"],
            signers,
            str(row["applied_at"])[:10],
        ]
        texts = [_text(v) for v in values]
        for col, text in enumerate(texts, start=1):
            cell = sheet.cell(row=4 + n, column=col, value=text)
            cell.data_type = "s"  # never a formula, whatever the text
            cell.alignment = wrap
            cell.border = box
        # openpyxl sizes no row: the height the longest wrapped cell needs, so none is cut.
        sheet.row_dimensions[4 + n].height = row_height(
            [(text, width) for text, (_, width) in zip(texts, COLUMNS, strict=True)]
        )
    sheet.print_title_rows = "4:4"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.oddFooter.center.text = "第 &P 页，共 &N 页"
    sheet.oddHeader.right.text = f"通报编号 {notice_id}"
    save_workbook(workbook, path)
