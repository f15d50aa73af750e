"""Benchmark: how right `recon run` is, on generated feeds of several error mixes.

    python bench/accuracy.py --births 20000 --seed 3 --profile default register-errs ...

For each mix (a `recon generate --profile`): precision and recall per (category,
target), the share of proposed values that are exactly right, and the reliability table
(cases per confidence, share right). Pooled over the mixes, the reliability table is what
the confidences in recon/evidence.py are set from. Writes
bench/results/accuracy-<births>.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import time
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from recon_sim.evaluate import (
    decidable_only,
    expected_findings,
    found_findings,
    reliability,
    score,
)

HERE = Path(__file__).resolve().parent
MIXES = ("default", "register-errs", "police-hosp-errs", "movers", "police-names")


def one_mix(births: int, seed: int, profile: str, data: Path) -> dict[str, Any]:
    root = data / f"accuracy-{births}-{seed}-{profile}"
    shutil.rmtree(root, ignore_errors=True)
    inbox, truth = root / "inbox", root / "truth"
    subprocess.run(
        ["recon", "generate", "--births", str(births), "--seed", str(seed),
         "--profile", profile, "--out", str(inbox)],
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
    expected = expected_findings(truth, as_of, 120, 90)
    found = found_findings(worklist, truth)
    table = score(expected, found).with_columns(pl.col(pl.Float64).round(4))
    settled = score(*decidable_only(expected, found, truth)).with_columns(
        pl.col(pl.Float64).round(4)
    )
    hits = table["hits"].sum()
    right = (table["proposed_right"].fill_null(0) * table["hits"]).sum()
    return {
        "profile": profile,
        "run_s": round(seconds, 2),
        "scores": table.to_dicts(),
        "decidable_scores": settled.to_dicts(),
        "proposed_right": round(right / hits, 4) if hits else None,
        "found": found.with_columns(pl.lit(profile).alias("profile")),
        # The reliability asks "is the case right?": a real birth is never fictitious.
        "really": expected_findings(truth, as_of, 120, 90, contract=False),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--births", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--profile", nargs="+", default=list(MIXES))
    parser.add_argument("--data", type=Path, default=HERE / "data")
    args = parser.parse_args()

    results = [one_mix(args.births, args.seed, p, args.data) for p in args.profile]
    with pl.Config(tbl_rows=40, tbl_width_chars=140, tbl_hide_dataframe_shape=True):
        for r in results:
            print(f"\n== {r['profile']}: run {r['run_s']} s, proposed right {r['proposed_right']}")
            both = pl.DataFrame(r["scores"]).drop("proposed_right")
            settled = pl.DataFrame(r["decidable_scores"]).select(
                "category", "target_system", pl.col("expected").alias("decidable"),
                pl.col("precision").alias("P_decidable"), pl.col("recall").alias("R_decidable"),
            )  # fmt: skip
            print(both.join(settled, on=["category", "target_system"], how="left"))
        # Refs are per mix: judge each mix's cases against its own truth, then pool.
        tables = [reliability(r["really"], r["found"]) for r in results]
        per_mix = {r["profile"]: t.to_dicts() for r, t in zip(results, tables, strict=True)}
        pooled = (
            pl.concat(tables)
            .group_by("confidence")
            .agg(
                pl.col("cases").sum(),
                ((pl.col("share_right") * pl.col("cases")).sum() / pl.col("cases").sum())
                .round(4)
                .alias("share_right"),
            )
            .sort("confidence", descending=True)
        )
        print("\n== reliability, pooled over", ", ".join(args.profile))
        print(pooled)

    (HERE / "results").mkdir(exist_ok=True)
    out = HERE / "results" / f"accuracy-{args.births}.json"
    out.write_text(
        json.dumps(
            {
                "births": args.births,
                "seed": args.seed,
                "mixes": [
                    {k: v for k, v in r.items() if k not in ("found", "really")} for r in results
                ],
                "reliability": {"pooled": pooled.to_dicts(), "per_mix": per_mix},
            },
            indent=2,
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
