"""Row rules of the population register (全员人口信息系统 出生信息)."""

from __future__ import annotations

from recon.ingest.feeds import POP

from .rules import (
    Rule,
    RuleContext,
    division_known,
    id_birthplace,
    id_matches_birth_date,
    id_matches_sex,
    id_valid,
    in_range,
    mother_age,
    not_before_birth,
    not_future,
    structural,
)


def rules(ctx: RuleContext) -> list[Rule]:
    return [
        # Quarantine: no key, a key repeated in the file, a required value missing or unreadable.
        *structural(POP),
        # Warnings: the row is kept, the finding goes to reconciliation and the report.
        id_valid("id_number", "公民身份号码"),
        id_birthplace("id_number", "公民身份号码"),
        id_matches_birth_date("id_number", "birth_date"),
        id_matches_sex("id_number", "sex"),
        id_valid("mother_id", "母亲公民身份号码"),
        id_birthplace("mother_id", "母亲公民身份号码"),
        mother_age("mother_id", "birth_date", ctx.limits),
        not_future("birth_date", "出生日期", ctx.as_of),
        not_future("reported_on", "上报日期", ctx.as_of),
        not_before_birth("reported_on", "上报日期", "birth_date"),
        in_range("birth_order", "孩次", 1, 15),
        *division_known("division_code", "居住地区划代码", ctx.known_divisions),
    ]
