"""A big store linked in parts: births are local in time, so the records are cut by birth
month (consecutive months) into parts of about `[reconcile] partition_births` births,
each linked alone, and then every birth a part left without a record of some feed is
linked once more, across the parts, with the births sharing a mother's or child's
identity number with it.

What it costs: a record whose birth date was typed into another part's months is linked
in the pass across the parts, which sees only the open births and their mothers' other
births, not every record; a store that fits one part is linked as one, exactly as
before. Hand-written because neither Polars nor DuckDB cuts a linkage by locality.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import duckdb
import polars as pl

from recon.link.exact import Linked
from recon.resources import sql
from recon.store.connection import append_table, query_frame, registered, scalar

RECORDS_PER_BIRTH = 3  # a birth has a record in each feed, at most, besides repeats


def record_count(con: duckdb.DuckDBPyConnection) -> int:
    """An upper bound of the current records, from the tables' row counts (no scan)."""
    return int(scalar(con, sql("link/record_count")))


def materialise(con: duckdb.DuckDBPyConnection) -> None:
    """The current records as a temporary table the parts read (one scan of the views)."""
    # The statement is records.sql wrapped, so the two never differ.
    con.execute("CREATE OR REPLACE TEMP TABLE link_records AS " + sql("link/records"))


def forget(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the current records' temporary table (or view) once reconcile has read them: at
    ten million births it is most of DuckDB's memory cap, which the stages after need."""
    if con.execute(sql("reconcile/has_link_records")).fetchall()[0][0]:
        con.execute("DROP TABLE link_records")
    else:
        con.execute("DROP VIEW IF EXISTS link_records")


def view(con: duckdb.DuckDBPyConnection) -> None:
    """The current records as a temporary view, for a store linked in one piece."""
    con.execute("CREATE OR REPLACE TEMP VIEW link_records AS " + sql("link/records"))


def plan(months: list[tuple[int | None, int]], limit: int) -> list[tuple[int, int]]:
    """Consecutive birth months (yyyymm, in order) grouped into parts of at most `limit`
    records (a month larger than that is a part of its own). Records without a birth date
    are left out: the pass across the parts takes them."""
    parts: list[tuple[int, int]] = []
    first: int | None = None
    last = 0
    size = 0
    for month, records in months:
        if month is None:
            continue
        if first is not None and size + records > limit:
            parts.append((first, last))
            first, size = None, 0
        if first is None:
            first = month
        last, size = month, size + records
    if first is not None:
        parts.append((first, last))
    return parts


def part_records(con: duckdb.DuckDBPyConnection, first: int, last: int) -> pl.DataFrame:
    return query_frame(con, sql("link/part_records"), {"first": first, "last": last})


def begin_members(con: duckdb.DuckDBPyConnection) -> None:
    """An empty `link_members`, which each part's births fill (`append`)."""
    con.execute(sql("link/link_members"))


def numbers(records: pl.DataFrame) -> pl.DataFrame:
    """What `append` needs of a part's records for its members: the numbers the pass
    compares, each as a 64-bit hash (compared within the night only; a collision would
    only relink one more birth, never miss one)."""

    def key(column: str) -> pl.Expr:
        return pl.when(pl.col(column).is_not_null()).then(pl.col(column).hash(seed=0))

    return records.select("uid", mother_key=key("mother_id"), child_key=key("child_id"))


def _add_members(
    con: duckdb.DuckDBPyConnection,
    births: pl.DataFrame,
    duplicates: pl.DataFrame,
    numbered: pl.DataFrame,
) -> None:
    """A part's births (numbers offset), each with the numbers of its records and of its
    register repeats (those of a record of it), into `link_members`. Here, from the
    part's records in hand, as hashes: the same join in the store, of every birth's
    records with the materialised records by uid, took 28 s of the pass's SQL at ten
    million births (measured alone)."""
    # A frame per feed, not a list column exploded: a third of the time.
    placed = pl.concat(
        [births.select("birth", uid=f"{feed}_uid") for feed in ("pop", "hosp", "police")]
    ).drop_nulls("uid")
    repeats = duplicates.join(placed.rename({"uid": "duplicate_of"}), on="duplicate_of")
    members = pl.concat([placed, repeats.select("birth", "uid")]).join(numbered, on="uid")
    with registered(con, "incoming", members.drop("uid")):
        con.execute(sql("link/add_members"))


def append(
    con: duckdb.DuckDBPyConnection,
    linked: Linked,
    part: int,
    offset: int,
    numbered: pl.DataFrame | None = None,
) -> None:
    """Add one part's births, links and repeats to the link tables (birth numbers offset,
    so that every part's are distinct); with its records' `numbers`, its members to
    `link_members` for the pass across the parts."""
    births = linked.births.with_columns(
        pl.col("birth") + offset, pl.lit(part, pl.Int32).alias("part")
    )
    append_table(con, "link_births", births)
    append_table(con, "links", linked.links.with_columns(pl.lit(part, pl.Int32).alias("part")))
    append_table(con, "link_duplicates", linked.duplicates)
    if numbered is not None:
        _add_members(con, births, linked.duplicates, numbered)


class KeptRecords:
    """Each part's records as the link stage fetched them, kept in a Parquet file of the
    night's for the reconcile stage, which would otherwise read them from `link_records`
    again: five scans a part, of a table that spills at ten million births. A stage run
    alone has none kept and reads the store."""

    def __init__(self, work_dir: Path | None = None) -> None:
        self._work_dir = work_dir
        self._folder: Path | None = None
        self._parts: dict[int, Path] = {}
        self.failed: str | None = None  # why a part could not be kept (it is read again)

    def keep(self, part: int, records: pl.DataFrame) -> None:
        if self.failed is not None:
            return
        try:
            if self._folder is None:
                if self._work_dir is not None:
                    self._work_dir.mkdir(parents=True, exist_ok=True)
                self._folder = Path(tempfile.mkdtemp(prefix="recon-parts-", dir=self._work_dir))
            path = self._folder / f"part-{part}.parquet"
            # Uncompressed, no statistics: written once and read whole once, a few seconds
            # later. A ten-million-birth part (4.4M records) reads in 0.7 s instead of
            # 1.9 s with lz4, for the same write time and 2.4x the disk (440 MB a part).
            records.write_parquet(path, compression="uncompressed", statistics=False)
        except OSError as exc:  # a full or unwritable folder costs time, not the night
            self.failed = f"{exc.strerror or exc}: {exc.filename or self._work_dir}"
            self._remove()
            return
        self._parts[part] = path

    def scan(self, part: int) -> pl.LazyFrame | None:
        """The part's records as kept, or None where the link stage kept none tonight."""
        path = self._parts.get(part)
        return None if path is None else pl.scan_parquet(path, glob=False)

    def clear(self) -> None:
        """Forget every part kept, and any failure to keep one (a new link stage begins)."""
        self._remove()
        self.failed = None

    def _remove(self) -> None:
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
        self._folder = None
        self._parts.clear()
