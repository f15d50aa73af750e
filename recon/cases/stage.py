"""The cases stage: tonight's findings folded into cases with stable ids.

Reads: `findings`. Writes: `cases` (opened, kept, closed) and their audit entries. A
finding whose evidence needs a feed never received neither opens nor closes a case.
"""

from __future__ import annotations

import polars as pl

from recon.cases.update import update_cases
from recon.night import Night
from recon.reconcile.findings import FINDING_SCHEMA, depends_on
from recon.resources import sql
from recon.store.connection import query_frame


def run(night: Night) -> dict[str, int]:
    findings = query_frame(night.con, sql("cases/findings")).cast(pl.Schema(FINDING_SCHEMA))
    hold = depends_on(night.absent, night.config.evidence) if night.absent else None
    return update_cases(night.con, findings, night.run_id, hold).__dict__
