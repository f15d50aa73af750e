"""Validate: run each feed's row rules (checks/<feed>.py) and split rows into accepted and
quarantined, with a warning for every check an accepted row fails."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandera.errors
import polars as pl

from recon.ingest.feeds import Feed
from recon.ingest.read import LINE, RawFeed, iter_rows_as_csv
from recon.resources import checks_module

INDEX = "index"

QUARANTINE_SCHEMA = {LINE: pl.Int64, "raw": pl.String, "reasons": pl.String}
WARNING_SCHEMA = {
    LINE: pl.Int64,
    "record_key": pl.String,
    "field": pl.String,
    "rule": pl.String,
    "value": pl.String,
    "message": pl.String,
}


@dataclass(frozen=True)
class Validated:
    accepted: pl.DataFrame  # canonical columns of the accepted rows, with LINE and extra
    quarantined: pl.DataFrame  # LINE, raw, reasons
    warnings: pl.DataFrame  # on accepted rows: LINE, record_key, field, rule, value, message
    rule_results: pl.DataFrame  # field, rule, severity, failures: every rule that failed


def feed_rules(feed: Feed, ctx: object) -> list[Any]:
    """The rules of checks/<feed>.py for this run."""
    return list(checks_module(feed.name).rules(ctx))


def validate(raw: RawFeed, canonical: pl.DataFrame, ctx: object) -> Validated:
    rules_module = checks_module("rules")
    rules = feed_rules(raw.feed, ctx)
    schema = rules_module.schema(raw.feed, rules)
    failures = _failures(schema, canonical, [r.check_name for r in rules])

    meta = pl.DataFrame(
        {
            "check": [r.check_name for r in rules],
            "field": [r.field for r in rules],
            "rule": [r.name for r in rules],
            "severity": [r.severity for r in rules],
            "message": [r.message for r in rules],
        }
    )
    failures = failures.join(meta, on="check", how="inner")
    rule_results = (
        failures.group_by("field", "rule", "severity").len("failures").sort("field", "rule")
    )

    quarantined_index = failures.filter(pl.col("severity") == "quarantine")[INDEX].unique()
    indexed = canonical.with_row_index(INDEX)
    accepted = indexed.filter(~pl.col(INDEX).is_in(quarantined_index.implode()))

    quarantined = _quarantine(raw, failures.filter(pl.col("severity") == "quarantine"))
    warnings = failures.filter(
        (pl.col("severity") == "warning") & ~pl.col(INDEX).is_in(quarantined_index.implode())
    )
    found = _warnings(raw.feed, canonical, warnings)
    keep = [LINE, *raw.feed.column_names, "extra"]
    return Validated(accepted.select(keep), quarantined, found, rule_results)


def _failures(schema: object, frame: pl.DataFrame, checks: list[str]) -> pl.DataFrame:
    """(check, index) of every row failing a rule; index is null for a rule that raised."""
    empty = pl.DataFrame(schema={"check": pl.String, INDEX: pl.UInt32})
    try:
        schema.validate(frame, lazy=True)  # type: ignore[attr-defined]
    except pandera.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        structural = cases.filter(~pl.col("check").is_in(checks))
        if structural.height:
            # A column of the wrong type is a bug in normalisation, not bad input.
            raise RuntimeError(f"canonical frame breaks its schema:\n{structural}") from None
        return cases.select(pl.col("check"), pl.col(INDEX).cast(pl.UInt32))
    return empty


# Failures are few (thousands in a million rows): their values are taken by row position
# (gather), not by joining the failures to the whole file on a row index.


def _raw_values(raw: RawFeed, failures: pl.DataFrame) -> pl.DataFrame:
    """The value as read, for each failure (index, field); failures without a row dropped."""
    failures = failures.filter(pl.col(INDEX).is_not_null())
    parts = []
    for field in failures["field"].unique().to_list():
        subset = failures.filter(pl.col("field") == field)
        values = raw.rows[field].gather(subset[INDEX])
        parts.append(subset.with_columns(values.alias("raw_value")))
    if not parts:
        return failures.with_columns(pl.lit(None, pl.String).alias("raw_value"))
    return pl.concat(parts)


def _quarantine(raw: RawFeed, failures: pl.DataFrame) -> pl.DataFrame:
    reasons = (
        _raw_values(raw, failures)
        .with_columns(
            pl.concat_str(
                pl.col("field"),
                pl.lit(": "),
                pl.col("message"),
                pl.when(pl.col("raw_value").str.strip_chars().str.len_chars() > 0)
                .then(pl.format("（原值 “{}”）", pl.col("raw_value")))
                .otherwise(pl.lit("")),
            ).alias("reason")
        )
        .sort(INDEX, "check")
        .group_by(INDEX, maintain_order=True)
        .agg(pl.col("reason").str.join("; ").alias("reasons"))
    )
    rows = raw.rows[reasons[INDEX]].with_columns(reasons["reasons"])
    file_order = [raw.columns[h] for h in raw.header]
    from_rules = pl.DataFrame(
        {
            LINE: rows[LINE],
            "raw": list(iter_rows_as_csv(rows, file_order)),
            "reasons": rows["reasons"],
        },
        schema=QUARANTINE_SCHEMA,
    )
    from_reader = raw.malformed.rename({"reason": "reasons"}).select(list(QUARANTINE_SCHEMA))
    return pl.concat([from_reader, from_rules]).sort(LINE)


def _warnings(feed: Feed, canonical: pl.DataFrame, warnings: pl.DataFrame) -> pl.DataFrame:
    warnings = warnings.filter(pl.col(INDEX).is_not_null())
    parts = []
    for field in warnings["field"].unique().sort().to_list():
        subset = warnings.filter(pl.col("field") == field)
        values = canonical.select(
            LINE, pl.col(feed.key).alias("record_key"), pl.col(field).alias("value")
        )[subset[INDEX]].with_columns(pl.col("value").cast(pl.String))
        found = pl.concat([values, subset.select("field", "rule", "message")], how="horizontal")
        parts.append(found.select(LINE, "record_key", "field", "rule", "value", "message"))
    if not parts:
        return pl.DataFrame(schema=WARNING_SCHEMA)
    return pl.concat(parts).cast(WARNING_SCHEMA).sort(LINE, "field", "rule")  # type: ignore[arg-type]
