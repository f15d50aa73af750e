"""What every stage of a night shares: the store's connection, the run, the clock.

A stage is a function `run(night) -> summary` in its package's `stage.py`. It reads the
tables it needs from `night.con` and writes the tables it produces there, inside the
night's one transaction, so the stage can be re-run alone (`recon stage NAME`) and its
tables read with plain SQL.
"""

from __future__ import annotations

import resource
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date

import duckdb

from recon.config import Config
from recon.engine import Embedded, Engine
from recon.link.partition import KeptRecords
from recon.resources import sql


class Timer:
    """Seconds per stage (and per step of the file stage), for run.json and the bench; the
    process's peak memory when each ended (the first stage to raise it is the one); and
    the resident memory each stage itself peaked at, sampled while it ran, so that a stage
    whose peak an earlier one hid still shows its own."""

    SAMPLE_S = 0.1  # a stage's peak is the highest of these samples while it runs

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.peak_mib: dict[str, int] = {}
        self.stage_peak_mib: dict[str, int] = {}
        self._running: list[str] = []
        self._lock = threading.Lock()
        self._sampler: threading.Thread | None = None

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        self._enter(name)
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start
            self.peak_mib[name] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
            self._leave(name)

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 3) for k, v in self.seconds.items()}

    def _enter(self, name: str) -> None:
        with self._lock:
            self._running.append(name)
            if self._sample() and self._sampler is None:
                self._sampler = threading.Thread(
                    target=self._sample_while_running, name="recon-timer", daemon=True
                )
                self._sampler.start()

    def _leave(self, name: str) -> None:
        with self._lock:
            self._sample()
            self._running.remove(name)

    def _sample(self) -> bool:  # with the lock held; False where memory cannot be read
        mib = _resident_mib()
        if mib is None:
            return False
        for name in self._running:
            self.stage_peak_mib[name] = max(self.stage_peak_mib.get(name, 0), mib)
        return True

    def _sample_while_running(self) -> None:
        # Stops when no stage runs (a stage entered later starts another), so no thread
        # outlives the night.
        while True:
            time.sleep(self.SAMPLE_S)
            with self._lock:
                if not self._running:
                    self._sampler = None
                    return
                self._sample()


def _resident_mib() -> int | None:
    """The process's resident memory now (Linux's /proc; None elsewhere: no samples)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * resource.getpagesize() // 2**20


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
    # The link stage's part records, for reconcile, in `[engine] work_dir`
    kept: KeptRecords = field(init=False)

    def __post_init__(self) -> None:
        self.kept = KeptRecords(self.config.engine.work_dir)

    def close(self) -> None:
        """Stop the engine and remove what the night kept on disk."""
        try:
            self.engine.close()
        finally:
            self.kept.clear()

    def known_divisions(self) -> frozenset[str] | None:
        codes = [row[0] for row in self.con.execute(sql("ingest/known_divisions")).fetchall()]
        return frozenset(codes) if codes else None
