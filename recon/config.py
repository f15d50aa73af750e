"""Configuration: packaged defaults, overridden by a recon.toml."""

from __future__ import annotations

import json
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from recon.ingest.feeds import FEED_SPECS
from recon.reconcile.evidence import EvidencePolicy, check_authority, check_confidence
from recon.store.connection import size_setting

DEFAULTS_PATH = Path(__file__).with_name("defaults.toml")
LOCAL_CONFIG = "recon.toml"


class ConfigError(Exception):
    """The configuration cannot be used (exit code 2)."""


@dataclass(frozen=True)
class CheckLimits:
    mother_age_min: int = 12
    mother_age_max: int = 60
    birth_weight_g_min: int = 300
    birth_weight_g_max: int = 7000
    gestation_weeks_min: int = 20
    gestation_weeks_max: int = 45


@dataclass(frozen=True)
class ReportSettings:
    hosp_days: int = 30
    srb_low: float = 103.0
    srb_high: float = 107.0
    red_warnings: int = 3
    history_runs: int = 30
    outlier_z: float = 3.5
    min_history: int = 3
    outlier_min_change: float = 0.02
    mse_criterion: str = "aic"


@dataclass(frozen=True)
class SignoffSettings:
    """[signoff]: who signs, and the limits on a signed worklist taken back in."""

    roles: tuple[str, ...] = ()
    distinct_signers: bool = True
    max_file_mb: int = 20
    max_rows: int = 100_000
    problems_shown: int = 20


@dataclass(frozen=True)
class IngestSettings:
    """[ingest]: limits on one feed file, so no file can hang a run or swallow rows unseen."""

    max_record_lines: int = 20  # physical lines one record may span (a stray quote spans more)
    max_record_chars: int = 100_000
    max_field_chars: int = 10_000
    max_file_mb: int = 1024
    max_columns: int = 1000
    chunk_rows: int = 1_000_000  # a longer file is validated and stored this many rows at a time


ENGINES = ("duckdb", "spark")  # [engine] name, --engine


@dataclass(frozen=True)
class EngineSettings:
    """[engine]: where link and reconcile run their parts (recon/engine)."""

    name: str = "duckdb"
    spark_master: str = "local[*]"
    shuffle_partitions: int = 8
    driver_memory: str = "4g"
    work_dir: Path | None = None  # None: the system's temporary folder
    across: str = "auto"  # the pass across the parts: "auto" or "sql" (see defaults.toml)


@dataclass(frozen=True)
class Config:
    inbox_patterns: dict[str, list[str]]
    divisions_path: Path | None
    header_aliases: dict[str, dict[str, str]]
    deadlines: dict[str, int]
    checks: CheckLimits
    expectations: dict[str, float]
    store: dict[str, Any]
    min_match_weight: float = 10.0
    fuzzy: bool = True
    partition_births: int = 1_500_000  # births linked at once (see [reconcile])
    roles: tuple[str, ...] = ()
    report: ReportSettings = field(default_factory=ReportSettings)
    evidence: EvidencePolicy = field(default_factory=EvidencePolicy)
    signoff: SignoffSettings = field(default_factory=SignoffSettings)
    heads_path: Path | None = None  # [audit] heads; None: `audit-heads` beside the store
    source: list[Path] = field(default_factory=list)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    engine: EngineSettings = field(default_factory=EngineSettings)


class _Section(BaseModel):
    """A table of recon.toml: every key known, every value of its own type.

    Strict: a night that runs unattended must not read `fuzzy = "false"` as true or
    `roles = "abc"` as three roles. The defaults come from defaults.toml, not from here.
    """

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)


class _Inbox(_Section):
    pop: list[str]
    hosp: list[str]
    police: list[str]
    divisions: list[str]


class _Ingest(_Section):
    max_record_lines: int
    max_record_chars: int
    max_field_chars: int
    max_file_mb: int
    max_columns: int
    chunk_rows: int = Field(ge=1000)


class _Divisions(_Section):
    path: str


class _Deadlines(_Section):
    pop_days: int
    police_days: int


class _Report(_Section):
    hosp_days: int
    srb_low: float
    srb_high: float
    red_warnings: int
    history_runs: int
    outlier_z: float
    min_history: int
    outlier_min_change: float
    mse_criterion: str


class _Checks(_Section):
    mother_age_min: int
    mother_age_max: int
    birth_weight_g_min: int
    birth_weight_g_max: int
    gestation_weeks_min: int
    gestation_weeks_max: int


class _Expectations(_Section):
    completeness_min: float
    row_count_min_ratio: float
    unknown_sex_max: float
    srb_min: float
    srb_max: float


