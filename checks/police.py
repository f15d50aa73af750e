"""Row rules of the police household registrations (公安户籍 出生登记)."""

from __future__ import annotations

import polars as pl

from recon.ingest.feeds import POLICE

from .rules import (
    WARNING,
    Rule,
    RuleContext,
    certificate_form,
    division_known,
    id_birthplace,
    id_matches_birth_date,
    id_matches_sex,
    id_valid,
    mother_age,
    not_before_birth,
    not_future,
    structural,
)


def rules(ctx: RuleContext) -> list[Rule]:
    return [
        *structural(POLICE),
        id_valid("id_number", "公民身份号码"),
        id_birthplace("id_number", "公民身份号码"),
        id_matches_birth_date("id_number", "birth_date"),
        id_matches_sex("id_number", "sex"),
        id_valid("mother_id", "母亲公民身份号码"),
        id_birthplace("mother_id", "母亲公民身份号码"),
        mother_age("mother_id", "birth_date", ctx.limits),
        not_future("birth_date", "出生日期", ctx.as_of),
        not_future("registered_on", "登记日期", ctx.as_of),
        not_before_birth("registered_on", "登记日期", "birth_date"),
        certificate_form("certificate_no"),
        Rule(
            "certificate_missing",
            "certificate_no",
            WARNING,
            "出生登记应凭出生医学证明办理（补录除外）",
            (pl.col("registration_type") != "出生登记") | pl.col("certificate_no").is_not_null(),
        ),
        *division_known("division_code", "户籍地区划代码", ctx.known_divisions),
    ]
