"""Synthetic feeds with a known truth: what ``recon generate`` writes.

``generate(births, seed, out)`` simulates ``births`` birth events in 襄州区
(420607, Xiangyang, Hubei) over the 730 days before ``as_of`` and writes what
the three systems would hold at ``as_of``, messy forms and errors included,
plus the truth needed to score ingest, validation and reconciliation.
Same seed, same arguments: byte-identical files (numpy ``Generator`` seeded
from ``seed``; no clock, no hash randomisation, no thread-dependent order).

Files in ``out/``
-----------------
``divisions.csv``
    UTF-8, header ``code,name,level,parent``: the county 420607000000, 15
    townships (``420607TTT000``; 街道 001-002, 镇 101-113) and 8-20 villages
    each (``420607TTTVVV``; 社区 001.., 村 201..). Fixed: the same for every
    seed.
``pop_births.csv``
    GB18030, CRLF line ends, Chinese headers, plus the unknown column ``备注``.
    A few quoted fields contain an embedded LF.
``hosp_deliveries.xlsx`` / ``.csv`` / ``.parquet``
    Chinese headers. ``hosp_format="auto"``: XLSX (first sheet) up to 100,000
    births, else CSV (UTF-8, no BOM, LF). In XLSX, date columns hold real
    date cells, Excel serial numbers or text; integer columns numbers or text.
    Parquet: every column a string column (as an export would write it).
``police_births.csv``
    UTF-8 with BOM, LF, headers are the English canonical names, plus the
    unknown column ``派出所``.

Truth (``out/truth/``, all Parquet except the manifest)
-------------------------------------------------------
``births.parquet``: one row per true birth event (stillbirths and home
births included): ``birth_id, sex (M/F), birth_date, delivered_at (minute
resolution), plurality, birth_rank, birth_order, name (null for
stillbirths), father_name, id_number (the child's 18-char id if issued by
as_of, i.e. the police registered the child on or before as_of; else
null), certificate_no, mother_name, mother_id, division_code (the registered
residence, as hosp and police hold it), residence_code (where the family lives,
as pop holds it: division_code, unless the family moved to a village of another
township; a mover's pop division is truth, not a misreport), outcome
(live/stillbirth), home_birth, out_of_area (born in a facility outside the
area: no hosp record), facility_code, hosp_registered_on,
pop_reported_on, police_registered_on (null: never; may be after as_of),
in_hosp, in_pop, in_police (a valid, non-duplicate record of this birth is
in that feed's file), due_pop (birth_date + 120 days <= as_of), due_police
(+ 90 days)``.

``records.parquet``: one row per data row written to a feed file: ``feed,
file, line`` (physical line where the record starts, header = 1; XLSX sheet
row, header = 1; Parquet row number from 1), ``key`` (canonical key, null if
the row has none or it is unreadable), ``birth_id`` (null for fictitious),
``role`` (ok, duplicate, fictitious, stillbirth_registered),
``duplicate_of`` (pop duplicates: the kept record_id), ``quarantine`` (null
for a valid row, else the kind: missing_key, missing_required, bad_date,
bad_sex, field_count, bad_id_form, bad_integer, bad_enum), ``warnings``
(``;``-joined warning kinds of a valid row, "" if none; see below).

``misreports.parquet``: ``feed, key, field, written_value, true_value``
(canonical forms as text; dates ISO, datetimes ``YYYY-MM-DD HH:MM:SS``) for
every valid role-``ok`` row and truth-known field whose written canonical
value differs from the truth. Computed by comparison, so it includes the
value changes behind warnings (a typed-wrong check character, a mother aged
9). pop's division_code is compared with residence_code, the others' with
division_code. Not listed: empty values (not yet named, id not yet filled,
unknown sex) and 6/9-digit division codes of the true county/township
(imprecise, not wrong; hosp and police only).

``{feed}_canonical.parquet``: for every valid row, each column as ingest
must produce it (sex M/F/null, Date, Datetime[us], ids 18 upper-case chars
with 15-digit ones upgraded, division codes right-padded to 12 digits,
certificates upper case, text trimmed incl. U+3000 and empty -> null,
integers Int64), the extra column raw as written (empty -> null), plus
``file`` and ``line``. Misreported/warned values are the canonical form of
what was written, not the truth.

``manifest.json``: seed, births, as_of, files, rows, injected counts
(``misreport:<field>``, ``misreport:division_township``, ``truth:moved`` ...),
``rates`` (RATES), ``profile`` and ``misreport_rates`` (the resolved mix).

Conventions the oracle assumes (ingest must agree)
--------------------------------------------------
* A required sex written 未知, 0, 9 or empty is readable: the row is valid, sex
  null (only on hosp stillbirths). Any other empty required value is
  missing_required.
* A quarantined row has exactly one defect, its kind; the rest is readable.
* An Excel serial date-time is exact to the second after rounding.
* Extra columns are carried as written (not trimmed).

Warning kinds (valid rows, kept; computed from the canonical values)
--------------------------------------------------------------------
bad_check_char (any id column whose GB 11643 check character is wrong),
mother_age (mother's age from her id at the child's birth < 12 or > 60),
unknown_division (12-digit code not in divisions.csv), weight (hosp
birth_weight_g outside 300..7000), gestation (outside 20..45), future_date
(any date column after as_of), reported_before_birth (pop reported_on /
hosp registered_on / police registered_on before the birth date),
id_birth_date_mismatch and id_sex_mismatch (child id_number vs birth_date /
sex, pop and police), certificate_form (not a letter + 9 digits),
rank_plurality (birth_rank > plurality).

Rates
-----
Births: twins 1.5% and triplets 0.03% of deliveries; stillbirths 0.6% of
births (20% of them registered in pop anyway); home births 2% and
out-of-area births 1.5% of deliveries (no hosp record); boys 52.5%; birth
order 1-4 (45/38/13/4%); mothers aged N(29, 5), outside 16-45.5 redrawn
uniform 20-40.
Lags: hosp registered 0-7 days after delivery; pop reported 10-90 days
(7.5% 91-400), never 2% of boys / 4% of girls; police registered 20-80
days, 5% late 补录 120-1500 days (40% of those without certificate), home
births 补录 30-365 days, never 2%. A record is in a file only if its
report/registration date is <= as_of.
Errors: pop duplicates 1% (reported 20-400 days later, 65% another
village, 25% name homophone), pop fictitious 0.5%; warnings 1% of each feed,
quarantine 0.3% of each feed (every kind at least once).
Misreports (错报) come from a named mix, ``PROFILES[profile]`` with single
keys overridden by ``rates``: ``"<feed>.<field>"`` is the share of that feed's
rows misreported in that field (pop: sex, birth_date, mother_id, id_number,
name, birth_order, division_code, division_township; police: name,
birth_date, sex, division_code, division_township, mother_id; hosp: mother_id,
sex, division_code, division_township), ``moved`` the share of births whose
family moved (whole deliveries). A record gets at most one injected change;
names are homophones, ids and dates typos, division_code another village of
the same township, division_township a village of another township (listed
as field division_code). Profiles: ``default`` (pop 2%: sex and birth_date
0.4%, mother_id and name 0.3%, id_number, birth_order and division_code 0.2%;
police name and birth_date 0.25%; hosp mother_id 0.3%), ``register-errs``,
``police-hosp-errs``, ``movers``, ``police-names``, ``clean`` (no misreports).
Messy forms: dates ISO 72%, ``y/m/d`` 12%, ``yyyymmdd`` 8%, ``y年m月d日`` 8%;
datetimes ``HH:MM`` or ``HH:MM:SS`` 50/50; sex 男女 60% / 12 20% / MF 20%
(未知/0/9 for 30% of hosp stillbirths, canonical null); ids: lower-case x
50% of X-ending ones, full-width digits 3%, stray spaces 3%, 15-digit 8% of
mothers born 19xx; division codes 6 digits 1.5% / 9 digits 3% (hosp,
police); certificates lower case 5%; text padded with spaces or U+3000 4%;
integers `` 2 `` 3% / full-width 3%; XLSX dates: cells 55%, serial 15%,
text 30%.

Child ids: 420607 + birth date + 3-digit sequence (odd boys, even girls) +
check character; past 500 (boys) / 499 (girls) births on one day the
sequence overflows into the codes 420606, 420602, 420683, 420684 (only at
several hundred thousand births). Mother ids carry a birthplace code valid
in her birth year per ``stdnum.cn.loc`` (襄州 mothers: 420600 before 1983,
420621 襄阳县 1983-2000, 420607 from 2001; ~24 other Hubei/Henan origins).
"""

from __future__ import annotations

import functools
import io
import json
import re
import zipfile
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

from recon.ingest.feeds import FEED_SPECS, FEEDS, FeedName

__all__ = ["MISREPORT_KEYS", "PROFILES", "GenerateSummary", "generate", "misreport_rates"]

DEFAULT_AS_OF = date(2026, 10, 31)
WINDOW_DAYS = 730
POP_DUE_DAYS = 120
POLICE_DUE_DAYS = 90
XLSX_MAX_BIRTHS = 100_000
BLOCK_BIRTHS = 1_000_000  # births made at once; more are made in blocks (about 3 GB each)
GENERATOR_VERSION = 2

RATES: dict[str, float] = {
    "twin_deliveries": 0.015,
    "triplet_deliveries": 0.0003,
    "stillbirth": 0.006,
    "stillbirth_in_pop": 0.20,
    "home_birth": 0.02,
    "out_of_area": 0.015,
    "boy": 0.525,
    "pop_never_boy": 0.02,
    "pop_never_girl": 0.04,
    "pop_tail": 0.075,
    "police_never": 0.02,
    "police_late": 0.05,
    "late_without_certificate": 0.40,
    "pop_duplicate": 0.01,
    "pop_fictitious": 0.005,
    "warning": 0.01,
    "quarantine": 0.003,
}

# Misreport (错报) rates, "<feed>.<field>": share of that feed's rows; "moved": share
# of births whose family really moved (truth, not an error; see the module doc).
MISREPORT_KEYS: tuple[str, ...] = (
    "pop.sex",
    "pop.birth_date",
    "pop.mother_id",
    "pop.id_number",
    "pop.name",
    "pop.birth_order",
    "pop.division_code",
    "pop.division_township",
    "hosp.mother_id",
    "hosp.sex",
    "hosp.division_code",
    "hosp.division_township",
    "police.name",
    "police.birth_date",
    "police.sex",
    "police.division_code",
    "police.division_township",
    "police.mother_id",
    "moved",
)
MAX_RATE = 0.2


def _mix(**rates: float) -> dict[str, float]:
    """A full misreport mix: the given rates ("pop__name" for "pop.name"), others 0."""
    out = dict.fromkeys(MISREPORT_KEYS, 0.0)
    for k, v in rates.items():
        key = k.replace("__", ".")
        if key not in out:
            raise KeyError(key)
        out[key] = v
    return out


PROFILES: dict[str, dict[str, float]] = {
    # the generator's historical mix: pop 2%, police 0.5%, hosp 0.3%
    "default": _mix(
        pop__sex=0.004,
        pop__birth_date=0.004,
        pop__mother_id=0.003,
        pop__id_number=0.002,
        pop__name=0.003,
        pop__birth_order=0.002,
        pop__division_code=0.002,
        police__name=0.0025,
        police__birth_date=0.0025,
        hosp__mother_id=0.003,
    ),
    # the register is wrong, the witnesses are right (the contract's authority order)
    "register-errs": _mix(
        pop__name=0.03,
        pop__division_township=0.01,
        pop__sex=0.005,
        pop__birth_date=0.005,
        pop__mother_id=0.003,
        hosp__mother_id=0.003,
        police__birth_date=0.003,
    ),
    # the witnesses are wrong too
    "police-hosp-errs": _mix(
        pop__name=0.01,
        police__division_township=0.01,
        hosp__division_township=0.01,
        police__sex=0.003,
        hosp__sex=0.003,
        hosp__mother_id=0.005,
        police__mother_id=0.003,
        pop__birth_order=0.005,
    ),
    # families that moved: pop's division differs from hosp/police, truly
    "movers": _mix(
        moved=0.02,
        pop__division_township=0.005,
        pop__division_code=0.005,
        pop__name=0.01,
        pop__sex=0.005,
        police__birth_date=0.003,
    ),
    # police names wrong, the register right: the authority order fails (benchmarks)
    "police-names": _mix(police__name=0.01),
    # no misreports at all (duplicates, fictitious, warnings and quarantine unchanged)
    "clean": _mix(),
}


