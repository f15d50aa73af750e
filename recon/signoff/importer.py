"""Worklist import: the signatures of a filled-in worklist, checked row by row."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import openpyxl
import polars as pl

from recon.cases.worklist import DEFAULT_ROLES, SIGNATURE_PARTS
from recon.dates import parse_date
from recon.masking import mask_ids as mask_id
from recon.outputs import FORMULA_STARTS, write_csv
from recon.resources import sql
from recon.signoff.common import (
    AGREE,
    DATA_SHEET,
    DECISIONS,
    DISAGREE,
    EXPORT_ID_PROP,
    META_SHEET,
    NOT_OURS,
    ROW_FINGERPRINT,
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
from recon.store import audit
from recon.store.connection import query_frame, registered, scalar
from recon.vocabulary import CATEGORY_LABELS, FEED_LABELS, FIELD_ZH, HEADERS_ZH, STATUS_ZH

MB = 1024 * 1024
# A workbook's parts, unpacked, may be this many times `max_file_mb`: sheet XML packs
# about 5 to 15 times; a zip bomb, hundreds.
UNZIPPED_FACTOR = 10
# The cells signers read and a row must still show as exported (besides the case id).
CONTENT_COLUMNS = (
    "category", "target_system", "field", "current_value", "proposed_value",
    "pop_record_id", "hosp_delivery_id", "police_id_number", "duplicate_of",
)  # fmt: skip

# --------------------------------------------------------------------------------------
# Import
# --------------------------------------------------------------------------------------


def import_worklist(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    roles: Sequence[str] = DEFAULT_ROLES,
    today: date,
    distinct_signers: bool = True,
    max_file_mb: int = 20,
    max_rows: int = 100_000,
) -> ImportResult:
    """Take in the signatures of a filled-in worklist; refuse a forged or stale one whole.

    Refused whole (`SignoffError`, nothing imported): a file larger than `max_file_mb`, a
    workbook that is no zip or unpacks to more than `UNZIPPED_FACTOR` times that (a zip
    bomb), more than `max_rows` data rows, an unknown export id, cases changed or closed
    since the export, a missing content or fingerprint column.

    Refused row by row, the other rows still imported: a signed row whose fingerprint or
    whose visible content (category, target, field, current and proposed value, record
    ids) is not what was exported for its case id: a changed case id, rows swapped, an
    edited 建议值, since what people signed is then not the case the store holds. Within a
    row a position is refused (with every later one) for a wrong role, name, date or
    decision, a date before the case was opened, after today or before the previous
    signature, and, with `distinct_signers`, a signer who already signs another position
    of the case. Each problem names the row; see `RowProblem.kind`.
    """
    roles = tuple(roles)
    export_id, rows = _read_worklist(path, roles, max_file_mb=max_file_mb, max_rows=max_rows)
    found = con.execute(sql("signoff/exported"), {"export_id": export_id}).fetchall()
    export = found[0] if found else None
    if export is None:
        raise SignoffError(f"{path.name}: export id {export_id!r} is unknown: {NOT_OURS}")
    exported: list[str] = json.loads(export[0])
    cases = {
        c["case_id"]: c
        for c in _refuse_if_stale(con, path, exported, export[1]).iter_rows(named=True)
    }
    digests = {case_id: case_digest(case) for case_id, case in cases.items()}
    exported_as = {digest: case_id for case_id, digest in digests.items()}

    imported_at = now()
    problems: list[RowProblem] = []
    added = 0
    updated: set[str] = set()
    seen: set[str] = set()
    for line, values in rows:
        case_id = (values.get("case_id") or "").strip() or None
        signed = any(_filled(values, n) for n in range(1, len(roles) + 1))
        if case_id is None:
            if signed:
                problems.append(
                    RowProblem(line, None, "缺少案件编号，本行签字未导入", "no_case_id")
                )
            continue
        if case_id not in cases:
            problems.append(
                RowProblem(
                    line, case_id, f"案件不在导出 {export_id} 中：{NOT_OURS}", "not_exported"
                )
            )
            continue
        if not signed:
            continue  # nothing to take in
        refused = _check_content(line, case_id, values, cases[case_id], digests, exported_as)
        if refused is not None:
            problems.append(refused)
            continue  # a refused row does not claim its case id: the true row may follow
        if case_id in seen:
            problems.append(
                RowProblem(line, case_id, "同一案件在文件中出现多次，仅导入第一行", "duplicate_row")
            )
            continue
        seen.add(case_id)
        new, row_problems = _check_row(
            con, line, case_id, values, roles, today,
            opened=cases[case_id]["opened_on"], distinct_signers=distinct_signers,
        )  # fmt: skip
        problems.extend(row_problems)
        if not new:
            continue
        for sig in new:
            con.execute(
                sql("signoff/signatures"),
                {
                    "case_id": case_id, "position": sig.position, "role": sig.role,
                    "name": sig.name, "signed_on": sig.signed_on, "decision": sig.decision,
                    "reason": sig.reason, "export_id": export_id, "imported_at": imported_at,
                },
            )  # fmt: skip
        digest = digests[case_id]
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


def write_problems(problems: Sequence[RowProblem], path: Path) -> None:
    """Every problem of an import as CSV (行, 案件编号, 问题), UTF-8 with BOM, formula-safe."""
    frame = pl.DataFrame(
        {
            "行": [p.row for p in problems],
            "案件编号": [p.case_id for p in problems],
            "问题": [p.problem for p in problems],
        },
        schema={"行": pl.Int64, "案件编号": pl.String, "问题": pl.String},
    )
    write_csv(frame, path)


def _refuse_if_stale(
    con: duckdb.DuckDBPyConnection, path: Path, exported: list[str], expected: str
) -> pl.DataFrame:
    """The exported cases as stored, with `opened_on` (the as-of date of the run that
    opened each); refused if any closed or changed since the export."""
    ids = pl.DataFrame({"case_id": exported}, schema={"case_id": pl.String})
    with registered(con, "exported_ids", ids):
        now = query_frame(con, sql("signoff/exported_cases"))
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
    return now


def _settle_status(con: duckdb.DuckDBPyConnection, case_id: str, needed: int, cause: str) -> None:
    """The status the signatures now call for, reached through allowed steps only."""
    signed = con.execute(sql("signoff/decisions"), {"case_id": case_id}).fetchall()
    decisions = [d[0] for d in signed]
    status = scalar(con, sql("signoff/case_status"), {"case_id": case_id})
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


def _check_content(
    line: int,
    case_id: str,
    values: dict[str, Any],
    case: dict[str, Any],
    digests: dict[str, str],
    exported_as: dict[str, str],
) -> RowProblem | None:
    """Why a signed row is not the row exported for `case_id`, or None if it is.

    The fingerprint proves the row was exported for this case; the visible cells are what
    the signers read, so an edit there (even with the fingerprint intact) refuses it too.
    """
    given = _text(values.get(ROW_FINGERPRINT))
    if given is None:
        return RowProblem(
            line, case_id,
            f"第{line}行：缺少行指纹（{HEADERS_ZH[ROW_FINGERPRINT]}）：本行不是 recon 为案件 "
            f"{case_id} 导出的，本行签字未导入",
            "no_fingerprint",
        )  # fmt: skip
    given = given.lower()
    if given != digests[case_id]:
        other = exported_as.get(given)
        whose = f"（本行导出时属于案件 {other}）" if other else ""
        return RowProblem(
            line, case_id,
            f"第{line}行：行指纹与案件 {case_id} 不符：本行内容不是为该案件导出的"
            f"（案件编号被改动或行被调换）{whose}，本行签字未导入",
            "fingerprint",
        )  # fmt: skip
    changed = []
    for column in CONTENT_COLUMNS:
        cell = values.get(column)
        shown = {_plain(_text(cell)), _plain(cell)}
        if shown & _renderings(column, case):
            continue
        old = _plain(case[column])
        new = _text(cell)
        changed.append(
            f"{HEADERS_ZH[column]} 导出为“{mask_id(old or '空')}”，本行为“{mask_id(new or '空')}”"
        )
    if not changed:
        return None
    return RowProblem(
        line, case_id,
        f"第{line}行：案件 {case_id} 的内容与导出时不符（{'；'.join(changed)}），本行签字未导入",
        "changed",
    )  # fmt: skip


def _renderings(column: str, case: dict[str, Any]) -> set[str | None]:
    """Every way the export writes this cell: CSV or workbook label, masked or full id."""
    text = _plain(case[column])
    if text is None:
        return {None}
    # Masking only hides the middle of identity numbers, so a masked rendering is taken
    # for any column: which columns export masks is its own business.
    forms: set[str | None] = {text, mask_id(text)}
    labels = {"category": CATEGORY_LABELS, "target_system": FEED_LABELS, "field": FIELD_ZH}.get(
        column
    )
    if labels and text in labels:
        forms.add(labels[text])
        if column == "field":
            forms.add(f"{labels[text]}({text})")
    return forms


def _plain(value: Any) -> str | None:
    """A cell's text as is (no apostrophe removed), blank as None, line ends as LF."""
    if value is None:
        return None
    text = str(value).replace("\r\n", "\n").strip()
    return text or None


