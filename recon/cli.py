"""The `recon` command line. It parses options, calls the core and renders the result."""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal, cast

import typer

from recon import __version__
from recon.config import ConfigError, load_config
from recon.ingest.inbox import InputError
from recon.store.connection import StoreBusy
from recon.vocabulary import FEED_LABELS

HospFormat = Literal["auto", "xlsx", "csv", "parquet"]

EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_BUSY = 4
EXIT_INCOMPLETE = 5

app = typer.Typer(
    name="recon",
    help="Reconcile birth records across the population register, hospitals and police.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Help text reflowed to the terminal: a docstring's line breaks are not the screen's.
    rich_markup_mode="markdown",
)

# Cron starts in $HOME: RECON_DB, RECON_CONFIG and RECON_OUT set the defaults once, in the
# crontab, instead of relative paths that depend on the working directory.
DbOption = Annotated[
    Path,
    typer.Option(
        "--db",
        envvar="RECON_DB",
        help="The store; created on first run (relative to the working directory).",
        show_default=True,
    ),
]


def _out_dir(what: str) -> Any:
    """An --out folder option (not a file's), defaulting to $RECON_OUT."""
    return typer.Option("--out", envvar="RECON_OUT", help=what)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"recon {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """recon: find the births that are missing, misreported, fictitious or duplicated."""


def _parse_date(text: str | None) -> date | None:
    if text is None:
        return None
    from recon.dates import parse_date

    parsed = parse_date(text)
    if parsed is None:
        raise typer.BadParameter(f"{text!r} is not a date like 2026-11-23")
    return parsed


def _fail(code: int, message: str) -> typer.Exit:
    from rich.markup import escape

    from recon.console import errors

    # Messages are plain text: "[signoff] roles ..." is a section, not rich markup.
    errors.print(f"[red]recon:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        envvar="RECON_CONFIG",
        help="A recon.toml (default: ./recon.toml if present).",
    ),
]


def _settings(config: Path | None) -> Any:
    try:
        return load_config(config)
    except ConfigError as exc:
        raise _fail(EXIT_USAGE, str(exc)) from None


@contextmanager
def _store_errors() -> Iterator[None]:
    """What every store command says when the store is busy or missing."""
    try:
        yield
    except StoreBusy as exc:
        raise _fail(EXIT_BUSY, str(exc)) from None
    except FileNotFoundError as exc:
        raise _fail(EXIT_USAGE, str(exc)) from None
    except Exception as exc:
        import duckdb

        if not isinstance(exc, duckdb.OutOfMemoryException):
            raise
        # A store too big for the configured cap is a setting to change, not a crash; the
        # night was one transaction, so nothing of it stayed.
        detail = str(exc).splitlines()[0]
        raise _fail(
            EXIT_USAGE,
            f"数据库内存上限不足，本次未做任何更改 (the store's DuckDB ran out of its memory "
            f"cap; nothing was changed: {detail})：请在 recon.toml 的 [store] 中调高 "
            "memory_limit 后重跑",
        ) from None


def _read_only(db: Path, settings: Any, wait: float = 0) -> Any:
    """The store, read-only, for commands that only look (report, audit verify)."""
    from recon.store.connection import connect

    if not db.exists():
        raise _fail(EXIT_USAGE, f"{db} does not exist: run `recon run` first")
    with _store_errors():
        return connect(db, settings.store, read_only=True, wait=wait, notice=_waiting)


def _waiting(message: str) -> None:
    from recon.console import errors

    errors.print(message, highlight=False, markup=False, soft_wrap=True)


EngineOption = Annotated[
    str | None,
    typer.Option(
        "--engine",
        help="Where link and reconcile run: duckdb (embedded, the default) or spark "
        "(pip install 'recon\\[spark]' and Java 17). Both give the same cases. "
        "Default: name in recon.toml's \\[engine].",
        show_default=False,
    ),
]
SparkMasterOption = Annotated[
    str | None,
    typer.Option(
        "--spark-master",
        help="The Spark master with --engine spark: local\\[*] (this machine's cores), "
        "local\\[2], or a cluster's URL. Default: spark_master in recon.toml's \\[engine].",
        show_default=False,
    ),
]


def _with_engine(settings: Any, engine: str | None, master: str | None) -> Any:
    """The settings with --engine and --spark-master applied, the engine checked."""
    from dataclasses import replace

    from recon.config import ENGINES
    from recon.engine import EngineUnavailable, check_engine

    name = engine or settings.engine.name
    if name not in ENGINES:
        raise _fail(EXIT_USAGE, f"--engine {name!r}: use duckdb or spark")
    if master is not None and name != "spark":
        raise _fail(EXIT_USAGE, "--spark-master is for --engine spark")
    chosen = replace(
        settings.engine, name=name, spark_master=master or settings.engine.spark_master
    )
    settings = replace(settings, engine=chosen)
    try:
        check_engine(settings)
    except EngineUnavailable as exc:
        raise _fail(EXIT_USAGE, f"--engine {name}: {exc}") from None
    return settings


WaitOption = Annotated[
    float,
    typer.Option(
        "--wait",
        min=0,
        help="Seconds to wait while another recon process (e.g. tonight's run) holds the "
        "store; without it a busy store is exit 4 at once.",
    ),
]


@app.command()
def run(
    inbox: Annotated[
        Path, typer.Option("--inbox", help="Folder holding tonight's pop*, hosp*, police* files.")
    ],
    db: DbOption = Path("recon.duckdb"),
    wait: WaitOption = 0,
    out: Annotated[Path, _out_dir("Where worklist, quarantine and run.json go.")] = Path("out"),
    config: ConfigOption = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="The run's reference date, YYYY-MM-DD (default: today)."),
    ] = None,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", help="Print only errors and a one-line outcome (cron)."),
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print the run's summary (out/run.json) as JSON on stdout, nothing else; "
            "progress and messages go to stderr.",
        ),
    ] = False,
    engine: EngineOption = None,
    spark_master: SparkMasterOption = None,
) -> None:
    """Ingest, validate and reconcile every feed file in the inbox, in one transaction.

    Writes out/worklist.csv (the open cases), out/quarantine.csv (every rejected row) and
    out/run.json (counts per file, findings, cases opened/kept/closed, seconds per stage).

    Exit codes: 0 the run completed (data problems found are the product); 2 usage or
    configuration error; 3 an input could not be processed at all (the store is left as
    it was); 4 another recon process is using the store; 5 the night is incomplete (a
    feed never received, or an empty inbox).
    """
    from recon.console import progress_bar, run_report
    from recon.run import EmptyInbox
    from recon.run import run as run_inbox

    reference = _parse_date(as_of)
    if reference is not None and reference > date.today():
        # A future as-of makes every birth due: it would open cases closed again tomorrow.
        raise _fail(
            EXIT_USAGE,
            f"--as-of {reference}: after today ({date.today()}); the run's reference date "
            "cannot be in the future",
        )
    if not inbox.is_dir():
        raise _fail(EXIT_USAGE, f"--inbox {inbox}: no such folder")
    settings = _with_engine(_settings(config), engine, spark_master)
    try:
        with _store_errors(), progress_bar("recon run", quiet=quiet) as progress:
            result = run_inbox(
                inbox,
                db,
                out,
                settings,
                as_of=reference,
                progress=progress,
                wait=wait,
                notice=_waiting,
            )
    except InputError as exc:
        raise _fail(EXIT_INPUT, f"{exc} (the store is unchanged)") from None
    except EmptyInbox as exc:
        ignored = f"; not feeds: {', '.join(exc.ignored)}" if exc.ignored else ""
        raise _fail(
            EXIT_INCOMPLETE,
            f"{exc.inbox}: 收件箱中没有数据文件，未运行 (no pop, hosp or police file{ignored}; "
            "nothing was run and the store is unchanged)",
        ) from None
    except ValueError as exc:  # e.g. a malformed size in [store]
        raise _fail(EXIT_USAGE, f"configuration: {exc}") from None
    run_report(result, quiet=quiet, as_json=as_json)
    if result.incomplete:
        raise _fail(
            EXIT_INCOMPLETE,
            "本次核对不完整：从未收到 " + ", ".join(result.absent_feeds)
            + f" 的数据，{result.cases.get('held', 0):,} 个相关案件未新开也未关闭"
            " (incomplete night: a feed was never received)",
        )  # fmt: skip


worklist_app = typer.Typer(
    help="Worklists out to the townships, signatures back (六签字).", no_args_is_help=True
)
app.add_typer(worklist_app, name="worklist")


@worklist_app.command("export")
def worklist_export(
    out: Annotated[Path, typer.Option("--out", help="The file to write (.xlsx or .csv).")],
    db: DbOption = Path("recon.duckdb"),
    wait: WaitOption = 0,
    division: Annotated[
        str | None,
        typer.Option("--division", help="Only cases of this county/township/village code."),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="xlsx (to print and sign) or csv.")] = "xlsx",
    full_id: Annotated[
        bool, typer.Option("--full-id", help="Show identity numbers in full (masked by default).")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Write the open cases of a township or village, with six signature blocks each."""
    from recon.console import console
    from recon.signoff import SignoffError, export_worklist
    from recon.store.heads import anchored

    if fmt not in ("xlsx", "csv"):
        raise _fail(EXIT_USAGE, f"--format {fmt!r}: use xlsx or csv")
    settings = _settings(config)
    try:
        with _store_errors(), anchored(db, settings, "worklist export", wait, _waiting) as anchor:
            result = export_worklist(
                anchor.con, out, roles=settings.roles, division=division,
                fmt=cast(Literal["xlsx", "csv"], fmt), full_id=full_id,
            )  # fmt: skip
    except SignoffError as exc:
        raise _fail(EXIT_USAGE, str(exc)) from None
    console.print(f"已导出 {result.cases:,} 个案件到 {result.path}（导出编号 {result.export_id}）")


