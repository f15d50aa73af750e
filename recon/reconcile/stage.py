"""The reconcile stage: a consensus per birth and field, and the findings that follow.

Reads: the records of the three feeds and the link stage's `link_births`, `links`,
`link_duplicates`. Writes: `births` (one row per birth, its records and consensus facts)
and `findings` (every missing, misreported, fictitious and duplicate record tonight).
A store linked in parts is reconciled a part at a time: a birth's records are all in
its part.
"""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl

from recon.link import partition
from recon.link.exact import Linked, prepare
from recon.link.stage import linked, parts
from recon.night import Night
from recon.reconcile.findings import Deadlines, reconcile
from recon.resources import sql
from recon.store.connection import append_table, clear_table, query_frame

TABLES = ("births", "findings")


def run(night: Night) -> dict[str, int]:
    config = night.config
    deadlines = Deadlines(config.deadlines["pop"], config.deadlines["police"])
    known = night.known_divisions()
    counts = {table: 0 for table in TABLES}
    for table in TABLES:
        clear_table(night.con, table)
    for records, linked_part in _parts(night):
        result = reconcile(records, linked_part, night.as_of, deadlines, known, config.evidence)
        counts["births"] += append_table(night.con, "births", result.births)
        counts["findings"] += append_table(night.con, "findings", result.findings)
        del records, result  # one part's frames in memory at a time
    return counts


def _parts(night: Night) -> Iterator[tuple[pl.DataFrame, Linked]]:
    """Each part's records and what the link stage made of them; the whole store when
    it was linked as one."""
    cut = parts(night)
    if len(cut) <= 1:
        yield night.records(), linked(night)
        return
    con = night.con
    if not con.execute(sql("reconcile/has_link_records")).fetchall()[0][0]:
        partition.materialise(con)  # the stage run alone, after the night that linked
    for part in cut:
        records = prepare(query_frame(con, sql("reconcile/part_records"), {"part": part}))
        yield records, linked(night, part)