def _person(name: str) -> str:
    """A signer's name as compared for `distinct_signers`: spaces collapsed, any case."""
    return " ".join(name.split()).casefold()


def _check_row(
    con: duckdb.DuckDBPyConnection,
    line: int,
    case_id: str,
    values: dict[str, Any],
    roles: tuple[str, ...],
    today: date,
    *,
    opened: date | None,
    distinct_signers: bool,
) -> tuple[list[Signature], list[RowProblem]]:
    """The new signatures of one row that form a valid chain, and every problem seen."""
    stored = stored_signatures(con, [case_id]).get(case_id, {})
    status = scalar(con, sql("signoff/case_status"), {"case_id": case_id})
    problems: list[RowProblem] = []
    new: list[Signature] = []
    previous: Signature | None = None
    chain_ok = True  # False from the first position that cannot be kept
    # Who signs which position: the stored ones, and those typed in this row so far.
    signers = {n: _person(sig.name) for n, sig in stored.items()}

    def problem(kind: str, text: str) -> RowProblem:
        return RowProblem(line, case_id, text, kind)

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
        errors: list[RowProblem] = []
        missing = [str(k) for k in range(1, n) if k not in stored and not _filled(values, k)]
        if missing:
            errors.append(
                problem("order", f"{label}：第{'、'.join(missing)}签字未签，须按顺序签字")
            )
        role = raw["role"] or ""
        if role != expected_role:
            errors.append(
                problem("role", f"{label}：角色应为“{expected_role}”，实为“{role or '空'}”")
            )
        name = raw["name"]
        if not name:
            errors.append(problem("name", f"{label}：缺少姓名"))
        elif distinct_signers:
            person = _person(name)
            twice = [k for k, who in sorted(signers.items()) if k != n and who == person]
            if twice and (have is None or _person(have.name) != person):
                k = twice[0]
                errors.append(
                    problem(
                        "signer_twice",
                        f"第{line}行：{label}：“{name}”已签第{k}签字（{roles[k - 1]}），"
                        "同一人不得签同一案件的两个角色，本签字未导入",
                    )
                )
            signers.setdefault(n, person)
        signed_on = _parse_date(raw_date)
        if signed_on is None:
            shown = raw["date"] or "空"
            errors.append(
                problem("date", f"{label}：日期“{shown}”无法识别（如 2024-03-05、2024年3月5日）")
            )
        elif signed_on > today:
            errors.append(problem("date_future", f"{label}：日期 {signed_on} 晚于今天 {today}"))
        elif opened is not None and signed_on < opened:
            errors.append(
                problem(
                    "date_before_case",
                    f"第{line}行：{label}：日期 {signed_on} 早于案件立案日期 {opened}，"
                    "本签字未导入",
                )
            )
        elif previous is not None and signed_on < previous.signed_on:
            errors.append(
                problem(
                    "date_order",
                    f"{label}：日期 {signed_on} 早于上一签字的日期 {previous.signed_on}",
                )
            )
        decision = raw["decision"]
        if decision not in DECISIONS:
            errors.append(
                problem("decision", f"{label}：意见应为“同意”或“不同意”，实为“{decision or '空'}”")
            )
        reason = raw["reason"] or None
        if decision == DISAGREE and not reason:
            errors.append(problem("reason", f"{label}：不同意须填写理由"))
        if previous is not None and previous.decision == DISAGREE:
            errors.append(
                problem("after_reject", f"{label}：上一签字已不同意，案件已否决，不再签字")
            )
        conflict = problem("conflict", f"{label}：已于此前导入且内容不同，未覆盖")
        if errors:
            if have is None:
                problems.extend(errors)
                chain_ok = False
            elif not _same_text(have, raw, signed_on):
                problems.append(conflict)
            previous = have or previous
            continue
        assert name is not None and signed_on is not None and decision is not None
        sig = Signature(n, role, name, signed_on, decision, reason)
        if have is not None:
            if have.key() != sig.key():
                problems.append(conflict)
            previous = have
            continue
        if not chain_ok:
            previous = sig
            continue
        if status not in ("open", "signing"):
            problems.append(
                problem(
                    "status", f"{label}：案件状态为“{STATUS_ZH.get(status, status)}”，不再接受签字"
                )
            )
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
    return None if text is None else parse_date(text)


