"""The six sign-offs (六签字): worklist export and import, the status machine, apply.

Every function takes a connection inside a transaction the caller manages and returns a
frozen dataclass; nothing here prints. Status changes all go through `transition`, which
writes `case_status_log` first: that table's CHECK accepts only the allowed transitions,
so an illegal change fails in the store, whatever the code around it does.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import duckdb
import openpyxl
import polars as pl
from openpyxl.packaging.custom import StringProperty
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from recon import audit
from recon.cases import DEFAULT_ROLES, SIGNATURE_PARTS
from recon.outputs import FORMULA_STARTS, write_csv
from recon.resources import sql
from recon.store import execute_script, query_frame, scalar

AGREE = "同意"
DISAGREE = "不同意"
DECISIONS = (AGREE, DISAGREE)

# Allowed status changes; the same pairs are the CHECK on case_status_log in schema.sql.
TRANSITIONS: frozenset[tuple[str, str]] = frozenset(
    {
        ("open", "signing"),
        ("open", "rejected"),
        ("signing", "approved"),
        ("signing", "rejected"),
        ("approved", "applied"),
    }
)

CASE_COLUMNS = (
    "case_id", "category", "target_system", "field", "current_value", "proposed_value",
    "pop_record_id", "hosp_delivery_id", "police_id_number", "duplicate_of", "division_code",
    "confidence", "evidence", "status",
)  # fmt: skip
FINGERPRINT_COLUMNS = (
    "case_id", "category", "target_system", "field", "current_value", "proposed_value",
)  # fmt: skip

HEADERS_ZH = {
    "case_id": "案件编号",
    "category": "类别",
    "target_system": "目标系统",
    "field": "字段",
    "current_value": "现值",
    "proposed_value": "建议值",
    "pop_record_id": "全员人口记录编号",
    "hosp_delivery_id": "住院分娩登记编号",
    "police_id_number": "公安户籍身份证号",
    "duplicate_of": "重报保留记录编号",
    "division_code": "区划",
    "confidence": "置信度",
    "evidence": "证据",
    "status": "状态",
}
PART_ZH = {"role": "角色", "name": "姓名", "date": "日期", "decision": "意见", "reason": "理由"}
CATEGORY_ZH = {"missing": "漏报", "misreported": "错报", "fictitious": "虚报", "duplicate": "重报"}
TARGET_ZH = {"pop": "全员人口", "hosp": "住院分娩", "police": "公安户籍"}
STATUS_ZH = {
    "open": "待签",
    "signing": "签字中",
    "approved": "已通过",
    "rejected": "已否决",
    "applied": "已更正",
}
FIELD_ZH = {
    "sex": "性别",
    "birth_date": "出生日期",
    "mother_id": "母亲公民身份号码",
    "id_number": "公民身份号码",
    "name": "姓名",
    "birth_order": "孩次",
    "division_code": "区划代码",
    "certificate_no": "出生医学证明编号",
    "birth_rank": "胎序",
}
ID_FIELDS = frozenset({"id_number", "mother_id"})
ID_PATTERN = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[\dXx])(?![0-9A-Za-z])")
DATE_PATTERN = re.compile(
    r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:\s+00:00(?::00)?)?\s*$"
)

META_SHEET = "_recon"
DATA_SHEET = "工作清单"
EXPORT_ID_PROP = "recon_export_id"
FINGERPRINT_PROP = "recon_fingerprint"
NOT_OURS = "not exported by this tool for these cases (不是本工具导出的工作清单)"

WIDTHS = {
    "case_id": 16, "category": 7, "target_system": 10, "field": 14, "current_value": 22,
    "proposed_value": 22, "pop_record_id": 16, "hosp_delivery_id": 18,
    "police_id_number": 21, "duplicate_of": 16, "division_code": 14, "confidence": 7,
    "evidence": 48, "status": 8, "role": 12, "name": 10, "date": 12, "decision": 8,
    "reason": 24,
}  # fmt: skip


class SignoffError(Exception):
    """A worklist file or a sign-off step that is refused as a whole."""


@dataclass(frozen=True)
class ExportResult:
    export_id: str
    path: Path
    cases: int
    fingerprint: str


@dataclass(frozen=True)
class RowProblem:
    row: int  # the row in the file: header = 1, as a spreadsheet shows it
    case_id: str | None
    problem: str


@dataclass(frozen=True)
class ImportResult:
    export_id: str
    rows: int
    signatures_added: int
    cases_updated: int
    problems: list[RowProblem] = field(default_factory=list)


@dataclass(frozen=True)
class ApplyResult:
    cases_applied: int
    corrections_added: int
    register_rows: int
    path: Path
    refused: tuple[str, ...] = ()  # approved in `cases` but without six 同意 signatures


@dataclass(frozen=True)
class Signature:
    position: int
    role: str
    name: str
    signed_on: date
    decision: str
    reason: str | None

    def key(self) -> tuple[Any, ...]:
        return (self.role, self.name, self.signed_on, self.decision, self.reason or None)


# --------------------------------------------------------------------------------------
# Status machine
# --------------------------------------------------------------------------------------


def transition(con: duckdb.DuckDBPyConnection, case_id: str, to_status: str, cause: str) -> None:
    """Move one case to `to_status`; refused (in code and by the store) unless allowed."""
    current = scalar(con, "SELECT status FROM cases WHERE case_id = ?", [case_id])
    if current is None:
        raise SignoffError(f"{case_id}: no such case")
    if (current, to_status) not in TRANSITIONS:
        raise SignoffError(f"{case_id}: status {current} cannot become {to_status}")
    # The log row is written first: its CHECK refuses an illegal pair even if code changes.
    con.execute(
        "INSERT INTO case_status_log VALUES (?, ?, ?, ?, ?)",
        [case_id, current, to_status, _now(), cause],
    )
    con.execute(
        "UPDATE cases SET status = ? WHERE case_id = ? AND status = ?",
        [to_status, case_id, current],
    )
    audit.append(con, "case_status", case_id, {"from": current, "to": to_status, "cause": cause})


def status_violations(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Cases whose status the log and the signatures do not bear out (for `audit verify`)."""
    rows = con.execute(
        """
        WITH last AS (
            SELECT case_id, arg_max(to_status, changed_at) AS logged
            FROM case_status_log GROUP BY case_id
        ), signed AS ("""
        + sql("signoff/signed_off")
        + """)
        SELECT c.case_id || ': ' || c.status || ' (log: ' || coalesce(l.logged, 'open') || ')'
        FROM cases AS c LEFT JOIN last AS l USING (case_id)
        WHERE c.status <> coalesce(l.logged, 'open')
           OR (c.status IN ('approved', 'applied')
               AND c.case_id NOT IN (SELECT case_id FROM signed))
        ORDER BY c.case_id
        """
    ).fetchall()
    return [r[0] for r in rows]


