"""The embedded store (recon.duckdb): opening it safely, one writer at a time."""

from __future__ import annotations

import fcntl
import itertools
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa

from recon.resources import sql


class StoreBusy(Exception):
    """Another recon process holds the store."""


Notice = Callable[[str], None]
"""Told once, in words for the officer, that the store is busy and the command waits."""


def _holder(db_path: Path) -> str:
    """The pid the lock file names (the process holding the store), or 'unknown'."""
    try:
        text = db_path.with_name(db_path.name + ".lock").read_text().strip()
    except OSError:
        text = ""
    return text or "unknown"


def _busy(db_path: Path, waited: float) -> StoreBusy:
    after = f"（已等待 {waited:.0f} 秒）" if waited else ""
    return StoreBusy(
        f"{db_path} 正被另一个 recon 进程使用（pid {_holder(db_path)}）{after}：请等它结束后"
        "再试，或加 --wait 秒数 (the store is in use by another recon process; wait for it,"
        " or give --wait SECONDS)"
    )


def _waiting(db_path: Path, deadline: float, tries: int, notice: Notice | None) -> bool:
    """Sleep a moment if there is time left before `deadline`; tell the officer once."""
    if time.monotonic() >= deadline:
        return False
    if notice is not None and tries == 0:
        notice(f"{db_path} 正被另一个 recon 进程（pid {_holder(db_path)}）使用，等待中…")
    time.sleep(0.5)
    return True


@contextmanager
def exclusive(db_path: Path, wait: float = 0, notice: Notice | None = None) -> Iterator[None]:
    """Hold `<db>.lock` while working: a second run is refused rather than corrupt the store.

    With `wait`, a busy store is tried again for up to that many seconds.
    """
    lock_path = db_path.with_name(db_path.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    with lock_path.open("a+") as handle:
        for tries in itertools.count():
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not _waiting(db_path, start + wait, tries, notice):
                    raise _busy(db_path, time.monotonic() - start) from None
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
    db_path: Path,
    settings: dict[str, Any],
    read_only: bool = False,
    wait: float = 0,
    notice: Notice | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open the store with memory and spill caps, so a bad plan fails fast.

    A store another process is writing cannot be opened (DuckDB locks the file): with
    `wait`, it is tried again for up to that many seconds, then StoreBusy.
    """
    start = time.monotonic()
    for tries in itertools.count():
        try:
            con = duckdb.connect(str(db_path), read_only=read_only)
            break
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            if not _waiting(db_path, start + wait, tries, notice):
                raise _busy(db_path, time.monotonic() - start) from None
    temp_dir = db_path.with_name(db_path.name + ".tmp")
    memory, spill = settings["memory_limit"], settings["max_temp_directory_size"]
    # Settings, not statements on a table, kept here: older DuckDB releases (the project
    # allows 1.4 on) bind no parameter in SET, so each value is checked or quoted instead.
    con.execute(f"SET memory_limit = '{size_setting(memory)}'")
    con.execute(f"SET max_temp_directory_size = '{size_setting(spill)}'")
    con.execute(f"SET threads = {int(settings['threads'])}")
    con.execute(f"SET temp_directory = '{_quote(str(temp_dir))}'")
    con.execute("SET preserve_insertion_order = true")
    # Text handed to Polars as Arrow string views, its own layout, instead of offsets and
    # one buffer it then copies: a part's records at ten million births 2.5 -> 1.7 s.
    con.execute("SET produce_arrow_string_view = true")
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
def transaction(
    db_path: Path, settings: dict[str, Any], wait: float = 0, notice: Notice | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """The existing store, locked, in one transaction: all of the work or none of it."""
    with exclusive(db_path, wait, notice):
        if not db_path.exists():
            raise FileNotFoundError(f"{db_path} does not exist: run `recon run` first")
        con = connect(db_path, settings, wait=wait, notice=notice)
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


@contextmanager
def registered(
    con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame | pa.Table
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A frame visible to SQL as the view `name` for the length of the block (Arrow, no copy).

    The view reads the frame through a stand-in that lets go of it when the block ends:
    DuckDB keeps a view dropped inside a transaction, and whatever it holds, until the
    transaction ends (a rollback could bring it back), so a frame registered as it is
    stayed in memory for the rest of the night: 6.5 GB of the store stage's frames at
    ten million births, freed only at the commit.
    """
    lent = _Lent(frame.to_arrow() if isinstance(frame, pl.DataFrame) else frame)
    con.register(name, lent)
    try:
        yield con
    finally:
        con.unregister(name)
        lent.table = None


class _Lent:
    """An Arrow table lent to DuckDB through the Arrow PyCapsule stream interface."""

    def __init__(self, table: pa.Table) -> None:
        self.table: pa.Table | None = table

    def __arrow_c_stream__(self, requested_schema: object = None) -> object:
        if self.table is None:
            raise RuntimeError("a registered frame was read after its block ended")
        return self.table.__arrow_c_stream__(requested_schema)


def _stage_table(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """`table`, quoted, once it is known to be a table of the store's own schema.

    DuckDB binds values, never a table name: the stages' table statements format the name
    in, so only a table of the store (sql/store/stage_table.sql, where it is bound) gets in.
    """
    if not scalar(con, sql("store/stage_table"), {"table": table}):
        raise ValueError(f"{table!r} is not a table of the store")
    return '"' + table.replace('"', '""') + '"'


def clear_table(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Empty a stage's table before the stage writes it again."""
    con.execute(f"DELETE FROM {_stage_table(con, table)}")


def append_table(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> int:
    """Add `frame`'s rows to a stage's table (columns matched by name)."""
    name = _stage_table(con, table)
    with registered(con, "incoming", frame):
        con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM incoming")
    return frame.height


def table_rows(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return int(scalar(con, f"SELECT count(*) FROM {_stage_table(con, table)}"))


def replace_table(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> int:
    """A stage's table, rewritten to hold exactly `frame` (columns matched by name)."""
    clear_table(con, table)
    return append_table(con, table, frame)