def _read_worklist(
    path: Path, roles: Sequence[str], *, max_file_mb: int, max_rows: int
) -> tuple[str, list[tuple[int, dict[str, Any]]]]:
    """The export id and the rows (line number, values by English column name).

    Sizes are checked before anything is parsed, and reading stops at the first row past
    `max_rows`: a bad file costs seconds, not minutes."""
    if not path.is_file():
        raise SignoffError(f"{path}: file not found")
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".xlsm", ".csv"):
        raise SignoffError(f"{path.name}: not a worklist (expected .xlsx or .csv)")
    size = path.stat().st_size
    if size > max_file_mb * MB:
        raise SignoffError(
            f"{path.name}：文件大小 {size / MB:,.1f} MB，超过上限 {max_file_mb} MB"
            "（[signoff] max_file_mb），未读取"
        )
    by_header = {
        zh: en for zh, en in zip(chinese_columns(roles), english_columns(roles), strict=True)
    }
    by_header.update({en: en for en in english_columns(roles)})
    by_header["export_id"] = "export_id"
    if suffix == ".csv":
        return _read_csv(path, by_header, max_rows)
    _refuse_zip_bomb(path, max_file_mb)
    return _read_xlsx(path, by_header, max_rows)


def _refuse_zip_bomb(path: Path, max_file_mb: int) -> None:
    """A workbook is a zip: refuse one that is not, or that unpacks to too much, before
    openpyxl unpacks it (the sizes are the zip's own, which reading then enforces)."""
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise SignoffError(f"{path.name}：不是有效的 xlsx 工作簿（不是 zip 文件：{exc}）") from exc
    limit = UNZIPPED_FACTOR * max_file_mb
    if unpacked > limit * MB:
        raise SignoffError(
            f"{path.name}：工作簿解压后 {unpacked / MB:,.0f} MB，超过上限 {limit} MB"
            f"（{UNZIPPED_FACTOR} × [signoff] max_file_mb；疑为压缩炸弹），未读取"
        )


