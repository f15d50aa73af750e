"""The frozen results a night's stages hand to the console layer, which alone renders them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

Progress = Callable[[str, int, int], None]  # (what is happening, steps done, steps in all)


@dataclass(frozen=True)
class FileReport:
    file_id: int
    feed: str
    file: str
    rows_read: int
    rows_accepted: int
    rows_quarantined: int
    skipped: bool
    rows_new: int = 0
    rows_unchanged: int = 0
    warnings: int = 0
    encoding: str | None = None
    format: str = ""

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "feed": self.feed,
            "file": self.file,
            "rows_read": self.rows_read,
            "rows_accepted": self.rows_accepted,
            "rows_quarantined": self.rows_quarantined,
            "rows_new": self.rows_new,
            "rows_unchanged": self.rows_unchanged,
            "warnings": self.warnings,
        }
        if self.skipped:
            data["skipped"] = True
        return data


@dataclass(frozen=True)
class ExpectationFailure:
    feed: str
    file: str
    expectation: str
    label: str
    observed: str


@dataclass(frozen=True)
class RunResult:
    run_id: int
    as_of: date
    files: list[FileReport]
    ignored: list[str]
    findings: dict[str, int]  # open findings per category (missing, misreported, ...)
    validation: dict[str, int]  # rows failing each row rule in this run's new files
    cases: dict[str, int]  # opened, kept, closed
    audit_head: dict[str, Any]  # seq and hash of the audit log's last entry after the run
    expectation_failures: list[ExpectationFailure]
    divisions: int | None  # rows in the reference used; None when there is none
    timings_s: dict[str, float]
    outputs: dict[str, Path]
    notes: list[str] = field(default_factory=list)
    ignored_reasons: dict[str, str] = field(default_factory=dict)  # why each was not read
    # Feeds this store has never received: the night is incomplete (exit 5), and no case
    # whose evidence needs them was opened or closed (cases["held"] counts those left).
    absent_feeds: list[str] = field(default_factory=list)
    peak_mib: dict[str, int] = field(default_factory=dict)  # process peak at each stage's end
    stage_peak_mib: dict[str, int] = field(default_factory=dict)  # resident peak in each stage

    @property
    def incomplete(self) -> bool:
        return bool(self.absent_feeds)


@dataclass(frozen=True)
class StageResult:
    """`recon stage NAME`: one stage run alone on the store, and the tables it wrote."""

    stage: str
    run_id: int
    seconds: float
    tables: dict[str, int]  # table written -> rows it holds now
    audit_head: dict[str, Any]
