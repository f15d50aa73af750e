"""Rendering for people: progress while a run works, a summary when it ends.

Progress is shown only on a terminal; under cron the output is the summary alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from recon.run import Progress as ProgressCallback
from recon.run import RunResult

console = Console()
errors = Console(stderr=True)

FEED_LABELS = {"pop": "全员人口", "hosp": "住院分娩", "police": "公安户籍"}


@contextmanager
def progress_bar(title: str) -> Iterator[ProgressCallback]:
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=errors,
        disable=not errors.is_terminal,
        transient=True,
    )
    with bar:
        task = bar.add_task(title, total=None)

        def update(what: str, done: int, total: int) -> None:
            bar.update(task, description=what, completed=done, total=total or None)

        yield update


def generate_summary(summary: Any) -> None:
    """What `recon generate` wrote: files, rows, and the injected errors by family."""
    table = Table(title=f"recon generate · {summary.births:,} births · seed {summary.seed}")
    for header in ("数据源", "文件", "行数", "重报/虚报", "错报", "应警告", "应隔离"):
        table.add_column(header, justify="left" if header in ("数据源", "文件") else "right")
    for feed in ("pop", "hosp", "police"):
        injected = summary.injected.get(feed, {})

        def family(*prefixes: str, counts: dict[str, int] = injected) -> str:
            return f"{sum(n for k, n in counts.items() if k.startswith(prefixes)):,}"

        table.add_row(
            FEED_LABELS[feed],
            summary.paths[feed].name,
            f"{summary.rows[feed]:,}",
            family("duplicate", "fictitious", "stillbirth_registered"),
            family("misreport:"),
            family("warning:"),
            family("quarantine:"),
        )
    console.print(table)
    console.print(f"截止日期 {summary.as_of}; 真值 (truth): {summary.out / 'truth'}")


def run_summary(result: RunResult) -> None:
    table = Table(title=f"recon run {result.run_id} · 截止 {result.as_of.isoformat()}")
    for header in ("数据源", "文件", "读取", "接收", "隔离", "新增/变更", "警告", ""):
        table.add_column(header, justify="right" if header in ("读取", "接收", "隔离") else "left")
    totals = [0, 0, 0]
    for f in result.files:
        table.add_row(
            FEED_LABELS.get(f.feed, f.feed),
            f.file,
            f"{f.rows_read:,}",
            f"{f.rows_accepted:,}",
            f"{f.rows_quarantined:,}",
            "" if f.skipped else f"{f.rows_new:,}",
            "" if f.skipped else f"{f.warnings:,}",
            "已导入过，跳过" if f.skipped else "",
        )
        totals = [
            totals[0] + f.rows_read,
            totals[1] + f.rows_accepted,
            totals[2] + f.rows_quarantined,
        ]
    table.add_section()
    table.add_row("合计", "", *(f"{t:,}" for t in totals), "", "", "")
    console.print(table)

    if result.validation:
        counts = ", ".join(f"{rule} {n:,}" for rule, n in result.validation.items())
        console.print(f"行规则未通过（行数）: {counts}")
    labels = {"missing": "漏报", "misreported": "错报", "fictitious": "虚报", "duplicate": "重报"}
    found = "，".join(f"{labels.get(c, c)} {n:,}" for c, n in result.findings.items()) or "无"
    cases = result.cases
    console.print(
        f"待核实案件: {found}（本次新开 {cases.get('opened', 0):,}，"
        f"保留 {cases.get('kept', 0):,}，关闭 {cases.get('closed', 0):,}）"
    )
    for failure in result.expectation_failures:
        console.print(
            f"[yellow]数据期望未满足[/] {failure.file}: {failure.label} "
            f"({failure.expectation}, 实际 {failure.observed})"
        )
    for note in result.notes:
        console.print(f"[yellow]注意[/] {note}")
    if result.ignored:
        console.print(f"未识别的文件，已忽略: {', '.join(result.ignored)}")
    for name, path in result.outputs.items():
        console.print(f"{name}: {path}")
    head = result.audit_head
    # Printed so the cron log keeps a copy of the head outside the store.
    console.print(f"审计链头 (audit head): 第 {head['seq']} 条 {head['hash']}")
