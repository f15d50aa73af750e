"""The nightly run: the named stages, in order, in one transaction.

    ingest     inbox files      -> files, pop/hosp/police_records, quarantine, warnings,
                                   rule_results, expectation_results   (recon/ingest)
    link       feed records     -> link_births, links, link_duplicates (recon/link)
    reconcile  records + links  -> births, findings                    (recon/reconcile)
    cases      findings         -> cases, audit_log                    (recon/cases)
    metrics    births, cases    -> run_metrics                         (recon/report)

Each stage is `run(night)` in its package's `stage.py`, reading and writing only store
tables, so `recon stage NAME` re-runs one alone. The core never prints: it reports
progress through a callback and returns a frozen `RunResult` for the console layer.
"""

from __future__ import annotations

import importlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from recon import __version__
from recon.cases import stage as cases_stage
from recon.config import Config
from recon.engine import open_engine
from recon.ingest import stage as ingest_stage
from recon.ingest.inbox import Inbox, discover
from recon.link import stage as link_stage
from recon.night import Night
from recon.outputs import output_set, write_night
from recon.reconcile import stage as reconcile_stage
from recon.report import stage as metrics_stage
from recon.resources import sql
from recon.results import Progress, RunResult, StageResult
from recon.store import audit, heads
from recon.store.connection import Notice, connect, create_schema, exclusive, scalar
from recon.vocabulary import FEED_LABELS, STAGE_LABELS

FEEDS = ("pop", "hosp", "police")
T = TypeVar("T")


@dataclass(frozen=True)
class Stage:
    name: str
    run: Callable[[Night], dict[str, int]]  # -> rows in each table it wrote

    @property
    def label(self) -> str:  # what progress shows while it runs
        return STAGE_LABELS[self.name]


# The stages after the files, in order. The file stage comes first and needs the inbox.
STAGES = (
    Stage("link", link_stage.run),
    Stage("reconcile", reconcile_stage.run),
    Stage("cases", cases_stage.run),
    Stage("metrics", metrics_stage.run),
)
STAGE_NAMES = ("ingest", *(s.name for s in STAGES))


class EmptyInbox(Exception):
    """No feed file in the inbox: the night is incomplete (exit 5) and nothing was done."""

    def __init__(self, inbox: Path, ignored: list[str]) -> None:
        self.inbox = inbox
        self.ignored = ignored
        super().__init__(f"{inbox}: no feed file (pop, hosp or police) in the inbox")


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
    """Run every stage on the inbox; the store changes only if the whole night succeeds.

    `wait`: seconds to wait for a store another recon process is using (then StoreBusy).
    """
    as_of = as_of or date.today()
    report = progress or (lambda _what, _done, _total: None)
    # Great Expectations takes seconds to import: let that happen while files are read.
    threading.Thread(target=importlib.import_module, args=("great_expectations",)).start()
    inbox = discover(inbox_dir, config)
    if not inbox.feeds:  # nothing to ingest: the store is not touched, no run recorded
        raise EmptyInbox(inbox_dir, [p.name for p in inbox.ignored])
    file_steps = len(inbox.feeds) * len(ingest_stage.STEPS)
    total = file_steps + len(STAGES) + 1

    def tonight(night: Night) -> RunResult:
        return _night(night, inbox, lambda label, done: report(label, done, total), file_steps)

    with exclusive(db_path, wait, notice):
        con, night = _begin(db_path, config, as_of, str(inbox_dir.resolve()), wait, notice)
        result = _commit(db_path, config, con, night, tonight)
        report(STAGE_LABELS["outputs"], total - 1, total)
        try:
            with night.timer.stage("outputs"):
                result = _measured(result, night)
                # The night's files appear together in out/, never beside the last night's.
                with output_set(out_dir, keep_out=db_path) as staging:
                    written = write_night(con, result, staging, config.roles)
                outputs = {kind: out_dir / path.name for kind, path in written.items()}
        finally:
            con.close()
    return replace(_measured(result, night), outputs=outputs)


