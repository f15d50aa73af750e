"""Metrics: the figures of the report, computed in the store with the SQL in sql/metrics/.

`collect` builds the temporary `report_births` table (one row per birth with its feeds,
consensus facts and entry lags) and runs each aggregate over it. `record` keeps a run's
headline figures in `run_metrics`, so the report can tell when a value departs from the
previous runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import duckdb
import polars as pl

from recon.config import Config
from recon.resources import sql
from recon.store.connection import execute_script, query_frame, registered

FEEDS: tuple[Literal["pop", "hosp", "police"], ...] = ("pop", "hosp", "police")


@dataclass(frozen=True)
class Figures:
    """Everything the report reads from the store, as frames (see sql/metrics/)."""

    as_of: date
    deadlines: dict[str, int]  # pop, police, hosp
    townships: dict[str, str]  # township code -> name
    files: pl.DataFrame
    rule_failures: pl.DataFrame
    rule_examples: pl.DataFrame
    quarantine_kinds: pl.DataFrame
    expectations: pl.DataFrame
    combinations: pl.DataFrame
    coverage: pl.DataFrame
    lags: pl.DataFrame
    monthly: pl.DataFrame
    sex_ratio: pl.DataFrame
    mse_cells: pl.DataFrame
    findings_by_township: pl.DataFrame
    case_progress: pl.DataFrame


def deadlines_of(config: Config) -> dict[str, int]:
    return {**config.deadlines, "hosp": config.report.hosp_days}


def prepare(con: duckdb.DuckDBPyConnection, as_of: date, deadlines: dict[str, int]) -> None:
    """Build the temporary report_births table the other queries read."""
    execute_script(
        con,
        sql("metrics/report_births"),
        {
            "as_of": as_of,
            "pop_days": deadlines["pop"],
            "police_days": deadlines["police"],
            "hosp_days": deadlines["hosp"],
        },
    )


def _frame(
    con: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any] | None = None
) -> pl.DataFrame:
    """The result of sql/metrics/<name>.sql, given the parameters it uses."""
    query = sql(f"metrics/{name}")
    used = {k: v for k, v in (params or {}).items() if f"${k}" in query}
    return query_frame(con, query, used or None)


def _days(deadlines: dict[str, int]) -> dict[str, int]:
    return {f"{feed}_days": days for feed, days in deadlines.items()}


def collect(con: duckdb.DuckDBPyConnection, as_of: date, config: Config) -> Figures:
    """Every figure of the report, as of `as_of`."""
    deadlines = deadlines_of(config)
    prepare(con, as_of, deadlines)
    days = _days(deadlines)
    return Figures(
        as_of=as_of,
        deadlines=deadlines,
        townships=dict(_frame(con, "townships").iter_rows()),
        files=_frame(con, "feed_files"),
        rule_failures=_frame(con, "rule_failures"),
        rule_examples=_frame(con, "rule_examples"),
        quarantine_kinds=_frame(con, "quarantine_kinds"),
        expectations=_frame(con, "expectations"),
        combinations=_frame(con, "combinations"),
        coverage=_frame(con, "coverage", days),
        lags=_frame(con, "reporting_lags"),
        monthly=_frame(con, "monthly_scores", {"as_of": as_of, **days}),
        sex_ratio=_frame(con, "sex_ratio"),
        mse_cells=_frame(con, "mse_cells", {"as_of": as_of, "days": max(deadlines.values())}),
        findings_by_township=_frame(con, "findings_by_township"),
        case_progress=_frame(con, "case_progress"),
    )


def county_coverage(coverage: pl.DataFrame) -> pl.DataFrame:
    """feed, due, held, timely for the whole county, from the per-township coverage."""
    return coverage.group_by("feed").agg(pl.col("due", "held", "timely").sum())


def headline(
    run_id: int,
    files: pl.DataFrame,
    coverage: pl.DataFrame,
    sex_ratio: pl.DataFrame,
    combinations: pl.DataFrame,
    findings_by_township: pl.DataFrame,
) -> pl.DataFrame:
    """The figures one run keeps for the metric history: (metric, scope, value).

    Ingest counts only for feeds that delivered a file in this run, so a quiet night
    is not mistaken for a feed that collapsed.
    """
    rows: list[tuple[str, str, float | None]] = []
    this_run = files.filter(pl.col("run_id") == run_id)
    for (feed,), files in this_run.group_by(["feed"], maintain_order=True):
        read = int(files["rows_read"].sum())
        quarantined = int(files["rows_quarantined"].sum())
        rows += [
            ("rows_read", str(feed), float(read)),
            ("rows_accepted", str(feed), float(files["rows_accepted"].sum())),
            ("rows_quarantined", str(feed), float(quarantined)),
            ("quarantine_share", str(feed), quarantined / read if read else None),
        ]
    county = county_coverage(coverage)
    for feed, due, held, timely in county.iter_rows():
        rows.append(("coverage", feed, held / due if due else None))
        if feed != "certificate":
            rows.append(("timeliness", feed, timely / held if held else None))
    by_township = coverage.filter(pl.col("feed").is_in(["pop", "police"]))
    for township, feed, due, held, _ in by_township.iter_rows():
        rows.append(("coverage", f"{feed}:{township}", held / due if due else None))
    county_srb = sex_ratio.filter(pl.col("township").is_null() & pl.col("birth_year").is_null())
    for _, _, feed, boys, girls in county_srb.iter_rows():
        rows.append(("srb", feed, 100 * boys / girls if girls else None))
    real = combinations.filter(pl.col("real_birth"))["births"].sum()
    rows.append(("real_births", "county", float(real)))
    open_cases = findings_by_township.group_by("category").agg(pl.col("cases").sum())
    for category, cases in open_cases.iter_rows():
        rows.append(("open_cases", category, float(cases)))
    return pl.DataFrame(
        rows, schema={"metric": pl.String, "scope": pl.String, "value": pl.Float64}, orient="row"
    ).sort("metric", "scope")


def record(con: duckdb.DuckDBPyConnection, run_id: int, as_of: date, config: Config) -> None:
    """Keep this run's headline figures in run_metrics (inside the run's transaction)."""
    deadlines = deadlines_of(config)
    prepare(con, as_of, deadlines)
    rows = headline(
        run_id,
        files=_frame(con, "feed_files"),
        coverage=_frame(con, "coverage", _days(deadlines)),
        sex_ratio=_frame(con, "sex_ratio"),
        combinations=_frame(con, "combinations"),
        findings_by_township=_frame(con, "findings_by_township"),
    )
    with registered(con, "incoming_metrics", rows):
        con.execute(sql("metrics/run_metrics"), {"run_id": run_id})


def history(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every run's headline figures: run_id, as_of, metric, scope, value."""
    return query_frame(con, sql("metrics/history"))
