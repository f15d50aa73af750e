"""One date parser for every date recon reads: feed cells, signature dates, --as-of.

The rules live in recon.ingest.normalize (the forms feeds use: 2024-03-05, 2024/3/5,
2024年3月5日, 20240305, an Excel serial); this applies them to one value.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from recon.ingest.normalize import date as date_expr


def parse_date(text: str) -> dt.date | None:
    """The date `text` writes, or None when it is no real date."""
    value = pl.select(date_expr(pl.lit(text.strip(), pl.String))).item()
    return value if isinstance(value, dt.date) else None
