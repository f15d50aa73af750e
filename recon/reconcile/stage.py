"""The reconcile stage: a consensus per birth and field, and the findings that follow.

Reads: the records of the three feeds and the link stage's `link_births`, `links`,
`link_duplicates`. Writes: `births` (one row per birth, its records and consensus facts)
and `findings` (every missing, misreported, fictitious and duplicate record tonight).
"""

from __future__ import annotations

from recon.link.stage import linked
from recon.night import Night
from recon.reconcile.findings import Deadlines, reconcile
from recon.store.connection import replace_table

TABLES = ("births", "findings")


def run(night: Night) -> dict[str, int]:
    config = night.config
    result = reconcile(
        night.records(),
        linked(night),
        night.as_of,
        Deadlines(config.deadlines["pop"], config.deadlines["police"]),
        night.known_divisions(),
        config.evidence,
    )
    return {
        "births": replace_table(night.con, "births", result.births),
        "findings": replace_table(night.con, "findings", result.findings),
    }