# --------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------


def division_prefix(division: str | None) -> str | None:
    """A 6, 9 or 12 digit division code as the prefix its children share (zeros trimmed)."""
    if division is None or not division.strip():
        return None
    code = division.strip()
    if not code.isdigit() or len(code) not in (6, 9, 12):
        raise SignoffError(f"division {division!r}: expected a 6, 9 or 12 digit code")
    while len(code) > 6 and code.endswith("000"):
        code = code[:-3]
    while len(code) > 2 and code.endswith("00"):
        code = code[:-2]
    return code


def fingerprint(cases: pl.DataFrame) -> str:
    """SHA-256 over what the signers see and sign, in case id order."""
    digest = hashlib.sha256()
    for row in cases.select(FINGERPRINT_COLUMNS).sort("case_id").iter_rows():
        digest.update(json.dumps(list(row), ensure_ascii=False).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


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
    stored = _stored_signatures(con, case_ids)
    table = _worklist_rows(cases, roles, stored, full_id)

    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "xlsx":
        _write_xlsx(out, table, roles, export_id, digest)
    else:
        frame = pl.DataFrame(
            [{"export_id": export_id, **row} for row in table],
            schema={c: pl.String for c in ["export_id", *_english_columns(roles)]},
            orient="row",
        )
        write_csv(frame, out)
    con.execute(
        "INSERT INTO exports VALUES (?, ?, ?, ?, ?, ?)",
        [export_id, _now(), division, fmt, json.dumps(case_ids), digest],
    )
    audit.append(
        con, "export", export_id, {"cases": len(case_ids), "division": division, "format": fmt}
    )
    return ExportResult(export_id=export_id, path=out, cases=len(case_ids), fingerprint=digest)


def _english_columns(roles: Sequence[str]) -> list[str]:
    sig = [f"sig{n}_{p}" for n in range(1, len(roles) + 1) for p in SIGNATURE_PARTS]
    return [*CASE_COLUMNS, *sig]


def _chinese_columns(roles: Sequence[str]) -> list[str]:
    sig = [f"签字人{n}{PART_ZH[p]}" for n in range(1, len(roles) + 1) for p in SIGNATURE_PARTS]
    return [*(HEADERS_ZH[c] for c in CASE_COLUMNS), *sig]


def mask_id(value: str) -> str:
    """420607********1234: an identity number with its birth date and sequence hidden."""
    return ID_PATTERN.sub(lambda m: m.group(1) + "*" * 8 + m.group(2), value)


def _worklist_rows(
    cases: pl.DataFrame,
    roles: Sequence[str],
    stored: dict[str, dict[int, Signature]],
    full_id: bool,
) -> list[dict[str, str | None]]:
    rows = []
    for case in cases.iter_rows(named=True):
        row: dict[str, str | None] = {}
        for column in CASE_COLUMNS:
            value = case[column]
            text = None if value is None else str(value)
            masked = column in ("police_id_number", "evidence") or (
                column in ("current_value", "proposed_value") and case["field"] in ID_FIELDS
            )
            if text is not None and masked and not full_id:
                text = mask_id(text)
            row[column] = text
        signed = stored.get(case["case_id"], {})
        for n, role in enumerate(roles, start=1):
            sig = signed.get(n)
            row[f"sig{n}_role"] = sig.role if sig else role
            row[f"sig{n}_name"] = sig.name if sig else None
            row[f"sig{n}_date"] = sig.signed_on.isoformat() if sig else None
            row[f"sig{n}_decision"] = sig.decision if sig else None
            row[f"sig{n}_reason"] = sig.reason if sig else None
        rows.append(row)
    return rows


def _safe(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _write_xlsx(
    path: Path,
    table: list[dict[str, str | None]],
    roles: Sequence[str],
    export_id: str,
    digest: str,
) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert isinstance(sheet, Worksheet)
    sheet.title = DATA_SHEET
    columns = _english_columns(roles)
    headers = _chinese_columns(roles)
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
                value = CATEGORY_ZH.get(value, value)
            elif value is not None and name == "target_system":
                value = TARGET_ZH.get(value, value)
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
                cell.value = _safe(value)
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
    workbook.custom_doc_props.append(StringProperty(name=EXPORT_ID_PROP, value=export_id))
    workbook.custom_doc_props.append(StringProperty(name=FINGERPRINT_PROP, value=digest))
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        workbook.save(tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


# --------------------------------------------------------------------------------------
# Import
# --------------------------------------------------------------------------------------


def import_worklist(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    roles: Sequence[str] = DEFAULT_ROLES,
    today: date,
) -> ImportResult:
    """Take in the signatures of a filled-in worklist; refuse a forged or stale one whole."""
    roles = tuple(roles)
    export_id, rows = _read_worklist(path, roles)
    found = con.execute(
        "SELECT case_ids, fingerprint FROM exports WHERE export_id = ?", [export_id]
    ).fetchall()
    export = found[0] if found else None
    if export is None:
        raise SignoffError(f"{path.name}: export id {export_id!r} is unknown: {NOT_OURS}")
    exported: list[str] = json.loads(export[0])
    _refuse_if_stale(con, path, exported, export[1])

    known = set(exported)
    imported_at = _now()
    problems: list[RowProblem] = []
    added = 0
    updated: set[str] = set()
    seen: set[str] = set()
    for line, values in rows:
        case_id = (values.get("case_id") or "").strip() or None
        if case_id is None:
            if any(v for k, v in values.items() if k.startswith("sig") and k[-5:] != "_role"):
                problems.append(RowProblem(line, None, "缺少案件编号，本行签字未导入"))
            continue
        if case_id not in known:
            problems.append(RowProblem(line, case_id, f"案件不在导出 {export_id} 中：{NOT_OURS}"))
            continue
        if case_id in seen:
            problems.append(RowProblem(line, case_id, "同一案件在文件中出现多次，仅导入第一行"))
            continue
        seen.add(case_id)
        new, row_problems = _check_row(con, case_id, values, roles, today)
        problems.extend(RowProblem(line, case_id, p) for p in row_problems)
        if not new:
            continue
        for sig in new:
            con.execute(
                "INSERT INTO signatures VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    case_id, sig.position, sig.role, sig.name, sig.signed_on, sig.decision,
                    sig.reason, export_id, imported_at,
                ],
            )  # fmt: skip
        # The signer's name stays in `signatures`; the audit entry carries no personal data.
        audit.append_many(
            con,
            [
                ("signature", case_id, {"position": s.position, "role": s.role,
                                        "decision": s.decision, "export_id": export_id})
                for s in new
            ],
        )  # fmt: skip
        added += len(new)
        _settle_status(con, case_id, len(roles), export_id)
        updated.add(case_id)
    audit.append(
        con, "import", export_id,
        {"rows": len(rows), "signatures": added, "cases": len(updated), "problems": len(problems)},
    )  # fmt: skip
    return ImportResult(
        export_id=export_id,
        rows=len(rows),
        signatures_added=added,
        cases_updated=len(updated),
        problems=problems,
    )


def _refuse_if_stale(
    con: duckdb.DuckDBPyConnection, path: Path, exported: list[str], expected: str
) -> None:
    con.register("exported_ids", pl.DataFrame({"case_id": exported}, schema={"case_id": pl.String}))
    try:
        now = query_frame(
            con,
            "SELECT c.* FROM cases AS c JOIN exported_ids USING (case_id) ORDER BY case_id",
        )
    finally:
        con.unregister("exported_ids")
    gone = sorted(set(exported) - set(now["case_id"].to_list()))
    closed = now.filter(pl.col("closed_run").is_not_null())["case_id"].to_list()
    if gone or closed:
        which = ", ".join([*gone, *closed][:5])
        raise SignoffError(
            f"{path.name}: stale: case(s) closed since the export ({which}); "
            "the finding changed, export the worklist again (工作清单已过期，请重新导出)"
        )
    if fingerprint(now) != expected:
        raise SignoffError(
            f"{path.name}: stale: cases changed since the export (fingerprint mismatch); "
            "export the worklist again (工作清单已过期，请重新导出)"
        )


def _settle_status(con: duckdb.DuckDBPyConnection, case_id: str, needed: int, cause: str) -> None:
    """The status the signatures now call for, reached through allowed steps only."""
    signed = con.execute(
        "SELECT decision FROM signatures WHERE case_id = ? ORDER BY position", [case_id]
    ).fetchall()
    decisions = [d[0] for d in signed]
    status = scalar(con, "SELECT status FROM cases WHERE case_id = ?", [case_id])
    if DISAGREE in decisions:
        target = "rejected"
    elif len(decisions) >= needed and all(d == AGREE for d in decisions):
        target = "approved"
    elif decisions:
        target = "signing"
    else:
        return
    if status == target:
        return
    if status == "open" and target != "rejected":
        transition(con, case_id, "signing", cause)
        status = "signing"
    if status != target:
        transition(con, case_id, target, cause)


def _check_row(
    con: duckdb.DuckDBPyConnection,
    case_id: str,
    values: dict[str, Any],
    roles: tuple[str, ...],
    today: date,
) -> tuple[list[Signature], list[str]]:
    """The new signatures of one row that form a valid chain, and every problem seen."""
    stored = _stored_signatures(con, [case_id]).get(case_id, {})
    status = scalar(con, "SELECT status FROM cases WHERE case_id = ?", [case_id])
    problems: list[str] = []
    new: list[Signature] = []
    previous: Signature | None = None
    chain_ok = True  # False from the first position that cannot be kept
    for n, expected_role in enumerate(roles, start=1):
        label = f"第{n}签字（{expected_role}）"
        raw = {p: _text(values.get(f"sig{n}_{p}")) for p in SIGNATURE_PARTS}
        raw_date = values.get(f"sig{n}_date")
        filled = any(raw[p] for p in ("name", "date", "decision", "reason")) or isinstance(
            raw_date, (date, datetime)
        )
        have = stored.get(n)
        if not filled:
            if have is None:
                chain_ok = False
            previous = have or previous
            continue
        errors: list[str] = []
        missing = [str(k) for k in range(1, n) if k not in stored and not _filled(values, k)]
        if missing:
            errors.append(f"{label}：第{'、'.join(missing)}签字未签，须按顺序签字")
        role = raw["role"] or ""
        if role != expected_role:
            errors.append(f"{label}：角色应为“{expected_role}”，实为“{role or '空'}”")
        name = raw["name"]
        if not name:
            errors.append(f"{label}：缺少姓名")
        signed_on = _parse_date(raw_date)
        if signed_on is None:
            shown = raw["date"] or "空"
            errors.append(f"{label}：日期“{shown}”无法识别（如 2024-03-05、2024年3月5日）")
        elif signed_on > today:
            errors.append(f"{label}：日期 {signed_on} 晚于今天 {today}")
        elif previous is not None and signed_on < previous.signed_on:
            errors.append(f"{label}：日期 {signed_on} 早于上一签字的日期 {previous.signed_on}")
        decision = raw["decision"]
        if decision not in DECISIONS:
            errors.append(f"{label}：意见应为“同意”或“不同意”，实为“{decision or '空'}”")
        reason = raw["reason"] or None
        if decision == DISAGREE and not reason:
            errors.append(f"{label}：不同意须填写理由")
        if previous is not None and previous.decision == DISAGREE:
            errors.append(f"{label}：上一签字已不同意，案件已否决，不再签字")
        if errors:
            if have is None:
                problems.extend(errors)
                chain_ok = False
            elif not _same_text(have, raw, signed_on):
                problems.append(f"{label}：已于此前导入且内容不同，未覆盖")
            previous = have or previous
            continue
        assert name is not None and signed_on is not None and decision is not None
        sig = Signature(n, role, name, signed_on, decision, reason)
        if have is not None:
            if have.key() != sig.key():
                problems.append(f"{label}：已于此前导入且内容不同，未覆盖")
            previous = have
            continue
        if not chain_ok:
            previous = sig
            continue
        if status not in ("open", "signing"):
            problems.append(f"{label}：案件状态为“{STATUS_ZH.get(status, status)}”，不再接受签字")
            chain_ok = False
            continue
        new.append(sig)
        previous = sig
    return new, problems


def _same_text(have: Signature, raw: dict[str, str | None], signed_on: date | None) -> bool:
    return (
        have.role == (raw["role"] or "")
        and have.name == raw["name"]
        and have.signed_on == signed_on
        and have.decision == raw["decision"]
        and (have.reason or None) == (raw["reason"] or None)
    )


def _filled(values: dict[str, Any], n: int) -> bool:
    return any(
        _text(values.get(f"sig{n}_{p}")) or isinstance(values.get(f"sig{n}_{p}"), date)
        for p in ("name", "date", "decision", "reason")
    )


def _text(value: Any) -> str | None:
    """A cell as text, with the apostrophe the export put before formula-like text removed."""
    if value is None:
        return None
    if isinstance(value, datetime):
        text = value.date().isoformat()
    elif isinstance(value, date):
        text = value.isoformat()
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    else:
        text = str(value)
    text = text.strip()
    if text.startswith("'") and text[1:].startswith(FORMULA_STARTS):
        text = text[1:]
    return text or None


def _parse_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    if text is None:
        return None
    match = DATE_PATTERN.match(text)
    if match is None:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def _read_worklist(
    path: Path, roles: Sequence[str]
) -> tuple[str, list[tuple[int, dict[str, Any]]]]:
    """The export id and the rows (line number, values by English column name)."""
    if not path.is_file():
        raise SignoffError(f"{path}: file not found")
    suffix = path.suffix.lower()
    by_header = {
        zh: en for zh, en in zip(_chinese_columns(roles), _english_columns(roles), strict=True)
    }
    by_header.update({en: en for en in _english_columns(roles)})
    by_header["export_id"] = "export_id"
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path, by_header)
    if suffix == ".csv":
        return _read_csv(path, by_header)
    raise SignoffError(f"{path.name}: not a worklist (expected .xlsx or .csv)")


def _read_xlsx(
    path: Path, by_header: dict[str, str]
) -> tuple[str, list[tuple[int, dict[str, Any]]]]:
    try:
        workbook = openpyxl.load_workbook(path, data_only=False)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise SignoffError(f"{path.name}: not a readable workbook: {exc}") from exc
    ids: set[str] = set()
    if META_SHEET in workbook.sheetnames:
        for key, value, *_ in workbook[META_SHEET].iter_rows(values_only=True):
            if key == "export_id" and value:
                ids.add(str(value).strip())
    for prop in workbook.custom_doc_props.props:
        if prop.name == EXPORT_ID_PROP and prop.value:
            ids.add(str(prop.value).strip())
    if not ids:
        raise SignoffError(f"{path.name}: no export id: {NOT_OURS}")
    if len(ids) > 1:
        raise SignoffError(
            f"{path.name}: export ids disagree ({', '.join(sorted(ids))}): {NOT_OURS}"
        )
    sheet = workbook[DATA_SHEET] if DATA_SHEET in workbook.sheetnames else workbook.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    header = next(rows, None)
    if header is None:
        raise SignoffError(f"{path.name}: the worklist sheet is empty")
    columns = _map_header(
        path, [str(h).strip() if h is not None else "" for h in header], by_header
    )
    out = []
    for number, values in enumerate(rows, start=2):
        if all(v is None or str(v).strip() == "" for v in values):
            continue
        out.append((number, {columns[i]: v for i, v in enumerate(values) if columns.get(i)}))
    return ids.pop(), out


def _read_csv(
    path: Path, by_header: dict[str, str]
) -> tuple[str, list[tuple[int, dict[str, Any]]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = path.read_text(encoding="gb18030")
        except UnicodeDecodeError as exc:
            raise SignoffError(f"{path.name}: not UTF-8 or GB18030 text") from exc
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if header is None:
        raise SignoffError(f"{path.name}: empty file: {NOT_OURS}")
    columns = _map_header(path, [h.strip() for h in header], by_header)
    if "export_id" not in columns.values():
        raise SignoffError(f"{path.name}: no export_id column: {NOT_OURS}")
    ids: set[str] = set()
    out = []
    for number, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        row = {columns[i]: v for i, v in enumerate(values) if columns.get(i)}
        ids.add(str(row.get("export_id") or "").strip())
        out.append((number, row))
    ids.discard("")
    if not ids:
        raise SignoffError(f"{path.name}: no export id: {NOT_OURS}")
    if len(ids) > 1:
        raise SignoffError(f"{path.name}: rows from several exports ({', '.join(sorted(ids))})")
    return ids.pop(), out


def _map_header(path: Path, header: list[str], by_header: dict[str, str]) -> dict[int, str]:
    columns = {i: by_header[h] for i, h in enumerate(header) if h in by_header}
    if "case_id" not in columns.values():
        raise SignoffError(f"{path.name}: no 案件编号 (case_id) column: {NOT_OURS}")
    return columns


def _stored_signatures(
    con: duckdb.DuckDBPyConnection, case_ids: Iterable[str]
) -> dict[str, dict[int, Signature]]:
    ids = list(case_ids)
    if not ids:
        return {}
    rows = con.execute(
        "SELECT case_id, position, role, name, signed_on, decision, reason FROM signatures "
        "WHERE list_contains(?, case_id) ORDER BY case_id, position",
        [ids],
    ).fetchall()
    stored: dict[str, dict[int, Signature]] = {}
    for case_id, position, role, name, signed_on, decision, reason in rows:
        stored.setdefault(case_id, {})[position] = Signature(
            position, role, name, signed_on, decision, reason
        )
    return stored


# --------------------------------------------------------------------------------------
# Apply
# --------------------------------------------------------------------------------------


def apply(con: duckdb.DuckDBPyConnection, out_dir: Path) -> ApplyResult:
    """Apply the approved, six-times-signed cases to the corrected register; mark them applied."""
    applied_at = _now()
    signed = f"({sql('signoff/signed_off')})"
    ready = [
        r[0]
        for r in con.execute(
            "SELECT case_id FROM cases WHERE status = 'approved' AND closed_run IS NULL "
            f"AND case_id IN {signed} ORDER BY case_id"
        ).fetchall()
    ]
    refused = tuple(
        r[0]
        for r in con.execute(
            "SELECT case_id FROM cases WHERE status = 'approved' "
            f"AND case_id NOT IN {signed} ORDER BY case_id"
        ).fetchall()
    )
    before = scalar(con, "SELECT count(*) FROM corrections")
    con.register("to_apply", pl.DataFrame({"case_id": ready}, schema={"case_id": pl.String}))
    try:
        execute_script(con, sql("signoff/record_corrections"), {"applied_at": applied_at})
    finally:
        con.unregister("to_apply")
    for case_id in ready:
        transition(con, case_id, "applied", "apply")
    execute_script(con, sql("signoff/corrected_pop"))
    added = scalar(con, "SELECT count(*) FROM corrections") - before

    register = query_frame(con, "SELECT * FROM corrected_pop ORDER BY record_id")
    register = register.with_columns(
        pl.col(c).cast(pl.String) for c, t in register.schema.items() if t == pl.Object
    )
    path = out_dir / "corrected_pop.csv"
    write_csv(register, path)
    audit.append(con, "apply", None, {"cases": len(ready), "corrections": added})
    return ApplyResult(
        cases_applied=len(ready),
        corrections_added=added,
        register_rows=register.height,
        path=path,
        refused=refused,
    )


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
