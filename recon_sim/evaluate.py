"""Score findings against the truth that `recon generate` writes (truth/).

Used by the end-to-end tests and the benchmark: precision and recall per (category,
target), and the share of proposed values that are exactly right.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import polars as pl

from recon.ingest.feeds import FEED_SPECS, FEEDS
from recon.reconcile.evidence import DEFAULT_AUTHORITY

KEY_OF_TARGET = {"pop": "pop_record_id", "hosp": "hosp_delivery_id", "police": "police_id_number"}


def expected_findings(
    truth: Path, as_of: date, pop_days: int, police_days: int, contract: bool = True
) -> pl.DataFrame:
    """category, target_system, field, ref (record key or birth id), proposed_value.

    `contract`: fictitious as the contract defines it (no other feed witnesses the record,
    a real birth included); else only the records of no real birth (the generator's truth).
    """
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
    # The contract's fictitious: a register record no other feed witnesses (a real home
    # birth the police never registered included: only a visit can tell), or a stillbirth.
    witnessed = births.filter(
        (pl.col("in_hosp") & (pl.col("outcome") == "live")) | pl.col("in_police")
    )["birth_id"]
    unwitnessed = (
        (pl.col("role") == "ok") & ~pl.col("birth_id").is_in(witnessed.implode()) & contract
    )
    fictitious = pop.filter(
        pl.col("role").is_in(["fictitious", "stillbirth_registered"]) | unwitnessed
    ).select(
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
    columns += [c for c in ("confidence", "evidence") if c in findings.columns]
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


def reliability(expected: pl.DataFrame, found: pl.DataFrame) -> pl.DataFrame:
    """Cases per confidence (each kind of evidence has its own) and the share of them that
    are right (expected and, for a misreport, with the right proposed value): an officer
    working the list from the top should meet about that share."""
    on = ["category", "target_system", "field", "ref"]
    truth = expected.select(
        *on, pl.col("proposed_value").alias("true_value"), pl.lit(True).alias("expected")
    ).unique(on)
    judged = found.with_columns(pl.col("confidence").cast(pl.Float64)).join(
        truth, on=on, how="left", nulls_equal=True
    )
    judged = judged.with_columns(
        (
            pl.col("expected").fill_null(False)
            & (
                (pl.col("category") != "misreported")
                | (pl.col("true_value") == pl.col("proposed_value")).fill_null(False)
            )
        ).alias("right"),
    )
    return (
        judged.group_by(pl.col("confidence").round(2))
        .agg(pl.len().alias("cases"), pl.col("right").mean().round(4).alias("share_right"))
        .sort("confidence", descending=True)
    )


# Where each reconciled field lives in each feed's canonical truth (hosp: the delivery).
_CANONICAL_COLUMN = {("hosp", "birth_date"): "delivered_at"}


def undecidable(truth: Path) -> pl.DataFrame:
    """birth_id, field: misreports the feeds cannot settle by the evidence policy.

    A wrong value is decidable when two other feeds hold the true value, or one feed that
    is the field's better witness (the authority order), or one feed at all while the
    wrong value fails its own check. Otherwise (the authority itself is wrong and nobody
    outvotes it) recon follows the contract and proposes the authority's value, and only
    the field visit can tell: such misreports are scored apart.
    """
    records = pl.read_parquet(truth / "records.parquet").filter(
        pl.col("quarantine").is_null() & (pl.col("role") == "ok")
    )
    misreports = (
        pl.read_parquet(truth / "misreports.parquet")
        # Fields outside the authority table (a twin's rank) are settled by other rules.
        .filter(pl.col("field").is_in(list(DEFAULT_AUTHORITY)))
    ).join(records.select("feed", "key", "birth_id", "warnings"), on=["feed", "key"])
    wrong = misreports.select("feed", "birth_id", "field").unique()
    holders = []
    for feed in FEEDS:
        canonical = pl.read_parquet(truth / f"{feed}_canonical.parquet")
        key = FEED_SPECS[feed].key
        placed = canonical.join(
            records.filter(pl.col("feed") == feed).select(pl.col("key").alias(key), "birth_id"),
            on=key,
        )
        for field, authority in DEFAULT_AUTHORITY.items():
            column = _CANONICAL_COLUMN.get((feed, field), field)
            if feed not in authority or column not in placed.columns:
                continue
            value = pl.col(column).cast(pl.String)
            held = value.is_not_null()
            if field == "division_code":
                held = held & ~value.str.ends_with("000")
            holders.append(
                placed.filter(held).select(
                    pl.lit(feed).alias("holder"), "birth_id", pl.lit(field).alias("field")
                )
            )
    held_by = pl.concat(holders).join(
        wrong.rename({"feed": "holder"}), on=["holder", "birth_id", "field"], how="anti"
    )
    rank = {
        f"{field}:{feed}": i for field, a in DEFAULT_AUTHORITY.items() for i, feed in enumerate(a)
    }
    judged = (
        misreports.join(held_by, on=["birth_id", "field"], how="left")
        .filter(pl.col("holder").is_null() | (pl.col("holder") != pl.col("feed")))
        .with_columns(
            (pl.col("field") + ":" + pl.col("holder"))
            .replace_strict(rank, default=None)
            .alias("h"),
            (pl.col("field") + ":" + pl.col("feed")).replace_strict(rank, default=None).alias("f"),
            (
                pl.col("field").is_in(["mother_id", "id_number"])
                & pl.col("warnings").str.contains("bad_check_char|mother_age")
            ).alias("invalid"),
        )
        .group_by("feed", "key", "birth_id", "field")
        .agg(
            pl.col("holder").drop_nulls().n_unique().alias("holders"),
            (pl.col("h") < pl.col("f")).any().alias("better"),
            pl.col("invalid").any(),
        )
    )
    decidable = (pl.col("holders") >= 2) | (
        (pl.col("holders") == 1) & (pl.col("better") | pl.col("invalid"))
    )
    return judged.filter(~decidable.fill_null(False)).select("birth_id", "field").unique()


def decidable_only(
    expected: pl.DataFrame, found: pl.DataFrame, truth: Path
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Expected and found findings without the misreports no evidence can settle (both the
    truth's entry and the case recon opened on that birth and field instead)."""
    apart = undecidable(truth)
    records = pl.read_parquet(truth / "records.parquet").filter(pl.col("quarantine").is_null())
    birth_of = records.select(
        pl.col("feed").alias("target_system"), pl.col("key").alias("ref"), "birth_id"
    ).unique(["target_system", "ref"])

    def keep(frame: pl.DataFrame) -> pl.DataFrame:
        placed = frame.join(birth_of, on=["target_system", "ref"], how="left")
        drop = (pl.col("category") == "misreported") & pl.struct("birth_id", "field").is_in(
            apart.select(pl.struct("birth_id", "field")).to_series().implode()
        )
        return placed.filter(~drop.fill_null(False)).drop("birth_id")

    return keep(expected), keep(found)