def _too_many_rows(path: Path, line: int, max_rows: int) -> SignoffError:
    return SignoffError(
        f"{path.name}：第{line}行起超过行数上限 {max_rows:,} 行（[signoff] max_rows），"
        "未读取其余部分"
    )


def _read_xlsx(
    path: Path, by_header: dict[str, str], max_rows: int
) -> tuple[str, list[tuple[int, dict[str, Any]]]]:
    try:
        # Read-only: rows are streamed, so reading can stop at the row limit.
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise SignoffError(f"{path.name}: not a readable workbook: {exc}") from exc
    try:
        return _read_sheets(path, workbook, by_header, max_rows)
    except SignoffError:
        raise
    except Exception as exc:  # a damaged part found only while streaming it
        raise SignoffError(f"{path.name}: not a readable workbook: {exc}") from exc
    finally:
        workbook.close()


def _read_sheets(
    path: Path, workbook: Any, by_header: dict[str, str], max_rows: int
) -> tuple[str, list[tuple[int, dict[str, Any]]]]:
    ids: set[str] = set()
    if META_SHEET in workbook.sheetnames:
        for row in workbook[META_SHEET].iter_rows(max_col=2, values_only=True):
            key, value = (*row, None, None)[:2]
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
    # By name: the machine-read sheet need not be the first (a printable form may be).
    if DATA_SHEET not in workbook.sheetnames:
        raise SignoffError(f"{path.name}: no sheet {DATA_SHEET!r}: {NOT_OURS}")
    sheet = workbook[DATA_SHEET]
    sheet.reset_dimensions()  # a wrong <dimension> would silently cut rows off
    header = next(sheet.iter_rows(min_row=1, max_row=1, values_only=True), None)
    if not header:
        raise SignoffError(f"{path.name}: the worklist sheet is empty")
    columns = _map_header(
        path, [str(h).strip() if h is not None else "" for h in header], by_header
    )
    width = max(columns) + 1  # cells right of the last known column are never read
    out: list[tuple[int, dict[str, Any]]] = []
    for number, values in enumerate(
        sheet.iter_rows(min_row=2, max_col=width, values_only=True), start=2
    ):
        if all(v is None or str(v).strip() == "" for v in values):
            continue
        if len(out) == max_rows:
            raise _too_many_rows(path, number, max_rows)
        out.append((number, {columns[i]: v for i, v in enumerate(values) if columns.get(i)}))
    return ids.pop(), out


