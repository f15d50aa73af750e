"""Files the run writes under --out: written whole to a temporary name, then renamed."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    import duckdb

    from recon.results import RunResult

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


STAGING = ".{}.new"
RETIRED = ".{}.old"
COMPLETE = ".complete"


@contextmanager
def output_set(out_dir: Path, keep_out: Path | None = None) -> Iterator[Path]:
    """A folder to write one night's files into, swapped in for `out_dir` as a whole.

    Readers of `out_dir` see the previous set or the new one, never a mix: the files are
    written into a sibling staging folder, the files of `out_dir` the set does not
    rewrite (a report, the corrected register) are carried over as hard links, and two
    renames swap the folders. A kill at any point leaves a state `recover` completes or
    undoes on the next call. Hand-written: no library swaps a folder of files as a set.

    A folder that is the working directory or above it, or that holds `keep_out` (the
    store), is never swapped: the files are then replaced one by one in place.
    """
    out_dir = Path(os.path.abspath(out_dir))
    cwd = Path.cwd().resolve()
    real = out_dir.resolve()
    if cwd.is_relative_to(real) or (
        keep_out is not None and keep_out.resolve().is_relative_to(real)
    ):
        out_dir.mkdir(parents=True, exist_ok=True)
        yield out_dir
        return
    recover(out_dir)
    staging = out_dir.with_name(STAGING.format(out_dir.name))
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    yield staging
    if out_dir.is_dir():
        for entry in out_dir.iterdir():
            target = staging / entry.name
            if target.exists() or entry.name == COMPLETE:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.copytree(entry, target, copy_function=os.link, symlinks=True)
            else:
                os.link(entry, target, follow_symlinks=False)
        shutil.copymode(out_dir, staging)
    _fsync_dir(staging)
    (staging / COMPLETE).touch()  # the set is whole: from here on it is swapped in
    _swap(out_dir)


def recover(out_dir: Path) -> None:
    """Finish or undo a swap a killed process left half done."""
    staging = out_dir.with_name(STAGING.format(out_dir.name))
    retired = out_dir.with_name(RETIRED.format(out_dir.name))
    if staging.is_dir() and (staging / COMPLETE).exists():
        _swap(out_dir)
    shutil.rmtree(staging, ignore_errors=True)
    if retired.is_dir():
        if out_dir.exists():
            shutil.rmtree(retired, ignore_errors=True)
        else:
            retired.rename(out_dir)


def _swap(out_dir: Path) -> None:
    staging = out_dir.with_name(STAGING.format(out_dir.name))
    retired = out_dir.with_name(RETIRED.format(out_dir.name))
    if out_dir.exists():
        shutil.rmtree(retired, ignore_errors=True)
        out_dir.rename(retired)
    staging.rename(out_dir)
    (out_dir / COMPLETE).unlink(missing_ok=True)
    _fsync_dir(out_dir.parent)
    shutil.rmtree(retired, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_workbook(workbook: Any, path: Path) -> None:
    """An openpyxl workbook written whole under a temporary name, then renamed into place."""
    _atomic(path, workbook.save)


def write_night(
    con: duckdb.DuckDBPyConnection, result: RunResult, out_dir: Path, roles: tuple[str, ...]
) -> dict[str, Path]:
    """The night's files: worklist.csv, quarantine.csv and run.json (see the README)."""
    from recon import __version__
    from recon.cases.worklist import worklist
    from recon.resources import sql
    from recon.store.connection import query_frame
    from recon.versions import versions

    quarantine = query_frame(
        con, sql("outputs/quarantine"), {"file_ids": [f.file_id for f in result.files]}
    )
    quarantine_path = out_dir / "quarantine.csv"
    write_csv(quarantine, quarantine_path)
    worklist_path = out_dir / "worklist.csv"
    write_csv(worklist(con, roles), worklist_path)
    run_json = out_dir / "run.json"
    write_json(
        {
            "run_id": result.run_id,
            "as_of": result.as_of.isoformat(),
            "tool_version": __version__,
            "versions": versions(),  # python and the packages that decided this run
            "files": [f.as_json() for f in result.files],
            "ignored_files": result.ignored,
            "ignored": [{"file": n, "reason": r} for n, r in result.ignored_reasons.items()],
            "findings": result.findings,
            "validation": result.validation,
            "expectations_failed": [f.__dict__ for f in result.expectation_failures],
            "cases": result.cases,
            # Exit 5: a feed never received, so the night is incomplete (see cases.held).
            "incomplete": result.incomplete,
            "feeds_never_received": result.absent_feeds,
            "audit_head": result.audit_head,
            "notes": result.notes,
            "timings_s": result.timings_s,
            "peak_mib": result.peak_mib,  # the process's peak memory when each stage ended
            "stage_peak_mib": result.stage_peak_mib,  # the resident peak within each stage
        },
        run_json,
    )
    return {"worklist": worklist_path, "quarantine": quarantine_path, "run": run_json}
