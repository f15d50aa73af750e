"""The nightly run: ingest and validate every feed file in the inbox, in one transaction.

The core never prints: it reports progress through a callback and returns a frozen
`RunResult` for the console layer to render.
"""

from __future__ import annotations

import importlib
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from recon import __version__
from recon.cases.update import update_cases, worklist
from recon.config import Config
from recon.ingest.divisions import read_divisions
from recon.ingest.normalize import normalise
from recon.ingest.read import Inbox, InboxFile, InputError, discover, read_feed, sha256_of
from recon.link.exact import link, prepare
from recon.outputs import output_set, write_csv, write_json
from recon.reconcile.findings import Deadlines, depends_on, reconcile
from recon.report import metrics
from recon.resources import checks_module, sql
from recon.store import audit, heads
from recon.store.connection import Notice, connect, create_schema, exclusive, query_frame, scalar
from recon.validate.rules import validate
from recon.versions import versions
from recon.vocabulary import FEED_LABELS

Progress = Callable[[str, int, int], None]  # (what is happening, steps done, steps in all)
FILE_STEPS = 4  # per inbox file: read, validate, expectations, store
# The stages after the files, with the label progress shows; the run's total counts them.
LATER_STAGES = {
    "link": "链接 (linking)",
    "reconcile": "核对",
    "cases": "案件",
    "metrics": "指标",
    "outputs": "输出",
}


def _stages(report: Progress, inbox: Inbox) -> Callable[[str], None]:
    """Report a stage after the files by name, as one step of the run's total."""
    first = len(inbox.feeds) * FILE_STEPS
    total = first + len(LATER_STAGES)

    def stage(name: str) -> None:
        report(LATER_STAGES[name], first + list(LATER_STAGES).index(name), total)

    return stage


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


FEEDS = ("pop", "hosp", "police")


class EmptyInbox(Exception):
    """No feed file in the inbox: the night is incomplete (exit 5) and nothing was done."""

    def __init__(self, inbox: Path, ignored: list[str]) -> None:
        self.inbox = inbox
        self.ignored = ignored
        super().__init__(f"{inbox}: no feed file (pop, hosp or police) in the inbox")


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

    @property
    def incomplete(self) -> bool:
        return bool(self.absent_feeds)


class _Timer:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 3) for k, v in self.seconds.items()}


def run(
    inbox_dir: Path,
    db_path: Path,
    out_dir: Path,
    config: Config,
    as_of: date | None = None,
    progress: Progress | None = None,
    wait: float = 0,
    notice: Notice | None = None,
) -> RunResult:
    """Ingest and validate the inbox; the store changes only if the whole run succeeds.

    `wait`: seconds to wait for a store another recon process is using (then StoreBusy).
    """
    as_of = as_of or date.today()
    report = progress or (lambda _what, _done, _total: None)
    # Great Expectations takes seconds to import: let that happen while files are read.
    threading.Thread(target=importlib.import_module, args=("great_expectations",)).start()
    timer = _Timer()
    inbox = discover(inbox_dir, config)
    if not inbox.feeds:  # nothing to ingest: the store is not touched, no run recorded
        raise EmptyInbox(inbox_dir, [p.name for p in inbox.ignored])

    with exclusive(db_path, wait, notice):
        existed = db_path.exists()
        con = connect(db_path, config.store, wait=wait, notice=notice)
        try:
            con.begin()
            result = _run_in_transaction(
                con, inbox, inbox_dir, out_dir, config, as_of, report, timer
            )
            head = heads.current(con, f"run {result.run_id}")
            con.commit()
        except BaseException:
            con.rollback()
            con.close()
            if not existed:  # leave no store behind where there was none
                for leftover in (db_path, db_path.with_name(db_path.name + ".wal")):
                    leftover.unlink(missing_ok=True)
            raise
        # The committed head goes outside the store, where a rewrite of the store cannot reach.
        heads.record(heads.path_for(db_path, config.heads_path), head)
        _stages(report, inbox)("outputs")
        try:
            with timer.stage("outputs"):
                result = replace(result, timings_s=timer.as_dict())
                # The night's files appear together in out/, never beside the last night's.
                with output_set(out_dir, keep_out=db_path) as staging:
                    written = _write_outputs(con, result, staging, config.roles)
                outputs = {kind: out_dir / path.name for kind, path in written.items()}
        finally:
            con.close()
    return replace(result, outputs=outputs, timings_s=timer.as_dict())


