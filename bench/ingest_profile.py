"""Profile: read, normalise, validate and expectations of `recon run`, per feed file.

Runs, for each feed file of an inbox, exactly the steps of the per-file loop in
recon/run.py (`_run_in_transaction`): discover → read_feed → normalise → validate →
check_feed, with the Config built as the CLI builds it and the RuleContext from
`checks_module("rules")`. Each step is timed (wall and process CPU, all threads) with
the peak RSS after it. `--dump DIR` writes every output frame to parquet and the
expectation outcomes to JSON, so two versions of the code can be compared:

    python bench/ingest_profile.py --dump /tmp/before            # the code as it was
    python bench/ingest_profile.py --dump /tmp/after
    python bench/ingest_profile.py --compare /tmp/before /tmp/after

To profile an older version, put a copy of it first on PYTHONPATH (e.g.
`git archive HEAD recon checks sql | tar -x -C /tmp/old`, then PYTHONPATH=/tmp/old).
On a shared machine compare the two back to back, alternating, best of each:

    python bench/ingest_profile.py --ab /tmp/old --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

HERE = Path(__file__).resolve().parent
DEFAULT_INBOX = HERE / "data" / "inbox-1000000-1-register-errs"
STEPS = ("read", "normalise", "validate", "expectations")
FRAMES = ("rows", "malformed", "canonical", "accepted", "quarantined", "warnings", "rule_results")


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


class Timer:
    def __init__(self) -> None:
        self.steps: dict[str, dict[str, float]] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        yield
        self.steps[name] = {
            "wall_s": round(time.perf_counter() - wall, 3),
            "cpu_s": round(time.process_time() - cpu, 3),
            "peak_rss_gib": round(_peak_gib(), 2),
        }


def profile(
    inbox: Path,
    as_of: date,
    dump: Path | None,
    previous_rows: int | None,
    feeds: list[str] | None,
    repeat: int,
) -> dict[str, Any]:
    from recon.config import load_config
    from recon.ingest.divisions import read_divisions
    from recon.ingest.inbox import discover, sha256_of
    from recon.ingest.normalize import normalise
    from recon.ingest.read import read_feed
    from recon.resources import checks_module
    from recon.validate.rules import validate

    start = time.perf_counter()
    # run.py imports GE in a thread while the first file is read; here it is imported up
    # front so that its seconds do not land in a step.
    from recon.validate import expectations as gx_checks

    gx_checks.load_checks()
    import great_expectations  # noqa: F401

    import_s = time.perf_counter() - start

    config = load_config(None)
    found = discover(inbox, config)
    # run.py loads the divisions into the store and reads back their codes.
    known = None
    if found.divisions:
        codes = read_divisions(found.divisions[-1].path).table["code"].to_list()
        known = frozenset(codes) if codes else None
    rules = checks_module("rules")
    ctx = rules.RuleContext(as_of=as_of, limits=config.checks, known_divisions=known)
    thresholds = checks_module("expectations").ExpectationThresholds(**config.expectations)

    report: dict[str, Any] = {"import_gx_s": round(import_s, 2), "files": {}}
    for inbox_file in found.feeds:
        if feeds and inbox_file.kind not in feeds:
            continue
        sha = sha256_of(inbox_file.path)
        for attempt in range(repeat):
            timer = Timer()
            with timer.step("read"):
                raw = read_feed(inbox_file, config, sha256=sha)
            with timer.step("normalise"):
                canonical = normalise(raw.rows, raw.feed, raw.extras)
            with timer.step("validate"):
                validated = validate(raw, canonical, ctx)
            with timer.step("expectations"):
                outcomes = gx_checks.check_feed(
                    inbox_file.kind, canonical, previous_rows=previous_rows, thresholds=thresholds
                )
            steps = timer.steps
            total = {
                "wall_s": round(sum(s["wall_s"] for s in steps.values()), 3),
                "cpu_s": round(sum(s["cpu_s"] for s in steps.values()), 3),
            }
            entry = {"rows": raw.rows.height, **steps, "total": total}
            report["files"].setdefault(inbox_file.path.name, []).append(entry)
            print(inbox_file.path.name, attempt, json.dumps(entry), flush=True)
            if dump is not None and attempt == 0:
                folder = dump / inbox_file.kind
                folder.mkdir(parents=True, exist_ok=True)
                frames = {
                    "rows": raw.rows,
                    "malformed": raw.malformed,
                    "canonical": canonical,
                    "accepted": validated.accepted,
                    "quarantined": validated.quarantined,
                    "warnings": validated.warnings,
                    "rule_results": validated.rule_results,
                }
                for name, frame in frames.items():
                    frame.write_parquet(folder / f"{name}.parquet")
                (folder / "outcomes.json").write_text(
                    json.dumps(
                        [o.__dict__ for o in outcomes], ensure_ascii=False, indent=1, default=str
                    ),
                    encoding="utf-8",
                )
            del raw, canonical, validated, outcomes
    sums = {s: {"wall_s": 0.0, "cpu_s": 0.0} for s in (*STEPS, "total")}
    for runs in report["files"].values():
        best = min(runs, key=lambda r: r["total"]["wall_s"])
        for s in sums:
            sums[s]["wall_s"] = round(sums[s]["wall_s"] + best[s]["wall_s"], 2)
            sums[s]["cpu_s"] = round(sums[s]["cpu_s"] + best[s]["cpu_s"], 2)
    report["sum_of_best"] = sums
    report["peak_rss_gib"] = round(_peak_gib(), 2)
    return report


def compare(before: Path, after: Path) -> bool:
    same = True
    for folder in sorted(p for p in before.iterdir() if (after / p.name).is_dir()):
        other = after / folder.name
        for name in FRAMES:
            a = pl.read_parquet(folder / f"{name}.parquet")
            b = pl.read_parquet(other / f"{name}.parquet")
            equal = a.equals(b) and a.schema == b.schema
            same &= equal
            print(f"{folder.name:7} {name:13} {a.shape!s:>14} {'equal' if equal else 'DIFFERENT'}")
            if not equal:
                print("   schema", a.schema == b.schema, a.columns == b.columns, b.shape)
        ao = _outcomes(folder / "outcomes.json")
        bo = _outcomes(other / "outcomes.json")
        equal = ao == bo
        same &= equal
        print(f"{folder.name:7} {'outcomes':13} {len(ao):>14} {'equal' if equal else 'DIFFERENT'}")
        if not equal:
            for x, y in zip(ao, bo, strict=False):
                for key in x:
                    if x[key] != y.get(key):
                        print("  ", x["expectation"], x["column"], key, x[key], "→", y.get(key))
    return same


def _outcomes(path: Path) -> list[dict[str, Any]]:
    """The outcomes with GE's details parsed, without the expectation's id: GE makes a new
    random one for every suite built, so two runs of the same code differ there."""
    outcomes = json.loads(path.read_text(encoding="utf-8"))
    for outcome in outcomes:
        details = json.loads(outcome["details_json"])
        details.get("expectation_config", {}).pop("id", None)
        outcome["details_json"] = details
    return outcomes


def ab(old_tree: Path, rounds: int, passthrough: list[str]) -> dict[str, Any]:
    """Run the code in `old_tree` and the current code alternately, each in its own
    process; the best (least CPU) of each step over the rounds, summed over the files."""
    best: dict[str, dict[str, dict[str, float]]] = {"before": {}, "after": {}}
    with tempfile.TemporaryDirectory() as scratch:
        for round_ in range(rounds):
            for label in ("before", "after"):
                out = Path(scratch) / f"{label}-{round_}.json"
                env = dict(os.environ)
                if label == "before":
                    env["PYTHONPATH"] = str(old_tree)
                subprocess.run(
                    [sys.executable, __file__, "--json", str(out), *passthrough],
                    check=True,
                    env=env,
                    stdout=subprocess.DEVNULL,
                )
                report = json.loads(out.read_text(encoding="utf-8"))
                for name, runs in report["files"].items():
                    for step in (*STEPS, "total"):
                        for run in runs:
                            kept = best[label].setdefault(f"{name}:{step}", run[step])
                            if run[step]["cpu_s"] < kept["cpu_s"]:
                                best[label][f"{name}:{step}"] = run[step]
    summary: dict[str, Any] = {}
    for label, steps in best.items():
        for step in (*STEPS, "total"):
            chosen = [v for k, v in steps.items() if k.endswith(f":{step}")]
            summary.setdefault(step, {})[label] = {
                "cpu_s": round(sum(v["cpu_s"] for v in chosen), 2),
                "wall_s": round(sum(v["wall_s"] for v in chosen), 2),
            }
    summary["per_file"] = best
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inbox", type=Path, default=DEFAULT_INBOX)
    parser.add_argument("--as-of", type=date.fromisoformat, default=None)
    parser.add_argument("--dump", type=Path, default=None, help="write the outputs here")
    parser.add_argument("--previous-rows", type=int, default=None)
    parser.add_argument("--feed", action="append", help="only this feed (pop, hosp, police)")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None, help="write the report here")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    parser.add_argument("--ab", type=Path, default=None, help="older code tree, run alternately")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if args.compare:
        sys.exit(0 if compare(*args.compare) else 1)
    if args.ab:
        passthrough = ["--inbox", str(args.inbox)]
        if args.as_of:
            passthrough += ["--as-of", args.as_of.isoformat()]
        if args.previous_rows is not None:
            passthrough += ["--previous-rows", str(args.previous_rows)]
        for feed in args.feed or []:
            passthrough += ["--feed", feed]
        summary = ab(args.ab, args.rounds, passthrough)
        for step in (*STEPS, "total"):
            b, a = summary[step]["before"], summary[step]["after"]
            print(
                f"{step:13} CPU {b['cpu_s']:6.2f} → {a['cpu_s']:6.2f} s   "
                f"wall {b['wall_s']:6.2f} → {a['wall_s']:6.2f} s"
            )
        if args.json:
            args.json.write_text(json.dumps(summary, indent=1), encoding="utf-8")
        return
    as_of = args.as_of
    if as_of is None:
        manifest = args.inbox / "truth" / "manifest.json"
        as_of = date.fromisoformat(json.loads(manifest.read_text(encoding="utf-8"))["as_of"])
    report = profile(args.inbox, as_of, args.dump, args.previous_rows, args.feed, args.repeat)
    print(json.dumps({k: v for k, v in report.items() if k != "files"}, indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
