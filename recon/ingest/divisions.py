"""The divisions reference (区划): code, name, level, parent."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from recon.ingest.feeds import DIVISION_COLUMNS, DIVISION_LEVELS
from recon.ingest.inbox import InputError
from recon.ingest.normalize import division, text
from recon.ingest.read import LINE, detect_encoding, read_csv_records

_LEVELS = {
    "county": "county", "县": "county", "县级": "county", "区": "county",
    "township": "township", "乡": "township", "镇": "township", "街道": "township",
    "乡级": "township", "乡镇": "township",
    "village": "village", "村": "village", "社区": "village", "村级": "village",
}  # fmt: skip


@dataclass(frozen=True)
class Divisions:
    table: pl.DataFrame  # code, name, level, parent
    rejected: pl.DataFrame  # LINE, raw, reasons


def read_divisions(path: Path) -> Divisions:
    """Read a divisions CSV with English (code, name, level, parent) or Chinese headers."""
    header, rows, malformed = read_csv_records(path, detect_encoding(path))
    lookup = {**{k: k for k in DIVISION_COLUMNS}, **{v: k for k, v in DIVISION_COLUMNS.items()}}
    mapping = {h: lookup[h.strip().lower()] for h in header if h.strip().lower() in lookup}
    missing = [c for c in ("code", "name", "level") if c not in mapping.values()]
    if missing:
        raise InputError(path, f"divisions reference is missing column(s): {', '.join(missing)}")
    rows = rows.rename(mapping)
    if "parent" not in rows.columns:
        rows = rows.with_columns(pl.lit(None, pl.String).alias("parent"))
    code = division(pl.col("code"))
    code_bad = ~code.str.contains(r"^\d{12}$").fill_null(False)
    parent = division(pl.col("parent"))
    level = text(pl.col("level")).str.to_lowercase().replace_strict(_LEVELS, default=None)
    table = rows.select(
        LINE,
        code.alias("code"),
        code_bad.alias("code_bad"),
        text(pl.col("name")).alias("name"),
        level.alias("level"),
        parent.alias("parent"),
        pl.concat_str(
            [pl.col(mapping.get(h, h)).fill_null("") for h in header], separator=","
        ).alias("raw"),
    )
    problems = (
        pl.when(pl.col("code").is_null() | pl.col("code_bad"))
        .then(pl.lit("区划代码缺失或不是 6/9/12 位数字"))
        .when(pl.col("name").is_null())
        .then(pl.lit("缺少名称"))
        .when(pl.col("level").is_null())
        .then(pl.lit(f"级别应为 {'/'.join(DIVISION_LEVELS)}"))
        .when(pl.col("code").is_first_distinct().not_())
        .then(pl.lit("区划代码重复"))
    )
    table = table.with_columns(problems.alias("reasons"))
    rejected = pl.concat(
        [
            malformed.rename({"reason": "reasons"}),
            table.filter(pl.col("reasons").is_not_null()).select(LINE, "raw", "reasons"),
        ]
    )
    accepted = table.filter(pl.col("reasons").is_null()).select("code", "name", "level", "parent")
    return Divisions(accepted, rejected)
