"""Apply: approved, six-times-signed cases become corrections."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from recon import audit
from recon.outputs import write_csv
from recon.resources import sql
from recon.signoff.common import (
    ApplyResult,
    now,
    transition,
)
from recon.store import execute_script, query_frame, scalar

# --------------------------------------------------------------------------------------
# Apply
# --------------------------------------------------------------------------------------


def apply(con: duckdb.DuckDBPyConnection, out_dir: Path) -> ApplyResult:
    """Apply the approved, six-times-signed cases to the corrected register; mark them applied."""
    applied_at = now()
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
