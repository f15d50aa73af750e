"""The link stage: the records of the three feeds grouped into births.

Reads: `pop`, `hosp`, `police` (sql/link/records.sql). Writes: `link_births` (one row
per birth: its record in each feed, and the part it was linked in), `links` (each pair
linked, with the method, score and part that linked it) and `link_duplicates` (pop
records of a birth already in pop). A store of more than `[reconcile] partition_births`
births is linked in parts by birth month (recon/link/partition.py).
"""

from __future__ import annotations

from functools import partial

import polars as pl

from recon.link import partition
from recon.link.exact import FuzzyPairs, Linked, link, prepare
from recon.link.model import fuzzy_pairs, stored_model
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
    model = stored_model(con) if config.fuzzy else None
    for table in TABLES:
        clear_table(con, table)
    limit = config.partition_births * partition.RECORDS_PER_BIRTH
    sizes: dict[int, int] = {}  # records per part: a part's births are numbered after them
    numbered: dict[int, pl.DataFrame] = {}  # each part's records' numbers, till it is linked

    whole = partition.record_count(con) <= limit
    if whole:
        cut = [(0, 0)]
    else:
        partition.materialise(con)
        partition.begin_members(con)
        months = [(m, int(n)) for m, n in con.execute(sql("link/record_months")).fetchall()]
        cut = partition.plan(months, limit)

    night.kept.clear()

    def inputs(part: int) -> dict[str, pl.DataFrame]:
        """The current records (of the part's months), prepared for linking; a part's
        kept as read for the reconcile stage (one piece is read from the store again:
        keeping it costs what it saves)."""
        if whole:
            records = query_frame(con, sql("link/records"))
        else:
            records = partition.part_records(con, *cut[part])
            night.kept.keep(part, records)
            numbered[part] = partition.numbers(records)
        sizes[part] = records.height
        return {"records": prepare(records)}

    # Each part linked alone, wherever the engine runs it, with Splink on a DuckDB of its own.
    task = partial(
        link_part,
        fuzzy=fuzzy_pairs(model, config) if model is not None else None,
        min_match_weight=config.min_match_weight,
    )
    offset = 0
    with night.timer.stage("link.parts"):
        for part, tables in night.engine.map_parts(task, range(len(cut)), inputs):
            partition.append(con, Linked(**tables), part, offset, numbered.pop(part, None))
            offset += sizes.pop(part)
    if len(cut) == 1:
        return {table: table_rows(con, table) for table in TABLES}

    # Every birth a part left open, linked again with what may complete it elsewhere. A
    # pass no bigger than a part is linked as one more part, wherever the engine runs
    # parts; a bigger one here, its pairs scored by the engine (Spark SQL, on Spark).
    with night.timer.stage("link.across"):
        execute_script(con, sql("link/relink"))
        read = query_frame(con, sql("link/relink_records"))
        night.kept.keep(len(cut), read)
        records = prepare(read)
        del read
        if records.height <= limit and config.engine.across == "auto":
            [(_, tables)] = night.engine.map_parts(task, [len(cut)], lambda _: {"records": records})
            linked = Linked(**tables)
        else:
            across = night.engine.fuzzy_pairs(model, config) if model is not None else None
            linked = link(records, fuzzy=across, min_match_weight=config.min_match_weight)
        partition.append(con, linked, len(cut), offset)
        execute_script(con, sql("link/relink_done"))
    if night.kept.failed is not None:
        night.notes.append(
            f"分段记录未能暂存，核对时从数据库重读（较慢）(the parts' records could not be "
            f"kept for reconcile, which reads them from the store: {night.kept.failed}；"
            "请检查 [engine] work_dir 或临时目录的空间与权限)"
        )
    night.notes.append(
        f"记录较多，按出生月份分 {len(cut)} 段链接，另有 {records.height:,} 条记录跨段再链接 "
        f"(linked in {len(cut)} parts by birth month; {records.height:,} records across parts)"
    )
    return {table: table_rows(con, table) for table in TABLES}


def link_part(
    tables: dict[str, pl.DataFrame], *, fuzzy: FuzzyPairs | None, min_match_weight: float
) -> dict[str, pl.DataFrame]:
    """One part's records -> its births, links and register repeats (births numbered
    from 0 in the part)."""
    linked = link(tables["records"], fuzzy=fuzzy, min_match_weight=min_match_weight)
    return {"births": linked.births, "links": linked.links, "duplicates": linked.duplicates}


def parts(night: Night) -> list[int]:
    """The parts the link stage cut the store into."""
    return [int(r[0]) for r in night.con.execute(sql("reconcile/parts")).fetchall()]