def _measured(result: RunResult, night: Night) -> RunResult:
    """The result with the night's clock so far: seconds and memory peaks per stage."""
    timer = night.timer
    return replace(
        result,
        timings_s=timer.as_dict(),
        peak_mib=timer.peak_mib,
        stage_peak_mib=timer.stage_peak_mib,
    )


def run_stage(
    name: str,
    db_path: Path,
    config: Config,
    as_of: date | None = None,
    inbox_dir: Path | None = None,
    wait: float = 0,
    notice: Notice | None = None,
) -> StageResult:
    """`recon stage NAME`: one stage alone on the store, from the tables it reads.

    It is a run of its own (a row in `runs`, an audit entry, a head outside the store),
    in one transaction like a night. `ingest` needs the inbox; the others need none.
    """
    if name not in STAGE_NAMES:
        raise ValueError(f"no stage {name!r}; the stages are {', '.join(STAGE_NAMES)}")
    if name != "ingest" and not db_path.exists():
        raise FileNotFoundError(f"{db_path} does not exist: run `recon run` first")
    inbox = None
    if name == "ingest":
        if inbox_dir is None:
            raise ValueError("stage ingest reads an inbox: give --inbox")
        inbox = discover(inbox_dir, config)
    as_of = as_of or date.today()
    start = time.perf_counter()

    def alone(night: Night) -> StageResult:
        if inbox is not None:
            tables = {"files": len(ingest_stage.run(night, inbox).files)}
        else:
            night.absent = _absent(night)
            tables = next(s for s in STAGES if s.name == name).run(night)
        head = _finish(night, {"stage": name, "tables": tables})
        return StageResult(name, night.run_id, 0.0, tables, head)

    with exclusive(db_path, wait, notice):
        where = str(inbox_dir.resolve()) if inbox_dir else f"stage {name}"
        con, night = _begin(db_path, config, as_of, where, wait, notice)
        result = _commit(db_path, config, con, night, alone)
        con.close()
    return replace(result, seconds=round(time.perf_counter() - start, 3))


def _begin(
    db_path: Path,
    config: Config,
    as_of: date,
    inbox: str,
    wait: float,
    notice: Notice | None,
) -> tuple[duckdb.DuckDBPyConnection, Night]:
    """Open the store, begin the night's transaction and record the run."""
    existed = db_path.exists()
    con = connect(db_path, config.store, wait=wait, notice=notice)
    try:
        con.begin()
        create_schema(con)
        run_id = scalar(con, sql("run/run_id"))
        con.execute(
            sql("run/runs"),
            {"run_id": run_id, "started_at": datetime.now(), "as_of": as_of, "inbox": inbox,
             "tool_version": __version__},
        )  # fmt: skip
        audit.append(con, "run", f"run:{run_id}", {"as_of": as_of.isoformat()}, run_id=run_id)
    except BaseException:
        _abandon(con, db_path, existed)
        raise
    night = Night(con, run_id, as_of, config, existed=existed, engine=open_engine(config))
    return con, night


def _commit(
    db_path: Path,
    config: Config,
    con: duckdb.DuckDBPyConnection,
    night: Night,
    work: Callable[[Night], T],
) -> T:
    """Do the work and commit it all, or roll it all back (and leave no new store behind)."""
    try:
        try:
            result = work(night)
        finally:
            night.close()
        head = heads.current(con, f"run {night.run_id}")
        # Timed: at ten million births DuckDB's commit writes seconds of the night's rows.
        with night.timer.stage("commit"):
            con.commit()
    except BaseException:
        _abandon(con, db_path, night.existed)
        raise
    # The committed head goes outside the store, where a rewrite of the store cannot reach.
    heads.record(heads.path_for(db_path, config.heads_path), head)
    return result


def _abandon(con: duckdb.DuckDBPyConnection, db_path: Path, existed: bool) -> None:
    con.rollback()
    con.close()
    if not existed:  # leave no store behind where there was none
        for leftover in (db_path, db_path.with_name(db_path.name + ".wal")):
            leftover.unlink(missing_ok=True)


