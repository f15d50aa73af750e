"""Worklist import: the signatures of a filled-in worklist, checked row by row."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import openpyxl
import polars as pl

from recon import audit
from recon.cases import DEFAULT_ROLES, SIGNATURE_PARTS
from recon.outputs import FORMULA_STARTS
from recon.signoff.common import (
    AGREE,
    DATA_SHEET,
    DATE_PATTERN,
    DECISIONS,
    DIGEST_COLUMNS,
    DISAGREE,
    EXPORT_ID_PROP,
    META_SHEET,
    NOT_OURS,
    STATUS_ZH,
    ImportResult,
    RowProblem,
    Signature,
    SignoffError,
    case_digest,
    chinese_columns,
    english_columns,
    fingerprint,
    now,
    signature_entry,
    stored_signatures,
    transition,
)
from recon.store import query_frame, scalar

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
    imported_at = now()
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
        query = f"SELECT {', '.join(DIGEST_COLUMNS)} FROM cases WHERE case_id = $id"
        digest = case_digest(query_frame(con, query, {"id": case_id}).row(0, named=True))
        audit.append_many(con, [signature_entry(case_id, s, export_id, digest) for s in new])
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
    stored = stored_signatures(con, [case_id]).get(case_id, {})
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
        zh: en for zh, en in zip(chinese_columns(roles), english_columns(roles), strict=True)
    }
    by_header.update({en: en for en in english_columns(roles)})
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
