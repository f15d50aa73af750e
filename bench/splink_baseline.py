"""Baseline: a plain Splink linkage of the three feeds, as a user would write it.

What recon's linkage must beat. The feeds are read into canonical columns (through
recon's own ingest, which is fair: any user must get GB18030 and XLSX read somehow),
then linked with a textbook Splink 5 ``link_only`` model: out-of-the-box comparisons
on the raw columns (Chinese names as written, ids as strings), lambda from
deterministic rules, u by random sampling, EM blocked the usual way (on the mother
id and on the birth date), predictions clustered at match probability 0.9.

Scored pairwise against the truth of ``recon generate``: a true pair is two records
from different feeds with the same ``birth_id``; a predicted pair, two records from
different feeds in one cluster. ``pairwise_f1`` is reusable for any clustering.

    python bench/splink_baseline.py --inbox /tmp/x            # truth in /tmp/x/truth
    recon generate --births 20000 --seed 3 --out /tmp/x        # to make one
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

HOLDS_ONE_BIRTH = ["unique_id", "source_dataset", "name", "id_number", "sex", "birth_date",
                   "mother_name", "mother_id", "division_code"]  # fmt: skip


def pairwise_f1(clusters: pl.DataFrame, truth_records: pl.DataFrame) -> dict[str, float | int]:
    """Pairwise precision, recall and F1 of a clustering of feed records.

    ``clusters``: ``unique_id`` (``"<feed>:<key>"``, key as in the truth: pop
    record_id, hosp delivery_id, police id_number) and ``cluster_id``. A record
    missing from it is a cluster of its own.
    ``truth_records``: ``truth/records.parquet`` of ``recon generate`` (feed, key,
    birth_id, quarantine, ...). Quarantined rows are left out on both sides; a
    record with no birth (fictitious) matches nothing.

    Only pairs between different feeds count, both for the truth and for the
    clustering. Counted per group, never listed: fine for millions of records.
    """
    records = truth_records.filter(pl.col("quarantine").is_null()).select(
        (pl.col("feed") + ":" + pl.col("key")).alias("unique_id"),
        "feed",
        # a record of no birth is its own entity
        pl.coalesce("birth_id", pl.lit("none:") + pl.col("feed") + ":" + pl.col("key")).alias(
            "birth_id"
        ),
    )
    labelled = records.join(
        clusters.select("unique_id", pl.col("cluster_id").cast(pl.String)),
        on="unique_id",
        how="left",
    ).with_columns(pl.coalesce("cluster_id", pl.lit("single:") + pl.col("unique_id")))

    def cross_feed_pairs(by: list[str]) -> int:
        # pairs in a group between different feeds: (n^2 - sum over feeds n_f^2) / 2
        per_feed = labelled.group_by([*by, "feed"]).len("n")
        per_group = per_feed.group_by(by).agg(
            pl.col("n").sum().alias("n"), (pl.col("n") ** 2).sum().alias("n2")
        )
        return int(per_group.select(((pl.col("n") ** 2 - pl.col("n2")) // 2).sum()).item() or 0)

    true_pairs = cross_feed_pairs(["birth_id"])
    predicted_pairs = cross_feed_pairs(["cluster_id"])
    true_positive = cross_feed_pairs(["cluster_id", "birth_id"])
    precision = true_positive / predicted_pairs if predicted_pairs else 0.0
    recall = true_positive / true_pairs if true_pairs else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "scored_records": labelled.height,
        "true_pairs": true_pairs,
        "predicted_pairs": predicted_pairs,
        "true_positive": true_positive,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
    }


def read_feeds(inbox: Path) -> pl.DataFrame:
    """The three feeds in one frame of canonical columns, minimal cleaning."""
    from recon.config import load_config
    from recon.ingest.inbox import discover
    from recon.ingest.normalize import normalise
    from recon.ingest.read import read_feed

    config = load_config(None)
    frames = []
    for file in discover(inbox, config).feeds:
        raw = read_feed(file, config)
        rows = normalise(raw.rows, raw.feed, raw.extras)
        feed = file.kind
        key = {"pop": "record_id", "hosp": "delivery_id", "police": "id_number"}[feed]
        if feed == "hosp":
            rows = rows.with_columns(
                pl.col("delivered_at").dt.date().alias("birth_date"),
                pl.lit(None, pl.String).alias("name"),
                pl.lit(None, pl.String).alias("id_number"),
            )
        frames.append(
            rows.filter(pl.col(key).is_not_null()).select(
                (pl.lit(feed + ":") + pl.col(key)).alias("unique_id"),
                pl.lit(feed).alias("source_dataset"),
                *HOLDS_ONE_BIRTH[2:],
            )
        )
    return pl.concat(frames)


def _textbook_model() -> Any:
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    return SettingsCreator(
        link_type="link_only",
        comparisons=[
            cl.NameComparison("name"),
            cl.ExactMatch("sex"),
            cl.DateOfBirthComparison("birth_date", input_is_string=False),
            cl.NameComparison("mother_name"),
            cl.LevenshteinAtThresholds("mother_id", [1, 2]),
            cl.LevenshteinAtThresholds("id_number", [1, 2]),
            cl.ExactMatch("division_code"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("mother_id"),
            block_on("id_number"),
            block_on("birth_date", "sex"),
            block_on("mother_name", "birth_date"),
        ],
        retain_matching_columns=False,
    )


CLUSTERINGS = ("threshold", "best-links")
# Best links: hosp and police hold one record per baby; pop may repeat a birth (重报).
DUPLICATE_FREE = ["hosp", "police"]


def baseline(
    inbox: Path,
    truth: Path,
    memory_limit: str,
    clustering: str = "threshold",
    threshold: float | None = None,
    clusters_out: Path | None = None,
) -> dict[str, Any]:
    """Link the inbox's feeds with plain Splink; time it and score it against the truth.

    ``clustering``: "threshold" (connected components at ``threshold``, default 0.9) or
    "best-links" (``cluster_using_single_best_links`` at ``threshold``, default 0.5, the
    prediction threshold: the one-to-one rule, not the threshold, does the work).
    """
    if clustering not in CLUSTERINGS:
        raise ValueError(f"clustering must be one of {CLUSTERINGS}")
    if threshold is None:
        threshold = 0.9 if clustering == "threshold" else 0.5
    from splink import DuckDBAPI, Linker, block_on

    logging.getLogger("splink").setLevel(logging.WARNING)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    records = read_feeds(inbox)
    timings["read"] = time.perf_counter() - start

    with tempfile.TemporaryDirectory(prefix="splink-baseline-") as spill:
        con = duckdb.connect(":memory:")
        con.execute(f"SET memory_limit = '{memory_limit}'")
        con.execute("SET max_temp_directory_size = '20GB'")
        con.execute(f"SET temp_directory = '{spill}'")
        con.execute("SET enable_progress_bar = false")
        db_api = DuckDBAPI(connection=con)
        tables = [
            db_api.register(
                records.filter(pl.col("source_dataset") == feed).to_arrow(),
                dataset_display_name=feed,
            )
            for feed in ("hosp", "police", "pop")
        ]

        mark = time.perf_counter()
        linker = Linker(tables, _textbook_model(), log_level=None)
        linker.training.estimate_probability_two_random_records_match(
            [block_on("id_number"), block_on("mother_id", "birth_date")], recall=0.7
        )
        linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=1)
        linker.training.estimate_parameters_using_expectation_maximisation(block_on("mother_id"))
        linker.training.estimate_parameters_using_expectation_maximisation(block_on("birth_date"))
        timings["train"] = time.perf_counter() - mark

        mark = time.perf_counter()
        predictions = linker.inference.predict(threshold_match_probability=0.5)
        timings["predict"] = time.perf_counter() - mark

        mark = time.perf_counter()
        if clustering == "threshold":
            clustered = linker.clustering.cluster_pairwise_predictions_at_threshold(
                predictions, threshold_match_probability=threshold
            )
        else:
            clustered = linker.clustering.cluster_using_single_best_links(
                predictions,
                duplicate_free_datasets=DUPLICATE_FREE,
                threshold_match_probability=threshold,
            )
        clusters = con.sql(f"SELECT unique_id, cluster_id FROM {clustered.physical_name}").pl()
        timings["cluster"] = time.perf_counter() - mark
        con.close()
    timings["total"] = time.perf_counter() - start

    if clusters_out is not None:
        clusters.write_parquet(clusters_out)
    scores = pairwise_f1(clusters, pl.read_parquet(truth / "records.parquet"))
    by_feed = dict(records.group_by("source_dataset").len().sort("source_dataset").rows())
    return {
        "inbox": str(inbox),
        "records_by_feed": by_feed,
        "memory_limit": memory_limit,
        "clustering": clustering,
        "threshold_match_probability": threshold,
        "time_s": {stage: round(seconds, 2) for stage, seconds in timings.items()},
        **scores,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inbox", type=Path, required=True)
    parser.add_argument("--truth", type=Path, help="default: <inbox>/truth")
    parser.add_argument("--memory-limit", default="4GB")
    parser.add_argument("--clustering", choices=CLUSTERINGS, default="threshold")
    parser.add_argument("--threshold", type=float, help="match probability to cluster at")
    parser.add_argument("--clusters-out", type=Path, help="write unique_id, cluster_id here")
    args = parser.parse_args(argv)
    result = baseline(
        args.inbox,
        args.truth or args.inbox / "truth",
        args.memory_limit,
        args.clustering,
        args.threshold,
        args.clusters_out,
    )
    json.dump(result, sys.stdout, indent=2, ensure_ascii=False)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
