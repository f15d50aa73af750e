"""Score findings against the truth that `recon generate` writes (truth/).

Used by the end-to-end tests and the benchmark: precision and recall per (category,
target), and the share of proposed values that are exactly right.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import polars as pl

KEY_OF_TARGET = {"pop": "pop_record_id", "hosp": "hosp_delivery_id", "police": "police_id_number"}


def expected_findings(truth: Path, as_of: date, pop_days: int, police_days: int) -> pl.DataFrame:
    """category, target_system, field, ref (record key or birth id), proposed_value."""
    records = pl.read_parquet(truth / "records.parquet").filter(pl.col("quarantine").is_null())
    births = pl.read_parquet(truth / "births.parquet")
    misreports = pl.read_parquet(truth / "misreports.parquet")
    valid_keys = records.select(pl.col("feed"), pl.col("key"))
    misreported = misreports.join(valid_keys, on=["feed", "key"]).select(
        pl.lit("misreported").alias("category"),
        pl.col("feed").alias("target_system"),
        pl.col("field"),
        pl.col("key").alias("ref"),
        pl.col("true_value").alias("proposed_value"),
    )
    live = births.filter(pl.col("outcome") == "live")
    missing_pop = live.filter(
        ~pl.col("in_pop")
        & (pl.col("in_hosp") | pl.col("in_police"))
        & (pl.col("birth_date") <= as_of - timedelta(days=pop_days))
    )
    missing_police = live.filter(
        ~pl.col("in_police")
        & pl.col("in_hosp")
        & (pl.col("birth_date") <= as_of - timedelta(days=police_days))
    )
    missing = pl.concat(
        [
            frame.select(
                pl.lit("missing").alias("category"),
                pl.lit(target).alias("target_system"),
                pl.lit(None, pl.String).alias("field"),
                pl.col("birth_id").alias("ref"),
                pl.lit(None, pl.String).alias("proposed_value"),
            )
            for target, frame in (("pop", missing_pop), ("police", missing_police))
        ]
    )
    pop = records.filter(pl.col("feed") == "pop")
    fictitious = pop.filter(pl.col("role").is_in(["fictitious", "stillbirth_registered"])).select(
        pl.lit("fictitious").alias("category"),
        pl.lit("pop").alias("target_system"),
        pl.lit(None, pl.String).alias("field"),
        pl.col("key").alias("ref"),
        pl.lit(None, pl.String).alias("proposed_value"),
    )
    duplicate = pop.filter(pl.col("role") == "duplicate").select(
        pl.lit("duplicate").alias("category"),
        pl.lit("pop").alias("target_system"),
        pl.lit(None, pl.String).alias("field"),
        pl.col("key").alias("ref"),
        pl.col("duplicate_of").alias("proposed_value"),
    )
    return pl.concat([misreported, missing, fictitious, duplicate])


def found_findings(findings: pl.DataFrame, truth: Path) -> pl.DataFrame:
    """The same shape as `expected_findings`, from recon's findings or worklist."""
    records = pl.read_parquet(truth / "records.parquet").filter(pl.col("quarantine").is_null())
    birth_of = records.select("feed", "key", "birth_id")
    with_ref = findings.with_columns(
        pl.when(pl.col("target_system") == "pop")
        .then(pl.col("pop_record_id"))
        .when(pl.col("target_system") == "hosp")
        .then(pl.col("hosp_delivery_id"))
        .otherwise(pl.col("police_id_number"))
        .alias("ref")
    )
    # A missing birth is known by the records that witness it.
    witness = with_ref.filter(pl.col("category") == "missing").with_columns(
        pl.coalesce(
            pl.col("hosp_delivery_id"), pl.col("police_id_number"), pl.col("pop_record_id")
        ).alias("witness_key"),
        pl.when(pl.col("hosp_delivery_id").is_not_null())
        .then(pl.lit("hosp"))
        .when(pl.col("police_id_number").is_not_null())
        .then(pl.lit("police"))
        .otherwise(pl.lit("pop"))
        .alias("witness_feed"),
    )
    missing = witness.join(
        birth_of, left_on=["witness_feed", "witness_key"], right_on=["feed", "key"], how="left"
    ).with_columns(pl.col("birth_id").alias("ref"), pl.lit(None, pl.String).alias("proposed_value"))
    others = with_ref.filter(pl.col("category") != "missing").with_columns(
        pl.when(pl.col("category") == "duplicate")
        .then(pl.col("duplicate_of"))
        .when(pl.col("category") == "misreported")
        .then(pl.col("proposed_value"))
        .alias("proposed_value")
    )
    columns = ["category", "target_system", "field", "ref", "proposed_value"]
    return pl.concat([missing.select(columns), others.select(columns)])


def score(expected: pl.DataFrame, found: pl.DataFrame) -> pl.DataFrame:
    """Precision and recall per (category, target_system); proposed values right among hits."""
    on = ["category", "target_system", "field", "ref"]
    hits = expected.join(found, on=on, how="inner", suffix="_found", nulls_equal=True)
    rows = []
    groups = pl.concat(
        [expected.select("category", "target_system"), found.select("category", "target_system")]
    ).unique()
    for category, target in groups.sort(["category", "target_system"]).iter_rows():
        e = expected.filter(category=category, target_system=target).height
        f = found.filter(category=category, target_system=target).height
        h = hits.filter(category=category, target_system=target)
        right = h.filter(pl.col("proposed_value").eq_missing(pl.col("proposed_value_found"))).height
        rows.append(
            {
                "category": category,
                "target_system": target,
                "expected": e,
                "found": f,
                "hits": h.height,
                "precision": h.height / f if f else None,
                "recall": h.height / e if e else None,
                "proposed_right": right / h.height if h.height else None,
            }
        )
    return pl.DataFrame(rows)