def _run_in_transaction(
    con: duckdb.DuckDBPyConnection,
    inbox: Inbox,
    inbox_dir: Path,
    out_dir: Path,
    config: Config,
    as_of: date,
    report: Progress,
    timer: _Timer,
) -> RunResult:
    create_schema(con)
    run_id = scalar(con, "SELECT nextval('run_ids')")
    con.execute(
        "INSERT INTO runs (run_id, started_at, as_of, inbox, tool_version) VALUES (?, ?, ?, ?, ?)",
        [run_id, datetime.now(), as_of, str(inbox_dir.resolve()), __version__],
    )
    audit.append(con, "run", f"run:{run_id}", {"as_of": as_of.isoformat()}, run_id=run_id)

    notes: list[str] = []
    with timer.stage("divisions"):
        divisions = _load_divisions(con, inbox, config, notes)
    known = _known_divisions(con)
    if known is None:
        notes.append("没有区划代码表：未检查区划代码是否存在 (no divisions reference)")

    rules = checks_module("rules")
    ctx = rules.RuleContext(as_of=as_of, limits=config.checks, known_divisions=known)

    files: list[FileReport] = []
    rule_failures: Counter[str] = Counter()
    failures: list[ExpectationFailure] = []
    steps = len(inbox.feeds) * FILE_STEPS + len(LATER_STAGES)
    for position, inbox_file in enumerate(inbox.feeds):
        done = position * FILE_STEPS
        name = inbox_file.path.name
        report(f"读取 {name}", done, steps)
        sha = sha256_of(inbox_file.path)
        previous = _previous_ingest(con, sha)
        if previous is not None:
            files.append(previous)
            continue
        with timer.stage("read"):
            raw = read_feed(inbox_file, config, sha256=sha)
        report(f"校验 {name}", done + 1, steps)
        with timer.stage("normalise"):
            canonical = normalise(raw.rows, raw.feed, raw.extras)
        with timer.stage("validate"):
            validated = validate(raw, canonical, ctx)
        report(f"数据期望 {name}", done + 2, steps)
        with timer.stage("expectations"):
            outcomes = _expectations(con, inbox_file, canonical, config)
        report(f"入库 {name}", done + 3, steps)
        with timer.stage("store"):
            file_report = _store_file(con, run_id, raw, validated, outcomes, sha)
            audit.append(
                con, "ingest", f"file:{file_report.file_id}",
                {"feed": file_report.feed, "sha256": sha, "rows_read": file_report.rows_read,
                 "rows_accepted": file_report.rows_accepted,
                 "rows_quarantined": file_report.rows_quarantined},
                run_id=run_id,
            )  # fmt: skip
        files.append(file_report)
        for rule, failures_of_rule in validated.rule_results.select("rule", "failures").iter_rows():
            rule_failures[rule] += failures_of_rule
        del raw, canonical, validated  # one file's frames in memory at a time
        failures += [
            ExpectationFailure(inbox_file.kind, name, o.expectation, o.label, str(o.observed_value))
            for o in outcomes
            if not o.success
        ]
    stage = _stages(report, inbox)
    new_files = any(not f.skipped for f in files)
    received = {str(r[0]) for r in con.execute("SELECT DISTINCT feed FROM files").fetchall()}
    absent = [f for f in FEEDS if f not in received]
    if absent:
        labels = "、".join(FEED_LABELS[f] for f in absent)
        notes.append(
            f"从未收到{labels}的数据：依赖这些数据源的案件本次既不新开也不关闭，"
            f"收到后再核对 (never received: {', '.join(absent)}; cases resting on them held)"
        )
    reconciled = _reconcile(con, run_id, as_of, config, new_files, timer, frozenset(absent), stage)
    stage("metrics")
    with timer.stage("metrics"):
        metrics.record(con, run_id, as_of, config)

    seq, head_hash = audit.head(con)
    audit_head: dict[str, Any] = {"seq": seq, "hash": head_hash}
    summary = {
        "files": [f.as_json() for f in files],
        "findings": reconciled.findings,
        "validation": dict(sorted(rule_failures.items())),
        "cases": reconciled.cases,
        "feeds_never_received": absent,
        "ignored": [{"file": f.name, "reason": f.reason} for f in inbox.ignored],
        # The chain cannot show entries cut from its end; the head kept here (and in
        # run.json, which auditors file away) can.
        "audit_head": audit_head,
    }
    con.execute(
        "UPDATE runs SET finished_at = ?, summary = ? WHERE run_id = ?",
        [datetime.now(), json.dumps(summary, ensure_ascii=False), run_id],
    )
    return RunResult(
        run_id=run_id,
        as_of=as_of,
        files=files,
        ignored=[p.name for p in inbox.ignored],
        ignored_reasons={p.name: p.reason for p in inbox.ignored},
        findings=reconciled.findings,
        validation=dict(sorted(rule_failures.items())),
        cases=reconciled.cases,
        audit_head=audit_head,
        absent_feeds=absent,
        expectation_failures=failures,
        divisions=divisions,
        timings_s={},
        outputs={},
        notes=notes,
    )


