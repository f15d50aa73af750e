"""Statistics for the auditors' report: pure functions, no I/O.

Methods and their traps are described in docs shared with the team (statistics.md):
sex ratio at birth with a log-method interval, two-source Chapman, three-list
multiple-systems estimation by Poisson log-linear models, and the WHO modified z-score.
"""

from __future__ import annotations

import itertools
import math
import statistics
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import statsmodels.api as sm
from scipy.optimize import linprog

Z95 = 1.96  # two-sided 95% normal quantile, as the methods note writes it

Cell = tuple[int, int, int]  # presence in (hosp, police, pop), each 0 or 1
Cells = Mapping[Cell, int]

# The seven cells a three-list linkage can observe; (0,0,0) is what we estimate.
OBSERVED_CELLS: tuple[Cell, ...] = (
    (1, 0, 0),
    (0, 1, 0),
    (0, 0, 1),
    (1, 1, 0),
    (1, 0, 1),
    (0, 1, 1),
    (1, 1, 1),
)
FEEDS = ("hosp", "police", "pop")
LETTERS = "HPR"  # R = register (pop); P is already taken by police
LABELS = {"H": "住院", "P": "公安", "R": "人口"}
INTERACTIONS: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2))

MIN_OBSERVED = 20  # below this a model choice is noise, whatever the AIC says
MAX_MISSED_RATIO = 10.0  # more missed than 10x seen means the model extrapolates wildly


def _num(x: float | None, digits: int) -> float | None:
    """JSON-safe float: None for undefined (None, NaN, inf), else rounded."""
    if x is None or not math.isfinite(x):
        return None
    return round(float(x), digits)


# --------------------------------------------------------------------------------------
# Sex ratio at birth


@dataclass(frozen=True)
class SexRatio:
    boys: int
    girls: int
    ratio: float | None
    lower: float | None
    upper: float | None
    flag: str | None  # "high", "low" or None

    def as_json(self) -> dict[str, Any]:
        return {
            "boys": self.boys,
            "girls": self.girls,
            "ratio": _num(self.ratio, 2),
            "lower": _num(self.lower, 2),
            "upper": _num(self.upper, 2),
            "flag": self.flag,
        }


def sex_ratio(boys: int, girls: int, low: float = 103, high: float = 107) -> SexRatio:
    """SRB = 100·boys/girls with a 95% log-method interval.

    Flagged only when the whole interval lies outside [low, high]: small areas have
    intervals wide enough that a point estimate outside the range is usually noise.
    """
    if boys < 0 or girls < 0:
        raise ValueError("boys and girls must be non-negative")
    if boys == 0 or girls == 0:
        # The log method needs both counts; an area with no girls is not evidence of anything.
        return SexRatio(boys, girls, None, None, None, None)
    log_ratio = math.log(boys / girls)
    half = Z95 * math.sqrt(1 / boys + 1 / girls)
    lower = 100 * math.exp(log_ratio - half)
    upper = 100 * math.exp(log_ratio + half)
    flag = "high" if lower > high else "low" if upper < low else None
    return SexRatio(boys, girls, 100 * boys / girls, lower, upper, flag)


# --------------------------------------------------------------------------------------
# Two sources: Chapman


@dataclass(frozen=True)
class TwoSource:
    n1: int
    n2: int
    m: int
    estimate: float
    variance: float
    lower: float
    upper: float
    observed: int  # births already seen: the pair's union n1 + n2 - m unless told otherwise
    below_observed: bool  # estimate < observed: the sources are positively dependent

    def as_json(self) -> dict[str, Any]:
        return {
            "n1": self.n1,
            "n2": self.n2,
            "m": self.m,
            "estimate": _num(self.estimate, 1),
            "variance": _num(self.variance, 1),
            "lower": _num(self.lower, 1),
            "upper": _num(self.upper, 1),
            "observed": self.observed,
            "below_observed": self.below_observed,
        }


