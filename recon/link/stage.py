"""The link stage: the records of the three feeds grouped into births.

Reads: `pop`, `hosp`, `police` (sql/link/records.sql). Writes: `link_births` (one row
per birth: its record in each feed, and the part it was linked in), `links` (each pair
linked, with the method and score that linked it) and `link_duplicates` (pop records of
a birth already in pop). A store of more than `[reconcile] partition_births` births is
linked in parts by birth year (recon/link/partition.py).
"""

from __future__ import annotations

from functools import partial

import polars as pl

from recon.link import partition
from recon.link.exact import Linked, link, prepare
from recon.link.model import fuzzy_pairs
from recon.night import Night
from recon.resources import sql
from recon.store.connection import (
    clear_table,
    execute_script,
    query_frame,
    table_rows,
)

TABLES = ("link_births", "links", "link_duplicates")


def run(night: Night) -> dict[str, int]:
    con, config = night.con, night.config
    fuzzy = fuzzy_pairs(con, config) if config.fuzzy else None
    linker = partial(link, fuzzy=fuzzy, min_match_weight=config.min_match_weight)
    for table in TABLES:
        clear_table(con, table)
    limit = config.partition_births * partition.RECORDS_PER_BIRTH
    if partition.record_count(con) <= limit:
        partition.append(con, linker(night.records()), part=0, offset=0)
        return {table: table_rows(con, table) for table in TABLES}

    partition.materialise(con)
    years = [(y, int(n)) for y, n in con.execute(sql("link/record_years")).fetchall()]
    parts = partition.plan(years, limit)
    offset = 0
    for number, (first, last) in enumerate(parts):
        records = prepare(partition.part_records(con, first, last))
        partition.append(con, linker(records), number, offset)
        offset += records.height
        del records  # one part's frames in memory at a time
    # Every birth a part left open, linked again with what may complete it elsewhere.
    execute_script(con, sql("link/relink"))
    records = prepare(query_frame(con, sql("link/relink_records")))
    partition.append(con, linker(records), len(parts), offset)
    night.notes.append(
        f"记录较多，按出生年份分 {len(parts)} 段链接，另有 {records.height:,} 条记录跨段再链接 "
        f"(linked in {len(parts)} parts by birth year; {records.height:,} records across parts)"
    )
    return {table: table_rows(con, table) for table in TABLES}


def parts(night: Night) -> list[int]:
    """The parts the link stage cut the store into."""
    return [int(r[0]) for r in night.con.execute(sql("reconcile/parts")).fetchall()]


def linked(night: Night, part: int | None = None) -> Linked:
    """What the link stage wrote (of one part, or all of it), as reconcile reads it."""
    if part is None:
        return Linked(
            births=query_frame(night.con, sql("link/linked")),
            links=query_frame(night.con, sql("link/links")),
            duplicates=query_frame(night.con, sql("link/duplicates")).cast({"uid": pl.String}),
        )
    which = {"part": part}
    return Linked(
        births=query_frame(night.con, sql("reconcile/part_births"), which),
        links=query_frame(night.con, sql("reconcile/part_links"), which),
        duplicates=query_frame(night.con, sql("reconcile/part_duplicates"), which).cast(
            {"uid": pl.String}
        ),
    )