def _read_csv(
    path: Path, by_header: dict[str, str], max_rows: int
) -> tuple[str, list[tuple[int, dict[str, Any]]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = path.read_text(encoding="gb18030")
        except UnicodeDecodeError as exc:
            raise SignoffError(f"{path.name}: not UTF-8 or GB18030 text") from exc
    # newline="": a line break inside a quoted cell (Alt+Enter in a reason) stays in it.
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise SignoffError(f"{path.name}: empty file: {NOT_OURS}")
        columns = _map_header(path, [h.strip() for h in header], by_header)
        if "export_id" not in columns.values():
            raise SignoffError(f"{path.name}: no export_id column: {NOT_OURS}")
        ids: set[str] = set()
        out: list[tuple[int, dict[str, Any]]] = []
        start = reader.line_num + 1  # the physical line a record starts on
        for values in reader:
            number, start = start, reader.line_num + 1
            if not any(v.strip() for v in values):
                continue
            if len(out) == max_rows:
                raise _too_many_rows(path, number, max_rows)
            row = {columns[i]: v for i, v in enumerate(values) if columns.get(i)}
            ids.add(str(row.get("export_id") or "").strip())
            out.append((number, row))
    except csv.Error as exc:
        raise SignoffError(f"{path.name}：第{reader.line_num}行无法读取：{exc}") from exc
    ids.discard("")
    if not ids:
        raise SignoffError(f"{path.name}: no export id: {NOT_OURS}")
    if len(ids) > 1:
        raise SignoffError(f"{path.name}: rows from several exports ({', '.join(sorted(ids))})")
    return ids.pop(), out


def _map_header(path: Path, header: list[str], by_header: dict[str, str]) -> dict[int, str]:
    columns: dict[int, str] = {}
    for i, h in enumerate(header):
        if h not in by_header:
            continue
        if by_header[h] in columns.values():  # which of the two did the signers read?
            raise SignoffError(f"{path.name}：列“{h}”出现两次：{NOT_OURS}")
        columns[i] = by_header[h]
    if "case_id" not in columns.values():
        raise SignoffError(f"{path.name}: no 案件编号 (case_id) column: {NOT_OURS}")
    # Without these a row cannot be checked against its case: re-export, never guess.
    absent = [
        HEADERS_ZH[c] for c in (*CONTENT_COLUMNS, ROW_FINGERPRINT) if c not in columns.values()
    ]
    if absent:
        raise SignoffError(
            f"{path.name}：缺少列 {'、'.join(absent)}：无法核对各行是否为导出时的内容，"
            "请使用 recon 导出的原表（或重新导出）"
        )
    return columns