class _Store(_Section):
    memory_limit: str
    max_temp_directory_size: str
    threads: int


class _Engine(_Section):
    name: str
    spark_master: str
    shuffle_partitions: int = Field(ge=1)
    driver_memory: str
    work_dir: str
    across: str


class _Reconcile(_Section):
    min_match_weight: float
    fuzzy: bool
    partition_births: int = Field(ge=1000)
    # Keyed by field and kind: check_authority/check_confidence name the unknown ones.
    authority: dict[str, list[str]]
    confidence: dict[str, float]


class _Signoff(_Section):
    roles: list[str]
    distinct_signers: bool
    max_file_mb: int
    max_rows: int
    problems_shown: int


class _Audit(_Section):
    heads: str


class _File(_Section):
    """defaults.toml merged with a recon.toml."""

    inbox: _Inbox
    ingest: _Ingest
    divisions: _Divisions
    headers: dict[str, dict[str, str]]  # feeds and headers are checked against FEED_SPECS
    deadlines: _Deadlines
    report: _Report
    checks: _Checks
    expectations: _Expectations
    store: _Store
    engine: _Engine
    reconcile: _Reconcile
    signoff: _Signoff
    audit: _Audit


_EXPECTED = {
    "bool_type": "expected true or false",
    "int_type": "expected a whole number",
    "float_type": "expected a number",
    "finite_number": "expected a finite number",
    "string_type": "expected a string in quotes",
    "list_type": "expected a list like [...]",
    "dict_type": "expected a table",
    "model_type": "expected a table",
    "missing": "missing (every key needs a default in defaults.toml)",
}


def _known_keys(loc: tuple[str | int, ...]) -> list[str]:
    """The keys of the section at `loc` (empty if it is no model, e.g. [headers])."""
    model: Any = _File
    for part in loc:
        annotation = model.model_fields[part].annotation if part in model.model_fields else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


def _describe(error: Any) -> str:
    """One pydantic error as `[section] key: what was wrong, got <value as in TOML>`."""
    loc: tuple[str | int, ...] = tuple(error["loc"])
    names = [str(p) for p in loc if isinstance(p, str)]
    items = [p for p in loc if isinstance(p, int)]
    section, key = ".".join(names[:-1]), names[-1] if names else ""
    where = f"[{section}] {key}" if section else f"[{key}]"
    if items:
        where += f" item {items[0] + 1}"
    if error["type"] == "extra_forbidden":
        known = _known_keys(loc[:-1])
        what = "unknown section" if not section else "unknown setting"
        return f"{where}: {what}" + (f" (one of {', '.join(known)})" if known else "")
    value = error["input"]
    # As TOML spells it: true, "text", [1, 2]; inf and nan rather than JSON's Infinity.
    finite = not isinstance(value, float) or math.isfinite(value)
    got = json.dumps(value, ensure_ascii=False, default=str) if finite else str(value)
    got = got if len(got) <= 60 else got[:57] + "..."
    what = _EXPECTED.get(error["type"], error["msg"])
    return f"{where}: {what}" if error["type"] == "missing" else f"{where}: {what}, got {got}"


def _merge(base: dict[str, Any], override: dict[str, Any]) -> None:
    """Override `base` key by key; the model, not the merge, decides what is unknown."""
    for key, value in override.items():
        if isinstance(base.get(key), dict) and isinstance(value, dict):
            _merge(base[key], value)
        else:
            base[key] = value


def load_config(path: Path | None = None) -> Config:
    """Defaults, then `path` (or ./recon.toml if it exists)."""
    raw = tomllib.loads(DEFAULTS_PATH.read_text(encoding="utf-8"))
    # The defaults alone first: a broken default is named as such, not as the user's.
    defaults = _build(raw, [DEFAULTS_PATH])
    if path is None and Path(LOCAL_CONFIG).is_file():
        path = Path(LOCAL_CONFIG)
    if path is None:
        return defaults
    if not path.is_file():
        raise ConfigError(f"{path}: configuration file not found")
    try:
        user = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    _merge(raw, user)
    return _build(raw, [DEFAULTS_PATH, path])


