"""Validate: row rules (Pandera, checks/<feed>.py) split each file's rows into accepted and
quarantined; feed-level expectations (Great Expectations, checks/expectations.py) judge the
file as a whole. Both run on one file at a time, inside the file stage."""

from __future__ import annotations

from typing import Any

import duckdb
import polars as pl

from recon.config import Config
from recon.resources import checks_module, sql
from recon.store.connection import scalar
from recon.validate.rules import Validated, validate

__all__ = ["Validated", "expect", "previous_rows", "validate"]


def previous_rows(con: duckdb.DuckDBPyConnection, feed: str) -> int | None:
    """The rows read from the last file of `feed` stored, which a new file is compared with."""
    found = scalar(con, sql("ingest/previous_rows"), {"feed": feed})
    return None if found is None else int(found)


def expect(
    feed: str, canonical: pl.DataFrame, config: Config, previous_rows: int | None
) -> list[Any]:
    """The expectations' outcomes for one file of `feed` (its rows against the last file's,
    `previous_rows`). Reads nothing from the store, so it may run beside what writes it."""
    from recon.validate.expectations import check_feed  # Great Expectations is slow to import

    thresholds = checks_module("expectations").ExpectationThresholds(**config.expectations)
    return check_feed(feed, canonical, previous_rows=previous_rows, thresholds=thresholds)
