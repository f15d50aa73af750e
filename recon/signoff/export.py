"""Worklist export: the cases still to sign, as a workbook (or CSV) to fill in."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal

import duckdb
import openpyxl
import polars as pl
from openpyxl.packaging.custom import StringProperty
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from recon.cases.worklist import DEFAULT_ROLES, with_signatures
from recon.masking import mask_ids as mask_id
from recon.outputs import save_workbook, write_csv
from recon.resources import sql
from recon.signoff.common import (
    AGREE,
    DATA_SHEET,
    DISAGREE,
    EXPORT_ID_PROP,
    FINGERPRINT_PROP,
    ID_FIELDS,
    META_SHEET,
    ROW_FINGERPRINT,
    WIDTHS,
    ExportResult,
    SignoffError,
    case_digest,
    chinese_columns,
    division_prefix,
    english_columns,
    fingerprint,
    now,
)
from recon.signoff.form import Place, safe_text, set_default_font, write_form
from recon.store import audit
from recon.store.connection import query_frame
from recon.vocabulary import CATEGORY_LABELS, FEED_LABELS, FIELD_ZH, STATUS_ZH

# --------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------


def export_worklist(
    con: duckdb.DuckDBPyConnection,
    out: Path,
    *,
    roles: Sequence[str] = DEFAULT_ROLES,
    division: str | None = None,
    fmt: Literal["xlsx", "csv"] = "xlsx",
    full_id: bool = False,
) -> ExportResult:
    """Write the cases still to sign as a workbook (or CSV) to fill in, and record it."""
    if fmt not in ("xlsx", "csv"):
        raise SignoffError(f"format {fmt!r}: use xlsx or csv")
    roles = tuple(roles)
    prefix = division_prefix(division)
    cases = query_frame(con, sql("signoff/export_cases"), {"prefix": prefix})
    export_id = "E" + datetime.now(UTC).strftime("%Y%m%d%H%M%S") + uuid.uuid4().hex[:12].upper()
    digest = fingerprint(cases)
    case_ids = cases["case_id"].to_list()
    table = _worklist_rows(with_signatures(con, cases, roles), full_id)

    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "xlsx":
        form = FormContext(export_id, date.today(), division, _places(con))
        _write_xlsx(out, table, roles, export_id, digest, form)
    else:
        frame = pl.DataFrame(
            [{"export_id": export_id, **row} for row in table],
            schema={c: pl.String for c in ["export_id", *english_columns(roles)]},
            orient="row",
        )
        write_csv(frame, out)
    con.execute(
        sql("signoff/exports"),
        {
            "export_id": export_id, "created_at": now(), "division": division, "format": fmt,
            "case_ids": json.dumps(case_ids), "fingerprint": digest,
        },
    )  # fmt: skip
    audit.append(
        con, "export", export_id, {"cases": len(case_ids), "division": division, "format": fmt}
    )
    return ExportResult(export_id=export_id, path=out, cases=len(case_ids), fingerprint=digest)


def _worklist_rows(worklist: pl.DataFrame, full_id: bool) -> list[dict[str, str | None]]:
    """The shared worklist rows as the export's text, masked, each with its fingerprint."""
    rows = []
    for case in worklist.iter_rows(named=True):
        row: dict[str, str | None] = {}
        for column, value in case.items():
            text = None if value is None else str(value)
            # A 漏报's proposal is a whole record, identity numbers included.
            masked = column in ("police_id_number", "evidence", "proposed_value") or (
                column == "current_value" and case["field"] in ID_FIELDS
            )
            if text is not None and masked and not full_id:
                text = mask_id(text)
            row[column] = text
        row[ROW_FINGERPRINT] = case_digest(case)
        rows.append(row)
    return rows


@dataclass(frozen=True)
class FormContext:
    """What the printed form names besides the cases: the export, its date and place."""

    export_id: str
    exported_on: date
    division: str | None
    places: dict[str, Place]


def _places(con: duckdb.DuckDBPyConnection) -> dict[str, Place]:
    rows = con.execute(sql("signoff/places")).fetchall()
    return {code: Place(code, name, level, parent or None) for code, name, level, parent in rows}