def _previous_ingest(con: duckdb.DuckDBPyConnection, sha: str) -> FileReport | None:
    rows = con.execute(
        "SELECT file_id, feed, file_name, rows_read, rows_accepted, rows_quarantined, format, "
        "encoding FROM files WHERE sha256 = ?",
        [sha],
    ).fetchall()
    if not rows:
        return None
    file_id, feed, name, read, accepted, quarantined, fmt, encoding = rows[0]
    return FileReport(
        file_id, feed, name, read, accepted, quarantined, True, encoding=encoding, format=fmt
    )


def _load_divisions(
    con: duckdb.DuckDBPyConnection, inbox: Inbox, config: Config, notes: list[str]
) -> int | None:
    """Replace the stored reference when the inbox (or config) brings one."""
    candidates = [f.path for f in inbox.divisions]
    if config.divisions_path is not None:
        candidates = [config.divisions_path]
    if not candidates:
        return None
    path = candidates[-1]
    if len(candidates) > 1:
        notes.append(f"收件箱有多个区划代码表，使用 {path.name}")
    if not path.is_file():
        raise InputError(path, "divisions reference not found")
    divisions = read_divisions(path)
    if divisions.table.height == 0:
        raise InputError(path, "divisions reference has no usable rows")
    for line, _raw, reasons in divisions.rejected.iter_rows():
        notes.append(f"{path.name} 第 {line} 行未采用：{reasons}")
    con.execute("DELETE FROM divisions")
    con.register("incoming_divisions", divisions.table.to_arrow())
    con.execute("INSERT INTO divisions SELECT code, name, level, parent FROM incoming_divisions")
    con.unregister("incoming_divisions")
    return divisions.table.height


def _known_divisions(con: duckdb.DuckDBPyConnection) -> frozenset[str] | None:
    codes = [row[0] for row in con.execute("SELECT code FROM divisions").fetchall()]
    return frozenset(codes) if codes else None


def _expectations(
    con: duckdb.DuckDBPyConnection, inbox_file: InboxFile, canonical: pl.DataFrame, config: Config
) -> list[Any]:
    from recon.validate.expectations import check_feed  # Great Expectations is slow to import

    thresholds = checks_module("expectations").ExpectationThresholds(**config.expectations)
    previous_rows = scalar(
        con,
        "SELECT rows_read FROM files WHERE feed = ? ORDER BY file_id DESC LIMIT 1",
        [inbox_file.kind],
    )
    return check_feed(
        inbox_file.kind, canonical, previous_rows=previous_rows, thresholds=thresholds
    )


