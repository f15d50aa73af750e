"""The squeezed figures (挤干水分): verified births and the townships' indicators.

The report's first section. Per township and for the county: register records reported,
minus those found fictitious and duplicate, plus the births found missing, as the latest
run found them and as corrected (applied cases only); the register's sex ratio reported and
verified; 出生上报准确率 and 上报及时率, by which county offices rank townships every
month; and the corrections applied to date. Everything comes from the cases and the
corrections ledger (sql/metrics/squeeze.sql and neighbours), not from corrected_pop.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import duckdb
import polars as pl

from recon.report import stats
from recon.resources import sql
from recon.signoff import CATEGORY_LABELS, FEED_LABELS
from recon.store.connection import query_frame

COUNTY = "全区（县）"
NO_TOWNSHIP = "乡镇不详（区划只到区县）"
# 襄阳区's clean-up by hand, the scale the county office compares the tool's work with.
BY_HAND = "对照：襄阳区 2003 年 10 月至 2009 年 6 月，手工核实更正错报、漏报、虚报记录 3,744 条。"


def _is_township(code: str | None) -> bool:
    # A code that stops at the county (…000000000 after the county) names no township.
    return code is not None and code[6:9] != "000"


def definitions(pop_days: int) -> dict[str, str]:
    """The definitions printed beside the figures, in Chinese."""
    return {
        "verified": "核实出生数 = 上报出生数（全员人口登记记录）− 查出的虚报 − 查出的重报 "
        "+ 查出的漏报；虚报、重报在登记记录所在乡镇扣除，漏报按案件的区划计入乡镇",
        "night": "本次核实：本次运行仍成立的案件（未消失、未被签字否决；含待签、签字中、"
        "已通过和已更正的）",
        "corrected": "更正后：只计六签字全部同意并已应用的案件",
        "reported": "上报出生数：数据库中全员人口出生登记记录的现行版本"
        "（含被查出虚报、重报的记录）",
        "srb": "性别比 = 男 ÷ 女 × 100，对数法 95% 区间 exp(ln(M/F) ± 1.96·√(1/M+1/F))×100；"
        "上报用登记记录自身的性别；核实后剔除虚报、重报，性别错报的记录用建议的性别，"
        "漏报的出生用三方一致的性别",
        "accuracy": "出生上报准确率 = 没有错报、虚报、重报案件（本次仍成立或已更正）的登记记录 "
        "÷ 登记记录",
        "timeliness": f"上报及时率 = 出生后 {pop_days} 天内录入（上报日期 − 出生日期 ≤ "
        f"{pop_days} 天）的登记记录 ÷ 已录入的登记记录",
        "ranking": "县级部门每月按这两项指标给乡镇排名（一月一排名）：“本月”只计数据日所在月份"
        "内上报的登记记录，“累计”计截至数据日的全部登记记录；名次 1 为最好",
        "moves": "区划错报（登记在另一乡镇）不在乡镇之间移动出生，只计入准确率",
    }


def build(
    con: duckdb.DuckDBPyConnection, pop_days: int, low: float, high: float, as_of: date
) -> dict[str, Any]:
    """The first section's figures, JSON-able (metrics.json `squeeze`).

    Accuracy and timeliness are given to date and for the as-of month (the records reported
    in it), each with the townships' ranks: county offices rank townships every month.
    """
    month_start = as_of.replace(day=1)
    counts = query_frame(con, sql("metrics/squeeze"))
    shares = query_frame(
        con,
        sql("metrics/township_accuracy"),
        {"pop_days": pop_days, "month_start": month_start, "as_of": as_of},
    )
    applied = query_frame(con, sql("metrics/applied_corrections"))
    names = {
        code: name for code, name, _ in query_frame(con, sql("metrics/division_names")).iter_rows()
    }
    by_township = {r["township"]: r for r in shares.iter_rows(named=True)}
    applied_here = {
        str(t): int(n)
        for t, n in applied.group_by("township").agg(pl.col("corrections").sum()).iter_rows()
    }

    def ratio(boys: int, girls: int) -> dict[str, Any]:
        return stats.sex_ratio(int(boys), int(girls), low, high).as_json()

    rows = []
    for r in counts.iter_rows(named=True):
        code = r["township"]
        if code is None:
            name = COUNTY
        elif not _is_township(code):
            name = NO_TOWNSHIP
        else:
            name = names.get(code, f"未知乡镇（{code}）")
        share = by_township.get(
            code,
            {"records": 0, "accurate": 0, "timely": 0, "records_month": 0,
             "accurate_month": 0, "timely_month": 0},
        )  # fmt: skip
        night = _verified(r["reported"], r["fictitious"], r["duplicate"], r["missing"])
        corrected = _verified(
            r["reported"], r["fictitious_applied"], r["duplicate_applied"], r["missing_applied"]
        )
        rows.append(
            {
                "township": code,
                "name": name,
                "reported": r["reported"],
                "night": night,
                "corrected": corrected,
                "srb": {
                    "reported": ratio(r["reported_boys"], r["reported_girls"]),
                    "night": ratio(r["night_boys"], r["night_girls"]),
                    "corrected": ratio(r["applied_boys"], r["applied_girls"]),
                },
                "accuracy": _share(share["accurate"], share["records"]),
                "timeliness": _share(share["timely"], share["records"]),
                "accuracy_month": _share(share["accurate_month"], share["records_month"]),
                "timeliness_month": _share(share["timely_month"], share["records_month"]),
                "applied": (
                    sum(applied_here.values()) if code is None else applied_here.get(code, 0)
                ),
            }
        )
    county = next((r for r in rows if r["township"] is None), None)
    townships = sorted((r for r in rows if r["township"] is not None), key=lambda r: r["township"])
    # Only real townships are ranked; records placed at the county only are no township's.
    ranked = [r for r in townships if _is_township(r["township"])]
    for key in ("accuracy", "timeliness", "accuracy_month", "timeliness_month"):
        _rank(ranked, key)
    return {
        "definitions": definitions(pop_days),
        "month": {"from": month_start.isoformat(), "to": as_of.isoformat()},
        "normal_range": [low, high],
        "county": county or _empty(),
        "townships": townships,
        "applied": _applied(applied),
    }


def _verified(reported: int, fictitious: int, duplicate: int, missing: int) -> dict[str, Any]:
    verified = int(reported) - int(fictitious) - int(duplicate) + int(missing)
    return {
        "fictitious": int(fictitious),
        "duplicate": int(duplicate),
        "missing": int(missing),
        "verified": verified,
        "change": verified - int(reported),
        "change_share": round((verified - int(reported)) / int(reported), 4) if reported else None,
    }


def _share(part: int, whole: int) -> dict[str, Any]:
    return {
        "count": int(part),
        "records": int(whole),
        "share": round(int(part) / int(whole), 4) if whole else None,
        "rank": None,
    }


def _rank(rows: list[dict[str, Any]], key: str) -> None:
    """Competition ranks (1, 2, 2, 4) by share, best first; a township with no records none."""
    for row in rows:
        share = row[key]["share"]
        if share is not None:
            row[key]["rank"] = 1 + sum(
                1 for r in rows if r[key]["share"] is not None and r[key]["share"] > share
            )


def _applied(applied: pl.DataFrame) -> dict[str, Any]:
    by_category = {c: 0 for c in CATEGORY_LABELS}
    by_target: dict[str, int] = {}
    for _, category, target, n, _, _ in applied.iter_rows():
        by_category[category] = by_category.get(category, 0) + int(n)
        by_target[target] = by_target.get(target, 0) + int(n)
    # Dates (the SQL casts them), as ISO text.
    first = str(applied["first_applied"].min()) if applied.height else None
    last = str(applied["last_applied"].max()) if applied.height else None
    return {
        "total": int(applied["corrections"].sum()) if applied.height else 0,
        "by_category": [
            {"category": c, "label": CATEGORY_LABELS[c], "corrections": n}
            for c, n in by_category.items()
        ],
        "by_target": [
            {"target": t, "label": FEED_LABELS.get(t, t), "corrections": n}
            for t, n in sorted(by_target.items())
        ],
        "first_applied": first,
        "last_applied": last,
        "by_hand": BY_HAND,
    }


def _empty() -> dict[str, Any]:
    zero = _verified(0, 0, 0, 0)
    none = stats.sex_ratio(0, 0).as_json()
    return {
        "township": None,
        "name": COUNTY,
        "reported": 0,
        "night": zero,
        "corrected": zero,
        "srb": {"reported": none, "night": none, "corrected": none},
        "accuracy": _share(0, 0),
        "timeliness": _share(0, 0),
        "applied": 0,
    }
