"""Benchmark: prepare, link and reconcile on an existing store, stage by stage.

    python bench/link_reconcile.py --db /tmp/lr/recon.duckdb \
        --fuzzy-cache /tmp/lr/fuzzy.parquet --dump /tmp/lr/after
    python bench/link_reconcile.py --compare /tmp/lr/before /tmp/lr/after

Opens the store read-only (copy it out of bench/data first: a run elsewhere may hold
its lock), reads the link records (sql/link/records.sql) and times `prepare`, `link`
and `reconcile` separately: wall seconds, process CPU seconds (all threads) and the
peak resident memory while the stage ran (sampled from /proc/self/statm, since psutil
is not a dependency), and the process peak (getrusage).

The link records are read from the store once and kept in `--records-cache`: DuckDB
gives the union's rows in no fixed order, and the births are numbered in row order.
The fuzzy (Splink) pairs are computed once and kept in `--fuzzy-cache`: later runs give
`link` the same pairs, so a before/after comparison sees identical fuzzy input and the
link time is the exact passes' own. The residual records Splink was given are kept
beside the pairs; a later run whose residual differs stops, since its cached pairs
would not be the ones Splink gives.

`--dump DIR` writes the outputs (records after prepare, linked births/links/duplicates,
findings, births) to parquet; `--compare A B` checks two dumps are equal frame by frame.
To measure the code as committed, put an extracted copy first on the path:
`git archive HEAD recon sql | tar -x -C /tmp/base` and `PYTHONPATH=/tmp/base`.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

OUTPUTS = (
    "records",
    "linked_births",
    "linked_links",
    "linked_duplicates",
    "findings",
    "births",
)
# Stored as tables and read back without an order (recon/link/stage.py, cases/stage.py).
UNORDERED = ("linked_links", "linked_duplicates", "findings")
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


class PeakSampler:
    """Peak RSS over an interval, sampled every few milliseconds in a thread."""

    def __init__(self, every: float = 0.01) -> None:
        self.every = every
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes())
            time.sleep(self.every)

    def __enter__(self) -> PeakSampler:
        self.peak = rss_bytes()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())


STAGES: dict[str, dict[str, float]] = {}


@contextmanager
def stage(name: str) -> Iterator[None]:
    gc.collect()
    start_rss = rss_bytes()
    wall, cpu = time.perf_counter(), time.process_time()
    with PeakSampler() as sampler:
        yield
    STAGES[name] = {
        "wall_s": round(time.perf_counter() - wall, 2),
        "cpu_s": round(time.process_time() - cpu, 2),
        "rss_start_gib": round(start_rss / 2**30, 2),
        "rss_peak_gib": round(sampler.peak / 2**30, 2),
        "rss_end_gib": round(rss_bytes() / 2**30, 2),
    }
    print(name, STAGES[name], file=sys.stderr, flush=True)


def known_divisions(con: duckdb.DuckDBPyConnection) -> frozenset[str] | None:
    # as recon/run.py `_known_divisions`; repeated here so the bench does not depend on
    # run.py's private helpers while run.py is being restructured
    codes = [row[0] for row in con.execute("SELECT code FROM divisions").fetchall()]
    return frozenset(codes) if codes else None


def fuzzy_from_cache(
    cache: Path, con: duckdb.DuckDBPyConnection, records: pl.DataFrame, config: Any
) -> Callable[[pl.DataFrame], pl.DataFrame]:
    residual_path = cache.with_suffix(".residual.parquet")

    def cached(residual: pl.DataFrame) -> pl.DataFrame:
        uids = residual.select(pl.col("uid").sort())
        if cache.exists():
            if not uids.equals(pl.read_parquet(residual_path)):
                raise SystemExit("the residual differs from the cached one: pairs not reusable")
            return pl.read_parquet(cache)
        try:  # the stage layout
            from recon.link.model import fuzzy_pairs

            splink = fuzzy_pairs(con, config)
        except ImportError:  # before it
            from recon.run import _fuzzy_pairs  # type: ignore[attr-defined]

            splink = _fuzzy_pairs(con, records, config)
        start = time.perf_counter()
        pairs = splink(residual)
        print(f"fuzzy (Splink) {time.perf_counter() - start:.1f} s", file=sys.stderr)
        pairs.write_parquet(cache)
        uids.write_parquet(residual_path)
        return pairs

    return cached


def run(args: argparse.Namespace) -> dict[str, Any]:
    from recon.config import load_config
    from recon.link.exact import Linked, link, prepare
    from recon.resources import sql
    from recon.store.connection import query_frame

    config = load_config(args.config)
    con = duckdb.connect(str(args.db), read_only=True)
    known = known_divisions(con)
    if args.reconcile_only:
        # reconcile alone, on a dump's prepared records and links (as the reconcile stage
        # reads the link stage's tables back from the store)
        with stage("load"):
            records = pl.read_parquet(args.reconcile_only / "records.parquet")
            linked = Linked(
                *(pl.read_parquet(args.reconcile_only / f"{name}.parquet") for name in OUTPUTS[1:4])
            )
        return reconciled(args, config, known, records, linked)
    with stage("load"):
        # DuckDB returns the union's rows in no fixed order, and the birth numbering
        # follows the row order: compared runs must read the same rows in the same order.
        if args.records_cache and args.records_cache.exists():
            raw = pl.read_parquet(args.records_cache)
        else:
            raw = query_frame(con, sql("link/records"))
            if args.records_cache:
                raw.write_parquet(args.records_cache)
    with stage("prepare"):
        records = prepare(raw)
    del raw
    fuzzy = None
    if config.fuzzy and not args.no_fuzzy:
        fuzzy = fuzzy_from_cache(args.fuzzy_cache, con, records, config)
    with stage("link"):
        linked = link(records, fuzzy=fuzzy, min_match_weight=config.min_match_weight)
    con.close()
    return reconciled(args, config, known, records, linked)


def reconciled(
    args: argparse.Namespace,
    config: Any,
    known: frozenset[str] | None,
    records: pl.DataFrame,
    linked: Any,
) -> dict[str, Any]:
    from recon.reconcile.findings import Deadlines, reconcile

    with stage("reconcile"):
        result = reconcile(
            records,
            linked,
            args.as_of,
            Deadlines(config.deadlines["pop"], config.deadlines["police"]),
            known,
            config.evidence,
        )
    summary: dict[str, Any] = {
        "stages": STAGES,
        "process_peak_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
        "rows": {
            "records": records.height,
            "births": linked.births.height,
            "links": linked.links.height,
            "duplicates": linked.duplicates.height,
            "findings": result.findings.height,
        },
        "recon": sys.modules["recon"].__file__,
    }
    if args.dump:
        args.dump.mkdir(parents=True, exist_ok=True)
        frames = (
            records,
            linked.births,
            linked.links,
            linked.duplicates,
            result.findings,
            result.births,
        )
        for name, frame in zip(OUTPUTS, frames, strict=True):
            frame.write_parquet(args.dump / f"{name}.parquet")
        (args.dump / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def compare(a: Path, b: Path) -> bool:
    same = True
    for name in OUTPUTS:
        left, right = pl.read_parquet(a / f"{name}.parquet"), pl.read_parquet(b / f"{name}.parquet")
        equal = left.schema == right.schema and left.equals(right)
        verdict = "identical"
        if not equal:
            # Rows equal, order not: fine for the frames stored as unordered tables
            # (links, link_duplicates, findings), whose order the code as it was did not
            # keep from one run to the next either.
            rows_equal = left.schema == right.schema and left.sort(left.columns).equals(
                right.sort(right.columns)
            )
            verdict = "same rows, other order" if rows_equal else "DIFFERENT"
            same &= rows_equal and name in UNORDERED
        print(f"{name:18} {left.height:>9} rows  {verdict}")
    return same


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path)
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 10, 31))
    parser.add_argument("--fuzzy-cache", type=Path, default=Path("/tmp/lr/fuzzy.parquet"))
    parser.add_argument("--records-cache", type=Path, default=Path("/tmp/lr/records.parquet"))
    parser.add_argument("--no-fuzzy", action="store_true")
    parser.add_argument("--dump", type=Path, default=None)
    parser.add_argument(
        "--reconcile-only",
        type=Path,
        metavar="DUMP",
        help="run reconcile alone on the records and links of an earlier --dump",
    )
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("A", "B"))
    args = parser.parse_args()
    if args.compare:
        sys.exit(0 if compare(*args.compare) else 1)
    if args.db is None:
        parser.error("--db is required")
    print(json.dumps(run(args), indent=2))


if __name__ == "__main__":
    main()