def _store_file(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    raw: Any,
    validated: Any,
    outcomes: list[Any],
    sha: str,
) -> FileReport:
    feed = raw.feed.name
    file_id = scalar(con, "SELECT nextval('file_ids')")
    rows_read = raw.rows.height + raw.malformed.height
    accepted = validated.accepted.height
    quarantined = validated.quarantined.height
    if accepted + quarantined != rows_read:  # nothing may be lost between reading and storing
        raise RuntimeError(
            f"{raw.path}: {rows_read} rows read but {accepted} accepted + {quarantined} quarantined"
        )

    con.register("staged", validated.accepted.to_arrow())
    rows_new = scalar(con, sql(f"staging/{feed}"), {"file_id": file_id})
    con.unregister("staged")

    con.register("incoming", validated.quarantined.to_arrow())
    con.execute(
        "INSERT INTO quarantine SELECT ?, ?, line, raw, reasons FROM incoming", [file_id, feed]
    )
    con.unregister("incoming")

    con.register("incoming", validated.warnings.to_arrow())
    con.execute(
        "INSERT INTO warnings SELECT ?, ?, line, record_key, field, rule, value, message "
        "FROM incoming",
        [file_id, feed],
    )
    con.unregister("incoming")

    con.register("incoming", validated.rule_results.to_arrow())
    con.execute(
        "INSERT INTO rule_results SELECT ?, ?, field, rule, severity, failures, ? FROM incoming",
        [file_id, feed, rows_read],
    )
    con.unregister("incoming")

    if outcomes:
        from recon.validate.expectations import outcomes_frame

        con.register("incoming", outcomes_frame(outcomes).to_arrow())
        con.execute(
            'INSERT INTO expectation_results SELECT ?, ?, feed, expectation, label, "column", '
            "success, observed_value, unexpected_count, unexpected_percent, element_count, "
            "details FROM incoming",
            [file_id, run_id],
        )
        con.unregister("incoming")

    con.execute(
        "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            file_id, run_id, feed, raw.path.name, sha, raw.size_bytes, raw.format, raw.encoding,
            json.dumps(raw.header, ensure_ascii=False), rows_read, accepted, quarantined,
            rows_new, accepted - rows_new,
        ],
    )  # fmt: skip
    return FileReport(
        file_id=file_id,
        feed=feed,
        file=raw.path.name,
        rows_read=rows_read,
        rows_accepted=accepted,
        rows_quarantined=quarantined,
        skipped=False,
        rows_new=rows_new,
        rows_unchanged=accepted - rows_new,
        warnings=validated.warnings.height,
        encoding=raw.encoding,
        format=raw.format,
    )


@dataclass(frozen=True)
class Reconciled:
    findings: dict[str, int]
    cases: dict[str, int]


def _reconcile(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    as_of: date,
    config: Config,
    new_files: bool,
    timer: _Timer,
    absent: frozenset[str] = frozenset(),
    stage: Callable[[str], None] = lambda _name: None,
) -> Reconciled:
    """Link, find, and fold the findings into cases; skipped when nothing changed."""
    settings = json.dumps(
        {"deadlines": config.deadlines, "min_match_weight": config.min_match_weight,
         "fuzzy": config.fuzzy, "authority": dict(config.evidence.authority),
         "confidence": dict(config.evidence.confidence)},
        sort_keys=True,
    )  # fmt: skip
    last_file = scalar(con, "SELECT coalesce(max(file_id), 0) FROM files")
    previous = con.execute(
        "SELECT as_of, last_file_id, settings FROM reconcile_state ORDER BY run_id DESC LIMIT 1"
    ).fetchall()
    if not new_files and previous and previous[0] == (as_of, last_file, settings):
        open_cases = scalar(
            con, "SELECT count(*) FROM cases WHERE closed_run IS NULL AND status <> 'applied'"
        )
        return Reconciled(_open_findings(con), {"opened": 0, "kept": open_cases, "closed": 0})

    stage("link")
    with timer.stage("link"):
        records = prepare(query_frame(con, sql("link/records")))
        fuzzy = _fuzzy_pairs(con, records, config) if config.fuzzy else None
        linked = link(records, fuzzy=fuzzy, min_match_weight=config.min_match_weight)
    stage("reconcile")
    with timer.stage("reconcile"):
        result = reconcile(
            records,
            linked,
            as_of,
            Deadlines(config.deadlines["pop"], config.deadlines["police"]),
            _known_divisions(con),
            config.evidence,
        )
        found = result.findings
        _store_births(con, result.births)
        del records, linked, result  # the frames of a million births go before the cases come
    stage("cases")
    with timer.stage("cases"):
        counts = update_cases(
            con, found, run_id, depends_on(absent, config.evidence) if absent else None
        )
    con.execute(
        "INSERT INTO reconcile_state VALUES (?, ?, ?, ?)", [run_id, as_of, last_file, settings]
    )
    return Reconciled(_open_findings(con), counts.__dict__)


