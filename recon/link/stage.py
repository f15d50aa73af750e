"""The link stage: the records of the three feeds grouped into births.

Reads: `pop`, `hosp`, `police` (sql/link/records.sql). Writes: `link_births` (one row
per birth: its record in each feed), `links` (each pair linked, with the method and
score that linked it) and `link_duplicates` (pop records of a birth already in pop).
"""

from __future__ import annotations

import polars as pl

from recon.link.exact import Linked, link
from recon.link.model import fuzzy_pairs
from recon.night import Night
from recon.resources import sql
from recon.store.connection import query_frame, replace_table

TABLES = ("link_births", "links", "link_duplicates")


def run(night: Night) -> dict[str, int]:
    config = night.config
    fuzzy = fuzzy_pairs(night.con, config) if config.fuzzy else None
    linked = link(night.records(), fuzzy=fuzzy, min_match_weight=config.min_match_weight)
    return {
        "link_births": replace_table(night.con, "link_births", linked.births),
        "links": replace_table(night.con, "links", linked.links),
        "link_duplicates": replace_table(night.con, "link_duplicates", linked.duplicates),
    }


def linked(night: Night) -> Linked:
    """What the link stage wrote, as reconcile reads it."""
    return Linked(
        births=query_frame(night.con, sql("link/linked")),
        links=query_frame(night.con, sql("link/links")),
        duplicates=query_frame(night.con, sql("link/duplicates")).cast({"uid": pl.String}),
    )
