"""Feed-level expectations (Great Expectations 1.x): what is checked about a whole feed file.

Row rules (a bad date, a wrong check character) live in rules.py and the per-feed
modules next to this file; this file holds the expectations about a feed *as a whole*,
one suite per feed, built by `feed_suite`. Each expectation carries, in its `meta`:

- `label`: the Chinese name shown to people (reports, worklists);
- `rule`: the English name of the rule, stable, used to store and compare results.

The suites, per feed (`pop`, `hosp`, `police`; columns and keys from recon/feeds.py):

1. 记录编号唯一 (登记编号唯一, 公民身份号码唯一: the key's own label) / `key_unique`:
   the feed's key (`record_id`, `delivery_id`, `id_number`) is unique. Null keys are
   not counted here (a row without a key is quarantined).
   GE: ExpectColumnValuesToBeUnique; every row whose key occurs twice or more counts as
   unexpected.
2. 必填项完整率 / `required_complete`: for every required column, the share of non-null
   values is at least `completeness_min` (98 %). A value that could not be read counts as
   missing. Sex is left to rule 4: an empty sex is a valid "unknown", not a gap.
   GE: ExpectColumnValuesToNotBeNull with `mostly`.
3. 行数未骤降 / `row_count_not_collapsed`: the feed has at least
   ceil(previous_rows × `row_count_min_ratio`) rows, where previous_rows is the row count
   of the same feed in the previous run. Left out when there is no previous run.
   GE: ExpectTableRowCountToBeBetween(min_value=...).
4. 性别不详比例 / `unknown_sex_share`: at most `unknown_sex_max` (2 %) of the rows have
   an unknown sex (canonical sex is "M", "F" or null; null means unknown or unreadable).
   GE: ExpectColumnValuesToNotBeNull on `sex` with mostly = 1 - unknown_sex_max.
5. 出生人口性别比在合理区间 / `sex_ratio_at_birth`: the sex ratio at birth
   SRB = 100 × boys / girls lies in [`srb_min`, `srb_max`] (90..130).
   GE has no ratio expectation, so the check runs on the mean of a derived column
   `is_boy` (1 for a boy, 0 for a girl, null when sex is unknown; see `is_boy_expr`).
   The mean of `is_boy` over the rows with a known sex is the share of boys,
   s = boys / (boys + girls), and SRB = 100·s / (1 − s), so the SRB band converts to a
   share band with s = SRB / (100 + SRB):
   SRB 90 → s 0.47368..., SRB 106 → 0.51456..., SRB 130 → 0.56522....
   The conversion is monotonic, so "SRB in [srb_min, srb_max]" is exactly
   "s in [share(srb_min), share(srb_max)]". GE: ExpectColumnMeanToBeBetween on `is_boy`.
   In the hospital feed a stillbirth (妊娠结局 = 死产) is no birth, so only live births
   enter the ratio there. The ratio is a statistic: at a true SRB of 106, a feed of
   300 births leaves the default band by chance about one time in eight, a feed of
   1,000 about one time in 200.

Thresholds are in `ExpectationThresholds`; the configuration ([expectations] in
recon/defaults.toml) may override them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

import great_expectations as gx
import great_expectations.expectations as gxe
import polars as pl

from recon.ingest.feeds import FEED_SPECS, Feed, FeedName

# Rule names (English, stable): stored with every result.
KEY_UNIQUE = "key_unique"
REQUIRED_COMPLETE = "required_complete"
ROW_COUNT_NOT_COLLAPSED = "row_count_not_collapsed"
UNKNOWN_SEX_SHARE = "unknown_sex_share"
SEX_RATIO_AT_BIRTH = "sex_ratio_at_birth"

SEX = "sex"
IS_BOY = "is_boy"  # derived: 1 boy, 0 girl, null unknown (see is_boy_expr)
LIVE_BIRTH = "活产"  # hosp `outcome` value of a live birth


@dataclass(frozen=True)
class ExpectationThresholds:
    """Where each feed-level expectation draws the line."""

    completeness_min: float = 0.98  # share of non-null values in every required column
    row_count_min_ratio: float = 0.5  # rows now ≥ this × rows in the previous run
    unknown_sex_max: float = 0.02  # share of rows with unknown sex
    srb_min: float = 90.0  # sex ratio at birth, boys per 100 girls
    srb_max: float = 130.0


def boy_share(srb: float) -> float:
    """The share of boys among births of known sex at a given sex ratio at birth."""
    return srb / (100.0 + srb)


def min_rows(previous_rows: int, ratio: float) -> int:
    """ceil(previous_rows × ratio), computed in decimal so 1.1 × 100 is 110, not 111."""
    return math.ceil(Decimal(previous_rows) * Decimal(str(ratio)))


def is_boy_expr(feed: str) -> pl.Expr:
    """The derived `is_boy` column: 1 for "M", 0 for "F", null when sex is unknown.

    In `hosp` a row that is not a live birth is null too: the ratio is over live births.
    """
    sex = pl.col(SEX).cast(pl.String)
    is_boy: pl.Expr = pl.when(sex == "M").then(1).when(sex == "F").then(0)
    if feed == "hosp":
        is_boy = pl.when(pl.col("outcome").cast(pl.String) == LIVE_BIRTH).then(is_boy)
    return is_boy.cast(pl.Int8).alias(IS_BOY)  # when/then without otherwise: null


def sex_ratio_at_birth(share: float) -> float:
    """SRB = 100 × boys / girls from the share of boys among births of known sex."""
    return math.inf if share >= 1.0 else 100.0 * share / (1.0 - share)


def observed_value(rule: str, result: Mapping[str, Any]) -> float | None:
    """The number shown next to a rule's label, in the label's own terms.

    `result` is GE's `result` of the expectation. key_unique: rows whose key occurs more
    than once; required_complete: share of non-null values; unknown_sex_share: share of
    rows with unknown sex; row_count_not_collapsed: rows; sex_ratio_at_birth: boys per
    100 girls. None when there is nothing to measure (no rows, no births of known sex).
    """
    rows = result.get("element_count")
    unexpected = result.get("unexpected_count")
    if rule == KEY_UNIQUE:
        return None if unexpected is None else float(unexpected)
    if rule in (REQUIRED_COMPLETE, UNKNOWN_SEX_SHARE):
        if not rows or unexpected is None:
            return None
        missing = unexpected / rows
        return 1.0 - missing if rule == REQUIRED_COMPLETE else missing
    observed = result.get("observed_value")
    if not isinstance(observed, int | float) or isinstance(observed, bool):
        return None
    if rule == SEX_RATIO_AT_BIRTH:
        return sex_ratio_at_birth(float(observed)) if math.isfinite(observed) else None
    return float(observed)


def derived_columns(feed: str) -> dict[str, pl.Expr]:
    """Columns the suite reads that are not in the feed, by name, with how to derive them."""
    return {IS_BOY: is_boy_expr(feed)}


def feed_spec(feed: str) -> Feed:
    if feed not in FEED_SPECS:
        raise ValueError(f"unknown feed {feed!r}; expected one of {sorted(FEED_SPECS)}")
    return FEED_SPECS[cast(FeedName, feed)]


def _meta(label: str, rule: str) -> dict[str, str]:
    return {"label": label, "rule": rule}


def feed_expectations(
    feed: str, thresholds: ExpectationThresholds, previous_rows: int | None
) -> list[gxe.Expectation]:
    """The expectations of one feed, in the order a report lists them."""
    spec = feed_spec(feed)
    key = spec.column(spec.key)
    expectations: list[gxe.Expectation] = [
        gxe.ExpectColumnValuesToBeUnique(
            column=key.name,
            meta=_meta(f"{key.label}唯一", KEY_UNIQUE),
        )
    ]
    expectations += [
        gxe.ExpectColumnValuesToNotBeNull(
            column=column.name,
            mostly=thresholds.completeness_min,
            meta=_meta(f"必填项完整率：{column.label}", REQUIRED_COMPLETE),
        )
        for column in spec.columns
        if column.required and column.name != SEX  # unknown sex is valid; rule 4 bounds it
    ]
    if previous_rows is not None:
        expectations.append(
            gxe.ExpectTableRowCountToBeBetween(
                min_value=min_rows(previous_rows, thresholds.row_count_min_ratio),
                meta=_meta("行数未骤降", ROW_COUNT_NOT_COLLAPSED),
            )
        )
    expectations.append(
        gxe.ExpectColumnValuesToNotBeNull(
            column=SEX,
            mostly=1.0 - thresholds.unknown_sex_max,
            meta=_meta("性别不详比例", UNKNOWN_SEX_SHARE),
        )
    )
    expectations.append(
        gxe.ExpectColumnMeanToBeBetween(
            column=IS_BOY,
            min_value=boy_share(thresholds.srb_min),
            max_value=boy_share(thresholds.srb_max),
            meta=_meta("出生人口性别比在合理区间", SEX_RATIO_AT_BIRTH),
        )
    )
    return expectations


def feed_suite(
    feed: str, thresholds: ExpectationThresholds, previous_rows: int | None
) -> gx.ExpectationSuite:
    """The suite of one feed. It belongs to no Data Context until the runner adds it."""
    return gx.ExpectationSuite(
        name=f"recon.{feed}",
        expectations=feed_expectations(feed, thresholds, previous_rows),
        meta={"feed": feed, "label": feed_spec(feed).label},
    )
