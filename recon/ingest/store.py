"""Store one validated file: its new record versions, quarantine, warnings and results.

Every statement is a file in sql/ingest/, named for the table it writes. A long file is
stored a chunk at a time (`store_rows`), then described once (`store_file`).
"""

from __future__ import annotations

import json
from typing import Any

import duckdb
import polars as pl

from recon.ingest.feeds import FEED_SPECS, FeedName
from recon.ingest.read import RawFeed
from recon.resources import sql
from recon.results import FileReport
from recon.store.connection import registered, scalar
from recon.validate.rules import Validated


def previous_ingest(con: duckdb.DuckDBPyConnection, sha: str) -> FileReport | None:
    """The report of a file with these bytes already ingested (it is not read again)."""
    rows = con.execute(sql("ingest/previous_ingest"), {"sha256": sha}).fetchall()
    if not rows:
        return None
    file_id, feed, name, read, accepted, quarantined, fmt, encoding = rows[0]
    return FileReport(
        file_id, feed, name, read, accepted, quarantined, True, encoding=encoding, format=fmt
    )


def next_file_id(con: duckdb.DuckDBPyConnection) -> int:
    return int(scalar(con, sql("ingest/next_file_id")))


def store_rows(
    con: duckdb.DuckDBPyConnection, file_id: int, feed: FeedName, validated: Validated
) -> int:
    """Rows of one file (or one chunk of it): new record versions, quarantine, warnings.
    Returns how many accepted rows made a new record or version."""
    keys = validated.accepted.get_column(FEED_SPECS[feed].key)
    repeated = keys.filter(keys.is_duplicated()).n_unique()
    if repeated:
        # The version numbering below is unique only for unique keys (the tables declare
        # no primary key, see sql/schema.sql): a repeat here is a bug upstream, not data.
        raise RuntimeError(f"{feed}: {repeated} keys accepted twice in one file; nothing stored")
    with registered(con, "staged", validated.accepted):
        rows_new = int(scalar(con, sql(f"ingest/{feed}_records"), {"file_id": file_id}))
    ids: dict[str, Any] = {"file_id": file_id, "feed": feed}
    with registered(con, "incoming", validated.quarantined):
        con.execute(sql("ingest/quarantine"), ids)
    with registered(con, "incoming", validated.warnings):
        con.execute(sql("ingest/warnings"), ids)
    return rows_new


def store_file(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    file_id: int,
    raw: RawFeed,
    counts: FileReport,
    rule_results: pl.DataFrame,
    outcomes: pl.DataFrame | None,
) -> None:
    """The file's row in `files`, its rule results and expectation outcomes, once its
    rows are stored; `counts` holds what the rows came to."""
    if counts.rows_accepted + counts.rows_quarantined != counts.rows_read:
        # Nothing may be lost between reading and storing.
        raise RuntimeError(
            f"{raw.path}: {counts.rows_read} rows read but {counts.rows_accepted} accepted "
            f"+ {counts.rows_quarantined} quarantined"
        )
    ids: dict[str, Any] = {"file_id": file_id, "feed": raw.feed.name}
    with registered(con, "incoming", rule_results):
        con.execute(sql("ingest/rule_results"), {**ids, "rows_read": counts.rows_read})
    if outcomes is not None and outcomes.height:
        with registered(con, "incoming", outcomes):
            con.execute(sql("ingest/expectation_results"), {"file_id": file_id, "run_id": run_id})
    con.execute(
        sql("ingest/files"),
        {
            **ids, "run_id": run_id, "file_name": raw.path.name, "sha256": raw.sha256,
            "size_bytes": raw.size_bytes, "format": raw.format, "encoding": raw.encoding,
            "header": json.dumps(raw.header, ensure_ascii=False),
            "rows_read": counts.rows_read, "rows_accepted": counts.rows_accepted,
            "rows_quarantined": counts.rows_quarantined, "rows_new": counts.rows_new,
            "rows_unchanged": counts.rows_unchanged,
        },
    )  # fmt: skip
