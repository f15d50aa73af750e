"""The six sign-offs (六签字): worklist export and import, the status machine, apply.

Every function takes a connection inside a transaction the caller manages and returns a
frozen dataclass; nothing here prints. Status changes all go through `transition`, which
writes `case_status_log` first: that table's CHECK accepts only the allowed transitions,
so an illegal change fails in the store, whatever the code around it does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from recon.cases.worklist import SIGNATURE_PARTS
from recon.resources import sql
from recon.store import audit
from recon.store.connection import execute_script, query_frame, registered, scalar
from recon.vocabulary import HEADERS_ZH, PART_ZH, PROBLEM_KINDS, ROW_FINGERPRINT

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
# What one signature is about: a signed row's content, by which import recognises the row
# and apply refuses a case whose content changed after it was signed (`case_digest`).
DIGEST_COLUMNS = (
    "case_id", "category", "target_system", "field", "current_value", "proposed_value",
    "pop_record_id", "hosp_delivery_id", "police_id_number", "duplicate_of",
)  # fmt: skip
FINGERPRINT_COLUMNS = (
    "case_id", "category", "target_system", "field", "current_value", "proposed_value",
)  # fmt: skip

ID_FIELDS = frozenset({"id_number", "mother_id"})

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
    kind: str = "other"  # a key of PROBLEM_KINDS

    @property
    def label(self) -> str:
        return PROBLEM_KINDS.get(self.kind, self.kind)


@dataclass(frozen=True)
class ImportResult:
    export_id: str
    rows: int
    signatures_added: int
    cases_updated: int
    problems: list[RowProblem] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Problems per kind (its Chinese label), most frequent first."""
        counts: dict[str, int] = {}
        for problem in self.problems:
            counts[problem.label] = counts.get(problem.label, 0) + 1
        return dict(sorted(counts.items(), key=lambda item: -item[1]))


@dataclass(frozen=True)
class ApplyResult:
    cases_applied: int
    corrections_added: int
    register_rows: int
    path: Path
    refused: tuple[str, ...] = ()  # approved cases not applied
    reasons: dict[str, str] = field(default_factory=dict)  # why, by case id
    corrections_path: Path | None = None
    by_target: dict[str, int] = field(default_factory=dict)  # ledger rows per target


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
    current = scalar(con, sql("signoff/case_status"), {"case_id": case_id})
    if current is None:
        raise SignoffError(f"{case_id}: no such case")
    if (current, to_status) not in TRANSITIONS:
        raise SignoffError(f"{case_id}: status {current} cannot become {to_status}")
    # The log row is written first: its CHECK refuses an illegal pair even if code changes.
    execute_script(
        con,
        sql("signoff/status_change"),
        {
            "case_id": case_id, "from_status": current, "to_status": to_status,
            "changed_at": now(), "cause": cause,
        },
    )  # fmt: skip
    audit.append(con, "case_status", case_id, {"from": current, "to": to_status, "cause": cause})


@contextmanager
def signed_off(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """The cases the store shows as signed off (sql/signoff/signed_off.sql) as the view
    `signed_off` for the length of the block."""
    with registered(con, "signed_off", query_frame(con, sql("signoff/signed_off"))):
        yield con


def status_violations(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Cases whose status the log and the signatures do not bear out (for `audit verify`)."""
    with signed_off(con):
        rows = con.execute(sql("signoff/status_violations")).fetchall()
    return [r[0] for r in rows]


def stored_signatures(
    con: duckdb.DuckDBPyConnection, case_ids: Iterable[str]
) -> dict[str, dict[int, Signature]]:
    ids = list(case_ids)
    if not ids:
        return {}
    rows = con.execute(sql("signoff/stored_signatures"), {"ids": ids}).fetchall()
    stored: dict[str, dict[int, Signature]] = {}
    for case_id, position, role, name, signed_on, decision, reason in rows:
        stored.setdefault(case_id, {})[position] = Signature(
            position, role, name, signed_on, decision, reason
        )
    return stored


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


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


def case_digest(case: Mapping[str, Any]) -> str:
    """SHA-256 of a case's `DIGEST_COLUMNS`: the row fingerprint of an export, and what
    each signature's audit entry says was signed."""
    values = [None if case[c] is None else str(case[c]) for c in DIGEST_COLUMNS]
    return hashlib.sha256(json.dumps(values, ensure_ascii=False).encode("utf-8")).hexdigest()


def signature_entry(
    case_id: str, sig: Signature, export_id: str, digest: str
) -> tuple[str, str, dict[str, Any]]:
    """The audit entry of one signature: everything the signature means, so editing the
    `signatures` row (name, date, decision, reason) breaks `audit verify`. Signers'
    names are officials' acts, not data about a birth; `digest` is `case_digest` of the
    case as signed (no personal data of the family goes into the chain)."""
    return (
        "signature",
        case_id,
        {
            "position": sig.position,
            "role": sig.role,
            "name": sig.name,
            "signed_on": sig.signed_on.isoformat(),
            "decision": sig.decision,
            "reason": sig.reason or None,
            "export_id": export_id,
            "case_digest": digest,
        },
    )


def english_columns(roles: Sequence[str]) -> list[str]:
    sig = [f"sig{n}_{p}" for n in range(1, len(roles) + 1) for p in SIGNATURE_PARTS]
    return [*CASE_COLUMNS, *sig, ROW_FINGERPRINT]


def chinese_columns(roles: Sequence[str]) -> list[str]:
    sig = [f"签字人{n}{PART_ZH[p]}" for n in range(1, len(roles) + 1) for p in SIGNATURE_PARTS]
    return [*(HEADERS_ZH[c] for c in CASE_COLUMNS), *sig, HEADERS_ZH[ROW_FINGERPRINT]]


def signed_digests(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    """Per case, the case digests its signatures' audit entries name (`case_digest`).

    Entries written before signatures carried the digest name none: such a case is absent.
    """
    rows = con.execute(sql("audit/signed_digests")).fetchall()
    return {case_id: set(digests) for case_id, digests in rows}