def _fuzzy_pairs(
    con: duckdb.DuckDBPyConnection, records: pl.DataFrame, config: Config
) -> Callable[[pl.DataFrame], pl.DataFrame]:
    """The stored Splink model's pairs for the records exact keys left unlinked.

    Until `recon link train` has stored a model trained on the county's own records, the
    model shipped with recon (trained on generated feeds) is used.
    """
    from recon.link import fuzzy  # Splink is imported only when it is used

    model = fuzzy.load_model(con) or default_model()

    def pairs(residual: pl.DataFrame) -> pl.DataFrame:
        found = fuzzy.predict(
            model,
            fuzzy_frame(residual),
            memory_limit=str(config.store["memory_limit"]),
            max_temp_directory_size=str(config.store["max_temp_directory_size"]),
        )
        return found.select(
            pl.col("unique_id_l").alias("uid_l"),
            pl.col("unique_id_r").alias("uid_r"),
            "match_weight",
        )

    return pairs


TRAINING_SAMPLE = 300_000  # records; EM needs far fewer than a county's million
MIN_TRAINING_RECORDS = 2_000
DEFAULT_MODEL = Path(__file__).parent / "link" / "link_model.json"


def default_model() -> Any:
    from recon.link import fuzzy

    data = json.loads(DEFAULT_MODEL.read_text(encoding="utf-8"))
    return fuzzy.LinkModel(
        settings_json=data["settings_json"],
        trained_at=datetime.fromisoformat(data["trained_at"]),
        records=data["records"],
        summary=data["summary"],
    )


def train_model(records: pl.DataFrame, config: Config) -> Any:
    """Train the Splink model on (a sample of) the county's records."""
    from recon.link import fuzzy

    if records.height < MIN_TRAINING_RECORDS:
        raise ValueError(
            f"only {records.height} records in the store; training needs at least "
            f"{MIN_TRAINING_RECORDS} (run `recon run` on a few nights' feeds first)"
        )
    sample = records.sample(min(records.height, TRAINING_SAMPLE), seed=1, shuffle=False)
    return fuzzy.train(
        fuzzy_frame(sample),
        memory_limit=str(config.store["memory_limit"]),
        max_temp_directory_size=str(config.store["max_temp_directory_size"]),
    )


def train_and_store(db_path: Path, config: Config, model_out: Path | None = None) -> Any:
    """`recon link train`: train on the store's current records and keep the model there."""
    from recon.link import fuzzy

    with exclusive(db_path):
        if not db_path.exists():
            raise ValueError(f"{db_path} does not exist: run `recon run` first")
        con = connect(db_path, config.store)
        try:
            records = prepare(query_frame(con, sql("link/records")))
            model = train_model(records, config)
            con.begin()
            fuzzy.save_model(con, model)
            con.commit()
        finally:
            con.close()
    if model_out is not None:
        write_json(
            {"settings_json": model.settings_json, "trained_at": model.trained_at.isoformat(),
             "records": model.records, "summary": model.summary},
            model_out,
        )  # fmt: skip
    return model


def fuzzy_frame(records: pl.DataFrame) -> pl.DataFrame:
    """Link records in the shape recon.fuzzy expects."""
    return records.select(
        pl.col("uid").alias("unique_id"),
        pl.col("feed").alias("source_dataset"),
        "child_name", "child_id", "sex", "birth_date", "mother_name", "mother_id",
        "division_code", "birth_rank",
    )  # fmt: skip


def _open_findings(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    rows = con.execute(
        "SELECT category, count(*) FROM cases WHERE closed_run IS NULL AND status <> 'applied' "
        "GROUP BY category ORDER BY category"
    ).fetchall()
    return {category: count for category, count in rows}


def _store_births(con: duckdb.DuckDBPyConnection, births: pl.DataFrame) -> None:
    con.execute("DELETE FROM births")
    con.register("incoming", births.to_arrow())
    con.execute("INSERT INTO births BY NAME SELECT * FROM incoming")
    con.unregister("incoming")


def _write_outputs(
    con: duckdb.DuckDBPyConnection, result: RunResult, out_dir: Path, roles: tuple[str, ...]
) -> dict[str, Path]:
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
        },
        run_json,
    )
    return {"worklist": worklist_path, "quarantine": quarantine_path, "run": run_json}
