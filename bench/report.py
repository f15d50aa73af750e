"""Benchmark: `recon report` on a store of a million births per feed.

    python bench/report.py --births 1000000

Generates (or reuses) the inbox of bench/ingest_validate.py, runs `recon run` into a new
store (or reuses the store bench/reconcile.py left), then `recon report`: wall time, peak
memory, the size of report.html and metrics.json. Scores the births-missed estimate against
the generator's truth (true live births of the closed cohort that no feed holds).
Writes bench/results/report-<births>.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from ingest_validate import generate  # noqa: E402

# A middle process whose only child is the command: its children's peak is the command's.
_PEAK = (
    "import resource, subprocess, sys; "
    "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def timed(command: list[str]) -> tuple[float, float]:
    """Wall seconds and the command's peak RSS (GiB)."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _PEAK, *command], check=True, capture_output=True, text=True
    )
    wall = time.perf_counter() - start
    return round(wall, 1), round(int(done.stdout.split()[-1]) / 2**20, 2)


def truth_missed(truth: Path, as_of: date, days: int) -> dict[str, int]:
    births = pl.read_parquet(truth / "births.parquet").filter(
        (pl.col("outcome") == "live") & (pl.col("birth_date") <= as_of - timedelta(days=days))
    )
    return {
        "live_births": births.height,
        "missed_by_all": births.filter(
            ~pl.col("in_pop") & ~pl.col("in_hosp") & ~pl.col("in_police")
        ).height,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--births", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data", type=Path, default=HERE / "data")
    parser.add_argument("--reuse-store", action="store_true", help="Skip `recon run`.")
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)

    inbox = generate(args.births, args.seed, args.data)
    truth = inbox / "truth"
    as_of = date.fromisoformat(json.loads((truth / "manifest.json").read_text())["as_of"])
    work = args.data / f"report-{args.births}"
    db = work / "recon.duckdb"
    result: dict[str, Any] = {"births": args.births, "seed": args.seed}
    if not args.reuse_store:
        db.unlink(missing_ok=True)
        work.mkdir(parents=True, exist_ok=True)
        wall, run_peak = timed(
            ["recon", "run", "--inbox", str(inbox), "--db", str(db), "--out", str(work / "out"),
             "--as-of", as_of.isoformat()]
        )  # fmt: skip
        summary = json.loads((work / "out" / "run.json").read_text(encoding="utf-8"))
        result["run"] = {
            "wall_s": wall,
            "peak_rss_gib": run_peak,
            "metrics_stage_s": summary["timings_s"].get("metrics"),
        }
    wall, peak = timed(["recon", "report", "--db", str(db), "--out", str(work / "report")])
    html = work / "report" / "report.html"
    data = json.loads((work / "report" / "metrics.json").read_text(encoding="utf-8"))
    overall = data["missed_births"]["overall"]
    result["report"] = {
        "wall_s": wall,
        "peak_rss_gib": peak,
        "html_kib": round(html.stat().st_size / 1024, 1),
        "metrics_json_kib": round((work / "report" / "metrics.json").stat().st_size / 1024, 1),
    }
    result["missed_births"] = {
        "estimate": {k: overall[k] for k in ("observed", "model", "missed", "lower", "upper")},
        "sensitivity": {
            k: data["missed_births"]["sensitivity"][k] for k in ("observed", "model", "missed")
        },
        "truth": truth_missed(truth, as_of, max(data["deadlines_days"].values())),
    }
    (HERE / "results").mkdir(exist_ok=True)
    out = HERE / "results" / f"report-{args.births}.json"
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
