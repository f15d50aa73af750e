"""The three feeds as ../shared/feeds.md defines them: columns, labels, kinds, keys.

This module is the single source of truth for feed shape; ingest, checks, the
generator and the report all read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal[
    "text", "sex", "date", "datetime", "id_number", "division", "certificate", "integer", "enum"
]
FeedName = Literal["pop", "hosp", "police"]
FEEDS: tuple[FeedName, ...] = ("pop", "hosp", "police")


@dataclass(frozen=True)
class Column:
    name: str  # canonical English name
    label: str  # Chinese header
    kind: Kind
    required: bool
    values: tuple[str, ...] = ()  # allowed values, for kind "enum"


@dataclass(frozen=True)
class Feed:
    name: FeedName
    label: str
    key: str
    columns: tuple[Column, ...]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


POP = Feed(
    "pop",
    "全员人口信息系统",
    "record_id",
    (
        Column("record_id", "记录编号", "text", True),
        Column("name", "姓名", "text", False),
        Column("sex", "性别", "sex", True),
        Column("birth_date", "出生日期", "date", True),
        Column("id_number", "公民身份号码", "id_number", False),
        Column("mother_name", "母亲姓名", "text", True),
        Column("mother_id", "母亲公民身份号码", "id_number", True),
        Column("father_name", "父亲姓名", "text", False),
        Column("birth_order", "孩次", "integer", True),
        Column("division_code", "居住地区划代码", "division", True),
        Column("reported_on", "上报日期", "date", True),
        Column("reporting_unit", "上报单位", "text", False),
    ),
)

HOSP = Feed(
    "hosp",
    "住院分娩实名登记",
    "delivery_id",
    (
        Column("delivery_id", "登记编号", "text", True),
        Column("facility_code", "医疗机构代码", "text", True),
        Column("facility_name", "医疗机构名称", "text", False),
        Column("mother_name", "产妇姓名", "text", True),
        Column("mother_id", "产妇公民身份号码", "id_number", True),
        Column("delivered_at", "分娩时间", "datetime", True),
        Column("sex", "新生儿性别", "sex", True),
        Column("plurality", "胎数", "integer", True),
        Column("birth_rank", "胎序", "integer", False),
        Column("birth_order", "孩次", "integer", False),
        Column("birth_weight_g", "出生体重(克)", "integer", False),
        Column("gestation_weeks", "孕周", "integer", False),
        Column("outcome", "妊娠结局", "enum", True, ("活产", "死产")),
        Column("certificate_no", "出生医学证明编号", "certificate", False),
        Column("division_code", "产妇户籍地区划代码", "division", True),
        Column("registered_on", "登记日期", "date", True),
    ),
)

POLICE = Feed(
    "police",
    "公安户籍登记",
    "id_number",
    (
        Column("id_number", "公民身份号码", "id_number", True),
        Column("name", "姓名", "text", True),
        Column("sex", "性别", "sex", True),
        Column("birth_date", "出生日期", "date", True),
        Column("certificate_no", "出生医学证明编号", "certificate", False),
        Column("mother_name", "母亲姓名", "text", False),
        Column("mother_id", "母亲公民身份号码", "id_number", False),
        Column("household_no", "户号", "text", True),
        Column("division_code", "户籍地区划代码", "division", True),
        Column("registered_on", "登记日期", "date", True),
        Column("registration_type", "登记类别", "enum", True, ("出生登记", "补录")),
    ),
)

FEED_SPECS: dict[FeedName, Feed] = {"pop": POP, "hosp": HOSP, "police": POLICE}

# The divisions reference (区划), a CSV in the inbox named divisions*.
DIVISION_COLUMNS = {"code": "区划代码", "name": "名称", "level": "级别", "parent": "上级代码"}
DIVISION_LEVELS = ("county", "township", "village")