def chapman(n1: int, n2: int, m: int, observed: int | None = None) -> TwoSource:
    """Chapman's estimator with Seber's variance and a Wald 95% interval.

    It assumes independent sources. Ours are not (police needs the hospital's certificate),
    and positive dependence biases N downward, sometimes below the births already seen;
    `below_observed` says so rather than letting the figure pass silently.

    Algebraically Chapman's N is never below the pair's own union n1 + n2 - m, so the
    warning only bites when `observed` counts every birth seen, by the third source too.
    """
    if min(n1, n2, m) < 0 or m > min(n1, n2):
        raise ValueError("need 0 <= m <= min(n1, n2)")
    estimate = (n1 + 1) * (n2 + 1) / (m + 1) - 1
    variance = (n1 + 1) * (n2 + 1) * (n1 - m) * (n2 - m) / ((m + 1) ** 2 * (m + 2))
    half = Z95 * math.sqrt(variance)
    seen = n1 + n2 - m if observed is None else observed
    return TwoSource(
        n1, n2, m, estimate, variance, estimate - half, estimate + half, seen, estimate < seen
    )


# --------------------------------------------------------------------------------------
# Three lists: multiple-systems estimation


def _check_cells(cells: Cells) -> dict[Cell, int]:
    """All seven observed cells (missing ones count 0); refuses the unobservable (0,0,0)."""
    extra = set(cells) - set(OBSERVED_CELLS)
    if extra:
        raise ValueError(f"unknown or unobservable cells: {sorted(extra)}")
    out = {c: int(cells.get(c, 0)) for c in OBSERVED_CELLS}
    if any(v < 0 for v in out.values()):
        raise ValueError("cell counts must be non-negative")
    return out


def cells_from_flags(
    hosp: Sequence[bool] | npt.ArrayLike,
    police: Sequence[bool] | npt.ArrayLike,
    pop: Sequence[bool] | npt.ArrayLike,
) -> dict[Cell, int]:
    """Count the seven cells from one presence flag per source per linked birth."""
    h, p, r = (np.asarray(a, dtype=bool) for a in (hosp, police, pop))
    if not (h.ndim == p.ndim == r.ndim == 1) or not (len(h) == len(p) == len(r)):
        raise ValueError("hosp, police and pop must be 1-D and of equal length")
    # A linked birth that no source holds cannot exist; it means the caller mixed up rows.
    if np.any(~(h | p | r)):
        raise ValueError("a birth present in no source cannot be counted as observed")
    code = h.astype(int) * 4 + p.astype(int) * 2 + r.astype(int)
    counts = np.bincount(code, minlength=8)
    return {c: int(counts[c[0] * 4 + c[1] * 2 + c[2]]) for c in OBSERVED_CELLS}


def closed_form_missed(cells: Cells) -> float | None:
    """Missed cell under the all-two-way model: n111·n100·n010·n001 / (n110·n101·n011)."""
    n = _check_cells(cells)
    denominator = n[(1, 1, 0)] * n[(1, 0, 1)] * n[(0, 1, 1)]
    if denominator == 0:
        return None
    return n[(1, 1, 1)] * n[(1, 0, 0)] * n[(0, 1, 0)] * n[(0, 0, 1)] / denominator


@dataclass(frozen=True)
class ModelFit:
    name: str  # bracket notation, e.g. "[HP][R]"
    description: str  # Chinese, for the report
    terms: tuple[str, ...]  # two-way interactions, e.g. ("HP", "PR")
    n_params: int
    usable: bool
    reason: str | None  # why not usable
    converged: bool
    deviance: float | None = None
    df_resid: int | None = None
    loglik: float | None = None
    aic: float | None = None
    bic: float | None = None
    missed: float | None = None  # fitted (0,0,0) cell
    se_log_missed: float | None = None  # se of the intercept
    total: float | None = None
    lower: float | None = None
    upper: float | None = None
    coefficients: dict[str, float] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "terms": list(self.terms),
            "n_params": self.n_params,
            "usable": self.usable,
            "reason": self.reason,
            "converged": self.converged,
            "deviance": _num(self.deviance, 3),
            "df_resid": self.df_resid,
            "loglik": _num(self.loglik, 3),
            "aic": _num(self.aic, 3),
            "bic": _num(self.bic, 3),
            "missed": _num(self.missed, 1),
            "se_log_missed": _num(self.se_log_missed, 4),
            "total": _num(self.total, 1),
            "lower": _num(self.lower, 1),
            "upper": _num(self.upper, 1),
            "coefficients": {k: _num(v, 4) for k, v in self.coefficients.items()},
        }


def _model_name(terms: Sequence[tuple[int, int]]) -> str:
    covered = {i for t in terms for i in t}
    blocks = [tuple(t) for t in terms] + [(i,) for i in range(3) if i not in covered]
    return "".join("[" + "".join(LETTERS[i] for i in b) + "]" for b in sorted(blocks))


