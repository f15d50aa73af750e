"""Row rules shared by the feeds.

A rule is a Polars expression that is true where a row passes; a null result passes
(a rule cannot judge a value that is absent; `required` catches absence). Messages are
Chinese because officers read them in quarantine.csv and in the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Literal

import pandera.polars as pa
import polars as pl
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from recon.config import CheckLimits as Limits
from recon.ingest.feeds import Feed, Kind
from recon.ingest.normalize import BAD, id_check_ok

Severity = Literal["quarantine", "warning"]
QUARANTINE: Severity = "quarantine"
WARNING: Severity = "warning"

ID_FORM = r"^\d{17}[\dX]$"
CERTIFICATE_FORM = r"^[A-Z]\d{9}$"

_KIND_LABEL: dict[Kind, str] = {
    "text": "文本", "sex": "性别", "date": "日期", "datetime": "日期时间",
    "id_number": "公民身份号码", "division": "区划代码", "certificate": "出生医学证明编号",
    "integer": "整数", "enum": "取值",
}  # fmt: skip

DTYPES: dict[Kind, type[pl.DataType] | pl.DataType] = {
    "text": pl.String, "sex": pl.String, "date": pl.Date, "datetime": pl.Datetime("us"),
    "id_number": pl.String, "division": pl.String, "certificate": pl.String,
    "integer": pl.Int64, "enum": pl.String,
}  # fmt: skip


@dataclass(frozen=True)
class RuleContext:
    """What the rules of one run need to know beyond the row itself."""

    as_of: date
    limits: Limits
    known_divisions: frozenset[str] | None  # None: no divisions reference was given


@dataclass(frozen=True)
class Rule:
    name: str  # stable rule id, e.g. "mother_age"
    field: str  # the canonical column a failure is reported on
    severity: Severity
    message: str
    passes: pl.Expr

    @property
    def check_name(self) -> str:
        return f"{self.field}:{self.name}"


# --- structure: can the row be a record at all? -------------------------------------------


def structural(feed: Feed) -> list[Rule]:
    """Key present and unique in the file; required values present; values readable."""
    rules = [
        Rule(
            "key_repeated",
            feed.key,
            QUARANTINE,
            f"{_label(feed, feed.key)}在同一文件中重复，首次出现的行已接收",
            pl.col(feed.key).is_first_distinct() | pl.col(feed.key).is_null(),
        )
    ]
    for column in feed.columns:
        if column.required and column.kind != "sex":  # an empty sex is a valid "unknown"
            rules.append(
                Rule(
                    "required",
                    column.name,
                    QUARANTINE,
                    f"缺少必填项{column.label}",
                    pl.col(column.name).is_not_null() | pl.col(column.name + BAD),
                )
            )
        if column.kind not in ("text", "certificate"):
            rules.append(
                Rule(
                    "unreadable",
                    column.name,
                    QUARANTINE if column.required else WARNING,
                    f"{column.label}无法识别为{_KIND_LABEL[column.kind]}",
                    ~pl.col(column.name + BAD),
                )
            )
    return rules


def _label(feed: Feed, name: str) -> str:
    return feed.column(name).label


# --- identity numbers (GB 11643-1999) --------------------------------------------------------


def _well_formed(field: str) -> pl.Expr:
    return pl.col(field).str.contains(ID_FORM)


def _id_birth_date(field: str) -> pl.Expr:
    return pl.col(field).str.slice(6, 8).str.to_date("%Y%m%d", strict=False)


def id_valid(field: str, label: str) -> Rule:
    """Check character (ISO 7064 MOD 11-2) right and the encoded birth date a real date."""
    return Rule(
        "id_invalid",
        field,
        WARNING,
        f"{label}校验位或出生日期码错误",
        ~_well_formed(field) | (id_check_ok(pl.col(field)) & _id_birth_date(field).is_not_null()),
    )


@cache
def _birthplace_known(prefix: str, year: int) -> bool:
    try:
        ric.get_birth_place(f"{prefix}{year:04d}01010000")
    except (ValidationError, ValueError):
        return False
    return True


def _birthplace_ok(keys: pl.Series) -> pl.Series:
    # stdnum knows which county codes existed in which year; ask it once per distinct
    # (code, year) rather than once per row. The batch is the whole column (`when` does
    # not keep malformed numbers out of it): only ten digits are asked about, the rest
    # is left to the rules that read the number's form.
    digits = keys.filter(keys.str.contains(r"^\d{10}$")).unique()
    known = {k: _birthplace_known(k[:6], int(k[6:])) for k in digits}
    return keys.replace_strict(known, default=None, return_dtype=pl.Boolean)


def id_birthplace(field: str, label: str) -> Rule:
    """The first six digits name a county that existed in the holder's birth year."""
    key = pl.col(field).str.slice(0, 10)
    return Rule(
        "id_birthplace",
        field,
        WARNING,
        f"{label}的出生地码未知（不是出生当年存在的县级区划）",
        pl.when(_well_formed(field)).then(key.map_batches(_birthplace_ok, return_dtype=pl.Boolean)),
    )