def _write_xlsx(
    path: Path,
    table: list[dict[str, str | None]],
    roles: Sequence[str],
    export_id: str,
    digest: str,
    form: FormContext,
) -> None:
    workbook = openpyxl.Workbook()
    set_default_font(workbook)
    # The first sheet, the one that opens and prints, is the form to sign with a pen; the
    # machine columns follow on 工作清单, which import reads by name.
    paper = workbook.active
    assert isinstance(paper, Worksheet)
    write_form(
        paper, table, roles, export_id=form.export_id, exported_on=form.exported_on,
        division=form.division, places=form.places,
    )  # fmt: skip
    sheet = workbook.create_sheet(DATA_SHEET)
    columns = english_columns(roles)
    headers = chinese_columns(roles)
    header_font = Font(bold=True)
    header_fill = PatternFill("solid", fgColor="DDEBF7")
    for col, title in enumerate(headers, start=1):
        cell = sheet.cell(row=1, column=col, value=title)
        cell.font = header_font
        cell.fill = header_fill
        cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
    wrap = Alignment(wrap_text=True, vertical="top")
    top = Alignment(vertical="top")
    for r, row in enumerate(table, start=2):
        for col, name in enumerate(columns, start=1):
            value = row[name]
            if value is not None and name == "category":
                value = CATEGORY_LABELS.get(value, value)
            elif value is not None and name == "target_system":
                value = FEED_LABELS.get(value, value)
            elif value is not None and name == "status":
                value = STATUS_ZH.get(value, value)
            elif value is not None and name == "field":
                value = f"{FIELD_ZH[value]}({value})" if value in FIELD_ZH else value
            cell = sheet.cell(row=r, column=col)
            if value is None:
                continue
            if name == "confidence":
                cell.value = float(value)
                cell.number_format = "0.00"
            elif name.endswith("_date"):
                cell.value = date.fromisoformat(value)
                cell.number_format = "yyyy-mm-dd"
            else:
                cell.value = safe_text(value)
                cell.data_type = "s"  # never a formula, whatever the text
            cell.alignment = (
                wrap
                if name in ("evidence", "proposed_value") or (name.endswith("_reason"))
                else top
            )
    for col, name in enumerate(columns, start=1):
        part = name.split("_", 1)[1] if name.startswith("sig") else name
        sheet.column_dimensions[get_column_letter(col)].width = WIDTHS.get(part, 12)
    sheet.row_dimensions[1].height = 30

    last = max(len(table) + 1, 2)
    choice = DataValidation(
        type="list",
        formula1=f'"{AGREE},{DISAGREE}"',
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="意见",
        error="请选择 同意 或 不同意",
        promptTitle="意见",
        prompt="同意 或 不同意；不同意须填写理由",
        showInputMessage=True,
    )
    on_date = DataValidation(
        type="date",
        operator="greaterThan",
        formula1="36526",  # 2000-01-01
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="日期",
        error="请填写日期，如 2024-03-05",
    )
    for col, name in enumerate(columns, start=1):
        letter = get_column_letter(col)
        if name.endswith("_decision"):
            choice.add(f"{letter}2:{letter}{last}")
        elif name.endswith("_date"):
            on_date.add(f"{letter}2:{letter}{last}")
    sheet.add_data_validation(choice)
    sheet.add_data_validation(on_date)

    sheet.freeze_panes = "B2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{last}"
    sheet.print_title_rows = "1:1"
    sheet.print_title_cols = "A:A"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToHeight = 0
    sheet.print_options.gridLines = True
    sheet.page_margins.left = sheet.page_margins.right = 0.4
    sheet.oddFooter.center.text = "第 &P 页，共 &N 页"
    sheet.oddHeader.right.text = f"导出编号 {export_id}"

    meta = workbook.create_sheet(META_SHEET)
    meta.append(["export_id", export_id])
    meta.append(["fingerprint", digest])
    meta.append(["note", "由 recon 生成，请勿修改 (generated by recon; do not edit)"])
    meta.sheet_state = "veryHidden"
    workbook.active = 0
    workbook.custom_doc_props.append(StringProperty(name=EXPORT_ID_PROP, value=export_id))
    workbook.custom_doc_props.append(StringProperty(name=FINGERPRINT_PROP, value=digest))
    save_workbook(workbook, path)
