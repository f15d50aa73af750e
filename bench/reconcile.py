"""Benchmark: the full `recon run` beside a plain Splink linkage of the same feeds.

    python bench/reconcile.py --births 1000000

Generates (or reuses) the inbox of bench/ingest_validate.py, runs `recon run` on a new
store (wall time, peak memory, seconds per stage), scores recon's births against the
truth (pairwise linkage precision, recall, F1; findings per category), then runs the
baseline of bench/splink_baseline.py in its own process and scores it the same way.
Writes bench/results/reconcile-<births>.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from recon_sim.evaluate import decidable_only, expected_findings, found_findings, score

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from ingest_validate import generate  # noqa: E402
from splink_baseline import pairwise_f1  # noqa: E402


def peak_gib(before_kib: int) -> float:
    return round(max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before_kib) / 2**20, 2)


def recon_clusters(db: Path, worklist: pl.DataFrame) -> pl.DataFrame:
    """unique_id ("<feed>:<key>") -> cluster_id: recon's births, duplicates joined in."""
    con = duckdb.connect(str(db), read_only=True)
    births = pl.from_arrow(
        con.sql(
            "SELECT birth_id AS cluster_id, 'pop:' || pop_record_id AS p, "
            "'hosp:' || hosp_delivery_id AS h, 'police:' || police_id_number AS c FROM births"
        ).to_arrow_table()
    )
    con.close()
    assert isinstance(births, pl.DataFrame)
    clusters = (
        births.unpivot(index="cluster_id", value_name="unique_id")
        .drop_nulls("unique_id")
        .select("unique_id", pl.col("cluster_id").cast(pl.String))
    )
    # A duplicate register record is the same birth as the record it repeats.
    duplicates = worklist.filter(pl.col("category") == "duplicate").select(
        ("pop:" + pl.col("pop_record_id")).alias("unique_id"),
        ("pop:" + pl.col("duplicate_of")).alias("kept"),
    )
    return pl.concat(
        [
            clusters,
            duplicates.join(clusters, left_on="kept", right_on="unique_id").select(
                "unique_id", "cluster_id"
            ),
        ]
    )


def recon_run(inbox: Path, truth: Path, work: Path, as_of: date) -> dict[str, Any]:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    db = work / "recon.duckdb"
    start = time.perf_counter()
    subprocess.run(
        ["recon", "run", "--inbox", str(inbox), "--db", str(db), "--out", str(work / "out"),
         "--as-of", as_of.isoformat()],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    summary = json.loads((work / "out" / "run.json").read_text(encoding="utf-8"))
    truth_records = pl.read_parquet(truth / "records.parquet")
    worklist = pl.read_csv(work / "out" / "worklist.csv", infer_schema=False)
    clusters = recon_clusters(db, worklist)
    expected = expected_findings(truth, as_of, 120, 90)
    found = found_findings(worklist, truth)
    findings = score(expected, found)
    decidable = score(*decidable_only(expected, found, truth))
    return {
        "wall_s": round(wall, 1),
        "peak_rss_gib": round(peak / 2**20, 2),
        "stages_s": summary["timings_s"],
        "linkage": pairwise_f1(clusters, truth_records),
        "findings": findings.with_columns(pl.col(pl.Float64).round(4)).to_dicts(),
        "findings_decidable": decidable.with_columns(pl.col(pl.Float64).round(4)).to_dicts(),
    }


def splink_baseline(inbox: Path, truth: Path, memory_limit: str) -> dict[str, Any]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(HERE / "splink_baseline.py"), "--inbox", str(inbox),
         "--truth", str(truth), "--memory-limit", memory_limit],
        check=False, capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:  # a failure is a result too: say what it was
        lines = [ln for ln in done.stderr.splitlines() if ln.strip() and "nanobind" not in ln]
        return {
            "failed": lines[-1] if lines else f"exit {done.returncode}",
            "wall_s": round(time.perf_counter() - start, 1),
            "peak_rss_gib": peak_gib(before),
        }
    result: dict[str, Any] = json.loads(done.stdout)
    result["wall_s"] = round(time.perf_counter() - start, 1)
    result["peak_rss_gib"] = peak_gib(before)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--births", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data", type=Path, default=HERE / "data")
    parser.add_argument("--baseline-memory", default="6GB")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--profile", default="default", help="the error mix (recon generate)")
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)

    inbox = generate(args.births, args.seed, args.data, args.profile)
    truth = inbox / "truth"
    as_of = date.fromisoformat(json.loads((truth / "manifest.json").read_text())["as_of"])
    result: dict[str, Any] = {"births": args.births, "seed": args.seed, "profile": args.profile}
    result["recon"] = recon_run(inbox, truth, args.data / f"reconcile-{args.births}", as_of)
    if not args.skip_baseline:
        result["splink_baseline"] = splink_baseline(inbox, truth, args.baseline_memory)

    (HERE / "results").mkdir(exist_ok=True)
    name = args.births if args.profile == "default" else f"{args.births}-{args.profile}"
    out = HERE / "results" / f"reconcile-{name}.json"
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    run = result["recon"]
    print(f"recon run      {run['wall_s']:>7}s  peak {run['peak_rss_gib']} GiB")
    print(f"  linkage      {run['linkage']}")
    print(f"  stages       {run['stages_s']}")
    base = result.get("splink_baseline")
    if base and "failed" in base:
        print(f"plain Splink   failed after {base['wall_s']}s: {base['failed']}")
    elif base:
        print(f"plain Splink   {base['wall_s']:>7}s  peak {base['peak_rss_gib']} GiB  "
              f"P {base['precision']} R {base['recall']} F1 {base['f1']}")  # fmt: skip
    with pl.Config(tbl_rows=20, tbl_width_chars=140):
        print(pl.DataFrame(run["findings"]))
        print(pl.DataFrame(run["findings_decidable"]))
    print(f"written to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
