"""Where the night's tasks run: in this process (the embedded engine, DuckDB and Polars)
or on a Spark session. The tasks are each feed file's chunks, normalised and validated
(recon/ingest/stage.py), and the link and reconcile stages' parts (recon/link/partition.py);
both engines run the same code on the same chunks and parts, so both give the same
tables and cases by construction. The store is written here, between tasks.

    map_parts(fn, parts, inputs)  each part's input tables -> fn -> its output tables
    fuzzy_pairs(model, config)    the frozen Splink model's scorer for the pass across
                                  the parts (DuckDB here, Spark SQL on Spark)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

import polars as pl

from recon.config import Config
from recon.link.exact import FuzzyPairs
from recon.link.model import fuzzy_pairs

if TYPE_CHECKING:
    from recon.link.fuzzy import LinkModel

Tables = dict[str, pl.DataFrame]
PartFn = Callable[[Tables], Tables]


class EngineUnavailable(Exception):
    """The engine asked for cannot start here: what is missing, and how to get it."""


class Engine(Protocol):
    in_process: bool  # whether tasks run in this process (and may share its objects)

    def map_parts(
        self, fn: PartFn, parts: Sequence[int], inputs: Callable[[int], Tables]
    ) -> Iterator[tuple[int, Tables]]:
        """fn over each part's inputs, yielding (part, outputs) in the order of `parts`."""
        ...

    def fuzzy_pairs(self, model: LinkModel, config: Config) -> FuzzyPairs: ...

    def close(self) -> None: ...


class Embedded:
    """The parts one after the other in this process, one part's frames at a time."""

    in_process = True

    def map_parts(
        self, fn: PartFn, parts: Sequence[int], inputs: Callable[[int], Tables]
    ) -> Iterator[tuple[int, Tables]]:
        for part in parts:
            yield part, fn(inputs(part))

    def fuzzy_pairs(self, model: LinkModel, config: Config) -> FuzzyPairs:
        return fuzzy_pairs(model, config)

    def close(self) -> None:
        pass


def check_engine(config: Config) -> None:
    """Raise EngineUnavailable, saying what to install, if the engine cannot start here
    (before the store is touched, rather than in the middle of the night)."""
    if config.engine.name == "spark":
        from recon.engine.spark import check_available

        check_available()


def open_engine(config: Config) -> Engine:
    """The engine `[engine] name` names (the Spark session starts on first use)."""
    if config.engine.name == "spark":
        from recon.engine.spark import Spark

        return Spark(config)
    return Embedded()