def misreport_rates(
    profile: str = "default", rates: Mapping[str, float] | None = None
) -> dict[str, float]:
    """The full misreport mix of ``profile`` with single keys overridden by ``rates``.

    Raises ValueError naming the profile or key when one is unknown or a rate is
    outside 0..MAX_RATE.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: use one of {', '.join(PROFILES)}")
    out = dict(PROFILES[profile])
    for key, value in (rates or {}).items():
        if key not in out:
            raise ValueError(f"unknown rate {key!r}: use one of {', '.join(MISREPORT_KEYS)}")
        v = float(value)
        if not 0.0 <= v <= MAX_RATE:  # also refuses NaN
            raise ValueError(f"rate {key}={value} is outside 0..{MAX_RATE}")
        out[key] = v
    return out


FILE_NAMES = {
    "divisions": "divisions.csv",
    "pop": "pop_births.csv",
    "police": "police_births.csv",
}
EXTRA_COLUMN: dict[FeedName, str | None] = {"pop": "备注", "hosp": None, "police": "派出所"}

Progress = Callable[[str], None]


@dataclass(frozen=True)
class GenerateSummary:
    """What ``generate`` wrote."""

    out: Path
    seed: int
    births: int
    as_of: date
    paths: Mapping[str, Path]  # "divisions", "pop", "hosp", "police", "truth/births", ...
    rows: Mapping[str, int]  # data rows written per feed
    injected: Mapping[str, Mapping[str, int]]  # feed -> kind -> count
    profile: str = "default"
    misreport_rates: Mapping[str, float] = field(default_factory=dict)  # MISREPORT_KEYS

    def total(self, kind: str) -> int:
        """Rows injected with ``kind`` over all feeds (e.g. "quarantine:bad_date")."""
        return sum(c.get(kind, 0) for c in self.injected.values())


# ---------------------------------------------------------------------------
# Reference data: places, names, facilities
# ---------------------------------------------------------------------------

COUNTY_CODE = "420607"
COUNTY_NAME = "襄州区"
TOWNSHIPS: tuple[tuple[str, str], ...] = (
    ("001", "张湾街道"),
    ("002", "肖湾街道"),
    ("101", "刘集镇"),
    ("102", "黄集镇"),
    ("103", "伙牌镇"),
    ("104", "古驿镇"),
    ("105", "朱集镇"),
    ("106", "程河镇"),
    ("107", "双沟镇"),
    ("108", "张家集镇"),
    ("109", "黄龙镇"),
    ("110", "峪山镇"),
    ("111", "东津镇"),
    ("112", "石桥镇"),
    ("113", "龙王镇"),
)
_COMMUNITY_STEMS = (
    "东街", "西街", "南街", "北街", "新华", "建设", "人民", "解放", "和平", "幸福", "光明", "朝阳",
    "长安", "团结", "文化", "春晖", "滨河", "桥头", "友谊", "新城", "花园", "航空", "车站", "新街",
)  # fmt: skip
_VILLAGE_STEMS = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
_VILLAGE_SUFFIXES = "庄湾岗营河桥店冲集洼楼寨坡铺港岭园沟台堰"

# (birthplace, weight, ((code, first_year, last_year), ...)): codes valid for a
# person born in [first, last] per stdnum's cn/loc data, so ids pass
# stdnum.cn.ric.is_valid.
_ORIGINS: tuple[tuple[str, float, tuple[tuple[int, int, int], ...]], ...] = (
    ("襄州", 78.0, ((420600, 0, 1982), (420621, 1983, 2000), (420607, 2001, 9999))),
    ("樊城", 2.0, ((420600, 0, 1983), (420604, 1984, 1994), (420606, 1995, 9999))),
    ("襄城", 1.5, ((420600, 0, 1983), (420602, 1984, 9999))),
    ("枣阳", 2.0, ((420600, 0, 1982), (420622, 1983, 1988), (420683, 1989, 9999))),
    ("宜城", 1.5, ((420600, 0, 1982), (420623, 1983, 1993), (420684, 1994, 9999))),
    (
        "老河口",
        1.0,
        ((420600, 0, 1982), (420620, 1983, 1986), (420600, 1987, 1988), (420682, 1989, 9999)),
    ),
    ("南漳", 1.0, ((420600, 0, 1982), (420624, 1983, 9999))),
    ("谷城", 1.0, ((420600, 0, 1982), (420625, 1983, 9999))),
    ("保康", 0.5, ((420600, 0, 1982), (420626, 1983, 9999))),
    ("新野", 1.5, ((412931, 0, 1993), (411329, 1994, 9999))),
    ("唐河", 1.5, ((412929, 0, 1993), (411328, 1994, 9999))),
    ("邓州", 1.0, ((412930, 0, 1987), (412902, 1988, 1993), (411381, 1994, 9999))),
    ("宛城", 0.5, ((412901, 0, 1993), (411302, 1994, 9999))),
    ("方城", 0.5, ((412922, 0, 1993), (411322, 1994, 9999))),
    ("社旗", 0.5, ((412928, 0, 1993), (411327, 1994, 9999))),
    ("镇平", 0.3, ((412925, 0, 1993), (411324, 1994, 9999))),
    ("内乡", 0.3, ((412926, 0, 1993), (411325, 1994, 9999))),
    ("淅川", 0.3, ((412927, 0, 1993), (411326, 1994, 9999))),
    ("西峡", 0.3, ((412923, 0, 1993), (411323, 1994, 9999))),
    ("桐柏", 0.3, ((412932, 0, 1993), (411330, 1994, 9999))),
    ("南召", 0.3, ((412921, 0, 1993), (411321, 1994, 9999))),
    ("建始", 0.3, ((422822, 0, 9999),)),
    ("巴东", 0.3, ((422823, 0, 9999),)),
    ("江岸", 0.5, ((420120, 0, 1982), (420102, 1983, 9999))),
    ("武昌", 0.5, ((420120, 0, 1982), (420106, 1983, 9999))),
)
# Registration codes for child ids, in overflow order (see module doc).
_CHILD_PREFIXES = (420607, 420606, 420602, 420683, 420684)

_SURNAMES: tuple[tuple[str, float], ...] = (
    ("王", 7.1), ("李", 7.0), ("张", 6.8), ("刘", 5.4), ("陈", 4.6), ("杨", 3.1), ("黄", 2.2),
    ("赵", 2.0), ("吴", 2.0), ("周", 1.9), ("徐", 1.4), ("孙", 1.4), ("马", 1.3), ("朱", 1.3),
    ("胡", 1.2), ("郭", 1.1), ("何", 1.1), ("高", 1.0), ("林", 1.0), ("罗", 0.9), ("郑", 0.9),
    ("梁", 0.8), ("谢", 0.7), ("宋", 0.7), ("唐", 0.7), ("许", 0.6), ("韩", 0.6), ("冯", 0.6),
    ("邓", 0.6), ("曹", 0.6), ("彭", 0.6), ("曾", 0.5), ("肖", 0.5), ("田", 0.5), ("董", 0.5),
    ("袁", 0.5), ("潘", 0.4), ("于", 0.4), ("蒋", 0.4), ("蔡", 0.4), ("余", 0.4), ("杜", 0.4),
    ("叶", 0.4), ("程", 0.4), ("苏", 0.3), ("魏", 0.3), ("吕", 0.3), ("丁", 0.3), ("任", 0.3),
    ("沈", 0.3), ("姚", 0.3), ("卢", 0.3), ("姜", 0.3), ("崔", 0.3), ("钟", 0.3), ("谭", 0.3),
    ("陆", 0.2), ("汪", 0.2), ("范", 0.2), ("金", 0.2), ("石", 0.2), ("廖", 0.2), ("贾", 0.2),
    ("夏", 0.2), ("韦", 0.2), ("付", 0.2), ("方", 0.2), ("白", 0.2), ("邹", 0.2), ("孟", 0.2),
    ("熊", 0.2), ("秦", 0.2), ("邱", 0.2), ("江", 0.2), ("尹", 0.2), ("薛", 0.2), ("闫", 0.2),
    ("段", 0.2), ("雷", 0.2), ("侯", 0.2), ("龙", 0.2), ("史", 0.2), ("陶", 0.1), ("黎", 0.1),
    ("贺", 0.1), ("顾", 0.1), ("毛", 0.1), ("郝", 0.1), ("龚", 0.1), ("邵", 0.1), ("万", 0.1),
    ("钱", 0.1), ("严", 0.1), ("覃", 0.1), ("武", 0.1), ("戴", 0.1), ("章", 0.1), ("柳", 0.05),
    ("单", 0.05), ("解", 0.03), ("查", 0.03), ("仇", 0.02), ("朴", 0.02), ("区", 0.01),
    ("欧阳", 0.03), ("司马", 0.01), ("诸葛", 0.01),
)  # fmt: skip
_BOY_CHARS = "浩宇轩子涵睿泽博文俊杰一鸣诺辰晨阳铭皓然梓航瑞明哲凯豪翔旭昊锦天思诚嘉毅伟强磊鹏"
_GIRL_CHARS = "梓涵萱欣怡诗雨佳悦梦琪妍婧瑶璐颖蕾倩馨玉彤菲雅慧晓丹可思一子若汐语桐依然安宁沫"
_MOTHER_CHARS = "芳娜敏静丽艳婷雪琳燕霞红玲娟洁丹慧颖倩莉萍兰英华秀晶梅春小晓"
_FATHER_CHARS = "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波亮林峰建国志春海东小"
# Extra characters that give the name characters above their homophones.
_HOMOPHONE_EXTRA = (
    "章玮炜薇卫维汪黎莉俐柳菁晶茗洁婕捷皓昊寒萱宣瑄宜仪依伊亦奕逸馨心鑫新芯雨语羽禹玉钰毓育裕"
    "昱庭亭霆韬桃棋奇祺齐淇辰宸尘臣琛霖麟淋垒雷蕊锐睿瑞芸云韵昀妍研岩燕雁彦"
)

_FACILITIES: tuple[tuple[str, str, float], ...] = (
    ("H420607001", "襄阳市襄州区人民医院", 0.30),
    ("H420607002", "襄阳市襄州区妇幼保健院", 0.25),
    ("H420607003", "襄阳市襄州区中医医院", 0.08),
    ("H420600001", "襄阳市中心医院", 0.10),
    ("H420600002", "襄阳市妇幼保健院", 0.07),
    ("H420607107", "襄州区双沟镇卫生院", 0.05),
    ("H420607108", "襄州区张家集镇卫生院", 0.05),
    ("H420607102", "襄州区黄集镇卫生院", 0.05),
    ("H420607106", "襄州区程河镇卫生院", 0.05),
)
_CERT_LETTER = {2023: "O", 2024: "P", 2025: "Q", 2026: "R", 2027: "S"}
_REMARKS = ("补报", "户籍在外", "随迁", "已核实", "待核实", "父母外出务工", "非婚生育")

# ---------------------------------------------------------------------------
# GB 11643 identity numbers
# ---------------------------------------------------------------------------

_ID_WEIGHTS = np.array([pow(2, 17 - i, 11) for i in range(17)], dtype=np.int64)
_ID_CHECK = np.array(list("10X98765432"))
_POW10 = 10 ** np.arange(16, -1, -1, dtype=np.int64)


def _check_chars(first17: np.ndarray) -> np.ndarray:
    """Check characters (ISO 7064 MOD 11-2) for 17-digit integers."""
    digits = (first17[:, None] // _POW10) % 10
    return _ID_CHECK[(digits @ _ID_WEIGHTS) % 11]


def _check_char(first17: str) -> str:
    return str(
        _ID_CHECK[sum(int(c) * int(w) for c, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]
    )


def _ids(first17: np.ndarray) -> pl.Series:
    return pl.Series(first17).cast(pl.String) + pl.Series(_check_chars(first17))


def _to_date(days: np.ndarray) -> pl.Series:
    return pl.Series(days.astype(np.int32)).cast(pl.Date)


def _epoch_days(d: date) -> int:
    return (d - date(1970, 1, 1)).days


def _ymd_int(days: np.ndarray) -> np.ndarray:
    return _to_date(days).dt.strftime("%Y%m%d").cast(pl.Int64).to_numpy()


def _year(days: np.ndarray) -> np.ndarray:
    return _to_date(days).dt.year().cast(pl.Int64).to_numpy()


# ---------------------------------------------------------------------------
# Stage 0: divisions (fixed, seed-independent)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Geo:
    frame: pl.DataFrame  # code, name, level, parent
    village_codes: np.ndarray  # str
    village_weights: np.ndarray
    village_township: np.ndarray  # township index per village
    township_names: tuple[str, ...]
    villages_of: tuple[np.ndarray, ...]  # village indexes per township

    @functools.cached_property
    def codes(self) -> frozenset[str]:
        return frozenset(self.frame["code"].to_list())

    @functools.cached_property
    def township_of_code(self) -> dict[str, int]:
        return {COUNTY_CODE + t: i for i, (t, _) in enumerate(TOWNSHIPS)}


@functools.cache
def _geo() -> _Geo:
    rng = np.random.default_rng(420607)
    rows: list[tuple[str, str, str, str | None]] = [
        (COUNTY_CODE + "000000", COUNTY_NAME, "county", None)
    ]
    vcodes: list[str] = []
    vweights: list[float] = []
    vtown: list[int] = []
    villages_of: list[np.ndarray] = []
    for t, (tcode, tname) in enumerate(TOWNSHIPS):
        tfull = COUNTY_CODE + tcode + "000"
        rows.append((tfull, tname, "township", COUNTY_CODE + "000000"))
        total = int(rng.integers(8, 21))
        street = tname.endswith("街道")
        n_comm = int(rng.integers(6, 11)) if street else int(rng.integers(1, 4))
        n_comm = min(n_comm, total)
        stems = rng.permutation(len(_COMMUNITY_STEMS))[:n_comm]
        names = [_COMMUNITY_STEMS[i] + "社区" for i in stems]
        seen: set[str] = set()
        while len(names) < total:
            v = (
                _VILLAGE_STEMS[rng.integers(len(_VILLAGE_STEMS))]
                + _VILLAGE_SUFFIXES[rng.integers(len(_VILLAGE_SUFFIXES))]
                + "村"
            )
            if v not in seen:
                seen.add(v)
                names.append(v)
        mine = []
        for k, vname in enumerate(names):
            vpart = f"{k + 1:03d}" if k < n_comm else f"{200 + k - n_comm + 1:03d}"
            code = COUNTY_CODE + tcode + vpart
            rows.append((code, vname, "village", tfull))
            mine.append(len(vcodes))
            vcodes.append(code)
            vtown.append(t)
            vweights.append(float(rng.lognormal(0.0, 0.5)) * (1.6 if k < n_comm else 1.0))
        villages_of.append(np.array(mine, dtype=np.int64))
    frame = pl.DataFrame(rows, schema=["code", "name", "level", "parent"], orient="row")
    w = np.array(vweights)
    return _Geo(
        frame=frame,
        village_codes=np.array(vcodes),
        village_weights=w / w.sum(),
        village_township=np.array(vtown, dtype=np.int64),
        township_names=tuple(n for _, n in TOWNSHIPS),
        villages_of=tuple(villages_of),
    )


def _surname_table() -> tuple[pl.Series, np.ndarray]:
    names = pl.Series([s for s, _ in _SURNAMES])
    w = np.array([w for _, w in _SURNAMES])
    return names, w / w.sum()


def _given_names(rng: np.random.Generator, pool: str, n: int, p_two: float) -> pl.Series:
    chars = pl.Series(list(pool))
    first = chars.gather(rng.integers(0, len(pool), n))
    second = chars.gather(rng.integers(0, len(pool), n))
    two = pl.Series(rng.random(n) < p_two)
    return pl.select(pl.when(two).then(first + second).otherwise(first)).to_series()


@functools.cache
def _homophones() -> dict[str, tuple[str, ...]]:
    from pypinyin import lazy_pinyin  # only needed for the few rows it changes

    chars = set(_BOY_CHARS + _GIRL_CHARS + _MOTHER_CHARS + _FATHER_CHARS + _HOMOPHONE_EXTRA)
    chars |= {s for s, _ in _SURNAMES if len(s) == 1}
    groups: dict[str, list[str]] = {}
    for ch in sorted(chars):
        groups.setdefault(lazy_pinyin(ch)[0], []).append(ch)
    return {
        ch: tuple(c for c in group if c != ch)
        for group in groups.values()
        if len(group) > 1
        for ch in group
    }


def _homophone(name: str | None, rng: np.random.Generator) -> str | None:
    """The name with one character replaced by a homophone (张/章, 伟/玮), or None."""
    if not name:
        return None
    table = _homophones()
    positions = [i for i, ch in enumerate(name) if ch in table]
    if not positions:
        return None
    i = positions[int(rng.integers(len(positions)))]
    alts = table[name[i]]
    return name[:i] + alts[int(rng.integers(len(alts)))] + name[i + 1 :]


# ---------------------------------------------------------------------------
# Stage 1: births
# ---------------------------------------------------------------------------


def _prefix_table() -> np.ndarray:
    """prefix[origin, year - 1900] for birth years 1900..2039."""
    table = np.zeros((len(_ORIGINS), 140), dtype=np.int64)
    for o, (_, _, spans) in enumerate(_ORIGINS):
        for y in range(1900, 2040):
            for code, first, last in spans:
                if first <= y <= last:
                    table[o, y - 1900] = code
                    break
    return table


def _unique_first17(
    prefix: np.ndarray,
    ymd: np.ndarray,
    draw_seq: Callable[[int], np.ndarray],
    taken: np.ndarray | None = None,
) -> np.ndarray:
    """17-digit id bodies, sequence numbers redrawn until all are unique and none is in
    ``taken`` (sorted: the bodies of earlier blocks)."""
    seq = draw_seq(len(prefix))
    prefix = prefix.copy()
    body = prefix * 10**11 + ymd * 1000 + seq
    valid = _prefix_table()
    # Blocks after the first find the commonest places' days full of earlier mothers, so
    # they move to another place soon rather than redraw there a hundred times.
    move_after = 100 if taken is None else 3
    for attempt in range(400):
        _, first = np.unique(body, return_index=True)
        dup = np.ones(len(body), dtype=bool)
        dup[first] = False
        if taken is not None and len(taken):
            at = np.searchsorted(taken, body).clip(0, len(taken) - 1)
            dup |= taken[at] == body
        if not dup.any():
            return body
        if attempt >= move_after:
            # More people born on one day in one place than it has sequence numbers (a
            # feed of millions): the rest are registered in another place valid that year.
            years = ymd[dup] // 10000 - 1900
            pick = np.random.default_rng(attempt).integers(0, valid.shape[0], int(dup.sum()))
            moved = valid[pick, years]
            if taken is not None:  # a code not valid that year is no place to move to
                moved = np.where(moved == 0, prefix[dup], moved)
            prefix[dup] = moved
        body[dup] = prefix[dup] * 10**11 + ymd[dup] * 1000 + draw_seq(int(dup.sum()))
    raise RuntimeError("cannot draw unique identity numbers")


@dataclass
class _Carry:
    """What a block of births must know of the blocks before it, so that a feed made a
    block at a time has the keys and numbers of one made whole: no mother's identity
    number twice, certificate serials and register numbers running on."""

    block: int = 0
    births: int = 0  # births of earlier blocks (birth_id runs on)
    mothers: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    certificates: int = 0  # certificates issued in earlier blocks
    register_numbers: Counter[int] = field(default_factory=Counter)  # year -> numbers used


def window_days(births: int) -> int:
    """Days of deliveries: WINDOW_DAYS, and as many again per million births beyond the
    first, so that the children's identity numbers (500 per sex, day and code) suffice."""
    return WINDOW_DAYS * max(1, -(-births // 1_000_000))


def _make_births(
    n: int,
    as_of: date,
    rng: np.random.Generator,
    span: tuple[int, int] | None = None,
    carry: _Carry | None = None,
) -> pl.DataFrame:
    """``n`` babies: deliveries, mothers, children, outcomes and reporting lags.

    ``span`` (first epoch day, days) is the block's slice of the window, default the
    whole window before as_of; ``carry`` the earlier blocks' keys."""
    geo = _geo()
    n_trip = round(n * RATES["triplet_deliveries"])
    n_twin = max(1 if n >= 200 else 0, round(n * RATES["twin_deliveries"]))
    n_deliv = n - n_twin - 2 * n_trip
    plural = np.ones(n_deliv, dtype=np.int64)
    multi = rng.choice(n_deliv, n_twin + n_trip, replace=False)
    plural[multi[:n_twin]] = 2
    plural[multi[n_twin:]] = 3

    # Deliveries in time order, over the window of days before as_of.
    if span is None:
        window = window_days(n)
        first_day = _epoch_days(as_of) - window
    else:
        first_day, window = span
    day = first_day + rng.integers(0, window, n_deliv)
    minute = rng.integers(0, 1440, n_deliv)
    if span is not None:
        # A block's babies are all born inside its days (a twin 24 minutes after a
        # delivery at 23:50 would be born on the next block's first day), so the
        # numbers given per birth day never meet another block's.
        last = day == first_day + window - 1
        minute[last] = minute[last] % 1400
    order = np.lexsort((minute, day))
    day, minute, plural = day[order], minute[order], plural[order]

    mother_id = _mother_ids(day, rng, carry)
    surnames, sw = _surname_table()
    m_surname = surnames.gather(rng.choice(len(surnames), n_deliv, p=sw))
    m_name = m_surname + _given_names(rng, _MOTHER_CHARS, n_deliv, 0.6)
    f_surname = surnames.gather(rng.choice(len(surnames), n_deliv, p=sw))
    f_name = f_surname + _given_names(rng, _FATHER_CHARS, n_deliv, 0.6)
    village = rng.choice(len(geo.village_codes), n_deliv, p=geo.village_weights)
    if carry is None:
        household = 100_000_000 + rng.choice(900_000_000, n_deliv, replace=False)
    else:  # a block draws from its own range of household numbers
        household = 100_000_000 + carry.block * 20_000_000 + rng.choice(20_000_000, n_deliv)
    birth_order = rng.choice(4, n_deliv, p=[0.45, 0.38, 0.13, 0.04]) + 1

    # Place of delivery: home, out of the area, or one of the facilities.
    place = np.zeros(n_deliv, dtype=np.int64)  # 0 facility, 1 home, 2 elsewhere
    n_home = round(n_deliv * RATES["home_birth"])
    n_away = round(n_deliv * RATES["out_of_area"])
    picked = rng.choice(n_deliv, n_home + n_away, replace=False)
    place[picked[:n_home]] = 1
    place[picked[n_home:]] = 2
    fw = np.array([w for _, _, w in _FACILITIES])
    facility = rng.choice(len(_FACILITIES), n_deliv, p=fw / fw.sum())

    # Babies: twins and triplets a few minutes apart.
    d = np.repeat(np.arange(n_deliv), plural)
    starts = np.repeat(np.cumsum(plural) - plural, plural)
    rank = np.arange(n) - starts + 1
    gap = np.where(rank == 1, 0, rng.integers(2, 13, n))
    gap_sum = np.cumsum(gap)
    offset = gap_sum - gap_sum[starts]
    at_min = day[d] * 1440 + minute[d] + offset
    sex = np.where(rng.random(n) < RATES["boy"], "M", "F")
    still = np.zeros(n, dtype=bool)
    still[rng.choice(n, max(1, round(n * RATES["stillbirth"])), replace=False)] = True
    own = pl.select(
        pl.when(pl.Series(rng.random(n) < 0.92))
        .then(f_surname.gather(d))
        .otherwise(m_surname.gather(d))
    ).to_series()
    given = pl.select(
        pl.when(pl.Series(sex == "M"))
        .then(_given_names(rng, _BOY_CHARS, n, 0.75))
        .otherwise(_given_names(rng, _GIRL_CHARS, n, 0.75))
    ).to_series()
    b_days = at_min // 1440
    plurality = plural[d]
    weight = np.where(plurality == 1, rng.normal(3300, 450, n), rng.normal(2500, 450, n)).clip(
        1000, 5000
    )
    gestation = np.where(plurality == 1, rng.normal(39, 1.3, n), rng.normal(36, 1.5, n)).clip(
        28, 42
    )
    weight = np.where(still, rng.normal(1800, 700, n).clip(400, 4500), weight).round()
    gestation = np.where(still, rng.normal(32, 5, n).clip(22, 42), gestation).round()

    bplace = place[d]
    home = bplace == 1
    hosp_lag, pop_lag, police_lag, late = _lags(sex, still, bplace, rng)
    cert = _certificates(b_days, bplace, ~still & ~home, rng, carry)
    child_id = _child_ids(b_days, sex, rng)

    frame = pl.DataFrame(
        {
            "delivery": d,
            "sex": sex,
            "delivered_at": pl.Series(at_min * 60_000_000).cast(pl.Datetime("us")),
            "birth_date": _to_date(b_days),
            "plurality": plurality,
            "birth_rank": rank,
            "birth_order": birth_order[d],
            "name": own + given,
            "father_name": f_name.gather(d),
            "child_id": child_id,
            "certificate_no": cert,
            "mother_name": m_name.gather(d),
            "mother_id": mother_id.gather(d),
            "division_code": pl.Series(geo.village_codes[village[d]]),
            "outcome": np.where(still, "stillbirth", "live"),
            "home_birth": home,
            "out_of_area": bplace == 2,
            "facility": pl.Series(facility[d]),
            "household_no": pl.Series(household[d]).cast(pl.String),
            "weight": weight.astype(np.int64),
            "gestation": gestation.astype(np.int64),
            "police_late": late,
            "hosp_lag": hosp_lag,
            "pop_lag": pop_lag,
            "police_lag": police_lag,
        },
        nan_to_null=True,
    )
    return frame.with_columns(
        pl.col("facility").cast(pl.Int64),
        pl.when(pl.col("outcome") == "live").then(pl.col("name")).alias("name"),
        *(
            (pl.col("birth_date") + pl.duration(days=pl.col(f"{k}_lag").cast(pl.Int64))).alias(out)
            for k, out in (
                ("hosp", "hosp_registered_on"),
                ("pop", "pop_reported_on"),
                ("police", "police_registered_on"),
            )
        ),
    )


def _mother_ids(
    delivery_day: np.ndarray, rng: np.random.Generator, carry: _Carry | None = None
) -> pl.Series:
    """Unique ids of mothers aged mostly 20-40, birthplace code valid in her birth year
    (and none given in an earlier block)."""
    n = len(delivery_day)
    age = rng.normal(29.0, 5.0, n)
    odd = (age < 16.0) | (age > 45.5)
    age[odd] = rng.uniform(20.0, 40.0, int(odd.sum()))
    born = delivery_day - np.floor(age * 365.25).astype(np.int64) - rng.integers(0, 2, n)
    ow = np.array([w for _, w, _ in _ORIGINS])
    origin = rng.choice(len(_ORIGINS), n, p=ow / ow.sum())
    prefix = _prefix_table()[origin, _year(born) - 1900]

    def even(k: int) -> np.ndarray:  # women have even sequence numbers
        return np.asarray(rng.integers(1, 500, k) * 2)

    body = _unique_first17(prefix, _ymd_int(born), even, None if carry is None else carry.mothers)
    if carry is not None:
        carry.mothers = np.sort(np.concatenate([carry.mothers, body]))
    return _ids(body)


def _lags(
    sex: np.ndarray, still: np.ndarray, place: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Days from birth to the hosp, pop and police entry (NaN: never), and 补录 flags."""
    n = len(sex)
    hosp_lag = rng.choice(8, n, p=[0.35, 0.25, 0.15, 0.1, 0.06, 0.04, 0.03, 0.02]).astype(float)
    hosp_lag[place != 0] = np.nan
    p_never = np.where(sex == "M", RATES["pop_never_boy"], RATES["pop_never_girl"])
    pop_lag = np.where(
        rng.random(n) < RATES["pop_tail"], rng.integers(91, 401, n), rng.integers(10, 91, n)
    ).astype(float)
    pop_lag[rng.random(n) < p_never] = np.nan
    pop_lag[still] = np.nan
    still_idx = np.flatnonzero(still)
    reg_still = rng.choice(
        still_idx, round(len(still_idx) * RATES["stillbirth_in_pop"]), replace=False
    )
    pop_lag[reg_still] = rng.integers(10, 91, len(reg_still))
    late = rng.random(n) < RATES["police_late"]
    police_lag = np.where(late, rng.integers(120, 1501, n), rng.integers(20, 81, n)).astype(float)
    home = place == 1
    police_lag[home] = rng.integers(30, 366, int(home.sum()))
    late |= home
    police_lag[rng.random(n) < RATES["police_never"]] = np.nan
    police_lag[still] = np.nan
    return hosp_lag, pop_lag, police_lag, late


def _certificates(
    b_days: np.ndarray,
    place: np.ndarray,
    issued: np.ndarray,
    rng: np.random.Generator,
    carry: _Carry | None = None,
) -> pl.Series:
    """出生医学证明编号, issued in birth order: year letter + 9 digits (41... elsewhere)."""
    serial = np.cumsum(issued) + rng.integers(0, 5000)
    if carry is not None:  # serials run on from the earlier blocks
        serial += carry.certificates + 5000 * carry.block
        carry.certificates += int(issued.sum())
    letters = pl.Series(_year(b_days)).replace_strict(
        _CERT_LETTER, default="T", return_dtype=pl.String
    )
    cert = letters + pl.Series(np.where(place == 2, 410_000_000, 420_000_000) + serial).cast(
        pl.String
    )
    return pl.select(pl.when(pl.Series(issued)).then(cert)).to_series()


def _child_ids(b_days: np.ndarray, sex: np.ndarray, rng: np.random.Generator) -> pl.Series:
    """Sequence numbers by (birth day, sex), overflowing into other registration codes."""
    n = len(sex)
    sex_f = (sex == "F").astype(np.int64)
    group = b_days * 2 + sex_f
    by = np.lexsort((rng.random(n), group))
    g_sorted = group[by]
    new_group = np.r_[True, g_sorted[1:] != g_sorted[:-1]] if n else np.array([], dtype=bool)
    group_start = np.maximum.accumulate(np.where(new_group, np.arange(n), 0)) if n else by
    rank_in = np.empty(n, dtype=np.int64)
    rank_in[by] = np.arange(n) - group_start
    slots = np.where(sex_f == 1, 499, 500)
    shift = (b_days * 7919) % 37  # so the day's sequence does not always start at 001
    slot = (rank_in % slots + shift) % slots
    seq = np.where(sex_f == 1, 2 * slot + 2, 2 * slot + 1)
    which = rank_in // slots
    if n and which.max() >= len(_CHILD_PREFIXES):
        raise ValueError("too many births per day for the child id space")
    c_prefix = np.array(_CHILD_PREFIXES)[which]
    return _ids(c_prefix * 10**11 + _ymd_int(b_days) * 1000 + seq)


# ---------------------------------------------------------------------------
# Value mutations for the few rows that get errors (plain Python)
# ---------------------------------------------------------------------------


def _valid_ymd(s: str) -> date | None:
    try:
        return date(int(s[0:4]), int(s[4:6]), int(s[6:8]))
    except ValueError:
        return None


def _typo_date(d: date, rng: np.random.Generator, lo: date, hi: date) -> date:
    """Day and month swapped, or one digit changed; stays in [lo, hi] if it can."""
    if rng.random() < 0.4 and d.day <= 12 and d.day != d.month:
        swapped = date(d.year, d.day, d.month)
        if lo <= swapped <= hi:
            return swapped
    s = d.strftime("%Y%m%d")
    for _ in range(40):
        pos = int(rng.choice([3, 5, 6, 7]))
        digit = str(int(rng.integers(10)))
        if digit == s[pos]:
            continue
        new = _valid_ymd(s[:pos] + digit + s[pos + 1 :])
        if new is not None and lo <= new <= hi:
            return new
    return d - timedelta(days=1) if d - timedelta(days=1) >= lo else d + timedelta(days=1)


def _typo_id(s: str, rng: np.random.Generator, fix_check: bool) -> str:
    """One digit changed or two adjacent digits swapped in the month/day/sequence part."""
    for _ in range(60):
        chars = list(s[:17])
        if rng.random() < 0.5:
            i = int(rng.integers(10, 16))
            if chars[i] == chars[i + 1]:
                continue
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
        else:
            i = int(rng.integers(10, 17))
            digit = str(int(rng.integers(10)))
            if digit == chars[i]:
                continue
            chars[i] = digit
        body = "".join(chars)
        if _valid_ymd(body[6:14]) is None or body[14:17] == "000":
            continue
        check = _check_char(body) if fix_check else s[17]
        return body + check
    return s[:17] + _other_check(s[17], rng)


def _other_check(c: str, rng: np.random.Generator) -> str:
    choices = [x for x in "0123456789X" if x != c]
    return choices[int(rng.integers(len(choices)))]


def _with_id_date(s: str, d: date) -> str:
    body = s[:6] + d.strftime("%Y%m%d") + s[14:17]
    return body + _check_char(body)


def _neighbour(code: str, rng: np.random.Generator) -> str:
    geo = _geo()
    town = geo.township_of_code.get(code[:9])
    if town is None:
        return code
    others = [c for c in geo.village_codes[geo.villages_of[town]] if c != code]
    return str(others[int(rng.integers(len(others)))]) if others else code


def _other_township(code: str, rng: np.random.Generator) -> str:
    """A village (of divisions.csv) of another township of the county."""
    geo = _geo()
    town = geo.township_of_code.get(code[:9])
    others = np.flatnonzero(geo.village_township != town)
    return str(geo.village_codes[others[int(rng.integers(len(others)))]])


def _unknown_village(code: str, rng: np.random.Generator) -> str:
    return code[:9] + f"{int(rng.integers(900, 1000)):03d}"


def _mother_of_age(mother_id: str, ref: date, rng: np.random.Generator) -> str:
    """A mother id whose birth date makes her a child (7-10) or old (62-70) at ``ref``."""
    if rng.random() < 0.7:
        born = ref - timedelta(days=int(rng.integers(7 * 365, 10 * 365)))
        prefix = "420607"  # valid from 2001
    else:
        born = ref - timedelta(days=int(rng.integers(62 * 366, 70 * 365)))
        prefix = "420600"  # valid until 2009
    body = prefix + born.strftime("%Y%m%d") + mother_id[14:17]
    return body + _check_char(body)


def _bad_certificate(c: str, rng: np.random.Generator) -> str:
    forms = (c[:-1], c[1:] + str(int(rng.integers(10))), c[0] + c, c[:3] + "I" + c[4:])
    return forms[int(rng.integers(len(forms)))]


# ---------------------------------------------------------------------------
# Injection machinery: per kind, pick rows and mutate them
# ---------------------------------------------------------------------------

Mutation = Callable[[dict[str, Any], np.random.Generator], dict[str, Any] | None]


@dataclass(frozen=True)
class _Plan:
    label: str  # "misreport:sex", "warning:weight", "quarantine:bad_date"
    count: int
    eligible: pl.Expr  # on top of: role ok, not yet special
    mutate: Mutation


def _pick(candidates: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    k = min(k, len(candidates))
    return np.sort(rng.choice(candidates, k, replace=False)) if k else candidates[:0]


def _patch(df: pl.DataFrame, updates: Mapping[int, Mapping[str, Any]]) -> pl.DataFrame:
    per_col: dict[str, tuple[list[int], list[Any]]] = {}
    for i in sorted(updates):
        for col, value in updates[i].items():
            ix, vals = per_col.setdefault(col, ([], []))
            ix.append(i)
            vals.append(value)
    new = []
    for col, (ix, vals) in per_col.items():
        s = df.get_column(col).clone()
        s.scatter(ix, pl.Series(vals, dtype=s.dtype))
        new.append(s)
    return df.with_columns(new) if new else df


def _inject(
    df: pl.DataFrame, plans: Sequence[_Plan], rng: np.random.Generator, counts: Counter[str]
) -> pl.DataFrame:
    for plan in plans:
        mask = df.select(
            (pl.col("_role") == "ok") & ~pl.col("_special") & plan.eligible
        ).to_series()
        pool = np.flatnonzero(mask.to_numpy())
        updates: dict[int, dict[str, Any]] = {}
        # Rows the mutation declines (a name without a homophone) are replaced by
        # other eligible rows, so the count is met while candidates last.
        while len(updates) < plan.count and len(pool):
            idx = _pick(pool, plan.count - len(updates), rng)
            pool = np.setdiff1d(pool, idx, assume_unique=True)
            for i, row in zip(idx.tolist(), df[idx].to_dicts(), strict=True):
                upd = plan.mutate(row, rng)
                if upd is None:
                    continue
                upd["_special"] = True  # one injected change per record, at most
                updates[i] = upd
                counts[plan.label] += 1
        df = _patch(df, updates)
    return df


def _spread(total: int, kinds: Sequence[str], minimum: int = 1) -> dict[str, int]:
    """``total`` split evenly over ``kinds``, at least ``minimum`` each."""
    per = max(minimum, round(total / max(1, len(kinds))))
    return dict.fromkeys(kinds, per)


def _quarantine_plans(feed: FeedName, n_rows: int, csv: bool) -> list[_Plan]:
    spec = FEED_SPECS[feed]
    key = spec.key
    date_cols = [c.name for c in spec.columns if c.required and c.kind in ("date", "datetime")]
    # An empty sex is a valid "unknown" (feeds.md), so it cannot make a row missing_required.
    required = [c.name for c in spec.columns if c.required and c.name not in (key, "sex")]
    id_col = {"pop": "mother_id", "hosp": "mother_id", "police": "id_number"}[feed]
    int_col = {"pop": "birth_order", "hosp": "plurality"}.get(feed)
    enum_col = {"hosp": "outcome", "police": "registration_type"}.get(feed)

    def q(kind: str, col: str | None, raw: str) -> dict[str, Any]:
        return {"_q": kind, "_qcol": col, "_qraw": raw}

    def pick(seq: Sequence[str], rng: np.random.Generator) -> str:
        return seq[int(rng.integers(len(seq)))]

    def bad_date(row: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        col = pick(date_cols, rng)
        y = str(row["birth_date"].year if feed != "hosp" else row["delivered_at"].year)
        raw = pick((f"{y}-02-30", f"{y}-13-01", f"{y}/4/31", f"{y}0230", f"{y}年2月31日"), rng)
        if spec.column(col).kind == "datetime":
            raw += " 10:15"
        return q("bad_date", col, raw)

    def bad_id(row: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        s = row[id_col]
        raw = pick((s[:-1], s + "7", s[:9] + "A" + s[10:], s[:14], "身份证未带"), rng)
        return q("bad_id_form", id_col, raw)

    kinds: dict[str, Mutation] = {
        "missing_key": lambda r, g: q("missing_key", key, pick(("", "", " "), g)),
        "missing_required": lambda r, g: q("missing_required", pick(required, g), ""),
        "bad_date": bad_date,
        "bad_sex": lambda r, g: q("bad_sex", "sex", pick(("男性?", "X", "3", "MF", "男女"), g)),
        "bad_id_form": bad_id,
    }
    if csv:
        kinds["field_count"] = lambda r, g: q("field_count", None, "")
    if int_col:
        col = int_col
        kinds["bad_integer"] = lambda r, g: q(
            "bad_integer", col, pick(("双胎", "?", "1.5", "不详", "二孩"), g)
        )
    if enum_col:
        ecol = enum_col
        kinds["bad_enum"] = lambda r, g: q("bad_enum", ecol, pick(("迁入", "变更", "未知"), g))
    counts = _spread(round(n_rows * RATES["quarantine"]), list(kinds))
    return [
        _Plan(f"quarantine:{k}", counts[k], ~pl.col("_no_quarantine"), fn)
        for k, fn in kinds.items()
    ]


# ---------------------------------------------------------------------------
# Stage 2: pop
# ---------------------------------------------------------------------------


def _meta_defaults(n: int) -> dict[str, pl.Series]:
    """Bookkeeping columns every feed frame carries until the truth is written."""
    return {
        "_dup_of": pl.Series("_dup_of", [None] * n, dtype=pl.String),
        "_special": pl.Series("_special", [False] * n, dtype=pl.Boolean),
        "_no_quarantine": pl.Series("_no_quarantine", [False] * n, dtype=pl.Boolean),
        "_q": pl.Series("_q", [None] * n, dtype=pl.String),
        "_qcol": pl.Series("_qcol", [None] * n, dtype=pl.String),
        "_qraw": pl.Series("_qraw", [None] * n, dtype=pl.String),
    }


def _township_name(code: pl.Expr) -> pl.Expr:
    return code.str.slice(0, 9).replace_strict(
        {COUNTY_CODE + t: n for t, n in TOWNSHIPS}, default=None, return_dtype=pl.String
    )


def _make_pop(
    births: pl.DataFrame,
    fictitious: pl.DataFrame,
    as_of: date,
    rng: np.random.Generator,
    csv: bool,
    counts: Counter[str],
    mix: Mapping[str, float],
    numbers: Counter[int] | None = None,
) -> pl.DataFrame:
    """The register: reported births, duplicates, fictitious records, then errors."""
    rows = _pop_reported(births, as_of, rng)
    dups = _pop_duplicates(rows, as_of, rng)
    fict = _pop_fictitious(fictitious, rng)
    counts["duplicate"] += dups.height
    counts["fictitious"] += fict.height
    counts["stillbirth_registered"] += int((rows["_role"] == "stillbirth_registered").sum())
    df = _pop_numbered(pl.concat([rows, dups, fict], how="vertical_relaxed"), rng, numbers)
    df = _pop_details(df, rng, counts)
    m = df.height
    df = _inject(df, _misreport_plans("pop", m, as_of, mix), rng, counts)
    df = _inject(df, _warning_plans("pop", m, as_of), rng, counts)
    return _inject(df, _quarantine_plans("pop", m, csv), rng, counts)


def _pop_reported(births: pl.DataFrame, as_of: date, rng: np.random.Generator) -> pl.DataFrame:
    """One record per birth reported by as_of (live births, some stillbirths)."""
    base = births.filter(
        pl.col("pop_reported_on").is_not_null() & (pl.col("pop_reported_on") <= as_of)
    )
    n = base.height
    early = (base["pop_lag"] < 30).to_numpy()
    unnamed = rng.random(n) < np.where(early, 0.3, 0.03)
    with_id = rng.random(n) < 0.85
    return base.select(
        pl.col("birth_id").alias("_birth_id"),
        pl.when(pl.col("outcome") == "live")
        .then(pl.lit("ok"))
        .otherwise(pl.lit("stillbirth_registered"))
        .alias("_role"),
        pl.when(pl.Series(~unnamed)).then(pl.col("name")).alias("name"),
        "sex",
        "birth_date",
        pl.when(pl.Series(with_id)).then(pl.col("id_number")).alias("id_number"),
        "mother_name",
        "mother_id",
        pl.when(pl.Series(rng.random(n) < 0.88)).then(pl.col("father_name")).alias("father_name"),
        "birth_order",
        pl.col("residence_code").alias("division_code"),  # where the family lives now
        pl.col("pop_reported_on").alias("reported_on"),
    )


def _pop_duplicates(rows: pl.DataFrame, as_of: date, rng: np.random.Generator) -> pl.DataFrame:
    """重报: a later second record of a reported birth, often after a move."""
    geo = _geo()
    k_dup = max(1, round(rows.height * RATES["pop_duplicate"]))
    eligible = rows.select(
        (pl.col("_role") == "ok") & (pl.col("reported_on") <= as_of - timedelta(days=20))
    ).to_series()
    idx = _pick(np.flatnonzero(eligible.to_numpy()), k_dup, rng)
    dups = rows[idx]
    k = len(idx)
    room = (as_of - dups["reported_on"]).dt.total_days().to_numpy()
    later = np.minimum(room, rng.integers(20, 401, k))
    moved = rng.random(k) < 0.65
    new_village = geo.village_codes[rng.choice(len(geo.village_codes), k, p=geo.village_weights)]
    names = dups["name"].to_list()
    for i, r in enumerate(rng.random(k)):
        if r < 0.25:
            names[i] = _homophone(names[i], rng) or names[i]
        elif r < 0.35:
            names[i] = None
    return dups.with_columns(
        pl.lit("duplicate").alias("_role"),
        pl.Series("name", names, dtype=pl.String),
        pl.when(pl.Series(moved))
        .then(pl.Series(new_village))
        .otherwise(pl.col("division_code"))
        .alias("division_code"),
        pl.when(pl.Series(rng.random(k) < 0.5)).then(pl.col("id_number")).alias("id_number"),
        (pl.col("reported_on") + pl.duration(days=pl.lit(pl.Series(later)))).alias("reported_on"),
    )


def _pop_fictitious(fictitious: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """虚报: plausible births (drawn like real ones) that no other system saw."""
    nf = fictitious.height
    lag = pl.lit(pl.Series(rng.integers(10, 91, nf)))
    return fictitious.select(
        pl.lit(None, dtype=pl.String).alias("_birth_id"),
        pl.lit("fictitious").alias("_role"),
        pl.when(pl.Series(rng.random(nf) < 0.7)).then(pl.col("name")).alias("name"),
        "sex",
        "birth_date",
        pl.lit(None, dtype=pl.String).alias("id_number"),
        "mother_name",
        "mother_id",
        pl.when(pl.Series(rng.random(nf) < 0.8)).then(pl.col("father_name")).alias("father_name"),
        "birth_order",
        "division_code",
        (pl.col("birth_date") + pl.duration(days=lag)).alias("reported_on"),
    )


def _pop_numbered(
    df: pl.DataFrame, rng: np.random.Generator, numbers: Counter[int] | None = None
) -> pl.DataFrame:
    """File order = order of entry; record_id RK + year + running number; duplicate_of.

    ``numbers`` (year -> numbers used by earlier blocks) is updated."""
    order = np.lexsort((rng.random(df.height), df["reported_on"].to_physical().to_numpy()))
    df = df[order]
    year = pl.col("reported_on").dt.year()
    used = pl.lit(0, dtype=pl.Int64)
    if numbers:
        used = year.replace_strict(dict(numbers), default=0, return_dtype=pl.Int64)
    df = df.with_columns(
        (
            pl.lit("RK")
            + year.cast(pl.String)
            + (pl.int_range(pl.len()).over(year) + 1 + used).cast(pl.String).str.zfill(7)
        ).alias("record_id")
    )
    if numbers is not None:
        numbers.update(
            {int(y): int(c) for y, c in df["reported_on"].dt.year().value_counts().iter_rows()}
        )
    kept = df.filter(pl.col("_role") == "ok").select("_birth_id", _kept="record_id")
    return (
        df.join(kept, on="_birth_id", how="left", maintain_order="left")
        .with_columns(
            pl.when(pl.col("_role") == "duplicate").then(pl.col("_kept")).alias("_dup_of")
        )
        .drop("_kept")
    )


def _pop_details(df: pl.DataFrame, rng: np.random.Generator, counts: Counter[str]) -> pl.DataFrame:
    """Reporting unit, the 备注 column (a few with an embedded newline), bookkeeping."""
    m = df.height
    unit_suffix = rng.choice(["计生办", "卫生院", ""], m, p=[0.7, 0.2, 0.1])
    remark = np.where(
        rng.random(m) < 0.08, np.array(_REMARKS)[rng.integers(0, len(_REMARKS), m)], ""
    )
    has_dup = df.filter(pl.col("_role") == "duplicate")["_birth_id"].unique()
    d = _meta_defaults(m)
    df = df.with_columns(
        pl.when(pl.Series(unit_suffix != ""))
        .then(_township_name(pl.col("division_code")) + pl.Series(unit_suffix))
        .alias("reporting_unit"),
        pl.Series("备注", remark).replace("", None),
        (pl.col("_role") != "ok").alias("_special"),
        # the kept record of a duplicated birth stays valid, so in_pop is clear-cut
        pl.col("_birth_id").is_in(has_dup.implode()).fill_null(False).alias("_no_quarantine"),
        d["_q"],
        d["_qcol"],
        d["_qraw"],
    )
    # A physical line is not a record: a few quoted remarks span two lines.
    nl = _pick(np.arange(m), max(2, round(m * 0.0005)), rng)
    counts["messy:embedded_newline"] += len(nl)
    return _patch(
        df,
        {
            int(i): {"备注": "待核实\n电话未接通", "_no_quarantine": True, "_special": True}
            for i in nl
        },
    )


def _misreport_plans(
    feed: FeedName, n_rows: int, as_of: date, mix: Mapping[str, float]
) -> list[_Plan]:
    """错报: per field, ``mix["<feed>.<field>"]`` of the feed's rows (see MISREPORT_KEYS)."""
    lo = as_of - timedelta(days=WINDOW_DAYS + 60)
    reported = "reported_on" if feed == "pop" else "registered_on"

    def birth_date(r: dict[str, Any], g: np.random.Generator) -> dict[str, Any]:
        return {"birth_date": _typo_date(r["birth_date"], g, lo, min(r[reported], as_of))}

    def name(r: dict[str, Any], g: np.random.Generator) -> dict[str, Any] | None:
        v = _homophone(r["name"], g)
        return {"name": v} if v else None

    def birth_order(r: dict[str, Any], g: np.random.Generator) -> dict[str, Any]:
        o = r["birth_order"]
        return {"birth_order": o + 1 if o == 1 or g.random() < 0.5 else o - 1}

    def id_typo(col: str) -> Mutation:
        return lambda r, g: {col: _typo_id(r[col], g, g.random() < 0.5)}

    def has(col: str) -> pl.Expr:
        return pl.col(col).is_not_null()

    fields: dict[str, tuple[pl.Expr, Mutation]] = {
        "sex": (has("sex"), lambda r, g: {"sex": _flip(r["sex"])}),
        "birth_date": (pl.lit(True), birth_date),
        "mother_id": (has("mother_id"), id_typo("mother_id")),
        "id_number": (has("id_number"), id_typo("id_number")),
        "name": (has("name"), name),
        "birth_order": (has("birth_order"), birth_order),
        "division_code": (
            pl.lit(True),
            lambda r, g: {"division_code": _neighbour(r["division_code"], g)},
        ),
        # recorded as a division_code misreport, but in another township
        "division_township": (
            pl.lit(True),
            lambda r, g: {"division_code": _other_township(r["division_code"], g)},
        ),
    }
    plans = []
    for key in MISREPORT_KEYS:
        f, _, name_ = key.partition(".")
        if f != feed or mix[key] <= 0:
            continue
        eligible, mutate = fields[name_]
        plans.append(_Plan(f"misreport:{name_}", round(n_rows * mix[key]), eligible, mutate))
    return plans


def _flip(sex: str) -> str:
    return "F" if sex == "M" else "M"


# ---------------------------------------------------------------------------
# Warning plans (readable values that fail a check)
# ---------------------------------------------------------------------------


def _warning_plans(feed: FeedName, n_rows: int, as_of: date) -> list[_Plan]:
    born = "delivered_at" if feed == "hosp" else "birth_date"
    reported = "reported_on" if feed == "pop" else "registered_on"

    def ref(r: dict[str, Any]) -> date:
        v = r[born]
        return v.date() if isinstance(v, datetime) else v

    def bad_check(r: dict[str, Any], g: np.random.Generator) -> dict[str, Any]:
        col = "id_number" if feed == "pop" and r["id_number"] and g.random() < 0.5 else "mother_id"
        return {col: r[col][:17] + _other_check(r[col][17], g)}

    def shift_date(r: dict[str, Any], g: np.random.Generator) -> date:
        d = ref(r)
        delta = timedelta(days=int(g.integers(1, 41)))
        return d - delta if feed == "police" or d + delta > as_of else d + delta

    def id_date(r: dict[str, Any], g: np.random.Generator) -> dict[str, Any]:
        if feed == "police":
            return {"birth_date": shift_date(r, g)}
        return {"id_number": _with_id_date(r["id_number"], shift_date(r, g))}

    def id_sex(r: dict[str, Any], g: np.random.Generator) -> dict[str, Any]:
        if feed == "police":
            return {"sex": _flip(r["sex"])}
        s = r["id_number"]
        seq = int(s[14:17])
        seq = seq + 1 if seq < 999 and (seq % 2 == 0 or seq == 1) else seq - 1
        body = s[:14] + f"{seq:03d}"
        return {"id_number": body + _check_char(body)}

    has_mother_id = pl.col("mother_id").is_not_null()
    plans: dict[str, tuple[pl.Expr, Mutation]] = {
        "bad_check_char": (has_mother_id, bad_check),
        "mother_age": (
            has_mother_id,
            lambda r, g: {"mother_id": _mother_of_age(r["mother_id"], ref(r), g)},
        ),
        "unknown_division": (
            pl.lit(True),
            lambda r, g: {"division_code": _unknown_village(r["division_code"], g)},
        ),
        "future_date": (
            pl.lit(True),
            lambda r, g: {reported: as_of + timedelta(days=int(g.integers(1, 91)))},
        ),
        "reported_before_birth": (
            pl.lit(True),
            lambda r, g: {reported: ref(r) - timedelta(days=int(g.integers(1, 61)))},
        ),
    }
    if feed in ("pop", "police"):
        has_id = pl.col("id_number").is_not_null()
        plans["id_birth_date_mismatch"] = (has_id, id_date)
        plans["id_sex_mismatch"] = (has_id & pl.col("sex").is_not_null(), id_sex)
    if feed in ("hosp", "police"):
        plans["certificate_form"] = (
            pl.col("certificate_no").is_not_null(),
            lambda r, g: {"certificate_no": _bad_certificate(r["certificate_no"], g)},
        )
    if feed == "hosp":
        weights = (120, 150, 8500, 32000, 9999)
        weeks = (4, 3, 15, 50, 62, 390)
        plans["weight"] = (
            pl.col("birth_weight_g").is_not_null(),
            lambda r, g: {"birth_weight_g": weights[int(g.integers(len(weights)))]},
        )
        plans["gestation"] = (
            pl.col("gestation_weeks").is_not_null(),
            lambda r, g: {"gestation_weeks": weeks[int(g.integers(len(weeks)))]},
        )
        plans["rank_plurality"] = (
            pl.lit(True),
            lambda r, g: {"birth_rank": r["plurality"] + 1},
        )
    counts = _spread(round(n_rows * RATES["warning"]), list(plans))
    return [_Plan(f"warning:{k}", counts[k], e, fn) for k, (e, fn) in plans.items()]


# ---------------------------------------------------------------------------
# Stage 3: hosp
# ---------------------------------------------------------------------------


def _make_hosp(
    births: pl.DataFrame,
    as_of: date,
    rng: np.random.Generator,
    csv: bool,
    counts: Counter[str],
    mix: Mapping[str, float],
) -> pl.DataFrame:
    base = births.filter(
        pl.col("hosp_registered_on").is_not_null() & (pl.col("hosp_registered_on") <= as_of)
    )
    n = base.height
    codes = pl.Series([c for c, _, _ in _FACILITIES])
    names = pl.Series([nm for _, nm, _ in _FACILITIES])
    still = (base["outcome"] == "stillbirth").to_numpy()
    unknown_sex = still & (rng.random(n) < 0.3)
    counts["messy:sex_unknown"] += int(unknown_sex.sum())
    single = (base["plurality"] == 1).to_numpy()
    df = base.select(
        pl.col("birth_id").alias("_birth_id"),
        pl.lit("ok").alias("_role"),
        (
            pl.lit("FM")
            + pl.col("delivered_at").dt.strftime("%Y%m%d")
            + (pl.int_range(pl.len()).over(pl.col("birth_date")) + 1).cast(pl.String).str.zfill(5)
        ).alias("delivery_id"),
        codes.gather(base["facility"]).alias("facility_code"),
        pl.when(pl.Series(rng.random(n) < 0.97))
        .then(names.gather(base["facility"]))
        .alias("facility_name"),
        "mother_name",
        "mother_id",
        "delivered_at",
        pl.when(pl.Series(~unknown_sex)).then(pl.col("sex")).alias("sex"),
        "plurality",
        pl.when(pl.Series(~single | (rng.random(n) < 0.7)))
        .then(pl.col("birth_rank"))
        .alias("birth_rank"),
        pl.when(pl.Series(rng.random(n) < 0.95)).then(pl.col("birth_order")).alias("birth_order"),
        pl.when(pl.Series(rng.random(n) < 0.98)).then(pl.col("weight")).alias("birth_weight_g"),
        pl.when(pl.Series(rng.random(n) < 0.97)).then(pl.col("gestation")).alias("gestation_weeks"),
        pl.when(pl.col("outcome") == "live")
        .then(pl.lit("活产"))
        .otherwise(pl.lit("死产"))
        .alias("outcome"),
        "certificate_no",
        "division_code",
        pl.col("hosp_registered_on").alias("registered_on"),
    )
    d = _meta_defaults(n)
    df = df.with_columns(d.values())
    df = _inject(df, _misreport_plans("hosp", n, as_of, mix), rng, counts)
    df = _inject(df, _warning_plans("hosp", n, as_of), rng, counts)
    df = _inject(df, _quarantine_plans("hosp", n, csv), rng, counts)
    return df


# ---------------------------------------------------------------------------
# Stage 4: police
# ---------------------------------------------------------------------------


def _make_police(
    births: pl.DataFrame,
    as_of: date,
    rng: np.random.Generator,
    counts: Counter[str],
    mix: Mapping[str, float],
) -> pl.DataFrame:
    base = births.filter(
        pl.col("police_registered_on").is_not_null() & (pl.col("police_registered_on") <= as_of)
    ).sort("police_registered_on", "id_number")
    n = base.height
    late = base["police_late"].to_numpy()
    no_cert = late & (rng.random(n) < RATES["late_without_certificate"])
    df = base.select(
        pl.col("birth_id").alias("_birth_id"),
        pl.lit("ok").alias("_role"),
        "id_number",
        "name",
        "sex",
        "birth_date",
        pl.when(pl.Series(~no_cert)).then(pl.col("certificate_no")).alias("certificate_no"),
        pl.when(pl.Series(rng.random(n) < 0.97)).then(pl.col("mother_name")).alias("mother_name"),
        pl.when(pl.Series(rng.random(n) < 0.95)).then(pl.col("mother_id")).alias("mother_id"),
        "household_no",
        "division_code",
        pl.col("police_registered_on").alias("registered_on"),
        pl.when(pl.col("police_late"))
        .then(pl.lit("补录"))
        .otherwise(pl.lit("出生登记"))
        .alias("registration_type"),
        (_township_name(pl.col("division_code")).str.replace("街道$|镇$", "") + "派出所").alias(
            "派出所"
        ),
    )
    d = _meta_defaults(n)
    df = df.with_columns(d.values())
    df = _inject(df, _misreport_plans("police", n, as_of, mix), rng, counts)
    df = _inject(df, _warning_plans("police", n, as_of), rng, counts)
    df = _inject(df, _quarantine_plans("police", n, True), rng, counts)
    return df


# ---------------------------------------------------------------------------
# Stage 5: messy forms (canonical values -> written text)
# ---------------------------------------------------------------------------

_FULL_WIDTH = [chr(0xFF10 + i) for i in range(10)]
_DIGITS = [str(i) for i in range(10)]


def _choose(rng: np.random.Generator, n: int, p: Sequence[float]) -> pl.Series:
    return pl.Series(rng.choice(len(p), n, p=np.asarray(p) / sum(p)))


def _count(counts: Counter[str], label: str, mask: pl.Series) -> None:
    counts[f"messy:{label}"] += int(mask.sum())


_DATE_FORMS = ("%Y-%m-%d", "%Y/%-m/%-d", "%Y%m%d", "%Y年%-m月%-d日")
_DATE_P = (0.72, 0.12, 0.08, 0.08)


def _render_date(s: pl.Series, rng: np.random.Generator, counts: Counter[str]) -> pl.Series:
    form = _choose(rng, len(s), _DATE_P)
    for k, label in ((1, "date_slash"), (2, "date_compact"), (3, "date_chinese")):
        _count(counts, label, (form == k) & s.is_not_null())
    expr: Any = pl.when(form == 0).then(s.dt.strftime(_DATE_FORMS[0]))
    for k in (1, 2, 3):
        expr = expr.when(form == k).then(s.dt.strftime(_DATE_FORMS[k]))
    return pl.select(expr.otherwise(None)).to_series().fill_null("")


def _render_datetime(s: pl.Series, rng: np.random.Generator, counts: Counter[str]) -> pl.Series:
    form = _choose(rng, len(s), _DATE_P)
    secs = pl.Series(rng.random(len(s)) < 0.5)
    _count(counts, "time_seconds", secs)
    expr: Any = None
    for k, fmt in enumerate(_DATE_FORMS):
        for with_s in (False, True):
            cond = (form == k) & (secs == with_s)
            val = s.dt.strftime(fmt + (" %H:%M:%S" if with_s else " %H:%M"))
            expr = pl.when(cond).then(val) if expr is None else expr.when(cond).then(val)
    return pl.select(expr.otherwise(None)).to_series().fill_null("")


def _render_sex(s: pl.Series, rng: np.random.Generator, counts: Counter[str]) -> pl.Series:
    n = len(s)
    form = _choose(rng, n, (0.6, 0.2, 0.2))
    _count(counts, "sex_digit", form == 1)
    _count(counts, "sex_letter", form == 2)
    unknown = pl.Series(np.array(["未知", "0", "9"])[rng.integers(0, 3, n)])
    male = pl.Series(np.array(["男", "1", "M"])[form.to_numpy()])
    female = pl.Series(np.array(["女", "2", "F"])[form.to_numpy()])
    return pl.select(
        pl.when(s == "M").then(male).when(s == "F").then(female).otherwise(unknown)
    ).to_series()


def _valid_check(s: pl.Series) -> pl.Series:
    body = s.str.slice(0, 17).cast(pl.Int64, strict=True)
    ok = body.is_not_null() & (s.str.len_chars() == 18)
    chars = _check_chars(body.fill_null(0).to_numpy())
    return ok & (s.str.slice(17, 1) == pl.Series(chars))


def _render_id(
    s: pl.Series, rng: np.random.Generator, counts: Counter[str], allow15: bool
) -> pl.Series:
    n = len(s)
    out = s
    if allow15:
        short = (s.str.slice(6, 2) == "19") & _valid_check(s) & pl.Series(rng.random(n) < 0.08)
        short = short.fill_null(False)
        _count(counts, "id_15_digit", short)
        out = pl.select(
            pl.when(short).then(s.str.slice(0, 6) + s.str.slice(8, 9)).otherwise(s)
        ).to_series()
    lower = out.str.ends_with("X") & pl.Series(rng.random(n) < 0.5)
    _count(counts, "id_lower_x", lower.fill_null(False))
    out = pl.select(pl.when(lower).then(out.str.to_lowercase()).otherwise(out)).to_series()
    full = pl.Series(rng.random(n) < 0.03) & out.is_not_null()
    _count(counts, "id_full_width", full)
    out = pl.select(
        pl.when(full).then(out.str.replace_many(_DIGITS, _FULL_WIDTH)).otherwise(out)
    ).to_series()
    space = _choose(rng, n, (0.97, 0.01, 0.01, 0.01))
    _count(counts, "id_spaces", (space != 0) & out.is_not_null())
    out = pl.select(
        pl.when(space == 1)
        .then(" " + out + " ")
        .when(space == 2)
        .then(out.str.slice(0, 6) + " " + out.str.slice(6, 8) + " " + out.str.slice(14))
        .when(space == 3)
        .then(out + " ")
        .otherwise(out)
    ).to_series()
    return out.fill_null("")


def _render_division(
    s: pl.Series, rng: np.random.Generator, counts: Counter[str], shorten: bool
) -> tuple[pl.Series, pl.Series, pl.Series]:
    """(written, canonical, shortened?)."""
    n = len(s)
    known = s.is_in(pl.Series(list(_geo().codes)).implode()).fill_null(False)
    form = _choose(rng, n, (0.955, 0.015, 0.03) if shorten else (1.0, 0.0, 0.0))
    six = (form == 1) & known
    nine = (form == 2) & known
    _count(counts, "division_6_digit", six)
    _count(counts, "division_9_digit", nine)
    written = pl.select(
        pl.when(six).then(s.str.slice(0, 6)).when(nine).then(s.str.slice(0, 9)).otherwise(s)
    ).to_series()
    canonical = written.str.pad_end(12, "0")
    return written.fill_null(""), canonical, six | nine


def _render_certificate(s: pl.Series, rng: np.random.Generator, counts: Counter[str]) -> pl.Series:
    lower = pl.Series(rng.random(len(s)) < 0.05) & s.is_not_null()
    _count(counts, "certificate_lower", lower)
    return (
        pl.select(pl.when(lower).then(s.str.to_lowercase()).otherwise(s)).to_series().fill_null("")
    )


def _render_text(
    s: pl.Series, rng: np.random.Generator, counts: Counter[str], rate: float = 0.04
) -> pl.Series:
    n = len(s)
    pad = _choose(rng, n, (1 - rate, rate / 4, rate / 4, rate / 4, rate / 4))
    _count(counts, "text_padded", (pad != 0) & s.is_not_null())
    return (
        pl.select(
            pl.when(pad == 1)
            .then(" " + s)
            .when(pad == 2)
            .then(s + "  ")
            .when(pad == 3)
            .then("\u3000" + s)
            .when(pad == 4)
            .then(" " + s + "\u3000")
            .otherwise(s)
        )
        .to_series()
        .fill_null("")
    )


def _render_integer(s: pl.Series, rng: np.random.Generator, counts: Counter[str]) -> pl.Series:
    form = _choose(rng, len(s), (0.94, 0.03, 0.03))
    txt = s.cast(pl.String)
    _count(counts, "integer_spaces", (form == 1) & s.is_not_null())
    _count(counts, "integer_full_width", (form == 2) & s.is_not_null())
    return (
        pl.select(
            pl.when(form == 1)
            .then(" " + txt + " ")
            .when(form == 2)
            .then(txt.str.replace_many(_DIGITS, _FULL_WIDTH))
            .otherwise(txt)
        )
        .to_series()
        .fill_null("")
    )


def _render(
    df: pl.DataFrame, feed: FeedName, rng: np.random.Generator, counts: Counter[str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Written text of every column (quarantine raws applied) and updated canonical frame."""
    spec = FEED_SPECS[feed]
    written: dict[str, pl.Series] = {}
    short = pl.Series([False] * df.height, dtype=pl.Boolean)
    for col in spec.columns:
        s = df.get_column(col.name)
        if col.kind == "date":
            w = _render_date(s, rng, counts)
        elif col.kind == "datetime":
            w = _render_datetime(s, rng, counts)
        elif col.kind == "sex":
            w = _render_sex(s, rng, counts)
        elif col.kind == "id_number":
            w = _render_id(s, rng, counts, allow15=col.name == "mother_id")
        elif col.kind == "division":
            w, canonical, short = _render_division(s, rng, counts, shorten=feed != "pop")
            df = df.with_columns(canonical.alias(col.name))
        elif col.kind == "certificate":
            w = _render_certificate(s, rng, counts)
        elif col.kind == "integer":
            w = _render_integer(s, rng, counts)
        else:
            key = col.name == spec.key
            w = _render_text(s, rng, counts, 0.01 if key or col.kind == "enum" else 0.04)
        written[col.name] = w.alias(col.name)
    extra = EXTRA_COLUMN[feed]
    if extra:
        written[extra] = df.get_column(extra).fill_null("")
    out = pl.DataFrame(written)
    # Quarantine: the unreadable raw value replaces the written one.
    q = df.select("_qcol", "_qraw").with_row_index("i").filter(pl.col("_qcol").is_not_null())
    for col_name, group in q.group_by("_qcol", maintain_order=True):
        s = out.get_column(str(col_name[0])).clone()
        s.scatter(group["i"].to_list(), group["_qraw"])
        out = out.with_columns(s)
    return out, df.with_columns(short.alias("_div_short"))


# ---------------------------------------------------------------------------
# Stage 6: writing files
# ---------------------------------------------------------------------------


def _csv_field(v: pl.Expr) -> pl.Expr:
    v = v.fill_null("")
    return (
        pl.when(v.str.contains('[",\r\n]'))
        .then('"' + v.str.replace_all('"', '""', literal=True) + '"')
        .otherwise(v)
    )


def _quote(v: str) -> str:
    return '"' + v.replace('"', '""') + '"' if re.search('[",\r\n]', v) else v


def _bad_field_count(fields: list[str], rng: np.random.Generator) -> str:
    """The row with one comma too many or too few."""
    cells = [_quote(f) for f in fields]
    plain = [i for i in range(1, len(cells)) if cells[i] and cells[i][0] != '"']
    if rng.random() < 0.5:
        texts = [i for i in plain if len(cells[i]) >= 2 and not cells[i].isascii()]
        if texts and rng.random() < 0.5:
            i = texts[int(rng.integers(len(texts)))]
            cells[i] = cells[i][:1] + "," + cells[i][1:]
        else:
            cells.insert(int(rng.integers(1, len(cells))), "")
    else:
        pairs = [i for i in range(1, len(cells)) if '"' not in cells[i - 1] + cells[i]]
        i = pairs[int(rng.integers(len(pairs)))]
        cells[i - 1 : i + 1] = [cells[i - 1] + cells[i]]
    return ",".join(cells)


def _write_csv(
    path: Path,
    written: pl.DataFrame,
    header: Sequence[str],
    field_count: np.ndarray,
    rng: np.random.Generator,
    *,
    encoding: str,
    bom: bool,
    newline: str,
    first_line: int = 2,
) -> tuple[np.ndarray, int]:
    """Write, or append the rows after ``first_line`` > 2; return the physical line
    where each record starts (header = 1) and the line after the last."""
    lines = written.select(
        pl.concat_str([_csv_field(pl.col(c)) for c in written.columns], separator=",")
    ).to_series()
    if len(field_count):
        rows = written[field_count].rows()
        lines = lines.clone()
        lines.scatter(field_count.tolist(), [_bad_field_count(list(r), rng) for r in rows])
    body = lines.str.join(newline).item() if len(lines) else ""
    text = body + (newline if len(lines) else "")
    breaks = lines.str.count_matches("\n").to_numpy().astype(np.int64) + 1
    starts = first_line + np.cumsum(breaks) - breaks
    if first_line > 2:
        with path.open("ab") as f:
            f.write(text.encode(encoding))
    else:
        head = ",".join(_quote(h) for h in header) + newline
        path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + (head + text).encode(encoding))
    return starts, first_line + int(breaks.sum())


_EXCEL_EPOCH = date(1899, 12, 30)


def _xlsx_columns(
    canon: pl.DataFrame,
    written: pl.DataFrame,
    feed: FeedName,
    rng: np.random.Generator,
    counts: Counter[str],
) -> list[list[Any]]:
    """Cell values: typed for most dates and integers, text otherwise."""
    spec = FEED_SPECS[feed]
    n = canon.height
    text_only = canon["_q"].is_not_null().to_numpy()
    cols: list[list[Any]] = []
    for col in spec.columns:
        txt = [v if v != "" else None for v in written.get_column(col.name).to_list()]
        if col.kind in ("date", "datetime", "integer"):
            values = canon.get_column(col.name).to_list()
            if col.kind == "integer":
                form = np.where(rng.random(n) < 0.9, 0, 2)
            else:
                form = rng.choice(3, n, p=[0.55, 0.15, 0.30])
            form[text_only] = 2
            out: list[Any] = []
            for v, t, f in zip(values, txt, form.tolist(), strict=True):
                if v is None or f == 2:
                    out.append(t)
                elif f == 0:
                    out.append(v)
                elif isinstance(v, datetime):
                    delta = v - datetime(1899, 12, 30)
                    out.append(delta.days + delta.seconds / 86400)
                else:
                    out.append((v - _EXCEL_EPOCH).days)
            if col.kind != "integer":
                counts["messy:xlsx_date_cell"] += int((form == 0).sum())
                counts["messy:xlsx_serial"] += int((form == 1).sum())
            cols.append(out)
        else:
            cols.append(txt)
    return cols


def _write_xlsx(path: Path, header: Sequence[str], cols: list[list[Any]], as_of: date) -> None:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("分娩登记")
    ws.append(list(header))
    for row in zip(*cols, strict=True):
        ws.append(list(row))
    stamp = datetime(as_of.year, as_of.month, as_of.day)
    wb.properties.created = stamp
    wb.properties.modified = stamp
    wb.save(path)
    _normalise_zip(path, stamp)


def _normalise_zip(path: Path, stamp: datetime) -> None:
    """Fixed timestamps in the zip and its core properties: same input, same bytes."""
    iso = stamp.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    with zipfile.ZipFile(path) as zin:
        items = [(info.filename, zin.read(info)) for info in zin.infolist()]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, data in items:
            if name == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>" + iso, data)
            info = zipfile.ZipInfo(name, date_time=stamp.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(info, data)
    path.write_bytes(buf.getvalue())


# ---------------------------------------------------------------------------
# Stage 7: truth
# ---------------------------------------------------------------------------


def _warnings(df: pl.DataFrame, feed: FeedName, as_of: date) -> pl.Series:
    """Warning kinds the canonical values trigger, ';'-joined in a fixed order."""
    spec = FEED_SPECS[feed]
    born = pl.col("delivered_at").dt.date() if feed == "hosp" else pl.col("birth_date")
    reported = pl.col("reported_on" if feed == "pop" else "registered_on")
    id_cols = [c.name for c in spec.columns if c.kind == "id_number"]
    date_cols = [c.name for c in spec.columns if c.kind in ("date", "datetime")]
    checks: list[tuple[str, pl.Expr]] = []
    bad_check = pl.lit(False)
    for c in id_cols:
        bad_check = bad_check | (pl.col(c).is_not_null() & ~pl.Series(_valid_check(df[c])))
    checks.append(("bad_check_char", bad_check))
    mb = pl.col("mother_id").str.slice(6, 8).str.strptime(pl.Date, "%Y%m%d", strict=False)
    age = (
        born.dt.year()
        - mb.dt.year()
        - ((born.dt.month() * 100 + born.dt.day()) < (mb.dt.month() * 100 + mb.dt.day())).cast(
            pl.Int32
        )
    )
    checks.append(("mother_age", (age < 12) | (age > 60)))
    codes = pl.Series(sorted(_geo().codes))
    checks.append(("unknown_division", ~pl.col("division_code").is_in(codes.implode())))
    if feed == "hosp":
        checks.append(("weight", ~pl.col("birth_weight_g").is_between(300, 7000)))
        checks.append(("gestation", ~pl.col("gestation_weeks").is_between(20, 45)))
    future = pl.lit(False)
    for c in date_cols:
        v = pl.col(c).dt.date() if spec.column(c).kind == "datetime" else pl.col(c)
        future = future | (v > as_of)
    checks.append(("future_date", future))
    checks.append(("reported_before_birth", reported < born))
    if feed in ("pop", "police"):
        checks.append(
            (
                "id_birth_date_mismatch",
                pl.col("id_number").str.slice(6, 8) != born.dt.strftime("%Y%m%d"),
            )
        )
        odd = pl.col("id_number").str.slice(16, 1).cast(pl.Int32, strict=True) % 2 == 1
        checks.append(("id_sex_mismatch", odd != (pl.col("sex") == "M")))
    if feed in ("hosp", "police"):
        checks.append(
            ("certificate_form", ~pl.col("certificate_no").str.contains(r"^[A-Z][0-9]{9}$"))
        )
    if feed == "hosp":
        checks.append(("rank_plurality", pl.col("birth_rank") > pl.col("plurality")))
    return df.select(
        pl.concat_list(
            [pl.when(e.fill_null(False)).then(pl.lit(k)).otherwise(None) for k, e in checks]
        )
        .list.drop_nulls()
        .list.join(";")
        .alias("warnings")
    ).to_series()


def _as_text(e: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    if dtype == pl.Datetime:
        return e.dt.strftime("%Y-%m-%d %H:%M:%S")
    return e.cast(pl.String)


_COMPARED: dict[FeedName, tuple[str, ...]] = {
    "pop": (
        "name",
        "sex",
        "birth_date",
        "id_number",
        "mother_name",
        "mother_id",
        "birth_order",
        "division_code",
    ),
    "hosp": (
        "mother_name",
        "mother_id",
        "delivered_at",
        "sex",
        "plurality",
        "birth_rank",
        "birth_order",
        "outcome",
        "certificate_no",
        "division_code",
    ),
    "police": (
        "id_number",
        "name",
        "sex",
        "birth_date",
        "certificate_no",
        "mother_name",
        "mother_id",
        "division_code",
    ),
}


def _misreports(valid: pl.DataFrame, feed: FeedName, truth: pl.DataFrame) -> pl.DataFrame:
    spec = FEED_SPECS[feed]
    # pop records where the family lives (residence_code); hosp and police the
    # registered residence (division_code): a family that moved is no misreport.
    truth = truth.with_columns(
        pl.col("residence_code" if feed == "pop" else "division_code").alias("division_code")
    )
    t = truth.select(
        pl.col("birth_id").alias("_birth_id"),
        *(pl.col(c).alias(f"_t_{c}") for c in _COMPARED[feed] if c != "outcome"),
        pl.when(pl.col("outcome") == "live")
        .then(pl.lit("活产"))
        .otherwise(pl.lit("死产"))
        .alias("_t_outcome"),
    )
    j = valid.filter(pl.col("_role") == "ok").join(
        t, on="_birth_id", how="left", maintain_order="left"
    )
    parts = []
    for c in _COMPARED[feed]:
        dtype = j.schema[c]
        diff = pl.col(c).is_not_null() & pl.col(f"_t_{c}").is_not_null()
        diff = diff & (pl.col(c) != pl.col(f"_t_{c}"))
        if c == "division_code":  # a 6/9-digit code of the true county/township is right
            t_c = pl.col(f"_t_{c}")
            imprecise = (pl.col(c) == t_c.str.slice(0, 9) + "000") | (
                pl.col(c) == t_c.str.slice(0, 6) + "000000"
            )
            diff = diff & ~(pl.col("_div_short") & imprecise)
        parts.append(
            j.filter(diff).select(
                pl.lit(feed).alias("feed"),
                pl.col(spec.key).alias("key"),
                pl.lit(c).alias("field"),
                _as_text(pl.col(c), dtype).alias("written_value"),
                _as_text(pl.col(f"_t_{c}"), dtype).alias("true_value"),
            )
        )
    return pl.concat(parts)


# ---------------------------------------------------------------------------
# The whole run
# ---------------------------------------------------------------------------


def _with_residence(real: pl.DataFrame, rate: float, rng: np.random.Generator) -> pl.DataFrame:
    """``residence_code``: where the family lives; for ``rate`` of births (whole
    deliveries, so twins move together) a village of another township."""
    deliveries = real["delivery"].unique(maintain_order=True).to_numpy()
    babies = real["delivery"].value_counts().to_dict(as_series=False)
    per = dict(zip(babies["delivery"], babies["count"], strict=True))
    target = round(real.height * rate)
    moved: list[int] = []
    total = 0
    for d in rng.permutation(deliveries).tolist() if target else []:
        if total + per[d] <= target:
            moved.append(d)
            total += per[d]
        if total == target:
            break
    codes = real.filter(pl.col("delivery").is_in(moved))
    new = {
        d: _other_township(c, rng)
        for d, c in zip(codes["delivery"].to_list(), codes["division_code"].to_list(), strict=True)
    }
    return real.with_columns(
        pl.col("delivery")
        .replace_strict(new, default=None, return_dtype=pl.String)
        .fill_null(pl.col("division_code"))
        .alias("residence_code")
    )


def _hosp_file(births: int, hosp_format: str, blocks: int = 1) -> tuple[str, str]:
    fmt = hosp_format
    if fmt == "auto":
        fmt = "xlsx" if births <= XLSX_MAX_BIRTHS and blocks == 1 else "csv"
    if fmt not in ("xlsx", "csv", "parquet"):
        raise ValueError(f"hosp_format must be auto, xlsx, csv or parquet, not {hosp_format!r}")
    if fmt == "xlsx" and blocks > 1:
        raise ValueError("an xlsx hosp feed is written whole: use csv or parquet, or larger blocks")
    return fmt, f"hosp_deliveries.{fmt}"


def _spans(births: int, as_of: date, blocks: int) -> list[tuple[int, tuple[int, int] | None]]:
    """(births, (first day, days)) of each block: consecutive slices of the window."""
    if blocks == 1:
        return [(births, None)]
    window = window_days(births)
    first = _epoch_days(as_of) - window
    bounds = [first + window * k // blocks for k in range(blocks + 1)]
    sizes = [births // blocks + (k < births % blocks) for k in range(blocks)]
    return [(n, (bounds[k], bounds[k + 1] - bounds[k])) for k, n in enumerate(sizes)]


def generate(
    births: int,
    seed: int,
    out: Path,
    *,
    as_of: date = DEFAULT_AS_OF,
    hosp_format: Literal["auto", "xlsx", "csv", "parquet"] = "auto",
    progress: Callable[[str], None] | None = None,
    profile: str = "default",
    rates: Mapping[str, float] | None = None,
    block_births: int = BLOCK_BIRTHS,
) -> GenerateSummary:
    """Write ``births`` simulated births as three feeds plus truth into ``out``.

    ``profile`` names the misreport mix (PROFILES); ``rates`` overrides single keys of
    it ("pop.name": 0.03). An unknown profile or key, or a rate outside 0..0.2, is a
    ValueError naming it. More births than ``block_births`` are made a block of
    consecutive days at a time and appended to the same files, so memory stays that of
    one block (a block's births and records never meet another's: twins, duplicates
    and repeated rows stay inside their block).
    """
    if births < 1:
        raise ValueError("births must be at least 1")
    if block_births < 1:
        raise ValueError("block_births must be at least 1")
    mix = misreport_rates(profile, rates)
    say: Progress = progress or (lambda _stage: None)
    out = Path(out)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    n_blocks = -(-births // block_births)
    hosp_fmt, hosp_name = _hosp_file(births, hosp_format, n_blocks)
    files: dict[FeedName, str] = {
        "pop": FILE_NAMES["pop"],
        "hosp": hosp_name,
        "police": FILE_NAMES["police"],
    }
    counts: dict[FeedName, Counter[str]] = {f: Counter() for f in FEEDS}
    rows: Counter[str] = Counter()
    birth_counts: Counter[str] = Counter()
    carry = _Carry()
    sink = _Sink(out, n_blocks)
    next_line: dict[FeedName, int] = {f: 2 for f in FEEDS}
    width = max(7, len(str(births)))
    if n_blocks == 1:
        block_streams = [np.random.default_rng(seed).spawn(8)]
    else:
        block_streams = [b.spawn(8) for b in np.random.default_rng(seed).spawn(n_blocks)]
    for k, ((n, span), streams) in enumerate(
        zip(_spans(births, as_of, n_blocks), block_streams, strict=True)
    ):
        tell = say if n_blocks == 1 else _numbered(say, k + 1, n_blocks)
        carry.block = k
        real, feeds, written = _block(
            n,
            as_of,
            streams,
            span,
            None if n_blocks == 1 else carry,
            mix,
            counts,
            tell,
            hosp_fmt == "csv",
            width,
        )
        carry.births += n
        if k == 0:
            tell("writing divisions")
            sink.paths["divisions"] = out / FILE_NAMES["divisions"]
            _geo().frame.write_csv(sink.paths["divisions"])
        lines: dict[FeedName, np.ndarray] = {}
        wrng = streams[6]
        for feed in FEEDS:
            tell(f"writing {feed}")
            lines[feed], next_line[feed] = _write_feed(
                out / files[feed],
                feed,
                feeds[feed],
                written[feed],
                hosp_fmt,
                wrng,
                counts[feed],
                as_of,
                next_line[feed],
                sink,
            )
            sink.paths[feed] = out / files[feed]
            rows[feed] += feeds[feed].height
        tell("truth")
        sink.add(_truth_frames(real, feeds, files, lines, as_of))
        birth_counts.update(_birth_counts(real))
        del real, feeds, written
    if n_blocks > 1:
        say("joining the blocks")
    paths = sink.close()
    injected: dict[str, dict[str, int]] = {f: dict(sorted(counts[f].items())) for f in FEEDS}
    manifest = {
        "generator": f"recon.generate {GENERATOR_VERSION}",
        "seed": seed,
        "births": births,
        "as_of": as_of.isoformat(),
        "hosp_format": hosp_fmt,
        "files": {k: p.relative_to(out).as_posix() for k, p in paths.items()},
        "rows": dict(rows),
        "counts": dict(birth_counts),
        "injected": injected,
        "rates": RATES,
        "profile": profile,
        "misreport_rates": mix,
    }
    if n_blocks > 1:
        manifest["blocks"] = n_blocks
    paths["truth/manifest"] = out / "truth" / "manifest.json"
    paths["truth/manifest"].write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return GenerateSummary(
        out=out,
        seed=seed,
        births=births,
        as_of=as_of,
        paths=paths,
        rows=dict(rows),
        injected=injected,
        profile=profile,
        misreport_rates=mix,
    )


def _numbered(say: Progress, block: int, blocks: int) -> Progress:
    return lambda stage: say(f"{stage} ({block}/{blocks})")


def _block(
    births: int,
    as_of: date,
    streams: Sequence[np.random.Generator],
    span: tuple[int, int] | None,
    carry: _Carry | None,
    mix: Mapping[str, float],
    counts: Mapping[FeedName, Counter[str]],
    say: Progress,
    csv_hosp: bool,
    width: int,
) -> tuple[pl.DataFrame, dict[FeedName, pl.DataFrame], dict[FeedName, pl.DataFrame]]:
    """One block's true births, its three feeds and their written forms."""
    say("births")
    n_fict = max(1, round(births * RATES["pop_fictitious"]))
    everyone = _make_births(births + n_fict, as_of, streams[0], span, carry)
    # Fictitious pop records borrow plausible singleton births nobody else sees.
    candidates = everyone.select(
        (pl.col("plurality") == 1)
        & (pl.col("outcome") == "live")
        & (pl.col("birth_date") <= as_of - timedelta(days=91))
    ).to_series()
    fict_idx = _pick(np.flatnonzero(candidates.to_numpy()), n_fict, streams[1])
    is_fict = np.zeros(everyone.height, dtype=bool)
    is_fict[fict_idx] = True
    fictitious = everyone.filter(pl.Series(is_fict))
    real = everyone.filter(pl.Series(~is_fict))
    real = real.head(births)  # the rare shortfall of candidates keeps the count exact
    first = 1 + (carry.births if carry is not None else 0)
    real = real.with_columns(
        ("B" + (pl.int_range(pl.len()) + first).cast(pl.String).str.zfill(width)).alias("birth_id"),
        pl.when(
            pl.col("police_registered_on").is_not_null() & (pl.col("police_registered_on") <= as_of)
        )
        .then(pl.col("child_id"))
        .alias("id_number"),
    )
    real = _with_residence(real, mix["moved"], streams[7])
    n_moved = int((real["residence_code"] != real["division_code"]).sum())
    if n_moved:
        counts["pop"]["truth:moved"] += n_moved

    say("pop")
    numbers = carry.register_numbers if carry is not None else None
    feeds: dict[FeedName, pl.DataFrame] = {
        "pop": _make_pop(real, fictitious, as_of, streams[2], True, counts["pop"], mix, numbers)
    }
    say("hosp")
    feeds["hosp"] = _make_hosp(real, as_of, streams[3], csv_hosp, counts["hosp"], mix)
    say("police")
    feeds["police"] = _make_police(real, as_of, streams[4], counts["police"], mix)

    say("messy forms")
    written: dict[FeedName, pl.DataFrame] = {}
    for feed, rng in zip(FEEDS, streams[5].spawn(len(FEEDS)), strict=True):
        written[feed], feeds[feed] = _render(feeds[feed], feed, rng, counts[feed])
    return real, feeds, written


def _write_feed(
    path: Path,
    feed: FeedName,
    df: pl.DataFrame,
    w: pl.DataFrame,
    hosp_fmt: str,
    rng: np.random.Generator,
    counts: Counter[str],
    as_of: date,
    first_line: int,
    sink: _Sink,
) -> tuple[np.ndarray, int]:
    """Write (or append) one block of a feed; its records' first lines and the next."""
    spec = FEED_SPECS[feed]
    extra = EXTRA_COLUMN[feed]
    header = [c.name if feed == "police" else c.label for c in spec.columns]
    header += [extra] if extra else []
    fc = np.flatnonzero((df["_q"] == "field_count").fill_null(False).to_numpy())
    # (encoding, BOM, newline): the register in GB18030 with CRLF, police with a BOM
    if feed == "pop":
        form = ("gb18030", False, "\r\n")
    elif feed == "police":
        form = ("utf-8", True, "\n")
    elif hosp_fmt == "csv":
        form = ("utf-8", False, "\n")
    elif hosp_fmt == "parquet":
        table = w.with_columns(pl.all().replace("", None)).rename(
            dict(zip(w.columns, header, strict=True))
        )
        sink.put(path, table)
        return np.arange(first_line - 1, first_line - 1 + df.height), first_line + df.height
    else:
        _write_xlsx(path, header, _xlsx_columns(df, w, feed, rng, counts), as_of)
        return np.arange(2, df.height + 2), df.height + 2
    encoding, bom, newline = form
    return _write_csv(
        path, w, header, fc, rng, encoding=encoding, bom=bom, newline=newline, first_line=first_line
    )


class _Sink:
    """The truth tables (and a Parquet feed), written whole for one block, else a file
    per block joined at the end without holding them all in memory."""

    def __init__(self, out: Path, blocks: int) -> None:
        self.tdir = out / "truth"
        self.blocks = blocks
        self.paths: dict[str, Path] = {}
        self.parts: dict[Path, list[Path]] = {}

    def put(self, path: Path, frame: pl.DataFrame) -> None:
        """Write `frame` to `path`, or as the next block's part of it."""
        if self.blocks == 1:
            frame.write_parquet(path)
            return
        parts = self.parts.setdefault(path, [])
        part = path.with_name(f".{path.stem}.block{len(parts):04d}.parquet")
        frame.write_parquet(part)
        parts.append(part)

    def add(self, frames: Mapping[str, pl.DataFrame]) -> None:
        for name, frame in frames.items():
            path = self.tdir / f"{name}.parquet"
            self.paths[f"truth/{name}"] = path
            self.put(path, frame)

    def close(self) -> dict[str, Path]:
        for path, parts in self.parts.items():
            pl.concat([pl.scan_parquet(p) for p in parts], how="vertical_relaxed").sink_parquet(
                path
            )
            for part in parts:
                part.unlink()
        return self.paths


def _birth_counts(real: pl.DataFrame) -> dict[str, int]:
    return {
        "births": real.height,
        "deliveries": real["delivery"].n_unique(),
        "twin_babies": int((real["plurality"] == 2).sum()),
        "triplet_babies": int((real["plurality"] == 3).sum()),
        "stillbirths": int((real["outcome"] == "stillbirth").sum()),
        "home_births": int(real["home_birth"].sum()),
        "out_of_area": int(real["out_of_area"].sum()),
        "moved": int((real["residence_code"] != real["division_code"]).sum()),
    }


def _truth_frames(
    real: pl.DataFrame,
    feeds: Mapping[FeedName, pl.DataFrame],
    files: Mapping[FeedName, str],
    lines: Mapping[FeedName, np.ndarray],
    as_of: date,
) -> dict[str, pl.DataFrame]:
    """truth/*.parquet of one block, by name."""
    frames: dict[str, pl.DataFrame] = {}
    records = []
    misreports = []
    present: dict[FeedName, pl.Series] = {}
    for feed in FEEDS:
        spec = FEED_SPECS[feed]
        df = feeds[feed].with_columns(
            pl.lit(files[feed]).alias("file"), pl.Series("line", lines[feed], dtype=pl.Int64)
        )
        valid_mask = df["_q"].is_null()
        warn = _warnings(df, feed, as_of)
        df = df.with_columns(pl.when(valid_mask).then(warn).otherwise(pl.lit("")).alias("_warn"))
        no_key = pl.col("_q").is_in(["missing_key"]) | (
            (pl.col("_q") == "bad_id_form") & (pl.col("_qcol") == spec.key)
        )
        records.append(
            df.select(
                pl.lit(feed).alias("feed"),
                "file",
                "line",
                pl.when(no_key.fill_null(False))
                .then(None)
                .otherwise(pl.col(spec.key))
                .alias("key"),
                pl.col("_birth_id").alias("birth_id"),
                pl.col("_role").alias("role"),
                pl.col("_dup_of").alias("duplicate_of"),
                pl.col("_q").alias("quarantine"),
                pl.col("_warn").alias("warnings"),
            )
        )
        valid = df.filter(valid_mask)
        extra = EXTRA_COLUMN[feed]
        canon_cols = [c.name for c in spec.columns] + ([extra] if extra else [])
        canon = valid.select(*canon_cols, "file", "line").with_columns(
            pl.col(c).cast(pl.Int64) for c in canon_cols if _kind(feed, c) == "integer"
        )
        frames[f"{feed}_canonical"] = canon
        misreports.append(_misreports(valid, feed, real))
        present[feed] = (
            valid.filter(pl.col("_role").is_in(["ok", "stillbirth_registered"]))["_birth_id"]
            .unique()
            .drop_nulls()
        )
    births = real.select(
        "birth_id",
        "sex",
        "birth_date",
        "delivered_at",
        "plurality",
        "birth_rank",
        "birth_order",
        "name",
        "father_name",
        "id_number",
        "certificate_no",
        "mother_name",
        "mother_id",
        "division_code",
        "residence_code",
        "outcome",
        "home_birth",
        "out_of_area",
        pl.when(~pl.col("home_birth") & ~pl.col("out_of_area"))
        .then(pl.Series([c for c, _, _ in _FACILITIES]).gather(real["facility"]))
        .alias("facility_code"),
        "hosp_registered_on",
        "pop_reported_on",
        "police_registered_on",
        *(pl.col("birth_id").is_in(present[f].implode()).alias(f"in_{f}") for f in FEEDS),
        (pl.col("birth_date") + timedelta(days=POP_DUE_DAYS) <= as_of).alias("due_pop"),
        (pl.col("birth_date") + timedelta(days=POLICE_DUE_DAYS) <= as_of).alias("due_police"),
    ).with_columns(pl.col("plurality", "birth_rank", "birth_order").cast(pl.Int64))
    frames["births"] = births
    frames["records"] = pl.concat(records)
    frames["misreports"] = pl.concat(misreports)
    return frames


def _kind(feed: FeedName, column: str) -> str | None:
    try:
        return FEED_SPECS[feed].column(column).kind
    except KeyError:
        return None
