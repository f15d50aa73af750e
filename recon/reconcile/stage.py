"""The reconcile stage: a consensus per birth and field, and the findings that follow.

Reads: the records of the three feeds and the link stage's `link_births`, `links`,
`link_duplicates`. Writes: `births` (one row per birth, its records and consensus facts)
and `findings` (every missing, misreported, fictitious and duplicate record tonight).
A store linked in parts is reconciled a part at a time: a birth's records are all in
its part.
"""

from __future__ import annotations

from datetime import date
from functools import partial

import polars as pl

from recon.link import partition
from recon.link.exact import Linked, prepare
from recon.link.stage import linked, parts
from recon.night import Night
from recon.reconcile.evidence import EvidencePolicy
from recon.reconcile.findings import Deadlines, reconcile
from recon.resources import sql
from recon.store.connection import append_table, clear_table, query_frame

TABLES = ("births", "findings")


def run(night: Night) -> dict[str, int]:
    config = night.config
    counts = {table: 0 for table in TABLES}
    for table in TABLES:
        clear_table(night.con, table)
    cut = parts(night)
    if len(cut) > 1 and not night.con.execute(sql("reconcile/has_link_records")).fetchall()[0][0]:
        partition.materialise(night.con)  # the stage run alone, after the night that linked
    task = partial(
        reconcile_part,
        as_of=night.as_of,
        deadlines=Deadlines(config.deadlines["pop"], config.deadlines["police"]),
        known=night.known_divisions(),
        evidence=config.evidence,
    )
    for _part, result in night.engine.map_parts(task, cut or [0], partial(_inputs, night, cut)):
        counts["births"] += append_table(night.con, "births", result["births"])
        counts["findings"] += append_table(night.con, "findings", result["findings"])
    return counts


def _inputs(night: Night, cut: list[int], part: int) -> dict[str, pl.DataFrame]:
    """A part's records and what the link stage made of them; the whole store when it
    was linked as one."""
    if len(cut) <= 1:
        records, found = night.records(), linked(night)
    else:
        where = {"part": part}
        records = prepare(query_frame(night.con, sql("reconcile/part_records"), where))
        found = linked(night, part)
    return {
        "records": records,
        "births": found.births,
        "links": found.links,
        "duplicates": found.duplicates,
    }


def reconcile_part(
    tables: dict[str, pl.DataFrame],
    *,
    as_of: date,
    deadlines: Deadlines,
    known: frozenset[str] | None,
    evidence: EvidencePolicy,
) -> dict[str, pl.DataFrame]:
    """One part's records and links -> its births and findings."""
    found = Linked(tables["births"], tables["links"], tables["duplicates"])
    result = reconcile(tables["records"], found, as_of, deadlines, known, evidence)
    return {"births": result.births, "findings": result.findings}
