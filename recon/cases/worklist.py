"""The worklist: the open cases in the contract's columns, with the six sign-off blocks.

The one builder of worklist rows: out/worklist.csv (every open case, full identity
numbers, for systems) and the exports the townships sign (recon.signoff.export, which
masks and fingerprints these same rows).
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import polars as pl

from recon.resources import sql
from recon.store.connection import query_frame, registered

DEFAULT_ROLES = ("计生专干", "村组干部", "包保国家干部", "统计员", "分管领导", "单位一把手")
SIGNATURE_PARTS = ("role", "name", "date", "decision", "reason")


def with_signatures(
    con: duckdb.DuckDBPyConnection, cases: pl.DataFrame, roles: Sequence[str]
) -> pl.DataFrame:
    """`cases` with sig<n>_role/name/date/decision/reason for each of the six roles.

    A signed block shows the role as signed; an empty one, the role configured now.
    """
    with registered(con, "wanted", cases.select("case_id")):
        signed = query_frame(con, sql("outputs/worklist_signatures"))
    for number, role in enumerate(roles, start=1):
        given = signed.filter(pl.col("position") == number).select(
            "case_id", *(pl.col(p).alias(f"sig{number}_{p}") for p in SIGNATURE_PARTS)
        )
        cases = cases.join(given, on="case_id", how="left", maintain_order="left")
        cases = cases.with_columns(pl.col(f"sig{number}_role").fill_null(role))
    order = [f"sig{n}_{p}" for n in range(1, len(roles) + 1) for p in SIGNATURE_PARTS]
    return cases.select(*(c for c in cases.columns if c not in order), *order)


def worklist(con: duckdb.DuckDBPyConnection, roles: Sequence[str] = DEFAULT_ROLES) -> pl.DataFrame:
    """out/worklist.csv: every open case (not closed, not yet applied), by place."""
    return with_signatures(con, query_frame(con, sql("outputs/worklist")), roles)
