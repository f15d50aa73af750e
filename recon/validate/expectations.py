"""Run the feed-level expectations (checks/expectations.py) on one feed file.

The suites are in `checks/expectations.py`, found through `recon.resources` (inside the
wheel or at the top of a source checkout). Great Expectations reads pandas, so the Polars
frame goes in as an Arrow-backed pandas frame holding only the columns the suite reads.

Every call builds its own in-memory (ephemeral) Data Context: it costs milliseconds, and
nothing (data frames, suites, results) outlives the call. GE runs offline: no analytics,
no Data Docs, no progress bars, its logger quiet below ERROR.

Public API:

- `check_feed(feed, frame, *, previous_rows, thresholds) -> list[ExpectationOutcome]`
- `outcomes_frame(outcomes) -> polars.DataFrame`, one row per outcome, for the store
- `ExpectationThresholds` (defined in checks/expectations.py), `load_checks()`
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
from dataclasses import dataclass, fields
from functools import cache
from types import ModuleType
from typing import TYPE_CHECKING, Any

import polars as pl

from recon.resources import checks_module

if TYPE_CHECKING:
    import great_expectations as gx
    import pandas as pd
    import pyarrow as pa

    from checks.expectations import ExpectationThresholds

# GX 1.24 ships no analytics client any more (no posthog; GX Cloud is shut down), so
# nothing is sent either way; the variable and analytics_enabled=False below keep it so
# should a GX version with analytics be installed.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

# Only counts and shares: never the values, nor where the rows are.
RESULT_FORMAT: dict[str, Any] = {
    "result_format": "BASIC",
    "partial_unexpected_count": 0,
    "exclude_unexpected_values": True,
    "include_unexpected_rows": False,
}

# Keys of a GE result that carry data values or row positions; never stored.
_DATA_KEYS = frozenset(
    {
        "partial_unexpected_list",
        "partial_unexpected_counts",
        "partial_unexpected_index_list",
        "unexpected_list",
        "unexpected_index_list",
        "unexpected_index_query",
        "unexpected_rows",
        "exception_traceback",
    }
)

# GE's validation graph is not safe to share between threads.
_ge_lock = threading.Lock()


@dataclass(frozen=True)
class ExpectationOutcome:
    """The result of one expectation on one feed file."""

    feed: str
    expectation: str  # English rule name (meta "rule"), e.g. "key_unique"
    label: str  # Chinese label (meta "label"), e.g. "记录编号唯一"
    column: str | None  # None for table-level expectations (row count)
    success: bool
    observed_value: float | None  # in the rule's own terms (checks: observed_value)
    unexpected_count: int | None
    unexpected_percent: float | None  # GE's: of the non-null values for per-value rules
    element_count: int | None
    details_json: str  # GE's result for this expectation as JSON, without any data values


# outcomes_frame: the columns of the store's expectation_results (sql/schema.sql), where
# details_json is stored as `details`.
OUTCOME_SCHEMA: dict[str, pl.DataType] = {
    "feed": pl.String(),
    "expectation": pl.String(),
    "label": pl.String(),
    "column": pl.String(),
    "success": pl.Boolean(),
    "observed_value": pl.Float64(),
    "unexpected_count": pl.Int64(),
    "unexpected_percent": pl.Float64(),
    "element_count": pl.Int64(),
    "details": pl.String(),
}


@cache
def load_checks() -> ModuleType:
    """checks/expectations.py, found the same way as every other check file."""
    module = checks_module("expectations")
    _quiet_great_expectations()
    return module


def __getattr__(name: str) -> Any:
    # ExpectationThresholds lives in checks/expectations.py; loading it imports GE
    # (seconds), so it happens on first use, not when this module is imported.
    if name == "ExpectationThresholds":
        return load_checks().ExpectationThresholds
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _quiet_great_expectations() -> None:
    # GE logs at INFO/WARNING about its own machinery; errors still get through, and
    # failures of an expectation come back in its result, not through the log.
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    _no_batch_fingerprint()


def _no_batch_fingerprint() -> None:
    """GE hashes every pandas batch under 1 GB (`HASH_THRESHOLD`) into a batch marker,
    `pandas_data_fingerprint`, which only identifies the batch: no expectation reads it,
    and recon keeps no GE result but the ones it stores itself. Hashing a file's key column
    was a third of the expectations' time (0.55 of 1.66 s on 914k rows). GE already skips
    it for larger frames; a threshold of 0 skips it for every frame. GE has no setting for
    it, hence the module constant (tests/validate/test_expectations.py watches it)."""
    from great_expectations.execution_engine import pandas_execution_engine

    pandas_execution_engine.HASH_THRESHOLD = 0


def _context() -> gx.data_context.EphemeralDataContext:
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        # In-memory stores and no Data Docs site (its pages load styles from the internet).
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        analytics_enabled=False,
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def suite_columns(suite: gx.ExpectationSuite) -> list[str]:
    """The columns the suite's expectations read, in first-use order."""
    columns: dict[str, None] = {}
    for expectation in suite.expectations:
        column = getattr(expectation, "column", None)
        if isinstance(column, str):
            columns[column] = None
    return list(columns)


