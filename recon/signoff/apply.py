"""Apply: approved cases, six times signed 同意, become corrections of every target.

Each applied case is one row of the `corrections` ledger (and one audit entry holding
that row's digest). The register's corrections are applied to `corrected_pop`, rebuilt
from the register and the whole ledger; corrections of police and hospital records are
notices to those departments (`recon corrections export`). `out/corrections.csv` lists
every applied correction of every target with its six signers.

A case is applied only when the store shows six 同意 signatures at positions 1..6 AND
the case is still what was signed: every signature's audit entry names the digest of the
case's content, and a case whose content differs (edited in the store after signing) is
refused, as is a 漏报 whose proposal is not a record recon wrote.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from recon.outputs import output_set, write_csv
from recon.reconcile import proposal
from recon.resources import sql
from recon.signoff.common import (
    ApplyResult,
    case_digest,
    now,
    signed_digests,
    signed_off,
    transition,
)
from recon.store import audit
from recon.store.connection import execute_script, query_frame, registered, scalar

LEDGER_COLUMNS = (
    "case_id", "category", "target_system", "action", "record_id", "field", "old_value",
    "new_value", "record", "applied_at",
)  # fmt: skip
"""The ledger columns a correction's audit digest covers (with the signatures)."""


def correction_digest(row: dict[str, Any]) -> str:
    """SHA-256 of one ledger row as `audit verify` reads it back from the store."""
    values: dict[str, Any] = {c: row[c] for c in LEDGER_COLUMNS}
    values["applied_at"] = str(row["applied_at"])
    for column in ("record", "signatures"):  # JSON text in the store, compared as values
        raw = row[column]
        values[column] = json.loads(raw) if isinstance(raw, str) else raw
    text = json.dumps(values, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def apply(con: duckdb.DuckDBPyConnection, out_dir: Path) -> ApplyResult:
    """Apply every approved, six-times-signed case; write corrected_pop.csv and corrections.csv."""
    applied_at = now()
    with signed_off(con):
        candidates = query_frame(con, sql("signoff/approved_cases"))
        refused: dict[str, str] = {
            r[0]: "状态为已批准，但不是六人全部同意"
            for r in con.execute(sql("signoff/approved_unsigned")).fetchall()
        }
    digests = signed_digests(con)
    ready: list[dict[str, Any]] = []
    for case in candidates.iter_rows(named=True):
        case_id = case["case_id"]
        if digests.get(case_id) != {case_digest(case)}:
            refused[case_id] = "案件内容与签字时不符（签字后被改动）"
            continue
        record: dict[str, Any] | None = None
        if case["category"] == "missing":
            try:
                record = proposal.parse(case["proposed_value"])
            except proposal.ProposalError as exc:
                refused[case_id] = str(exc)
                continue
        elif case["category"] in ("fictitious", "duplicate") and case["target_system"] == "pop":
            record = _pop_record(con, case["pop_record_id"])
        ready.append(
            {
                "case_id": case_id,
                "record": None if record is None else json.dumps(record, ensure_ascii=False),
            }
        )

    before = scalar(con, sql("signoff/corrections_count"))
    to_apply = pl.DataFrame(ready, schema={"case_id": pl.String, "record": pl.String})
    with registered(con, "to_apply", to_apply):
        execute_script(con, sql("signoff/record_corrections"), {"applied_at": applied_at})
    ids = [r["case_id"] for r in ready]
    added = query_frame(con, sql("signoff/new_corrections"), {"ids": ids})
    audit.append_many(
        con,
        [
            ("correction", row["case_id"], {"digest": correction_digest(row)})
            for row in added.sort("case_id").iter_rows(named=True)
        ],
    )
    for case_id in ids:
        transition(con, case_id, "applied", "apply")
    execute_script(con, sql("signoff/corrected_pop"))
    count = scalar(con, sql("signoff/corrections_count")) - before

    register = query_frame(con, sql("signoff/corrected_register"))
    register = register.with_columns(
        pl.col(c).cast(pl.String) for c, t in register.schema.items() if t == pl.Object
    )
    path = out_dir / "corrected_pop.csv"
    ledger_path = out_dir / "corrections.csv"
    with output_set(out_dir) as staging:  # the register and its ledger appear together
        write_csv(register, staging / path.name)
        write_csv(corrections_table(con), staging / ledger_path.name)
    by_target = dict(con.execute(sql("signoff/corrections_by_target")).fetchall())
    audit.append(con, "apply", None, {"cases": len(ids), "corrections": count})
    return ApplyResult(
        cases_applied=len(ids),
        corrections_added=count,
        register_rows=register.height,
        path=path,
        refused=tuple(sorted(refused)),
        reasons=refused,
        corrections_path=ledger_path,
        by_target={str(k): int(v) for k, v in by_target.items()},
    )


def corrections_table(
    con: duckdb.DuckDBPyConnection, target: str | None = None, roles: int = 6
) -> pl.DataFrame:
    """The ledger as `corrections.csv` has it: one row per applied correction, the six
    signers' roles, names and dates spread into columns."""
    frame = query_frame(con, sql("signoff/corrections_table"), {"target": target})
    signers = [
        pl.col("signatures")
        .list.get(n - 1, null_on_oob=True)
        .struct.field(part)
        .cast(pl.String)
        .alias(f"sig{n}_{name}")
        for n in range(1, roles + 1)
        for part, name in (("role", "role"), ("name", "name"), ("signed_on", "date"))
    ]
    return frame.with_columns(signers).drop("signatures")


def _pop_record(con: duckdb.DuckDBPyConnection, record_id: str | None) -> dict[str, Any] | None:
    """The register record as it is when removed: kept in the ledger, so history keeps it."""
    frame = query_frame(con, sql("signoff/removed_record"), {"id": record_id})
    return frame.row(0, named=True) if frame.height else None
