"""Rendering for people: progress while a run works, a summary when it ends.

On a terminal progress is a live bar; elsewhere (cron, a pipe) it is one plain line per
stage, and no line is cut or wrapped, since a log is read whole.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from rich.console import Console, ConsoleDimensions
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from recon.results import Progress as ProgressCallback
from recon.results import RunResult, StageResult
from recon.vocabulary import CATEGORY_LABELS, FEED_LABELS

PLAIN_WIDTH = 4096  # columns when not on a terminal: wide enough that nothing is cut


class _Console(Console):
    """A Console as wide as its longest line when it does not write to a terminal.

    Rich falls back to 80 columns (or whatever terminal stdin has) for a pipe or a cron
    log, which cuts table rows and wraps an audit head mid-hash.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Only a width asked for here counts: COLUMNS in the environment (set by a shell,
        # a test runner) describes a terminal this console may not be writing to.
        self._asked_width = kwargs.get("width")
        super().__init__(*args, **kwargs)

    def _plain_size(self) -> ConsoleDimensions:
        size = Console.size.fget(self)  # type: ignore[attr-defined]
        if self._asked_width is None and not self.is_terminal:
            return ConsoleDimensions(PLAIN_WIDTH, size.height)
        return size

    size = property(_plain_size, Console.size.fset)  # type: ignore[attr-defined]


console = _Console()
errors = _Console(stderr=True)


@contextmanager
def progress_bar(title: str, quiet: bool = False) -> Iterator[ProgressCallback]:
    """Progress on stderr: a bar on a terminal, else one plain line per stage; none if quiet."""
    if quiet:
        yield lambda _what, _done, _total: None
    elif not errors.is_terminal:
        with _stage_lines(title) as update:
            yield update
    else:
        with _live_bar(title) as update:
            yield update


@contextmanager
def _live_bar(title: str) -> Iterator[ProgressCallback]:
    # The spinner and the clock move through a stage that reports nothing for minutes.
    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}", markup=False, style="bold"),  # file names may hold [ ]
        BarColumn(),
        TextColumn("{task.fields[steps]}"),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
    )
    with bar:
        task = bar.add_task(title, total=None, steps="")

        def update(what: str, done: int, total: int) -> None:
            # The step under way, as in the cron lines; a total of 0 is a step of unknown
            # length: the bar pulses and no count is shown.
            steps = f"{min(done + 1, total)}/{total}" if total > 0 else ""
            bar.update(task, description=what, completed=done, total=total or None, steps=steps)

        yield update


@contextmanager
def _stage_lines(title: str) -> Iterator[ProgressCallback]:
    """One line per stage with the time and the seconds since the start: a cron log."""
    start = time.monotonic()
    last: list[str] = []

    def line(what: str) -> None:
        stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        elapsed = time.monotonic() - start
        errors.print(
            f"{stamp} {title} {elapsed:7.1f} s  {what}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )

    def update(what: str, done: int, total: int) -> None:
        if last and last[-1] == what:  # the same stage again: no new line
            return
        last[:] = [what]
        line(f"{min(done + 1, total):>3}/{total}  {what}" if total > 0 else what)

    yield update
    line("完成 (done)")


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


def run_report(result: RunResult, quiet: bool = False, as_json: bool = False) -> None:
    """What `recon run` prints: the summary, or one line (--quiet), or run.json (--json).

    With --json stdout holds the JSON alone, so a script can parse it; the one-line outcome
    goes to stderr unless --quiet.
    """
    if as_json:
        # The file itself, so stdout is exactly the object out/run.json holds.
        sys.stdout.write(result.outputs["run"].read_text(encoding="utf-8"))
        sys.stdout.flush()
        if not quiet:
            errors.print(run_outcome(result), soft_wrap=True)
    elif quiet:
        console.print(run_outcome(result), soft_wrap=True)
    else:
        run_summary(result)


def run_outcome(result: RunResult) -> Text:
    """The run in one line: files and rows, open cases, and the audit head in full."""
    skipped = sum(f.skipped for f in result.files)
    files = f"{len(result.files)} 个文件" + (f"（{skipped} 个已导入过）" if skipped else "")
    rows = (
        f"读取 {sum(f.rows_read for f in result.files):,} 行，"
        f"接收 {sum(f.rows_accepted for f in result.files):,}，"
        f"隔离 {sum(f.rows_quarantined for f in result.files):,}"
    )
    head = result.audit_head
    return Text(
        f"recon run {result.run_id}（截止 {result.as_of.isoformat()}）：{files}，{rows}；"
        f"待核实案件 {_cases(result)}；审计链头 第 {head['seq']} 条 {head['hash']}"
    )


def _cases(result: RunResult) -> str:
    found = "，".join(f"{CATEGORY_LABELS.get(c, c)} {n:,}" for c, n in result.findings.items())
    cases = result.cases
    return (
        f"{found or '无'}（本次新开 {cases.get('opened', 0):,}，"
        f"保留 {cases.get('kept', 0):,}，关闭 {cases.get('closed', 0):,}）"
    )


def run_summary(result: RunResult) -> None:
    table = Table(title=f"recon run {result.run_id} · 截止 {result.as_of.isoformat()}")
    for header in ("数据源", "文件", "读取", "接收", "隔离", "新增/变更", "警告", ""):
        table.add_column(header, justify="right" if header in ("读取", "接收", "隔离") else "left")
    totals = [0, 0, 0]
    for f in result.files:
        table.add_row(
            FEED_LABELS.get(f.feed, f.feed),
            Text(f.file),  # a file name is not markup
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
        console.print(Text(f"行规则未通过（行数）: {counts}"))
    console.print(Text(f"待核实案件: {_cases(result)}"))
    for failure in result.expectation_failures:
        console.print(
            Text.assemble(
                ("数据期望未满足", "yellow"),
                f" {failure.file}: {failure.label} "
                f"({failure.expectation}, 实际 {failure.observed})",
            )
        )
    for note in result.notes:
        console.print(Text.assemble(("注意", "yellow"), f" {note}"))
    for name in result.ignored:  # each with the reason it was not read, for the cron log
        reason = result.ignored_reasons.get(name)
        console.print(Text(f"未读取的文件 {name}：{reason}" if reason else f"未读取的文件 {name}"))
    for name, path in result.outputs.items():
        console.print(Text(f"{name}: {path}"))
    head = result.audit_head
    # Printed so the cron log keeps a copy of the head outside the store.
    console.print(Text(f"审计链头 (audit head): 第 {head['seq']} 条 {head['hash']}"))


def stage_report(result: StageResult) -> None:
    """`recon stage`: what the stage wrote, and the audit head it ended on."""
    tables = "，".join(f"{table} {rows:,}" for table, rows in result.tables.items())
    console.print(
        f"阶段 {result.stage}（运行 {result.run_id}）完成，{result.seconds:.1f} 秒：{tables}",
        highlight=False,
        markup=False,
    )
    head = result.audit_head
    console.print(f"审计链头 (audit head): 第 {head['seq']} 条 {head['hash']}", highlight=False)