def nullness_only(suite: gx.ExpectationSuite) -> frozenset[str]:
    """The columns whose every expectation in the suite is a null check: of those, GE needs
    to know only where a value is missing."""
    import great_expectations.expectations as gxe

    null_checks: dict[str, set[bool]] = {}
    for expectation in suite.expectations:
        column = getattr(expectation, "column", None)
        if isinstance(column, str):
            is_null_check = isinstance(expectation, gxe.ExpectColumnValuesToNotBeNull)
            null_checks.setdefault(column, set()).add(is_null_check)
    return frozenset(column for column, kinds in null_checks.items() if kinds == {True})


def _pandas_frame(
    feed: str, frame: pl.DataFrame, columns: list[str], nullness: frozenset[str] = frozenset()
) -> pd.DataFrame:
    """Arrow-backed pandas frame with the suite's columns that exist in `frame`.

    A column missing from `frame` is left out: its expectation then fails with GE's
    "column not found" exception rather than passing on an invented all-null column.
    A column in `nullness` (only null checks read it) goes in as what they read: 1 where
    a value is present, null where it is missing. GE fingerprints every batch with
    pandas.util.hash_pandas_object and filters the whole batch for some expectations; a
    million distinct names or identity numbers cost it about a second per file to hash,
    their nullness a few milliseconds, for the same counts. For the same reason dates go
    in as Arrow timestamps: an Arrow date32 column is hashed through Python objects
    (about 1 s per million rows), a timestamp column natively.
    """
    checks = load_checks()
    derived: dict[str, pl.Expr] = checks.derived_columns(feed)
    present = [c for c in columns if c in frame.columns and c not in derived]
    selected = frame.select(
        *(_present(c) if c in nullness else pl.col(c) for c in present),
        *(derived[c] for c in columns if c in derived and _inputs_present(derived[c], frame)),
    ).with_columns(pl.col(pl.Date).cast(pl.Datetime("ms")))
    return selected.to_arrow().to_pandas(types_mapper=_arrow_backed)


def _present(column: str) -> pl.Expr:
    # Int8, not Boolean: pandas hashes an Arrow bool column with nulls through Python
    # objects (70 ms per million rows), an Arrow int8 one natively (8 ms).
    return pl.when(pl.col(column).is_not_null()).then(pl.lit(1, pl.Int8)).alias(column)


def _arrow_backed(dtype: pa.DataType) -> pd.api.extensions.ExtensionDtype:
    """Every column stays in Arrow; text as pandas' own Arrow-backed string dtype, which
    GE's batch fingerprint (hash_pandas_object) and the uniqueness check (duplicated) go
    through about twice as fast as a plain ArrowDtype(large_string) column."""
    import pandas as pd
    import pyarrow as pa

    if (
        pa.types.is_string(dtype)
        or pa.types.is_large_string(dtype)
        or pa.types.is_string_view(dtype)
    ):
        return pd.StringDtype("pyarrow")
    return pd.ArrowDtype(dtype)


