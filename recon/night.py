"""What every stage of a night shares: the store's connection, the run, the clock.

A stage is a function `run(night) -> summary` in its package's `stage.py`. It reads the
tables it needs from `night.con` and writes the tables it produces there, inside the
night's one transaction, so the stage can be re-run alone (`recon stage NAME`) and its
tables read with plain SQL.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date

import duckdb

from recon.config import Config
from recon.engine import Embedded, Engine
from recon.resources import sql


class Timer:
    """Seconds per stage (and per step of the file stage), for run.json and the bench, and
    the process's peak memory when each ended (the first stage to raise it is the one)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.peak_mib: dict[str, int] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start
            self.peak_mib[name] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 3) for k, v in self.seconds.items()}


@dataclass
class Night:
    con: duckdb.DuckDBPyConnection
    run_id: int
    as_of: date
    config: Config
    timer: Timer = field(default_factory=Timer)
    notes: list[str] = field(default_factory=list)  # said in the summary and run.json
    absent: frozenset[str] = frozenset()  # feeds this store has never received
    existed: bool = True  # the store was there before tonight (else a failure removes it)
    engine: Engine = field(default_factory=Embedded)  # where link and reconcile run parts

    def known_divisions(self) -> frozenset[str] | None:
        codes = [row[0] for row in self.con.execute(sql("ingest/known_divisions")).fetchall()]
        return frozenset(codes) if codes else None