def _night(
    night: Night, inbox: Inbox, step: Callable[[str, int], None], file_steps: int
) -> RunResult:
    con = night.con
    with night.timer.stage("ingest"):  # the file stage whole: its steps are timed inside
        files = ingest_stage.run(night, inbox, step)
    night.absent = _absent(night)
    if night.absent:
        labels = "、".join(FEED_LABELS[f] for f in sorted(night.absent, key=FEEDS.index))
        night.notes.append(
            f"从未收到{labels}的数据：依赖这些数据源的案件本次既不新开也不关闭，"
            f"收到后再核对 (never received: {', '.join(sorted(night.absent, key=FEEDS.index))}; "
            "cases resting on them held)"
        )
    state = _reconcile_state(night)
    unchanged = not files.new_files and _last_state(con) == state
    cases: dict[str, int] = {}
    for position, stage in enumerate(STAGES):
        if unchanged and stage.name != "metrics":
            continue  # nothing new since the last reconcile: its tables stand
        step(stage.label, file_steps + position)
        with night.timer.stage(stage.name):
            written = stage.run(night)
        if stage.name == "cases":
            cases = written
    if unchanged:
        kept = sum(_open_findings(con).values())
        cases = {"opened": 0, "kept": kept, "closed": 0}
    else:
        as_of, last_file, settings = state
        con.execute(
            sql("run/reconcile_state"),
            {"run_id": night.run_id, "as_of": as_of, "last_file_id": last_file,
             "settings": settings},
        )  # fmt: skip

    absent = sorted(night.absent, key=FEEDS.index)
    summary: dict[str, Any] = {
        "files": [f.as_json() for f in files.files],
        "findings": _open_findings(con),
        "validation": files.rule_failures,
        "cases": cases,
        "feeds_never_received": absent,
        "ignored": [{"file": f.name, "reason": f.reason} for f in inbox.ignored],
    }
    audit_head = _finish(night, summary)
    return RunResult(
        run_id=night.run_id,
        as_of=night.as_of,
        files=files.files,
        ignored=[p.name for p in inbox.ignored],
        ignored_reasons={p.name: p.reason for p in inbox.ignored},
        findings=summary["findings"],
        validation=files.rule_failures,
        cases=cases,
        audit_head=audit_head,
        absent_feeds=absent,
        expectation_failures=files.expectation_failures,
        divisions=files.divisions,
        timings_s={},
        outputs={},
        notes=night.notes,
    )


def _finish(night: Night, summary: dict[str, Any]) -> dict[str, Any]:
    """Close the run's row with its summary and the audit head it ends on."""
    seq, head_hash = audit.head(night.con)
    # The chain cannot show entries cut from its end; the head kept here (and in run.json,
    # which auditors file away) can.
    audit_head: dict[str, Any] = {"seq": seq, "hash": head_hash}
    night.con.execute(
        sql("run/finish"),
        {"finished_at": datetime.now(), "run_id": night.run_id,
         "summary": json.dumps({**summary, "audit_head": audit_head}, ensure_ascii=False)},
    )  # fmt: skip
    return audit_head


def _absent(night: Night) -> frozenset[str]:
    received = {str(r[0]) for r in night.con.execute(sql("run/feeds_received")).fetchall()}
    return frozenset(f for f in FEEDS if f not in received)


def _reconcile_state(night: Night) -> tuple[date, int, str]:
    """What tonight's reconcile depends on: the as-of date, the files, the settings."""
    config = night.config
    settings = json.dumps(
        {"deadlines": config.deadlines, "min_match_weight": config.min_match_weight,
         "fuzzy": config.fuzzy, "authority": dict(config.evidence.authority),
         "confidence": dict(config.evidence.confidence)},
        sort_keys=True,
    )  # fmt: skip
    last_file = scalar(night.con, sql("run/last_file"))
    return night.as_of, last_file, settings


def _last_state(con: duckdb.DuckDBPyConnection) -> tuple[Any, ...] | None:
    rows = con.execute(sql("run/last_reconcile_state")).fetchall()
    return tuple(rows[0]) if rows else None


def _open_findings(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    rows = con.execute(sql("run/open_cases")).fetchall()
    return {category: count for category, count in rows}
