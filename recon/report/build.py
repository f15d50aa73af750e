"""Report: the auditors' report, one self-contained HTML file in Chinese, and metrics.json.

`build` turns the store's figures (recon.metrics) into one JSON-able dict with the
statistics of recon.stats applied; `write` saves that dict as metrics.json and renders
the same dict into report.html (template in recon/templates/), so the two never differ.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import jinja2
import polars as pl
from markupsafe import Markup

from recon import __version__
from recon.config import Config
from recon.ingest.feeds import FEED_SPECS
from recon.link.exact import LIVE
from recon.masking import mask_ids
from recon.outputs import write_json
from recon.report import charts, metrics, squeeze, stats
from recon.resources import sql
from recon.signoff import CATEGORY_LABELS, FEED_LABELS
from recon.store.connection import query_frame
from recon.vocabulary import COVERAGE_LABELS, METRIC_LABELS, RULE_LABELS, SCORE_PARTS, STATUS_LABELS

# The same Chinese words as the worklists use.
ASSUMPTIONS = [
    "封闭人口：只用出生已超过最长上报期限的队列，每个来源都有机会登记；更晚的出生不计入。",
    "只计真实活产：剔除死产、重报，以及仅全员人口有、其他来源均无证据的虚报嫌疑记录"
    "（经签字否决的虚报案件视为真实出生，计入）；性别用三方一致的性别。",
    "模型：三来源泊松对数线性模型，含主效应与任意两两交互（三阶交互无法估计），"
    "按信息准则选择；区间为 Chao (1987) 对数正态区间。",
    "同质性：住院分娩看不到在家分娩和外地分娩，各来源的登记概率因人而异；已按性别分层，"
    "乡镇分层见下表。",
    "最大风险——来源相依：全员人口部分由住院分娩和公安户籍数据补录，公安落户又需要出生医学证明，"
    "三个来源并不独立，正相依会使估计偏低；两来源 Chapman 估计尤其如此，低于已观察数时说明相依。",
]


@dataclass(frozen=True)
class ReportResult:
    html: Path
    metrics: Path
    html_bytes: int
    seconds: float
    as_of: str
    flags: int  # history outliers, flagged sex ratios and red warnings


# --- the figures --------------------------------------------------------------------------


def build(con: duckdb.DuckDBPyConnection, config: Config, full_id: bool = False) -> dict[str, Any]:
    """Every figure of the report, JSON-able (this is metrics.json)."""
    runs = query_frame(con, sql("metrics/finished_runs"))
    if runs.is_empty():
        raise LookupError("the store holds no finished run: run `recon run` first")
    run_id, as_of, _ = runs.row(-1)
    figures = metrics.collect(con, as_of, config)
    mask = (lambda s: s) if full_id else mask_ids
    rep = config.report
    township_names = figures.townships
    data: dict[str, Any] = {
        "title": "出生人口数据质量与核对报告",
        "generated_at": datetime.now().isoformat(timespec="seconds"),
        "tool_version": __version__,
        "as_of": as_of.isoformat(),
        "run_id": run_id,
        "runs": runs.height,
        "ids_masked": not full_id,
        "deadlines_days": figures.deadlines,
        # The first section: what the register holds once the water is squeezed out.
        "squeeze": squeeze.build(con, figures.deadlines["pop"], rep.srb_low, rep.srb_high, as_of),
        "feeds": _feeds(figures, mask),
        "reconciliation": _reconciliation(figures, township_names),
        "sex_ratio": _sex_ratios(figures, township_names, rep.srb_low, rep.srb_high),
        "completeness": _completeness(figures, township_names, rep.red_warnings),
        "history": _history(metrics.history(con), run_id, township_names, config),
        "missed_births": _missed(figures, township_names, rep),
    }
    data["attention"] = _attention(data)
    return data


def _attention(data: dict[str, Any]) -> dict[str, Any]:
    """What needs attention (the CLI's 需关注 N 项), each with the anchor where it is shown.

    In the order of the report: sex ratios whose whole interval is outside the normal
    range, the townships with a red warning in the monthly ranking, departures in the
    metric history.
    """
    items = []
    for row in data["sex_ratio"]["flagged"]:
        items.append(
            {
                "kind": "srb",
                "kind_label": "出生人口性别比" + ("偏高" if row["flag"] == "high" else "偏低"),
                "text": f"{row['name']}·{row['year'] or '各年合计'}·"
                f"{FEED_LABELS.get(row['feed'], '三方一致')}：{row['ratio']:.1f}"
                f"（95% 区间 {row['lower']:.1f}–{row['upper']:.1f}）",
                "anchor": row["anchor"],
            }
        )
    ranking = data["completeness"]["ranking"]
    for row in ranking["table"]:
        if row["red_warning"]:
            items.append(
                {
                    "kind": "red_warning",
                    "kind_label": "一月一排名红色预警",
                    "text": f"{row['name']}：{ranking['latest']} 出生队列第 {row['rank']} 名，"
                    f"综合得分 {row['score']:.1f}",
                    "anchor": row["anchor"],
                }
            )
    for entry in data["history"]["flagged"]:
        items.append(
            {
                "kind": "history",
                "kind_label": "指标明显偏离以往",
                "text": f"{entry['metric_label']}（{entry['scope_label']}）：本次 "
                f"{entry['latest']}，以往中位数 {entry['median_before']}，"
                f"修正 z 分数 {_zscore(entry['z'])}",
                "anchor": entry["anchor"],
            }
        )
    return {"count": len(items), "entries": items}


def _zscore(z: float | str | None) -> str:
    """A modified z-score as the report prints it (±∞ where MAD and the mean deviation are 0)."""
    return "—" if z is None else {"inf": "+∞", "-inf": "−∞"}.get(str(z), str(z))


def _feeds(figures: metrics.Figures, mask: Any) -> list[dict[str, Any]]:
    out = []
    for feed in metrics.FEEDS:
        spec = FEED_SPECS[feed]
        files = figures.files.filter(pl.col("feed") == feed)
        failures = figures.rule_failures.filter(pl.col("feed") == feed)
        examples = figures.rule_examples.filter(pl.col("feed") == feed)
        checks = []
        for _, field, rule, severity, count, rows in failures.iter_rows():
            ex = examples.filter((pl.col("field") == field) & (pl.col("rule") == rule))
            label = spec.column(field).label if field in spec.column_names else field
            checks.append(
                {
                    "field": field,
                    "field_label": label,
                    "rule": rule,
                    "rule_label": RULE_LABELS.get(
                        rule, "超出合理范围" if "range" in rule else rule
                    ),
                    "severity": severity,
                    "failures": count,
                    "rows": rows,
                    "share": count / rows if rows else None,
                    "examples": [
                        {"file": f, "line": line, "detail": mask(detail)}
                        for _, _, _, f, line, detail in ex.head(3).iter_rows()
                    ],
                }
            )
        expectations = [
            {
                "label": row["label"] or row["expectation"],
                "expectation": row["expectation"],
                "column": row["column"],
                "success": row["success"],
                "observed": _observed(row["observed_value"]),
                "unexpected_count": row["unexpected_count"],
                "unexpected_percent": row["unexpected_percent"],
            }
            for row in figures.expectations.filter(pl.col("feed") == feed).iter_rows(named=True)
        ]
        trend = (
            files.group_by("run_id", "as_of")
            .agg(pl.col("rows_read", "rows_accepted", "rows_quarantined").sum())
            .sort("run_id")
        )
        out.append(
            {
                "feed": feed,
                "label": FEED_LABELS[feed],
                "files": [
                    {
                        "run_id": r["run_id"],
                        "file": r["file_name"],
                        "format": r["format"],
                        "encoding": r["encoding"],
                        "rows_read": r["rows_read"],
                        "rows_accepted": r["rows_accepted"],
                        "rows_quarantined": r["rows_quarantined"],
                        "adds_up": r["rows_read"] == r["rows_accepted"] + r["rows_quarantined"],
                    }
                    for r in files.iter_rows(named=True)
                ],
                "rows_read": int(files["rows_read"].sum()),
                "rows_accepted": int(files["rows_accepted"].sum()),
                "rows_quarantined": int(files["rows_quarantined"].sum()),
                "checks": checks,
                "latest_quarantine": {
                    kind: rows
                    for _, kind, rows in figures.quarantine_kinds.filter(
                        pl.col("feed") == feed
                    ).iter_rows()
                },
                "expectations": expectations,
                "expectations_failed": sum(1 for e in expectations if not e["success"]),
                "trend": [
                    {
                        "run_id": r["run_id"],
                        "as_of": r["as_of"].isoformat(),
                        "rows_read": r["rows_read"],
                        "rows_accepted": r["rows_accepted"],
                        "rows_quarantined": r["rows_quarantined"],
                    }
                    for r in trend.iter_rows(named=True)
                ],
            }
        )
    return out


def _observed(value: str | None) -> str | None:
    """A Great Expectations observed value, numbers rounded for reading."""
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return value
    return None if number is None else f"{number:.4g}" if abs(number) < 10 else f"{number:,.1f}"


def _combination_label(hosp: bool, police: bool, pop: bool) -> str:
    held = [FEED_LABELS[f] for f, on in (("hosp", hosp), ("police", police), ("pop", pop)) if on]
    if len(held) == 3:
        return "三方都有"
    return "仅" + held[0] if len(held) == 1 else "＋".join(held)


def _reconciliation(figures: metrics.Figures, names: dict[str, str]) -> dict[str, Any]:
    combos = (
        figures.combinations.group_by("in_hosp", "in_police", "in_pop")
        .agg(
            pl.col("births").sum().alias("births"),
            pl.col("births").filter(pl.col("outcome") == LIVE).sum().alias("live"),
            pl.col("births").filter(pl.col("outcome") != LIVE).sum().alias("stillbirths"),
            pl.col("births").filter(pl.col("real_birth")).sum().alias("real"),
        )
        .sort("births", descending=True)
    )
    combinations = [
        {
            "hosp": h,
            "police": p,
            "pop": r,
            "label": _combination_label(h, p, r),
            "births": n,
            "live": live,
            "stillbirths": still,
            "real": real,
        }
        for h, p, r, n, live, still, real in combos.iter_rows()
    ]
    by_category = (
        figures.findings_by_township.group_by("category", "target_system")
        .agg(pl.col("cases").sum())
        .sort("category", "target_system")
    )
    township_rows = []
    pivot = figures.findings_by_township.group_by("township", "category").agg(pl.col("cases").sum())
    for (township,), part in pivot.sort("township").group_by(["township"], maintain_order=True):
        counts = dict(zip(part["category"], part["cases"], strict=True))
        township_rows.append(
            {
                "township": township,
                "name": names.get(str(township), str(township)),
                **{c: int(counts.get(c, 0)) for c in CATEGORY_LABELS},
                "total": int(sum(counts.values())),
            }
        )
    progress: dict[str, dict[str, int]] = {}
    for category, status, cases in figures.case_progress.iter_rows():
        progress.setdefault(category, {})[status] = cases
    return {
        "combinations": combinations,
        "births_linked": int(figures.combinations["births"].sum()),
        "findings": [
            {
                "category": c,
                "category_label": CATEGORY_LABELS[c],
                "target": t,
                "target_label": FEED_LABELS[t],
                "cases": n,
            }
            for c, t, n in by_category.iter_rows()
        ],
        "findings_by_township": township_rows,
        "case_progress": {
            c: {s: progress.get(c, {}).get(s, 0) for s in STATUS_LABELS} for c in CATEGORY_LABELS
        },
    }


def _is_township(code: str | None) -> bool:
    # A code that stops at the county (…000000000 after the county) names no township.
    return code is not None and code[6:9] != "000"


def _sex_ratios(
    figures: metrics.Figures, names: dict[str, str], low: float, high: float
) -> dict[str, Any]:
    def ratio(boys: int, girls: int) -> dict[str, Any]:
        return stats.sex_ratio(int(boys), int(girls), low, high).as_json()

    rows = []
    for township, year, feed, boys, girls in figures.sex_ratio.iter_rows():
        if township is not None and not _is_township(township):
            continue
        rows.append(
            {
                "township": township,
                "name": names.get(township, township) if township else "全区（县）",
                "year": year,
                "feed": feed,
                **ratio(boys, girls),
            }
        )

    def pick(township: str | None, year: int | None, feed: str) -> dict[str, Any] | None:
        for row in rows:
            if row["township"] == township and row["year"] == year and row["feed"] == feed:
                return row
        return None

    gaps = []
    for township in [None, *sorted({r["township"] for r in rows if r["township"]})]:
        pop, hosp = pick(township, None, "pop"), pick(township, None, "hosp")
        if pop and hosp and pop["ratio"] is not None and hosp["ratio"] is not None:
            gaps.append(
                {
                    "township": township,
                    "name": pop["name"],
                    "pop": pop["ratio"],
                    "hosp": hosp["ratio"],
                    "gap": round(pop["ratio"] - hosp["ratio"], 1),
                    "girls_short": _girls_short(pop, hosp),
                }
            )
    for n, row in enumerate(r for r in rows if r["flag"]):
        row["anchor"] = f"attn-srb-{n + 1}"
    return {
        "normal_range": [low, high],
        "method": "对数法 95% 区间：exp(ln(M/F) ± 1.96·√(1/M+1/F))×100；"
        "仅当整个区间落在正常范围之外才标记",
        "rows": rows,
        "flagged": [r for r in rows if r["flag"]],
        "register_vs_hospital": gaps,
    }


def _girls_short(pop: dict[str, Any], hosp: dict[str, Any]) -> int | None:
    """Girls the register would need to carry to match the hospital's ratio for its boys."""
    if not hosp["ratio"]:
        return None
    return max(0, round(pop["boys"] * 100 / hosp["ratio"] - pop["girls"]))


def _completeness(
    figures: metrics.Figures, names: dict[str, str], red_warnings: int
) -> dict[str, Any]:
    def rate(num: int | None, den: int | None) -> float | None:
        return round(num / den, 4) if num is not None and den else None

    county = metrics.county_coverage(figures.coverage)
    summary = [
        {
            "feed": feed,
            "label": COVERAGE_LABELS[feed],
            "due": due,
            "held": held,
            "coverage": rate(held, due),
            "timely": timely,
            "timeliness": rate(timely, held) if feed != "certificate" else None,
            "deadline_days": figures.deadlines.get(feed),
        }
        for feed, due, held, timely in county.sort("feed").iter_rows()
    ]
    townships = []
    for (township,), part in figures.coverage.group_by(["township"], maintain_order=True):
        if not _is_township(township):
            continue
        row: dict[str, Any] = {"township": township, "name": names.get(township, township)}
        for _, feed, due, held, timely in part.iter_rows():
            row[f"{feed}_coverage"] = rate(held, due)
            row[f"{feed}_due"] = due
            if feed != "certificate":
                row[f"{feed}_timeliness"] = rate(timely, held)
        townships.append(row)
    return {
        "definitions": {
            "coverage": "某来源覆盖率 = 该来源登记的真实出生 ÷ 截至数据日"
            "已到该来源上报期限的真实出生（未到期限的出生不计入分子分母）",
            "timeliness": "及时率 = 在期限内录入的记录 ÷ 已到期限且已登记的记录",
            "certificate": "出生医学证明办理率 = 已到落户期限的真实出生中，住院分娩或公安户籍"
            "记录带有出生医学证明编号的比例",
            "score": "综合得分 = (" + " + ".join(SCORE_PARTS.values()) + ") ÷ 5 × 100，"
            "按出生月份统计，只排名所有期限都已过的月份",
        },
        "summary": summary,
        "townships": sorted(townships, key=lambda r: r["township"]),
        "lags": _lags(figures),
        "ranking": _ranking(figures, names, red_warnings),
    }


def _lags(figures: metrics.Figures) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for feed in metrics.FEEDS:
        part = figures.lags.filter(pl.col("feed") == feed).sort("lag")
        deadline = figures.deadlines[feed]
        total = int(part["records"].sum())
        if not total:
            out[feed] = {"records": 0, "bins": [], "deadline_days": deadline}
            continue
        width = max(1, deadline // 8)
        top = width * 20  # the last bin gathers the tail
        bins: dict[int, int] = {}
        for lag, n in part.select("lag", "records").iter_rows():
            start = min(max(int(lag), 0) // width * width, top)
            bins[start] = bins.get(start, 0) + int(n)
        late = int(part.filter(pl.col("lag") > deadline)["records"].sum())
        out[feed] = {
            "records": total,
            "deadline_days": deadline,
            "median": _quantile(part, 0.5),
            "p90": _quantile(part, 0.9),
            "p99": _quantile(part, 0.99),
            "late": late,
            "late_share": round(late / total, 4),
            "negative": int(part.filter(pl.col("lag") < 0)["records"].sum()),
            "bin_days": width,
            "bins": [
                {"from": s, "to": s + width if s < top else None, "records": bins[s]}
                for s in sorted(bins)
            ],
        }
    return out


def _quantile(lags: pl.DataFrame, q: float) -> int:
    """The lag below which a share q of the records lie (lags sorted, with their counts)."""
    reached = lags["records"].cum_sum() >= q * float(lags["records"].sum())
    return int(lags["lag"][int(reached.arg_max() or 0)])


def _ranking(figures: metrics.Figures, names: dict[str, str], red: int) -> dict[str, Any]:
    monthly = figures.monthly.filter(
        pl.col("township").map_elements(_is_township, return_dtype=pl.Boolean)
    )
    if monthly.is_empty():
        return {"months": [], "latest": None, "table": [], "history": []}
    scored = monthly.with_columns(
        (pl.mean_horizontal(*SCORE_PARTS) * 100).round(1).alias("score")
    ).with_columns(
        pl.col("score")
        .rank("min", descending=True)
        .over("birth_month")
        .cast(pl.Int32)
        .alias("rank"),
        pl.len().over("birth_month").alias("ranked"),
    )
    months = sorted(scored["birth_month"].unique().to_list())
    latest = months[-1]
    table = []
    for row in scored.filter(pl.col("birth_month") == latest).sort("rank").iter_rows(named=True):
        warn = row["ranked"] > red and row["rank"] > row["ranked"] - red
        table.append(
            {
                "township": row["township"],
                "name": names.get(row["township"], row["township"]),
                "births": row["births"],
                **{k: _round(row[k]) for k in SCORE_PARTS},
                "score": row["score"],
                "rank": row["rank"],
                "red_warning": warn,
                "anchor": f"attn-rank-{row['township']}" if warn else None,
            }
        )
    recent = months[-6:]
    history = []
    for (township,), part in scored.filter(pl.col("birth_month").is_in(recent)).group_by(
        ["township"]
    ):
        ranks = dict(zip(part["birth_month"], part["rank"], strict=True))
        history.append(
            {
                "township": township,
                "name": names.get(str(township), str(township)),
                "ranks": [ranks.get(m) for m in recent],
            }
        )
    return {
        "months": recent,
        "latest": latest,
        "table": table,
        "history": sorted(history, key=lambda r: r["township"]),
    }


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


def _scope_label(scope: str, names: dict[str, str]) -> str:
    if ":" in scope:
        feed, township = scope.split(":", 1)
        return f"{FEED_LABELS.get(feed, feed)}·{names.get(township, township)}"
    labels = {**FEED_LABELS, **CATEGORY_LABELS, "county": "全区（县）", "consensus": "三方一致"}
    labels["certificate"] = "出生医学证明"
    return labels.get(scope, scope)


def _departs(past: list[float], value: float | None, min_change: float) -> bool:
    """Whether `value` moved from the median of `past` by at least `min_change` of it."""
    if value is None or not past:
        return False
    median = statistics.median(past)
    return abs(value - median) >= min_change * abs(median) if median else value != 0


def _history(
    history: pl.DataFrame, run_id: int, names: dict[str, str], config: Config
) -> dict[str, Any]:
    rep = config.report
    series = []
    flagged: list[dict[str, Any]] = []
    for (metric, scope), part in history.group_by(["metric", "scope"], maintain_order=True):
        part = part.sort("run_id")
        latest = part.filter(pl.col("run_id") == run_id)
        previous = part.filter(pl.col("run_id") < run_id).tail(rep.history_runs)
        past = [float(v) for v in previous["value"].drop_nulls()]
        value = latest["value"][0] if latest.height else None
        z = stats.modified_z(past, float(value), rep.min_history) if value is not None else None
        entry = {
            "metric": metric,
            "metric_label": METRIC_LABELS.get(str(metric), str(metric)),
            "scope": scope,
            "scope_label": _scope_label(str(scope), names),
            "runs": part["run_id"].to_list(),
            "as_of": [d.isoformat() for d in part["as_of"]],
            "values": [_round(v) for v in part["value"]],
            "latest": _round(value),
            "median_before": _round(statistics.median(past)) if past else None,
            "previous_runs": len(past),
            "z": None if z is None else (round(z, 2) if abs(z) != float("inf") else str(z)),
            "flag": stats.is_outlier(z, rep.outlier_z)
            and _departs(past, value, rep.outlier_min_change),
        }
        series.append(entry)
        if entry["flag"]:
            entry["anchor"] = f"attn-history-{len(flagged) + 1}"
            flagged.append(entry)
    return {
        "method": f"修正 z 分数 0.6745·(x − 中位数)/MAD，与此前最多 {rep.history_runs} 次运行比较，"
        f"|z| ≥ {rep.outlier_z} 且偏离中位数至少 {rep.outlier_min_change:.0%} 时标记；"
        "MAD 为 0 时用 0.7979·(x − 中位数)/平均绝对偏差；"
        f"此前运行少于 {rep.min_history} 次时不判断",
        "threshold": rep.outlier_z,
        "series": series,
        "flagged": flagged,
    }


def _missed(figures: metrics.Figures, names: dict[str, str], rep: Any) -> dict[str, Any]:
    cells = figures.mse_cells
    criterion = rep.mse_criterion

    def fit(frame: pl.DataFrame) -> stats.Estimate:
        grouped = frame.group_by("in_hosp", "in_police", "in_pop").agg(pl.col("births").sum())
        # Cells no birth falls in count 0 (stats.estimate fills them in).
        counts = {(int(h), int(p), int(r)): int(n) for h, p, r, n in grouped.iter_rows()}
        return stats.estimate(counts, criterion)

    real = cells.filter(pl.col("real_birth"))
    overall = fit(real)
    by_sex = {sex: fit(real.filter(pl.col("sex") == sex)) for sex in ("M", "F")}
    sensitivity = fit(cells.filter(pl.col("real_birth") | pl.col("pop_only_flagged")))

    def total(e: stats.Estimate) -> tuple[float | None, float | None, float | None]:
        if e.chosen is None:
            return None, None, None
        return e.chosen.total, e.chosen.lower, e.chosen.upper

    boys, girls = total(by_sex["M"]), total(by_sex["F"])
    corrected: dict[str, Any] = {"ratio": None, "lower": None, "upper": None}
    if boys[0] and girls[0] and boys[1] and girls[2] and boys[2] and girls[1]:
        corrected = {
            "ratio": round(100 * boys[0] / girls[0], 1),
            # Bounds from the ends of the two intervals: wider than a joint interval.
            "lower": round(100 * boys[1] / girls[2], 1),
            "upper": round(100 * boys[2] / girls[1], 1),
        }
    observed_srb = stats.sex_ratio(
        by_sex["M"].n_observed, by_sex["F"].n_observed, rep.srb_low, rep.srb_high
    ).as_json()
    townships = []
    for (township,), part in real.group_by(["township"], maintain_order=True):
        if not _is_township(township):
            continue
        est = fit(part)
        townships.append(
            {
                "township": township,
                "name": names.get(str(township), str(township)),
                **_estimate_summary(est),
            }
        )
    return {
        "cohort": {
            "born_on_or_before": (
                figures.as_of - timedelta(days=max(figures.deadlines.values()))
            ).isoformat(),
            "longest_deadline_days": max(figures.deadlines.values()),
            "criterion": criterion,
        },
        "overall": {**_estimate_summary(overall), "detail": overall.as_json()},
        "by_sex": {s: {**_estimate_summary(e), "detail": e.as_json()} for s, e in by_sex.items()},
        "observed_srb": observed_srb,
        "corrected_srb": corrected,
        "sensitivity": {
            "note": "把仅全员人口有、尚未核实的虚报嫌疑记录也当作真实出生时的估计",
            **_estimate_summary(sensitivity),
        },
        "townships": sorted(townships, key=lambda r: r["township"]),
        "pairwise": {k: v.as_json() for k, v in overall.pairwise.items()},
        "assumptions": ASSUMPTIONS,
    }


def _estimate_summary(e: stats.Estimate) -> dict[str, Any]:
    chosen, runner = e.chosen, e.runner_up
    return {
        "observed": e.n_observed,
        "model": chosen.name if chosen else None,
        "model_label": chosen.description if chosen else None,
        "missed": _round(chosen.missed, 1) if chosen else None,
        "total": _round(chosen.total, 1) if chosen else None,
        "lower": _round(chosen.lower, 1) if chosen else None,
        "upper": _round(chosen.upper, 1) if chosen else None,
        "runner_up": runner.name if runner else None,
        "runner_up_total": _round(runner.total, 1) if runner else None,
        "runner_up_interval": [_round(runner.lower, 1), _round(runner.upper, 1)]
        if runner
        else None,
        "reason": e.reason,
    }


# --- rendering -------------------------------------------------------------------------------


def _charts(data: dict[str, Any]) -> dict[str, Markup]:
    """The report's inline SVG charts, from the same figures as metrics.json."""
    out: dict[str, Markup] = {}
    for feed in data["feeds"]:
        trend = feed["trend"]
        if len(trend) < 2:  # one point is no trend
            continue
        out[f"trend_{feed['feed']}"] = Markup(
            charts.line_chart(
                f"{feed['label']}：各次运行读取、接收、隔离行数",
                [t["as_of"] for t in trend],
                {
                    "读取": [t["rows_read"] for t in trend],
                    "接收": [t["rows_accepted"] for t in trend],
                    "隔离": [t["rows_quarantined"] for t in trend],
                },
                unit="行",
            )
        )
    rec = data["reconciliation"]
    out["combinations"] = Markup(
        charts.bar_chart(
            "各来源组合见证的出生数",
            [(c["label"], c["births"]) for c in rec["combinations"]],
            unit="例",
        )
    )
    srb = data["sex_ratio"]
    low, high = srb["normal_range"]
    pooled = [r for r in srb["rows"] if r["year"] is None and r["township"]]
    for feed in ("pop", "hosp"):
        rows = [
            (r["name"], r["ratio"], r["lower"], r["upper"], bool(r["flag"]))
            for r in pooled
            if r["feed"] == feed
        ]
        out[f"srb_{feed}"] = Markup(
            charts.forest_plot(
                f"各乡镇出生人口性别比（{FEED_LABELS[feed]}，各年合计，95% 区间）",
                rows,
                band=(low, high),
                reference_label=f"正常范围 {low:g}–{high:g}",
            )
        )
    comp = data["completeness"]
    for feed, lag in comp["lags"].items():
        out[f"lag_{feed}"] = Markup(
            charts.histogram(
                f"{FEED_LABELS[feed]}：出生到录入的天数",
                [
                    (b["from"], b["to"] if b["to"] is not None else b["from"] + lag["bin_days"],
                     b["records"])
                    for b in lag["bins"]
                ],
                marker=lag["deadline_days"],
                marker_label=f"期限 {lag['deadline_days']} 天",
                unit="天",
            )
        )  # fmt: skip
    ranking = comp["ranking"]
    if ranking["latest"]:
        out["ranking"] = Markup(
            charts.bar_chart(
                f"{ranking['latest']} 出生队列乡镇综合得分",
                [(r["name"], r["score"]) for r in ranking["table"]],
                highlight={r["name"] for r in ranking["table"] if r["red_warning"]},
                unit="分",
            )
        )
    history = data["history"]
    for metric, title in (
        ("coverage", "各来源覆盖率"),
        ("srb", "出生人口性别比"),
        ("rows_read", "读取行数"),
    ):
        chosen = [
            s for s in history["series"] if s["metric"] == metric and ":" not in str(s["scope"])
        ]
        if not chosen:
            continue
        runs = sorted({(r, a) for s in chosen for r, a in zip(s["runs"], s["as_of"], strict=True)})
        if len(runs) < 2:
            continue
        index = {r: i for i, (r, _) in enumerate(runs)}
        series: dict[str, Sequence[float | None]] = {}
        flags = set()
        for s in chosen:
            values: list[float | None] = [None] * len(runs)
            for r, v in zip(s["runs"], s["values"], strict=True):
                values[index[r]] = v
            series[s["scope_label"]] = values
            if s["flag"]:
                flags.add((s["scope_label"], len(runs) - 1))
        out[f"history_{metric}"] = Markup(
            charts.line_chart(
                f"历次运行：{title}",
                [f"#{r} {a}" for r, a in runs],
                series,
                flagged=flags,
            )
        )
    return out


def render(data: dict[str, Any]) -> str:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("recon.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = lambda v: "—" if v is None else f"{v:,}"
    env.filters["pct"] = lambda v, d=1: "—" if v is None else f"{100 * v:.{d}f}%"
    env.filters["zscore"] = _zscore
    env.filters["fix"] = lambda v, d=1: "—" if v is None else f"{v:,.{d}f}"
    template = env.get_template("report.html.j2")
    return template.render(
        r=data,
        charts=_charts(data),
        feed_labels=FEED_LABELS,
        category_labels=CATEGORY_LABELS,
        status_labels=STATUS_LABELS,
        coverage_labels=COVERAGE_LABELS,
        score_parts=SCORE_PARTS,
    )


def write(
    con: duckdb.DuckDBPyConnection, out_dir: Path, config: Config, full_id: bool = False
) -> ReportResult:
    """Write report.html and metrics.json under `out_dir`."""
    started = time.perf_counter()
    data = build(con, config, full_id)
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics_path = out_dir / "metrics.json"
    write_json(data, metrics_path)
    html_path = out_dir / "report.html"
    html_path.write_text(render(data), encoding="utf-8")
    # History outliers, flagged sex ratios and red warnings: the list of the first section.
    flags = int(data["attention"]["count"])
    return ReportResult(
        html=html_path,
        metrics=metrics_path,
        html_bytes=html_path.stat().st_size,
        seconds=time.perf_counter() - started,
        as_of=data["as_of"],
        flags=flags,
    )
