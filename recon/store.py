"""The embedded store (recon.duckdb): opening it safely, one writer at a time."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from recon.resources import sql


class StoreBusy(Exception):
    """Another recon process holds the store."""


@contextmanager
def exclusive(db_path: Path) -> Iterator[None]:
    """Hold `<db>.lock` while working: a second run is refused rather than corrupt the store."""
    lock_path = db_path.with_name(db_path.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise StoreBusy(
                f"{db_path} is in use by another recon process (pid {holder}); "
                "wait for it to finish, then run again"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


def connect(
    db_path: Path, settings: dict[str, Any], read_only: bool = False
) -> duckdb.DuckDBPyConnection:
    """Open the store with memory and spill caps, so a bad plan fails fast."""
    try:
        con = duckdb.connect(str(db_path), read_only=read_only)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise StoreBusy(f"{db_path} is in use by another process: {exc}") from exc
        raise
    temp_dir = db_path.with_name(db_path.name + ".tmp")
    memory, spill = settings["memory_limit"], settings["max_temp_directory_size"]
    con.execute(f"SET memory_limit = '{size_setting(memory)}'")
    con.execute(f"SET max_temp_directory_size = '{size_setting(spill)}'")
    con.execute(f"SET threads = {int(settings['threads'])}")
    con.execute(f"SET temp_directory = '{_quote(str(temp_dir))}'")
    con.execute("SET preserve_insertion_order = true")
    return con


def size_setting(value: object) -> str:
    """A size like "4GB", or ValueError: DuckDB SET binds no parameters, so only this gets in."""
    text = str(value).strip().upper().replace(" ", "")
    if not text[:-2].replace(".", "", 1).isdigit() or text[-2:] not in ("KB", "MB", "GB", "TB"):
        raise ValueError(f"not a size like '4GB': {value!r}")
    return text


def _quote(text: str) -> str:
    return text.replace("'", "''")


def create_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(sql("schema"))


def query_frame(
    con: duckdb.DuckDBPyConnection, query: str, params: list[Any] | dict[str, Any] | None = None
) -> pl.DataFrame:
    """Run a query and fetch the whole result through Arrow (no result left open)."""
    result = pl.from_arrow(con.sql(query, params=params).to_arrow_table())
    assert isinstance(result, pl.DataFrame)
    return result


def scalar(
    con: duckdb.DuckDBPyConnection, query: str, params: list[Any] | dict[str, Any] | None = None
) -> Any:
    rows = con.execute(query, params or []).fetchall()
    return rows[0][0] if rows else None


def execute_script(
    con: duckdb.DuckDBPyConnection, script: str, params: dict[str, Any] | None = None
) -> None:
    """Run a file of statements; DuckDB binds parameters only in single statements."""
    params = params or {}
    # DuckDB's own parser splits the script: a ";" in a string literal or a comment is no
    # statement's end, and it names the parameters each statement uses ($run vs $run_id).
    for statement in duckdb.extract_statements(script, connection=con):
        used = {k: v for k, v in params.items() if k in statement.named_parameters}
        con.execute(statement, used)


@contextmanager
def transaction(db_path: Path, settings: dict[str, Any]) -> Iterator[duckdb.DuckDBPyConnection]:
    """The existing store, locked, in one transaction: all of the work or none of it."""
    with exclusive(db_path):
        if not db_path.exists():
            raise FileNotFoundError(f"{db_path} does not exist: run `recon run` first")
        con = connect(db_path, settings)
        try:
            con.begin()
            create_schema(con)
            yield con
            con.commit()
        except BaseException:
            con.rollback()
            raise
        finally:
            con.close()