def _inputs_present(expr: pl.Expr, frame: pl.DataFrame) -> bool:
    return all(name in frame.columns for name in expr.meta.root_names())


def check_feed(
    feed: str,
    frame: pl.DataFrame,
    *,
    previous_rows: int | None,
    thresholds: ExpectationThresholds,
) -> list[ExpectationOutcome]:
    """Validate one feed file against its suite; one outcome per expectation, in suite order.

    `frame` holds the canonical columns of every row read from the file (sex "M"/"F"/null,
    dates as Date, unreadable values null). `previous_rows` is the row count of the same
    feed in the previous run, None when there is none (the row-count rule is then left out).
    """
    import great_expectations as gx
    from great_expectations.data_context import set_context

    checks = load_checks()
    suite: gx.ExpectationSuite = checks.feed_suite(feed, thresholds, previous_rows)
    dataframe = _pandas_frame(feed, frame, suite_columns(suite), nullness_only(suite))

    with _ge_lock:
        context = _context()
        try:
            batch_definition = (
                context.data_sources.add_pandas(name="recon")
                .add_dataframe_asset(name=feed)
                .add_batch_definition_whole_dataframe(name="whole_file")
            )
            suite = context.suites.add(suite)
            validation = context.validation_definitions.add(
                gx.ValidationDefinition(name=f"recon.{feed}", data=batch_definition, suite=suite)
            )
            result = validation.run(
                batch_parameters={"dataframe": dataframe}, result_format=dict(RESULT_FORMAT)
            )
        finally:
            # get_context() made this context GE's process-wide "current" one, which keeps
            # the validated frame alive (data source → execution engine → batch cache).
            set_context(None)
    # GE orders results by how it computes them; give them back in the suite's order.
    order = {expectation.id: i for i, expectation in enumerate(suite.expectations)}
    details = [r.to_json_dict() for r in result.results]
    details.sort(key=lambda d: order.get(_config_id(d), len(order)))
    return [_outcome(feed, d) for d in details]


def _config_id(details: dict[str, Any]) -> str | None:
    config = details.get("expectation_config") or {}
    return config.get("id")


def _outcome(feed: str, result: dict[str, Any]) -> ExpectationOutcome:
    checks = load_checks()
    details = _without_data(result)
    config = details.get("expectation_config") or {}
    meta = config.get("meta") or {}
    kwargs = config.get("kwargs") or {}
    values = details.get("result") or {}
    rule = str(meta.get("rule") or config.get("type"))
    return ExpectationOutcome(
        feed=feed,
        expectation=rule,
        label=str(meta.get("label") or ""),
        column=kwargs.get("column"),
        success=bool(details.get("success")),
        observed_value=checks.observed_value(rule, values),
        unexpected_count=_integer(values.get("unexpected_count")),
        unexpected_percent=_number(values.get("unexpected_percent")),
        element_count=_integer(values.get("element_count")),
        details_json=json.dumps(details, ensure_ascii=False, sort_keys=True),
    )


def _without_data(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_data(v) for k, v in value.items() if k not in _DATA_KEYS}
    if isinstance(value, list):
        return [_without_data(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN; GE reports the mean of no values as NaN
    return value


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _integer(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def outcomes_frame(outcomes: list[ExpectationOutcome]) -> pl.DataFrame:
    """The outcomes as a table for the store, one row each, in field order.

    Column names follow expectation_results in sql/schema.sql: `details_json` is `details`.
    """
    rows = [
        {("details" if f.name == "details_json" else f.name): getattr(o, f.name) for f in fields(o)}
        for o in outcomes
    ]
    return pl.DataFrame(rows, schema=OUTCOME_SCHEMA)
