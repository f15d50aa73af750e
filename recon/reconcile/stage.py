"""The reconcile stage: a consensus per birth and field, and the findings that follow.

Reads: the records of the three feeds and the link stage's `link_births`, `links`,
`link_duplicates`. Writes: `births` (one row per birth, its records and consensus facts)
and `findings` (every missing, misreported, fictitious and duplicate record tonight).
A store linked in parts is reconciled a part at a time: a birth's records are all in
its part.
"""

from __future__ import annotations

from recon.link import partition
from recon.link.exact import prepare
from recon.link.stage import linked, parts
from recon.night import Night
from recon.reconcile.findings import Deadlines, Reconciliation, reconcile
from recon.resources import sql
from recon.store.connection import append_table, clear_table, query_frame, replace_table

TABLES = ("births", "findings")


def run(night: Night) -> dict[str, int]:
    config = night.config
    deadlines = Deadlines(config.deadlines["pop"], config.deadlines["police"])
    known = night.known_divisions()
    cut = parts(night)
    if len(cut) <= 1:
        result = reconcile(
            night.records(), linked(night), night.as_of, deadlines, known, config.evidence
        )
        return {
            "births": replace_table(night.con, "births", result.births),
            "findings": replace_table(night.con, "findings", result.findings),
        }
    con = night.con
    if not con.execute(sql("reconcile/has_link_records")).fetchall()[0][0]:
        partition.materialise(con)  # the stage run alone, after the night that linked
    counts = {"births": 0, "findings": 0}
    for table in TABLES:
        clear_table(con, table)
    for part in cut:
        records = prepare(query_frame(con, sql("reconcile/part_records"), {"part": part}))
        result = reconcile(
            records, linked(night, part), night.as_of, deadlines, known, config.evidence
        )
        _append(night, result, counts)
        del records, result
    return counts


def _append(night: Night, result: Reconciliation, counts: dict[str, int]) -> None:
    for table, frame in (("births", result.births), ("findings", result.findings)):
        counts[table] += append_table(night.con, table, frame)
