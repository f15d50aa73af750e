"""Configuration: packaged defaults, overridden by a recon.toml."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recon.evidence import EvidencePolicy, check_authority, check_confidence
from recon.feeds import FEED_SPECS

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
    roles: tuple[str, ...] = ()
    report: ReportSettings = field(default_factory=ReportSettings)
    evidence: EvidencePolicy = field(default_factory=EvidencePolicy)
    signoff: SignoffSettings = field(default_factory=SignoffSettings)
    heads_path: Path | None = None  # [audit] heads; None: `audit-heads` beside the store
    source: list[Path] = field(default_factory=list)


def _merge(base: dict[str, Any], override: dict[str, Any], where: str, path: Path) -> None:
    for key, value in override.items():
        if key not in base and where != "headers":
            raise ConfigError(f"{path}: unknown setting [{where}] {key}")
        if isinstance(base.get(key), dict) and isinstance(value, dict):
            _merge(base[key], value, key if where == "" else f"{where}.{key}", path)
        else:
            base[key] = value


def load_config(path: Path | None = None) -> Config:
    """Defaults, then `path` (or ./recon.toml if it exists)."""
    raw = tomllib.loads(DEFAULTS_PATH.read_text(encoding="utf-8"))
    sources = [DEFAULTS_PATH]
    if path is None and Path(LOCAL_CONFIG).is_file():
        path = Path(LOCAL_CONFIG)
    if path is not None:
        if not path.is_file():
            raise ConfigError(f"{path}: configuration file not found")
        try:
            user = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
        _merge(raw, user, "", path)
        sources.append(path)

    aliases: dict[str, dict[str, str]] = {}
    for feed, mapping in raw.get("headers", {}).items():
        if feed not in FEED_SPECS:
            raise ConfigError(f"[headers.{feed}]: unknown feed (use pop, hosp or police)")
        known = set(FEED_SPECS[feed].column_names)
        for header, canonical in mapping.items():
            if canonical not in known:
                raise ConfigError(
                    f"[headers.{feed}] {header!r} = {canonical!r}: not a column of {feed} "
                    f"(one of {', '.join(sorted(known))})"
                )
        aliases[feed] = {str(k): str(v) for k, v in mapping.items()}

    try:
        checks = CheckLimits(**{k: int(v) for k, v in raw["checks"].items()})
        deadlines = {
            "pop": int(raw["deadlines"]["pop_days"]),
            "police": int(raw["deadlines"]["police_days"]),
        }
        expectations = {k: float(v) for k, v in raw["expectations"].items()}
        min_match_weight = float(raw["reconcile"]["min_match_weight"])
        rep = raw["report"]
        report = ReportSettings(
            hosp_days=int(rep["hosp_days"]),
            srb_low=float(rep["srb_low"]),
            srb_high=float(rep["srb_high"]),
            red_warnings=int(rep["red_warnings"]),
            history_runs=int(rep["history_runs"]),
            outlier_z=float(rep["outlier_z"]),
            min_history=int(rep["min_history"]),
            outlier_min_change=float(rep["outlier_min_change"]),
            mse_criterion=str(rep["mse_criterion"]).lower(),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"a numeric setting is not a number: {exc}") from exc
    roles = tuple(str(r).strip() for r in raw["signoff"]["roles"])
    if not roles or any(not r for r in roles) or len(set(roles)) != len(roles):
        raise ConfigError("[signoff] roles must be distinct, non-empty names, in signing order")
    sign = raw["signoff"]
    if not isinstance(sign["distinct_signers"], bool):
        raise ConfigError("[signoff] distinct_signers must be true or false")
    limits = {}
    for key in ("max_file_mb", "max_rows", "problems_shown"):
        value = sign[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"[signoff] {key} must be a whole number of at least 1")
        limits[key] = value
    signoff = SignoffSettings(roles=roles, distinct_signers=sign["distinct_signers"], **limits)
    heads = str(raw["audit"]["heads"]).strip()

    if report.mse_criterion not in ("aic", "bic"):
        raise ConfigError('[report] mse_criterion must be "aic" or "bic"')
    if report.srb_low >= report.srb_high:
        raise ConfigError("[report] srb_low must be below srb_high")

    try:
        evidence = EvidencePolicy(
            authority=check_authority(raw["reconcile"]["authority"]),
            confidence=check_confidence(raw["reconcile"]["confidence"]),
            mother_age_min=checks.mother_age_min,
            mother_age_max=checks.mother_age_max,
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc

    div_path = str(raw["divisions"]["path"]).strip()
    return Config(
        inbox_patterns={k: list(v) for k, v in raw["inbox"].items()},
        divisions_path=Path(div_path) if div_path else None,
        header_aliases=aliases,
        deadlines=deadlines,
        checks=checks,
        expectations=expectations,
        store=dict(raw["store"]),
        min_match_weight=min_match_weight,
        fuzzy=bool(raw["reconcile"]["fuzzy"]),
        roles=roles,
        report=report,
        evidence=evidence,
        signoff=signoff,
        heads_path=Path(heads) if heads else None,
        source=sources,
    )