def _model_description(terms: Sequence[tuple[int, int]]) -> str:
    if not terms:
        return "独立模型"
    if len(terms) == len(INTERACTIONS):
        return "两两相依（全部二阶交互）"
    pairs = "、".join(f"{LABELS[LETTERS[a]]}×{LABELS[LETTERS[b]]}" for a, b in terms)
    return f"{pairs} 相依"


def _design(terms: Sequence[tuple[int, int]]) -> tuple[npt.NDArray[np.float64], list[str]]:
    """Rows = observed cells; intercept is log of the (0,0,0) cell since all effects are 0 there."""
    names = ["const", *LETTERS, *(f"{LETTERS[a]}:{LETTERS[b]}" for a, b in terms)]
    rows = [[1, *c, *(c[a] * c[b] for a, b in terms)] for c in OBSERVED_CELLS]
    return np.asarray(rows, dtype=float), names


def _mle_exists(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> bool:
    """Does the Poisson log-linear MLE exist (finite parameters)?

    It does iff some strictly positive table has the same sufficient statistics X'y
    (Haberman 1974). Zero cells break this in ways a margin check misses, and GLM then
    "converges" to huge coefficients; a tiny LP answers exactly: max t s.t. X'm = X'y,
    m >= t, t <= 1.
    """
    k = x.shape[0]
    c = np.zeros(k + 1)
    c[-1] = -1.0  # maximise t
    a_eq = np.hstack([x.T, np.zeros((x.shape[1], 1))])
    a_ub = np.hstack([-np.eye(k), np.ones((k, 1))])  # t - m_i <= 0
    bounds = [(0, None)] * k + [(None, 1.0)]
    res = linprog(c, A_ub=a_ub, b_ub=np.zeros(k), A_eq=a_eq, b_eq=x.T @ y, bounds=bounds)
    return bool(res.status == 0 and -res.fun > 1e-9)


def _fit_one(terms: tuple[tuple[int, int], ...], n: dict[Cell, int]) -> ModelFit:
    x, names = _design(terms)
    y = np.asarray([n[c] for c in OBSERVED_CELLS], dtype=float)
    n_obs = int(y.sum())
    k = x.shape[1]
    base: dict[str, Any] = {
        "name": _model_name(terms),
        "description": _model_description(terms),
        "terms": tuple(LETTERS[a] + LETTERS[b] for a, b in terms),
        "n_params": k,
    }
    if not _mle_exists(x, y):
        return ModelFit(**base, usable=False, converged=False, reason="零格使估计退化（无有限解）")
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            res = sm.GLM(y, x, family=sm.families.Poisson()).fit()
        params = np.asarray(res.params, dtype=float)
        bse = np.asarray(res.bse, dtype=float)
        converged = bool(getattr(res, "converged", True))
        llf = float(res.llf)
        deviance = float(res.deviance)
    except (np.linalg.LinAlgError, ValueError, FloatingPointError) as exc:
        return ModelFit(**base, usable=False, converged=False, reason=f"拟合失败：{exc}")

    missed = math.exp(params[0]) if params[0] < 700 else math.inf
    se = float(bse[0])
    total = n_obs + missed
    lower = upper = None
    if math.isfinite(se) and math.isfinite(missed):
        # Chao (1987): log-normal f0 keeps the lower bound at or above the births seen.
        c_factor = math.exp(Z95 * math.sqrt(math.log1p(se**2)))  # var/f0^2 = se^2
        lower, upper = n_obs + missed / c_factor, n_obs + missed * c_factor

    reason = None
    if not converged:
        reason = "未收敛"
    elif not math.isfinite(se):
        reason = "标准误无穷"
    elif not math.isfinite(missed) or missed > MAX_MISSED_RATIO * max(n_obs, 1):
        reason = f"漏报估计超过已观察数的 {MAX_MISSED_RATIO:g} 倍"
    return ModelFit(
        **base,
        usable=reason is None,
        reason=reason,
        converged=converged,
        deviance=deviance,
        df_resid=round(float(res.df_resid)),
        loglik=llf,
        aic=-2 * llf + 2 * k,
        # BIC penalty with the number of individuals, as Rcapture does, not the 7 cells.
        bic=-2 * llf + k * math.log(n_obs) if n_obs > 0 else None,
        missed=missed if math.isfinite(missed) else None,
        se_log_missed=se if math.isfinite(se) else None,
        total=total if math.isfinite(total) else None,
        lower=lower,
        upper=upper,
        coefficients=dict(zip(names, params.tolist(), strict=True)),
    )


def fit_models(cells: Cells) -> list[ModelFit]:
    """All 8 hierarchical models: main effects plus each subset of the two-way terms."""
    n = _check_cells(cells)
    subsets = [combo for size in range(4) for combo in itertools.combinations(INTERACTIONS, size)]
    return [_fit_one(terms, n) for terms in subsets]


@dataclass(frozen=True)
class Estimate:
    criterion: str
    n_observed: int
    cells: dict[Cell, int]
    fits: tuple[ModelFit, ...]
    chosen: ModelFit | None
    runner_up: ModelFit | None
    reason: str | None  # why nothing was chosen
    pairwise: dict[str, TwoSource]  # "hosp-police", "hosp-pop", "police-pop"

    def as_json(self) -> dict[str, Any]:
        return {
            "criterion": self.criterion,
            "n_observed": self.n_observed,
            "cells": {"".join(map(str, c)): v for c, v in self.cells.items()},
            "fits": [f.as_json() for f in self.fits],
            "chosen": self.chosen.name if self.chosen else None,
            "runner_up": self.runner_up.name if self.runner_up else None,
            "reason": self.reason,
            "pairwise": {k: v.as_json() for k, v in self.pairwise.items()},
        }


def _pairwise(n: dict[Cell, int]) -> dict[str, TwoSource]:
    """Chapman for each pair of feeds, judged against all births seen by any of the three."""
    seen = sum(n.values())
    out = {}
    for a, b in INTERACTIONS:
        n1 = sum(v for c, v in n.items() if c[a])
        n2 = sum(v for c, v in n.items() if c[b])
        m = sum(v for c, v in n.items() if c[a] and c[b])
        out[f"{FEEDS[a]}-{FEEDS[b]}"] = chapman(n1, n2, m, observed=seen)
    return out


def estimate(cells: Cells, criterion: str = "aic") -> Estimate:
    """Fit all models, choose the lowest AIC/BIC among usable ones, keep the runner-up."""
    if criterion not in ("aic", "bic"):
        raise ValueError("criterion must be 'aic' or 'bic'")
    n = _check_cells(cells)
    n_obs = sum(n.values())
    fits = tuple(fit_models(n))
    ranked = sorted(
        (f for f in fits if f.usable and getattr(f, criterion) is not None),
        key=lambda f: float(getattr(f, criterion)),
    )
    chosen = runner_up = None
    reason = None
    if n_obs < MIN_OBSERVED:
        reason = f"已观察出生数少于 {MIN_OBSERVED}，不作估计"
    elif not ranked:
        reason = "没有可用的模型"
    else:
        chosen = ranked[0]
        runner_up = ranked[1] if len(ranked) > 1 else None
    return Estimate(criterion, n_obs, n, fits, chosen, runner_up, reason, _pairwise(n))


# --------------------------------------------------------------------------------------
# Outliers over time (WHO data-quality review)


def modified_z(history: Sequence[float], value: float, min_history: int = 3) -> float | None:
    """Modified z-score of `value` against previous runs (WHO DQ tool for DHIS2).

    0.6745·(x − median)/MAD; if MAD is 0, 0.7979·(x − median)/mean absolute deviation
    about the median; if both are 0 the history is constant, so any change is a departure
    (±inf). Non-finite history values (failed runs) are ignored.
    """
    past = [float(v) for v in history if math.isfinite(v)]
    if len(past) < min_history or not math.isfinite(value):
        return None
    med = statistics.median(past)
    deviations = [abs(v - med) for v in past]
    mad = statistics.median(deviations)
    if mad > 0:
        return 0.6745 * (value - med) / mad
    mean_ad = statistics.fmean(deviations)
    if mean_ad > 0:
        return 0.7979 * (value - med) / mean_ad
    if value == med:
        return 0.0
    return math.copysign(math.inf, value - med)


def is_outlier(z: float | None, threshold: float = 3.5) -> bool:
    """WHO flag at |z| >= 3.5; no score (too little history) is not an outlier."""
    return z is not None and abs(z) >= threshold
