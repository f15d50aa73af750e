"""Store one validated file: its new record versions, quarantine, warnings and results.

Every statement is a file in sql/ingest/, named for the table it writes.
"""

from __future__ import annotations

import json
from typing import Any

import duckdb
import polars as pl

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


def store_file(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    raw: RawFeed,
    validated: Validated,
    outcomes: pl.DataFrame | None,
    sha: str,
) -> FileReport:
    """Write one file's rows and results; `outcomes` is its expectations' frame, if any."""
    feed = raw.feed.name
    file_id = scalar(con, "SELECT nextval('file_ids')")
    rows_read = raw.rows.height + raw.malformed.height
    accepted = validated.accepted.height
    quarantined = validated.quarantined.height
    if accepted + quarantined != rows_read:  # nothing may be lost between reading and storing
        raise RuntimeError(
            f"{raw.path}: {rows_read} rows read but {accepted} accepted + {quarantined} quarantined"
        )
    with registered(con, "staged", validated.accepted):
        rows_new = scalar(con, sql(f"ingest/{feed}_records"), {"file_id": file_id})
    ids: dict[str, Any] = {"file_id": file_id, "feed": feed}
    with registered(con, "incoming", validated.quarantined):
        con.execute(sql("ingest/quarantine"), ids)
    with registered(con, "incoming", validated.warnings):
        con.execute(sql("ingest/warnings"), ids)
    with registered(con, "incoming", validated.rule_results):
        con.execute(sql("ingest/rule_results"), {**ids, "rows_read": rows_read})
    if outcomes is not None and outcomes.height:
        with registered(con, "incoming", outcomes):
            con.execute(sql("ingest/expectation_results"), {"file_id": file_id, "run_id": run_id})
    con.execute(
        sql("ingest/files"),
        {
            **ids, "run_id": run_id, "file_name": raw.path.name, "sha256": sha,
            "size_bytes": raw.size_bytes, "format": raw.format, "encoding": raw.encoding,
            "header": json.dumps(raw.header, ensure_ascii=False), "rows_read": rows_read,
            "rows_accepted": accepted, "rows_quarantined": quarantined, "rows_new": rows_new,
            "rows_unchanged": accepted - rows_new,
        },
    )  # fmt: skip
    return FileReport(
        file_id=file_id,
        feed=feed,
        file=raw.path.name,
        rows_read=rows_read,
        rows_accepted=accepted,
        rows_quarantined=quarantined,
        skipped=False,
        rows_new=rows_new,
        rows_unchanged=accepted - rows_new,
        warnings=validated.warnings.height,
        encoding=raw.encoding,
        format=raw.format,
    )