def _build(raw: dict[str, Any], sources: list[Path]) -> Config:
    """The Config of merged settings; every error names the last source, section and key."""
    where = sources[-1]
    try:
        model = _File.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError("\n".join(f"{where}: {_describe(e)}" for e in exc.errors())) from None
    try:
        return _config(model, sources)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _config(model: _File, sources: list[Path]) -> Config:
    """The checks a type cannot express, and the Config the rest of recon reads."""
    aliases: dict[str, dict[str, str]] = {}
    for feed, mapping in model.headers.items():
        if feed not in FEED_SPECS:
            raise ConfigError(f"[headers.{feed}]: unknown feed (use pop, hosp or police)")
        known = set(FEED_SPECS[feed].column_names)
        for header, canonical in mapping.items():
            if canonical not in known:
                raise ConfigError(
                    f"[headers.{feed}] {header!r} = {canonical!r}: not a column of {feed} "
                    f"(one of {', '.join(sorted(known))})"
                )
        aliases[feed] = dict(mapping)

    checks = CheckLimits(**model.checks.model_dump())
    rep = model.report
    report = ReportSettings(**{**rep.model_dump(), "mse_criterion": rep.mse_criterion.lower()})
    if report.mse_criterion not in ("aic", "bic"):
        raise ConfigError('[report] mse_criterion must be "aic" or "bic"')
    if report.srb_low >= report.srb_high:
        raise ConfigError("[report] srb_low must be below srb_high")

    roles = tuple(r.strip() for r in model.signoff.roles)
    if not roles or any(not r for r in roles) or len(set(roles)) != len(roles):
        raise ConfigError("[signoff] roles must be distinct, non-empty names, in signing order")
    sign = model.signoff
    for key in ("max_file_mb", "max_rows", "problems_shown"):
        if getattr(sign, key) < 1:
            raise ConfigError(f"[signoff] {key} must be a whole number of at least 1")
    signoff = SignoffSettings(
        roles=roles,
        distinct_signers=sign.distinct_signers,
        max_file_mb=sign.max_file_mb,
        max_rows=sign.max_rows,
        problems_shown=sign.problems_shown,
    )

    # Checked here rather than at the first connect: a bad size is a usage error (exit 2).
    for key in ("memory_limit", "max_temp_directory_size"):
        try:
            size_setting(getattr(model.store, key))
        except ValueError as exc:
            raise ConfigError(f"[store] {key}: {exc}") from None
    if model.store.threads < 1:
        raise ConfigError("[store] threads must be a whole number of at least 1")

    try:
        evidence = EvidencePolicy(
            authority=check_authority(model.reconcile.authority),
            confidence=check_confidence(model.reconcile.confidence),
            mother_age_min=checks.mother_age_min,
            mother_age_max=checks.mother_age_max,
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc

    for key, value in model.ingest.model_dump().items():
        if value < 1:
            raise ConfigError(f"[ingest] {key} must be a whole number of at least 1")
    ingest = IngestSettings(**model.ingest.model_dump())

    eng = model.engine
    if eng.name not in ENGINES:
        raise ConfigError(f'[engine] name must be "duckdb" or "spark", got {eng.name!r}')
    if not re.fullmatch(r"\d+[kmgt]?", eng.driver_memory.strip().lower()):
        raise ConfigError(
            f'[engine] driver_memory must be a size like "4g", got {eng.driver_memory!r}'
        )
    if eng.across not in ("auto", "sql"):
        raise ConfigError(f'[engine] across must be "auto" or "sql", got {eng.across!r}')
    if any(c in eng.work_dir for c in "[]{}*?"):
        # Spark and Hadoop read a path with these as a pattern, and find nothing.
        raise ConfigError(f"[engine] work_dir: no [ ] {{ }} * ? in the path, got {eng.work_dir!r}")
    engine = EngineSettings(
        name=eng.name,
        spark_master=eng.spark_master.strip(),
        shuffle_partitions=eng.shuffle_partitions,
        driver_memory=eng.driver_memory.strip().lower(),
        work_dir=Path(eng.work_dir.strip()) if eng.work_dir.strip() else None,
        across=eng.across,
    )

    div_path = model.divisions.path.strip()
    heads = model.audit.heads.strip()
    return Config(
        inbox_patterns=model.inbox.model_dump(),
        divisions_path=Path(div_path) if div_path else None,
        header_aliases=aliases,
        deadlines={"pop": model.deadlines.pop_days, "police": model.deadlines.police_days},
        checks=checks,
        expectations=model.expectations.model_dump(),
        store=model.store.model_dump(),
        min_match_weight=model.reconcile.min_match_weight,
        fuzzy=model.reconcile.fuzzy,
        partition_births=model.reconcile.partition_births,
        roles=roles,
        report=report,
        evidence=evidence,
        signoff=signoff,
        heads_path=Path(heads) if heads else None,
        source=sources,
        ingest=ingest,
        engine=engine,
    )
