"""Benchmark: how right `recon run` is, on generated feeds with known truth.

    python bench/accuracy.py --births 20000 --seed 3

Prints precision and recall per (category, target) and the share of proposed values
that are exactly right; writes bench/results/accuracy-<births>.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import time
from datetime import date
from pathlib import Path

import polars as pl

from recon.evaluate import expected_findings, found_findings, score

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--births", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--data", type=Path, default=HERE / "data")
    args = parser.parse_args()

    root = args.data / f"accuracy-{args.births}-{args.seed}"
    shutil.rmtree(root, ignore_errors=True)
    inbox, truth = root / "inbox", root / "truth"
    subprocess.run(
        ["recon", "generate", "--births", str(args.births), "--seed", str(args.seed),
         "--out", str(inbox)],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    (inbox / "truth").rename(truth)
    manifest = json.loads((truth / "manifest.json").read_text(encoding="utf-8"))
    as_of = date.fromisoformat(manifest["as_of"])
    start = time.perf_counter()
    subprocess.run(
        ["recon", "run", "--inbox", str(inbox), "--db", str(root / "recon.duckdb"),
         "--out", str(root / "out"), "--as-of", as_of.isoformat()],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    worklist = pl.read_csv(root / "out" / "worklist.csv", infer_schema=False)
    table = score(
        expected_findings(truth, as_of, 120, 90), found_findings(worklist, truth)
    ).with_columns(pl.col(pl.Float64).round(4))
    with pl.Config(tbl_rows=30, tbl_width_chars=120):
        print(table)
    hits = table["hits"].sum()
    right = (table["proposed_right"].fill_null(0) * table["hits"]).sum()
    print(f"proposed values exactly right: {right / hits:.4f} of {hits} hits; run {seconds:.1f}s")
    (HERE / "results").mkdir(exist_ok=True)
    out = HERE / "results" / f"accuracy-{args.births}.json"
    out.write_text(
        json.dumps(
            {"births": args.births, "seed": args.seed, "run_s": round(seconds, 2),
             "scores": table.to_dicts(), "proposed_right": right / hits},
            indent=2, ensure_ascii=False,
        ) + "\n",
        encoding="utf-8",
    )  # fmt: skip


if __name__ == "__main__":
    main()
