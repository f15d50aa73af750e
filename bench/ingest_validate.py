"""Benchmark: ingest + validate of `recon run` on N births per feed, beside the floor.

The floor is DuckDB merely reading the same three files (all columns as text). DuckDB
cannot read GB18030 without its `encodings` extension, which an offline office cannot
download, so the floor reads a UTF-8 copy of the pop file; the transcoding is timed apart.

    python bench/ingest_validate.py --births 1000000

Writes bench/results/ingest_validate-<births>.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb

HERE = Path(__file__).resolve().parent


def generate(births: int, seed: int, folder: Path, profile: str = "default") -> Path:
    inbox = (
        folder / f"inbox-{births}-{seed}"
        if profile == "default"
        else (folder / f"inbox-{births}-{seed}-{profile}")
    )
    if not (inbox / "truth" / "manifest.json").exists():
        shutil.rmtree(inbox, ignore_errors=True)
        subprocess.run(
            ["recon", "generate", "--births", str(births), "--seed", str(seed),
             "--out", str(inbox), "--hosp-format", "csv", "--profile", profile],
            check=True,
        )  # fmt: skip
    return inbox


def floor(inbox: Path, scratch: Path) -> dict[str, float]:
    feeds = sorted(p for p in inbox.glob("*.csv") if not p.name.startswith("divisions"))
    start = time.perf_counter()
    readable = []
    for path in feeds:
        raw = path.read_bytes()
        try:
            raw.decode("utf-8")
            readable.append(path)
        except UnicodeDecodeError:
            copy = scratch / (path.stem + ".utf8.csv")
            copy.write_bytes(raw.decode("gb18030").encode("utf-8"))
            readable.append(copy)
    transcode = time.perf_counter() - start
    con = duckdb.connect()
    con.execute("SET threads = 2")
    start = time.perf_counter()
    rows = 0
    for i, path in enumerate(readable):
        # Materialise every column, as ingest must; bad lines are skipped, not reported.
        con.execute(
            f"CREATE TABLE feed{i} AS SELECT * FROM read_csv(?, all_varchar = true, "
            "header = true, delim = ',', quote = '\"', ignore_errors = true)",
            [str(path)],
        )
        rows += con.execute(f"SELECT count(*) FROM feed{i}").fetchall()[0][0]
    read = time.perf_counter() - start
    return {
        "duckdb_read_s": round(read, 2),
        "transcode_gb18030_s": round(transcode, 2),
        "rows": rows,
    }


def recon_run(inbox: Path, scratch: Path, as_of: str) -> dict[str, object]:
    db = scratch / "bench.duckdb"
    for leftover in scratch.glob("bench.duckdb*"):
        if leftover.is_dir():
            shutil.rmtree(leftover)
        else:
            leftover.unlink()
    start = time.perf_counter()
    subprocess.run(
        ["recon", "run", "--inbox", str(inbox), "--db", str(db), "--out", str(scratch / "out"),
         "--as-of", as_of],
        check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    wall = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    summary = json.loads((scratch / "out" / "run.json").read_text(encoding="utf-8"))
    ingest = ("divisions", "read", "normalise", "validate", "expectations", "store")
    return {
        "ingest_validate_s": round(sum(summary["timings_s"].get(s, 0.0) for s in ingest), 2),
        "wall_s": round(wall, 2),
        "peak_rss_gib": round(peak_kib / 1024 / 1024, 2),
        "rows_read": sum(f["rows_read"] for f in summary["files"]),
        "stages_s": summary["timings_s"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--births", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data", type=Path, default=HERE / "data")
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    inbox = generate(args.births, args.seed, args.data)
    generate_s = time.perf_counter() - start
    manifest = json.loads((inbox / "truth" / "manifest.json").read_text(encoding="utf-8"))
    scratch = args.data / "scratch"
    scratch.mkdir(exist_ok=True)

    result = {
        "births": args.births,
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "generate_s": round(generate_s, 1),
        "floor": floor(inbox, scratch),
        "recon_run": recon_run(inbox, scratch, str(manifest["as_of"])),
    }
    (HERE / "results").mkdir(exist_ok=True)
    out = HERE / "results" / f"ingest_validate-{args.births}.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    run: dict[str, Any] = result["recon_run"]  # type: ignore[assignment]
    base: dict[str, Any] = result["floor"]  # type: ignore[assignment]
    print(f"births per feed        {args.births:>12,}")
    print(f"rows read (3 files)    {run['rows_read']:>12,}")
    print(f"duckdb read (floor)    {base['duckdb_read_s']:>11}s", end="")
    print(f"  (+{base['transcode_gb18030_s']}s GB18030 to UTF-8)")
    print(f"ingest + validate      {run['ingest_validate_s']:>11}s  (stages of the run below)")
    print(f"recon run, all stages  {run['wall_s']:>11}s  peak {run['peak_rss_gib']} GiB")
    print(f"stages                 {run['stages_s']}")
    print(f"written to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