def id_matches_birth_date(id_field: str, date_field: str) -> Rule:
    return Rule(
        "id_birth_date_mismatch",
        id_field,
        WARNING,
        "公民身份号码中的出生日期与出生日期不符",
        pl.when(_well_formed(id_field)).then(
            pl.col(id_field).str.slice(6, 8) == pl.col(date_field).dt.strftime("%Y%m%d")
        ),
    )


def id_matches_sex(id_field: str, sex_field: str) -> Rule:
    """The 17th digit is odd for a male, even for a female."""
    odd = pl.col(id_field).str.slice(16, 1).cast(pl.Int32, strict=False) % 2 == 1
    return Rule(
        "id_sex_mismatch",
        id_field,
        WARNING,
        "公民身份号码中的性别码与性别不符",
        pl.when(_well_formed(id_field)).then(odd == (pl.col(sex_field) == "M")),
    )


def mother_age(mother_id: str, birth: str, limits: Limits) -> Rule:
    """Mother's age at the birth, from the birth date in her identity number."""
    child = pl.col(birth).cast(pl.Date)
    child_ymd = child.dt.year() * 10_000 + child.dt.month() * 100 + child.dt.day()
    mother_ymd = pl.col(mother_id).str.slice(6, 8).cast(pl.Int64, strict=False)
    age = (child_ymd - mother_ymd) // 10_000
    return Rule(
        "mother_age",
        mother_id,
        WARNING,
        f"按母亲公民身份号码推算，生育时年龄不在{limits.mother_age_min}–{limits.mother_age_max}岁",
        pl.when(_well_formed(mother_id) & _id_birth_date(mother_id).is_not_null()).then(
            age.is_between(limits.mother_age_min, limits.mother_age_max)
        ),
    )


# --- dates --------------------------------------------------------------------------------------


def not_future(field: str, label: str, as_of: date) -> Rule:
    return Rule(
        "future_date",
        field,
        WARNING,
        f"{label}晚于数据截止日期 {as_of.isoformat()}",
        pl.col(field).cast(pl.Date) <= pl.lit(as_of),
    )


def not_before_birth(field: str, label: str, birth: str) -> Rule:
    return Rule(
        "before_birth",
        field,
        WARNING,
        f"{label}早于出生日期",
        pl.col(field).cast(pl.Date) >= pl.col(birth).cast(pl.Date),
    )


# --- other values --------------------------------------------------------------------------------


def in_range(field: str, label: str, low: int, high: int, name: str | None = None) -> Rule:
    return Rule(
        name or f"{field}_range",
        field,
        WARNING,
        f"{label}不在合理范围 {low}–{high}",
        pl.col(field).is_between(low, high),
    )


def certificate_form(field: str) -> Rule:
    return Rule(
        "certificate_form",
        field,
        WARNING,
        "出生医学证明编号格式应为一个大写字母加9位数字",
        pl.col(field).str.contains(CERTIFICATE_FORM),
    )


def division_known(field: str, label: str, known: frozenset[str] | None) -> list[Rule]:
    if known is None:
        return []
    return [
        Rule(
            "division_unknown",
            field,
            WARNING,
            f"{label}不在区划代码表中",
            pl.col(field).is_in(sorted(known)),
        )
    ]


# --- schema ---------------------------------------------------------------------------------


def schema(feed: Feed, rules: list[Rule]) -> pa.DataFrameSchema:
    """A Pandera schema: canonical column types, and one named check per rule.

    Each rule is a check of the column it reports on (a rule on a column the feed does not
    have is a check of the whole frame): Pandera then keeps that one column of the failing
    rows as failure cases, not the whole row encoded as JSON.
    """
    checks: dict[str | None, list[pa.Check]] = {}
    names = set(feed.column_names)
    for rule in rules:
        check = pa.Check(
            lambda data, rule=rule: data.lazyframe.select(rule.passes.fill_null(True)),
            name=rule.check_name,  # failures are matched back to their rule by this name
        )
        checks.setdefault(rule.field if rule.field in names else None, []).append(check)
    columns = {
        c.name: pa.Column(DTYPES[c.kind], nullable=True, checks=checks.get(c.name, []))
        for c in feed.columns
    }
    return pa.DataFrameSchema(columns, checks=checks.get(None, []), strict=False, name=feed.name)
