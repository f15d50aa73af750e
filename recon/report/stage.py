"""The metrics stage: this run's headline figures, kept for the report's history.

Reads: `births`, `cases`, the feed tables and `divisions`. Writes: `run_metrics`.
"""

from __future__ import annotations

from recon.night import Night
from recon.report import metrics
from recon.resources import sql
from recon.store.connection import scalar


def run(night: Night) -> dict[str, int]:
    metrics.record(night.con, night.run_id, night.as_of, night.config)
    rows = scalar(night.con, sql("metrics/run_metrics_count"), {"run_id": night.run_id})
    return {"run_metrics": int(rows)}
