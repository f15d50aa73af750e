"""Benchmark: the same night on the embedded engine and on Spark local[1] and local[2].

Each run is `recon run` on a new store, in its own process under /usr/bin/time (wall
time; peak resident memory of the largest process: the driver, the JVM or one Python
worker, whichever is biggest). The store is linked in parts (`--parts-of` births each),
so that Spark has tasks to share among its cores; every engine gets the same parts, and
the worklists' digests must agree.

    python bench/engines.py --inbox bench/data/inbox-1000000-1-register-errs --parts-of 250000 \
        [--chunk-rows 250000]

`--chunk-rows` cuts each feed file into chunks of that many rows, each normalised and
checked by the row rules as a task of its own (on Spark; one after another embedded).

Writes bench/results/engines-<births>.json and prints the table.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from night import timed  # noqa: E402

ENGINES = (("duckdb", None), ("spark", "local[1]"), ("spark", "local[2]"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inbox", type=Path, required=True)
    parser.add_argument(
        "--parts-of", type=int, default=250_000, help="[reconcile] partition_births"
    )
    parser.add_argument("--chunk-rows", type=int, help="[ingest] chunk_rows")
    parser.add_argument("--data", type=Path, default=HERE / "data")
    args = parser.parse_args()
    manifest = json.loads((args.inbox / "truth" / "manifest.json").read_text(encoding="utf-8"))
    results = []
    for engine, master in ENGINES:
        where = (master or "embedded").replace("[", "").replace("]", "")  # no glob in paths
        work = args.data / f"engines-{manifest['births']}-{engine}-{where}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        config = work / "recon.toml"
        chunks = f"[ingest]\nchunk_rows = {args.chunk_rows}\n" if args.chunk_rows else ""
        config.write_text(
            chunks + f"[reconcile]\npartition_births = {args.parts_of}\n", encoding="utf-8"
        )
        command = ["recon", "run", "--inbox", str(args.inbox), "--db", str(work / "recon.duckdb"),
                   "--out", str(work / "out"), "--as-of", str(manifest["as_of"]), "--quiet",
                   "--config", str(config), "--engine", engine]  # fmt: skip
        if master:
            command += ["--spark-master", master]
        wall, peak, _user, _kernel = timed(command)
        summary = json.loads((work / "out" / "run.json").read_text(encoding="utf-8"))
        digest = hashlib.sha256((work / "out" / "worklist.csv").read_bytes()).hexdigest()
        stages = summary["timings_s"]
        results.append({
            "engine": engine, "master": master, "wall_s": round(wall, 1),
            "peak_rss_gib": round(peak, 2), "ingest_s": stages.get("ingest"),
            "link_s": stages.get("link"),
            "reconcile_s": stages.get("reconcile"), "stages_s": stages,
            "findings": summary["findings"], "worklist_sha256": digest,
        })  # fmt: skip
        (work / "recon.duckdb").unlink(missing_ok=True)
        parts, across = stages.get("link.parts", 0), stages.get("link.across", 0)
        print(f"{engine:7} {master or '':9} wall {wall:7.1f} s"
              f"  ingest {stages.get('ingest', 0):6.1f} s  link {stages.get('link', 0):6.1f} s"
              f" (parts {parts:6.1f}, across {across:6.1f})"
              f"  reconcile {stages.get('reconcile', 0):6.1f} s  peak {peak:5.2f} GiB"
              f"  worklist {digest[:12]}", flush=True)  # fmt: skip
    same = len({r["worklist_sha256"] for r in results}) == 1
    print("the same worklist on every engine" if same else "THE WORKLISTS DIFFER")
    out = HERE / "results" / f"engines-{manifest['births']}.json"
    result = {
        "births": manifest["births"],
        "parts_of": args.parts_of,
        "chunk_rows": args.chunk_rows,
        "measured": time.strftime("%Y-%m-%d %H:%M"),
        "runs": results,
        "same_worklist": same,
    }
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")  # fmt: skip
    print(f"written {out}")


if __name__ == "__main__":
    main()
