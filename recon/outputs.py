"""Files the run writes under --out: written whole to a temporary name, then renamed."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import polars as pl

# A cell starting with one of these is run as a formula by spreadsheet programs.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: pl.Expr) -> pl.Expr:
    """Prefix an apostrophe to text a spreadsheet would take for a formula (OWASP CSV injection)."""
    risky = pl.any_horizontal(value.str.starts_with(s) for s in FORMULA_STARTS)
    return pl.when(risky).then(pl.lit("'") + value).otherwise(value)


def write_csv(frame: pl.DataFrame, path: Path) -> None:
    """UTF-8 with BOM (so Excel shows Chinese), text cells safe to open."""
    safe = frame.with_columns(
        neutralise(pl.col(c)).alias(c) for c, t in frame.schema.items() if t == pl.String
    )
    _atomic(path, lambda tmp: safe.write_csv(tmp, include_bom=True))


def write_json(data: dict[str, Any], path: Path) -> None:
    text = json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n"
    _atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _atomic(path: Path, write: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
