"""Row rules of the hospital delivery registrations (住院分娩实名登记)."""

from __future__ import annotations

import polars as pl

from recon.ingest.feeds import HOSP

from .rules import (
    WARNING,
    Rule,
    RuleContext,
    certificate_form,
    division_known,
    id_birthplace,
    id_valid,
    in_range,
    mother_age,
    not_before_birth,
    not_future,
    structural,
)


def rules(ctx: RuleContext) -> list[Rule]:
    limits = ctx.limits
    return [
        *structural(HOSP),
        id_valid("mother_id", "产妇公民身份号码"),
        id_birthplace("mother_id", "产妇公民身份号码"),
        mother_age("mother_id", "delivered_at", limits),
        not_future("delivered_at", "分娩时间", ctx.as_of),
        not_future("registered_on", "登记日期", ctx.as_of),
        not_before_birth("registered_on", "登记日期", "delivered_at"),
        in_range("plurality", "胎数", 1, 4),
        Rule(
            "rank_plurality",
            "birth_rank",
            WARNING,
            "胎序应在 1 到胎数之间",
            pl.col("birth_rank").is_between(1, pl.col("plurality")),
        ),
        in_range("birth_order", "孩次", 1, 15),
        in_range(
            "birth_weight_g", "出生体重(克)", limits.birth_weight_g_min, limits.birth_weight_g_max
        ),
        in_range("gestation_weeks", "孕周", limits.gestation_weeks_min, limits.gestation_weeks_max),
        certificate_form("certificate_no"),
        Rule(
            "stillbirth_certificate",
            "certificate_no",
            WARNING,
            "死产不应签发出生医学证明",
            (pl.col("outcome") != "死产") | pl.col("certificate_no").is_null(),
        ),
        *division_known("division_code", "产妇户籍地区划代码", ctx.known_divisions),
    ]
