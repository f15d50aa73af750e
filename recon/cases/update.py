"""Cases: one correction to verify and sign, with an id that is stable across runs."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import duckdb
import polars as pl

from recon.resources import sql
from recon.store import audit
from recon.store.connection import execute_script, query_frame, registered, scalar


@dataclass(frozen=True)
class CaseCounts:
    opened: int
    kept: int
    closed: int
    held: int = 0  # findings and open cases left alone: they need a feed never received


def _identity() -> pl.Expr:
    """What a case is about: the same finding on the same evidence gives the same text."""
    target_key = (
        pl.when(pl.col("target_system") == "pop")
        .then(pl.col("pop_record_id"))
        .when(pl.col("target_system") == "hosp")
        .then(pl.col("hosp_delivery_id"))
        .otherwise(pl.col("police_id_number"))
    )
    # A missing birth has no record in its target: it is known by its witnesses.
    witnesses = pl.concat_str(
        pl.col("pop_record_id").fill_null(""),
        pl.col("hosp_delivery_id").fill_null(""),
        pl.col("police_id_number").fill_null(""),
        separator="/",
    )
    subject = pl.when(pl.col("category") == "missing").then(witnesses).otherwise(target_key)
    proposal = pl.when(pl.col("category") == "misreported").then(pl.col("proposed_value"))
    return pl.concat_str(
        pl.col("category"),
        pl.col("target_system"),
        pl.col("field").fill_null(""),
        subject.fill_null(""),
        proposal.fill_null(""),
        pl.col("duplicate_of").fill_null(""),
        separator="|",
    )


def _case_id(identity: str) -> str:
    return "C" + hashlib.sha256(identity.encode("utf-8")).hexdigest()[:12].upper()


def with_case_ids(findings: pl.DataFrame) -> pl.DataFrame:
    ids = findings.select(
        _identity().map_elements(_case_id, return_dtype=pl.String).alias("case_id")
    )
    return pl.concat([ids, findings], how="horizontal").unique("case_id", maintain_order=True)


def update_cases(
    con: duckdb.DuckDBPyConnection,
    findings: pl.DataFrame,
    run_id: int,
    hold: pl.Expr | None = None,
) -> CaseCounts:
    """Open new cases, keep the ones found again, close the ones whose finding is gone.

    `hold` marks findings that may neither open nor close a case tonight (their evidence
    needs a feed never received): they are dropped, and open cases it marks stay as
    they are.
    """
    held_findings = 0
    held = pl.DataFrame(schema={"case_id": pl.String})
    if hold is not None:
        held_findings = findings.filter(hold).height
        findings = findings.filter(~hold)
        held = query_frame(con, sql("cases/closable")).filter(hold).select("case_id")
    tonight = with_case_ids(findings)
    with registered(con, "tonight", tonight), registered(con, "held", held):
        kept = scalar(con, sql("cases/kept"))
        opened = query_frame(con, sql("cases/opened"))
        closed = query_frame(con, sql("cases/closed"))
        execute_script(con, sql("cases/update"), {"run_id": run_id})
    # Every case opened (or reopened) and closed is an audit entry; kept ones are not.
    audit.append_many(
        con,
        [("case_opened", c, {"category": k, "target_system": t}) for c, k, t in opened.iter_rows()]
        + [("case_closed", c, {}) for (c,) in closed.iter_rows()],
        run_id=run_id,
    )
    return CaseCounts(
        opened=tonight.height - kept,
        kept=kept,
        closed=closed.height,
        held=held_findings + held.height,
    )