@worklist_app.command("import")
def worklist_import(
    file: Annotated[Path, typer.Argument(help="A signed worklist exported by recon.")],
    db: DbOption = Path("recon.duckdb"),
    wait: WaitOption = 0,
    problems: Annotated[
        Path | None,
        typer.Option("--problems", help="Write every problem to this CSV (行, 案件编号, 问题)."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Take the signatures of a returned worklist; every problem is reported by row.

    A file recon did not export, whose cases changed since, or beyond the [signoff]
    limits (file size, rows) is refused whole (exit 3). A row whose content is not what
    was exported for its case is refused, the others imported. The problems are counted
    by kind and the first [signoff] problems_shown listed; --problems FILE has them all.
    """
    from rich.table import Table
    from rich.text import Text

    from recon.console import console
    from recon.signoff import SignoffError, import_worklist
    from recon.signoff.importer import write_problems
    from recon.store.heads import anchored

    settings = _settings(config)
    limits = settings.signoff
    if not file.is_file():
        raise _fail(EXIT_USAGE, f"{file}: no such file")
    try:
        with _store_errors(), anchored(db, settings, "worklist import", wait, _waiting) as anchor:
            result = import_worklist(
                anchor.con, file, roles=settings.roles, today=date.today(),
                distinct_signers=limits.distinct_signers, max_file_mb=limits.max_file_mb,
                max_rows=limits.max_rows,
            )  # fmt: skip
            if problems is not None:
                try:  # inside the transaction: no problems file, nothing imported
                    write_problems(result.problems, problems)
                except OSError as exc:
                    message = f"--problems {problems}: {exc} (nothing was imported)"
                    raise _fail(EXIT_USAGE, message) from None
    except SignoffError as exc:
        raise _fail(EXIT_INPUT, f"{file}: {exc} (nothing was imported)") from None
    console.print(
        f"{file.name}: {result.rows:,} 行，新增签字 {result.signatures_added:,}，"
        f"案件状态变化 {result.cases_updated:,}，问题 {len(result.problems):,}"
    )
    if result.problems:
        kinds = "，".join(f"{label} {count:,}" for label, count in result.counts().items())
        console.print(Text(f"问题分类：{kinds}"))
        shown = result.problems[: limits.problems_shown]
        table = Table("行", "案件编号", "问题")
        for problem in shown:
            table.add_row(str(problem.row), Text(problem.case_id or ""), Text(problem.problem))
        console.print(table)
        if len(shown) < len(result.problems):
            rest = len(result.problems) - len(shown)
            where = f"见 {problems}" if problems is not None else "用 --problems FILE 写出"
            console.print(Text(f"另有 {rest:,} 个问题未列出，全部问题{where}"))
    if problems is not None:
        console.print(Text(f"全部问题已写入 {problems}"))


@app.command("apply")
def apply_corrections(
    db: DbOption = Path("recon.duckdb"),
    wait: WaitOption = 0,
    out: Annotated[Path, _out_dir("Where corrected_pop.csv and corrections.csv go.")] = Path("out"),
    config: ConfigOption = None,
) -> None:
    """Apply every case all six signed 同意: to the corrected register, or as a notice.

    Writes out/corrected_pop.csv (the register with the births found missing added, the
    fictitious and duplicate records removed, the misreported fields corrected) and
    out/corrections.csv (every applied correction of every target, with its six signers).
    Corrections of police and hospital records go out with `recon corrections export`.
    """
    from recon.console import console
    from recon.signoff import SignoffError, apply
    from recon.store.heads import anchored

    settings = _settings(config)
    try:
        with _store_errors(), anchored(db, settings, "apply", wait, _waiting) as anchor:
            result = apply(anchor.con, out)
    except SignoffError as exc:
        raise _fail(EXIT_USAGE, str(exc)) from None
    targets = "，".join(f"{FEED_LABELS[k]} {v:,}" for k, v in sorted(result.by_target.items()))
    console.print(
        f"已应用 {result.cases_applied:,} 个案件（本次新增更正 {result.corrections_added:,} 条；"
        f"累计：{targets or '无'}）"
    )
    console.print(f"更正后的全员人口 {result.register_rows:,} 行：{result.path}")
    console.print(f"全部更正记录：{result.corrections_path}")
    for case_id in result.refused:
        console.print(f"[yellow]未应用[/] {case_id}：{result.reasons.get(case_id, '')}")
    if anchor.head is not None:
        console.print(f"审计链头：{anchor.head.short()}（已记入 audit-heads，请另存一份）")


corrections_app = typer.Typer(
    help="Applied corrections of police and hospital records, as notices (通报).",
    no_args_is_help=True,
)
app.add_typer(corrections_app, name="corrections")


@corrections_app.command("export")
def corrections_export(
    target: Annotated[str, typer.Option("--target", help="police (公安户籍) or hosp (住院分娩).")],
    out: Annotated[Path, typer.Option("--out", help="The notice workbook to write (.xlsx).")],
    db: DbOption = Path("recon.duckdb"),
    wait: WaitOption = 0,
    include_sent: Annotated[
        bool, typer.Option("--all", help="Also the corrections an earlier notice sent.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Write the notice (通报) of applied corrections for the police or the hospital.

    The county office cannot correct another department's records: this workbook lists
    each correction (add, update, remove) with its evidence and six signers. By default
    only corrections no earlier notice held; every notice is recorded in the audit log.
    """
    from recon.console import console
    from recon.signoff import SignoffError
    from recon.signoff.notice import export_notice
    from recon.store.heads import anchored

    if target not in ("police", "hosp"):
        raise _fail(EXIT_USAGE, f"--target {target!r}: use police or hosp")
    settings = _settings(config)
    try:
        with (
            _store_errors(),
            anchored(db, settings, f"corrections export {target}", wait, _waiting) as anchor,
        ):
            result = export_notice(anchor.con, target, out, include_sent=include_sent)
    except SignoffError as exc:
        raise _fail(EXIT_USAGE, str(exc)) from None
    console.print(
        f"已导出致{FEED_LABELS[target]}的更正通报：{result.corrections:,} 条，"
        f"{result.path}（通报编号 {result.notice_id}）"
    )


@app.command()
def report(
    out: Annotated[Path, _out_dir("Folder for report.html and metrics.json.")] = Path("out"),
    db: DbOption = Path("recon.duckdb"),
    wait: WaitOption = 0,
    full_id: Annotated[
        bool,
        typer.Option("--full-id", help="Show identity numbers in full (masked by default)."),
    ] = False,
    config: ConfigOption = None,
) -> None:
    """The auditors' report: one self-contained HTML file (Chinese, offline) and metrics.json.

    Data quality per feed, reconciliation, sex ratio at birth with 95% intervals,
    completeness and timeliness with the monthly township ranking, metric history with
    outliers, and the births every source missed (multiple-systems estimation).
    """
    import duckdb

    from recon.console import console
    from recon.report import build as report_module

    settings = _settings(config)
    con = _read_only(db, settings, wait)
    try:
        with console.status("生成报告 (writing the report)…"):
            result = report_module.write(con, out, settings, full_id=full_id)
    except LookupError as exc:
        raise _fail(EXIT_USAGE, str(exc)) from None
    except duckdb.CatalogException:
        raise _fail(
            EXIT_USAGE, f"{db} was made by an older recon: run `recon run` once, then report"
        ) from None
    finally:
        con.close()
    console.print(
        f"报告：{result.html}（{result.html_bytes / 1024:,.0f} KB，{result.seconds:.1f} 秒，"
        f"数据截至 {result.as_of}，需关注 {result.flags} 项）"
    )
    console.print(f"指标：{result.metrics}")


audit_app = typer.Typer(help="The append-only audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
EXIT_TAMPERED = 1


@audit_app.command("verify")
def audit_verify(
    db: DbOption = Path("recon.duckdb"),
    wait: WaitOption = 0,
    expect_head: Annotated[
        str | None,
        typer.Option(
            "--expect-head", help="A head hash kept outside the store (run.json, a printout)."
        ),
    ] = None,
    heads_file: Annotated[
        Path | None,
        typer.Option("--heads", help="An audit-heads file (a copy kept off this machine)."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Prove the audit log, and the sign-off tables against it, unaltered.

    Recomputes the hash chain; checks that every signature (signer, date, decision,
    reason), status change and applied correction in the store is exactly what the log
    says, and that signed cases are unchanged; then that each head recorded outside the
    store (the audit-heads file beside it, --heads FILE, or --expect-head HASH) is still
    in the log, so nothing was cut from its end or rewritten. Exit 0 intact, exit 1
    naming the first disagreement.
    """
    from recon.console import console
    from recon.resources import sql
    from recon.signoff.verify import disagreements
    from recon.store import audit, heads

    settings = _settings(config)
    anchor_file = heads_file or heads.path_for(db, settings.heads_path)
    if heads_file is not None and not heads_file.is_file():
        raise _fail(EXIT_USAGE, f"--heads {heads_file}: no such file")
    try:
        recorded = heads.read(anchor_file) if anchor_file.is_file() else []
    except heads.HeadsError as exc:
        raise _fail(EXIT_USAGE, str(exc)) from None
    con = _read_only(db, settings, wait)
    try:
        check = audit.verify(con)
        problems = disagreements(con) if check.ok else []
        checked, cut = heads.check(con, recorded) if check.ok else (0, None)
        expected = heads.find(con, expect_head) if expect_head else None
        last = con.execute(sql("audit/run_head")).fetchall()
        in_store = audit.check_head(con, int(last[0][0]), str(last[0][1])) if last else None
        now = heads.current(con)
    finally:
        con.close()
    if not check.ok:
        raise _fail(EXIT_TAMPERED, f"审计日志被改动 (audit log altered): {check.problem}")
    if cut:
        raise _fail(EXIT_TAMPERED, f"审计日志被改动 (audit log altered): {cut}")
    if expect_head and expected is None:
        raise _fail(
            EXIT_TAMPERED,
            f"审计日志被改动：给定的链头 {expect_head[:16]}… 不在日志中（日志被截断或重写）"
            " (audit log altered: the expected head is not in the log: cut or rewritten)",
        )
    if in_store:
        raise _fail(EXIT_TAMPERED, f"审计日志被改动 (audit log altered): {in_store}")
    if problems:
        raise _fail(
            EXIT_TAMPERED, "库中数据与审计日志不符 (store disagrees with the audit log): "
            + "; ".join(problems[:5])
        )  # fmt: skip
    console.print(
        f"审计日志完整：{check.entries:,} 条记录，哈希链无误；签字、状态、更正记录与日志一致"
        f"；当前链头 {now.short()} (audit log intact)"
    )
    if expected is not None:
        console.print(f"给定的链头是第 {expected} 条，之前的记录未被改写")
    if checked:
        console.print(f"与库外保存的 {checked:,} 个链头一致（{anchor_file}）")
    elif not expect_head:
        console.print(
            f"[yellow]没有库外保存的链头（{anchor_file}）[/]：无法证明日志末尾未被截断或整体重写；"
            "请保存 run.json 中的 audit_head 或 audit-heads 文件的副本"
        )


@app.command("stage")
def stage(
    name: Annotated[
        str,
        typer.Argument(
            help="ingest, link, reconcile, cases or metrics (in the night's order).",
            show_default=False,
        ),
    ],
    db: DbOption = Path("recon.duckdb"),
    inbox: Annotated[
        Path | None, typer.Option("--inbox", help="The inbox (stage ingest only).")
    ] = None,
    wait: WaitOption = 0,
    config: ConfigOption = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="The reference date, YYYY-MM-DD (default: today)."),
    ] = None,
    engine: EngineOption = None,
    spark_master: SparkMasterOption = None,
) -> None:
    """Re-run one stage of the night alone, from the store tables it reads.

    Each stage reads and writes named tables (link: link_births, links, link_duplicates;
    reconcile: births, findings; cases: cases; metrics: run_metrics), so a stage can be
    re-run after a change and its tables inspected with plain SQL. Like a night, it is
    one transaction with its own run id and audit entry. It writes no out/ files: run
    `recon run` or `recon worklist export` for those.
    """
    from recon.console import stage_report
    from recon.run import STAGE_NAMES, run_stage

    if name not in STAGE_NAMES:
        raise _fail(EXIT_USAGE, f"no stage {name!r}; the stages are {', '.join(STAGE_NAMES)}")
    if name == "ingest" and (inbox is None or not inbox.is_dir()):
        raise _fail(EXIT_USAGE, "stage ingest reads an inbox: give --inbox FOLDER")
    reference = _parse_date(as_of)
    if reference is not None and reference > date.today():
        raise _fail(EXIT_USAGE, f"--as-of {reference}: after today ({date.today()})")
    settings = _with_engine(_settings(config), engine, spark_master)
    try:
        with _store_errors():
            result = run_stage(name, db, settings, reference, inbox, wait, _waiting)
    except InputError as exc:
        raise _fail(EXIT_INPUT, f"{exc} (the store is unchanged)") from None
    stage_report(result)


link_app = typer.Typer(help="The probabilistic linkage model (Splink).", no_args_is_help=True)
app.add_typer(link_app, name="link")


@link_app.command("train")
def link_train(
    db: DbOption = Path("recon.duckdb"),
    config: ConfigOption = None,
    export: Annotated[
        Path | None,
        typer.Option("--export", help="Also write the trained model to this JSON file."),
    ] = None,
) -> None:
    """Train the linkage model on the records in the store, and store it.

    Nightly runs use the stored model for what exact keys leave unlinked; until one is
    trained, the model shipped with recon (trained on generated feeds) is used. Retrain
    after the first weeks of real data, or when the feeds change.
    """
    from recon.console import console, progress_bar
    from recon.link.model import train_and_store

    settings = _settings(config)
    try:
        with _store_errors(), progress_bar("recon link train") as progress:
            progress("训练链接模型", 0, 0)
            model = train_and_store(db, settings, export)
    except ValueError as exc:
        raise _fail(EXIT_USAGE, str(exc)) from None
    console.print(
        f"链接模型已训练并保存：{model.records:,} 条记录，{model.trained_at:%Y-%m-%d %H:%M}"
    )


@app.command()
def generate(
    births: Annotated[
        int, typer.Option("--births", min=1, help="How many true births to simulate.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder for the inbox and its truth/.")],
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same files.")] = 1,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Extract date of the simulated feeds (YYYY-MM-DD)."),
    ] = None,
    hosp_format: Annotated[
        str,
        typer.Option(
            "--hosp-format", help="auto (xlsx up to 100k births, else csv), xlsx, csv or parquet."
        ),
    ] = "auto",
    profile: Annotated[
        str,
        typer.Option(
            "--profile",
            help="The misreport mix: default, register-errs, police-hosp-errs, movers, "
            "police-names or clean.",
        ),
    ] = "default",
    rate: Annotated[
        list[str] | None,
        typer.Option(
            "--rate",
            help="Override one rate of the profile, KEY=SHARE (0..0.2), e.g. pop.name=0.03 "
            "or moved=0.02; repeatable. Keys: pop.|police.|hosp. + field, and moved.",
        ),
    ] = None,
    block_births: Annotated[
        int,
        typer.Option(
            "--block-births",
            min=1,
            help="Make at most this many births at once (about 3 GB per million); more are "
            "made in blocks of consecutive days, appended to the same files.",
        ),
    ] = 1_000_000,
) -> None:
    """Write a realistic inbox of the three feeds, with known truth, for tests and trials.

    Profiles (--profile), misreports as a share of each feed's rows:

    - default: pop 2% over seven fields, police names and dates 0.5%, hosp mother ids 0.3%.
    - register-errs: pop names 3%, pop divisions in another township 1%; police names right.
    - police-hosp-errs: police and hosp divisions in another township 1% each, sex, mother ids.
    - movers: 2% of families moved township (pop differs from hosp/police, truly).
    - police-names: police names 1%, pop names right.
    - clean: no misreports (duplicates, fictitious, warnings, quarantine as usual).

    truth/manifest.json records the profile and every resolved rate.
    """
    from recon.console import generate_summary, progress_bar
    from recon_sim.generate import PROFILES, misreport_rates
    from recon_sim.generate import generate as make_feeds

    if hosp_format not in ("auto", "xlsx", "csv", "parquet"):
        raise _fail(EXIT_USAGE, f"--hosp-format {hosp_format!r}: use auto, xlsx, csv or parquet")
    overrides: dict[str, float] = {}
    for item in rate or []:
        key, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError("not KEY=SHARE")
            overrides[key.strip()] = float(value)
        except ValueError:
            raise _fail(EXIT_USAGE, f"--rate {item!r}: use KEY=SHARE, e.g. pop.name=0.03") from None
    try:
        misreport_rates(profile, overrides)
    except ValueError as exc:
        option = "--rate" if profile in PROFILES else "--profile"
        raise _fail(EXIT_USAGE, f"{option}: {exc}") from None
    kwargs = {}
    reference = _parse_date(as_of)
    if reference is not None:
        kwargs["as_of"] = reference
    with progress_bar("recon generate") as progress:
        stages = itertools.count(1)
        summary = make_feeds(
            births,
            seed,
            out,
            hosp_format=cast(HospFormat, hosp_format),
            progress=lambda stage: progress(stage, next(stages), 0),
            profile=profile,
            rates=overrides,
            block_births=block_births,
            **kwargs,
        )
    generate_summary(summary)


def entry() -> None:
    """The `recon` console script.

    Leaves without interpreter teardown: Splink keeps DuckDB objects alive in module
    state, and their binding reports them as "leaked" on stderr at teardown, noise in
    every cron mail. The store is closed and every output written by then.
    """
    code = 0
    try:
        app(standalone_mode=True)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    entry()
