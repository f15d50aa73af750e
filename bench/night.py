"""Benchmark: the whole `recon run` beside its read floor, in one script and one run.

The floor is DuckDB merely materialising the same three feed files (every column as
text, bad lines skipped), the GB18030 file transcoded to UTF-8 first since DuckDB reads
it only with a downloaded extension. The run is `recon run` on a new store, in its own
process under /usr/bin/time (wall time and peak resident memory). The ratio run/floor
is the figure to watch; the worklist's digest shows whether the findings moved.

    python bench/night.py --births 1000000 --profile register-errs
    python bench/night.py --inbox bench/data/inbox-10000000-1-register-errs --label 10m \
        --config bench/night-10m.toml

Writes bench/results/night-<label>.json and prints the stage table.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from ingest_validate import floor, generate  # noqa: E402

STAGES = ("read", "normalise", "validate", "expectations", "store", "link", "reconcile",
          "cases", "metrics", "commit", "outputs")  # fmt: skip


def timed(command: list[str], log: Path | None = None) -> tuple[float, float, float, float]:
    """Wall seconds, peak RSS (GiB), user and kernel CPU seconds of a command run in its
    own process; its stderr (the progress lines, each with the time since the start) is
    kept in `log`, which shows the time between the stages too."""
    start = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-f", "peak_kib=%M user_s=%U sys_s=%S", *command],
        check=False, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)}: exit {done.returncode}\n{done.stderr[-4000:]}")
    wall = time.perf_counter() - start
    if log is not None:
        log.write_text(done.stderr, encoding="utf-8")
    found = re.findall(r"peak_kib=(\d+) user_s=([\d.]+) sys_s=([\d.]+)", done.stderr)
    peak, user, kernel = found[-1]
    return wall, int(peak) / 2**20, float(user), float(kernel)


def recon_run(inbox: Path, work: Path, as_of: str, config: Path | None = None) -> dict[str, Any]:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    settings = ["--config", str(config)] if config else []
    # Not --quiet: the progress lines on stderr show the stage a failing run stopped in.
    wall, peak, user, kernel = timed(
        ["recon", "run", "--inbox", str(inbox), "--db", str(work / "recon.duckdb"),
         "--out", str(work / "out"), "--as-of", as_of, *settings],
        work / "progress.log",
    )  # fmt: skip
    summary = json.loads((work / "out" / "run.json").read_text(encoding="utf-8"))
    stages = dict(summary["timings_s"])
    # run.json is written during the outputs step, so its time is read off the progress
    # lines: from "输出" (outputs) to "完成" (done).
    marks = dict(
        (label, float(at))
        for at, label in re.findall(
            r"recon run\s+([\d.]+) s .*?(输出|完成)",
            (work / "progress.log").read_text(encoding="utf-8"),
        )
    )
    if {"输出", "完成"} <= marks.keys():
        stages["outputs"] = round(marks["完成"] - marks["输出"], 3)
    worklist = (work / "out" / "worklist.csv").read_bytes()
    return {
        "wall_s": round(wall, 1),
        "peak_rss_gib": round(peak, 2),
        # CPU seconds in the process and in the kernel for it (page faults, I/O): steadier
        # than the wall time on a machine whose speed varies by the hour.
        "user_s": round(user, 1),
        "sys_s": round(kernel, 1),
        "stages_s": stages,
        "peak_mib_after": summary.get("peak_mib", {}),
        "stage_peak_mib": summary.get("stage_peak_mib", {}),
        "rows_read": sum(f["rows_read"] for f in summary["files"]),
        "findings": summary["findings"],
        "worklist_sha256": hashlib.sha256(worklist).hexdigest(),
        "worklist_rows": worklist.count(b"\n") - 1,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--births", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", default="default")
    parser.add_argument("--inbox", type=Path, help="an existing generated inbox")
    parser.add_argument("--label", help="results file name (default: births and profile)")
    parser.add_argument("--data", type=Path, default=HERE / "data")
    parser.add_argument("--config", type=Path, help="a recon.toml for the run")
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    inbox = args.inbox or generate(args.births, args.seed, args.data, args.profile)
    manifest = json.loads((inbox / "truth" / "manifest.json").read_text(encoding="utf-8"))
    label = args.label or f"{manifest['births']}-{manifest.get('profile', args.profile)}"
    scratch = args.data / f"night-{label}"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)

    base = floor(inbox, scratch)
    floor_s = base["duckdb_read_s"] + base["transcode_gb18030_s"]
    run = recon_run(inbox, scratch / "run", str(manifest["as_of"]), args.config)
    shutil.rmtree(scratch / "run" / "recon.duckdb.tmp", ignore_errors=True)
    result = {
        "births": manifest["births"],
        "profile": manifest.get("profile", args.profile),
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "measured": time.strftime("%Y-%m-%d %H:%M"),
        "floor": base,
        "floor_s": round(floor_s, 2),
        "recon_run": run,
        "ratio": round(run["wall_s"] / floor_s, 1),
        "config": args.config.read_text(encoding="utf-8") if args.config else None,
    }
    (HERE / "results").mkdir(exist_ok=True)
    out = HERE / "results" / f"night-{label}.json"
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    stages = run["stages_s"]
    print(f"births {manifest['births']:,}; rows read {run['rows_read']:,}")
    read, transcode = base["duckdb_read_s"], base["transcode_gb18030_s"]
    print(f"floor: DuckDB reads the three files {floor_s:6.1f} s ({read} + {transcode} s GB18030)")
    print(
        f"recon run, all stages               {run['wall_s']:6.1f} s  "
        f"peak {run['peak_rss_gib']} GiB = {result['ratio']}x the floor; "
        f"CPU {run['user_s']} s + {run['sys_s']} s kernel"
    )
    print("| " + " | ".join(STAGES) + " |")
    print("| " + " | ".join(f"{stages.get(s, 0):.1f}" for s in STAGES) + " |")
    peaks = run["peak_mib_after"]
    print("| " + " | ".join(f"{peaks.get(s, 0) / 1024:.2f} GiB" for s in STAGES) + " |")
    own = run["stage_peak_mib"]  # each stage's own resident peak, sampled while it ran
    print("| " + " | ".join(f"{own.get(s, 0) / 1024:.2f} GiB" for s in STAGES) + " |")
    rows, digest = run["worklist_rows"], run["worklist_sha256"][:16]
    print(f"findings {run['findings']}; worklist {rows:,} rows, sha256 {digest}")
    print(f"written {out}")


if __name__ == "__main__":
    main()
