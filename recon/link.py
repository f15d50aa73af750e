"""Link: group the records of the three feeds into births.

A birth holds at most one record of each feed: the hospital and the police keep one
record per baby, and the register should. Records join a birth pass by pass, the surest
evidence first (certificate number, the child's identity number, mother + date + sex),
then a probabilistic pass (Splink, recon/fuzzy.py) over what is left. Within a pass each
record takes at most one partner: candidates are ranked and assigned one-to-one, so two
twins sharing mother and date become two births, never one.

A register record that cannot join a birth because its birth already has a register
record is tested as a duplicate (重报) of that record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from recon.names import name_key

FEED_ORDER = ("pop", "hosp", "police")
LIVE = "活产"

# Fields whose agreement breaks ties between candidates of equal rank.
_TIEBREAK_FIELDS = ("division_code", "birth_order", "child_name_py", "mother_name_py", "sex")


@dataclass(frozen=True)
class Pass:
    method: str  # recorded on each link it makes, for the evidence
    left: str  # feed
    right: str  # feed
    keys: tuple[str, ...]  # equal and non-null on both sides
    score: float
    # At least one of these must agree too: a typo can turn one child's identity number
    # into another child's, and a shared key alone would then link the wrong births.
    corroborate: tuple[str, ...] = ()
    # Twins share mother, date and often sex: when both births already carry a child's
    # name (pop or police), the names must read the same.
    names_must_agree: bool = True


MOTHER_DATE_SEX = ("mother_id", "birth_date", "sex")
DETERMINISTIC_PASSES = (
    Pass("出生医学证明编号", "hosp", "police", ("certificate_no",), 100,
         ("mother_id", "birth_date"), names_must_agree=False),
    # Not the birth date: the identity number encodes it, so a typo'd number agrees with it.
    Pass("公民身份号码", "pop", "police", ("child_id",), 100,
         ("mother_id", "child_name_py", "mother_name_py"), names_must_agree=False),
    Pass("母亲身份号码+出生日期+性别", "hosp", "police", MOTHER_DATE_SEX, 90),
    Pass("母亲身份号码+出生日期+性别", "pop", "hosp", MOTHER_DATE_SEX, 90),
    Pass("母亲身份号码+出生日期+性别", "pop", "police", MOTHER_DATE_SEX, 85),
    Pass("姓名+母亲姓名+出生日期", "pop", "police",
         ("child_name_py", "mother_name_py", "birth_date"), 80),
)  # fmt: skip

# Pop duplicates: the same birth entered twice; twins differ in name, so the name counts.
DUPLICATE_KEYS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    # (method, equal keys, at least one of these equal too)
    ("公民身份号码", ("child_id",), ("mother_id", "child_name_py", "mother_name_py")),
    ("母亲身份号码+出生日期+性别+姓名", ("mother_id", "birth_date", "sex", "child_name_py"), ()),
    ("姓名+母亲姓名+出生日期+性别", ("child_name_py", "mother_name_py", "birth_date", "sex"), ()),
    # One of the two dates mistyped: same mother, sex and name is still the same child.
    ("母亲身份号码+性别+姓名", ("mother_id", "sex", "child_name_py"), ()),
    ("母亲身份号码+出生日期+性别（未起名）", ("mother_id", "birth_date", "sex"), ()),
)
UNNAMED = "母亲身份号码+出生日期+性别（未起名）"  # used only where one record has no name yet

FuzzyPairs = Callable[[pl.DataFrame], pl.DataFrame]  # records -> uid_l, uid_r, match_weight


@dataclass(frozen=True)
class Linked:
    births: pl.DataFrame  # birth, pop_uid, hosp_uid, police_uid
    links: pl.DataFrame  # uid_l, uid_r, method, score
    duplicates: pl.DataFrame  # uid, duplicate_of (uid), method


def prepare(records: pl.DataFrame) -> pl.DataFrame:
    """Add the pinyin keys of the child's and the mother's names."""
    return records.with_columns(
        name_key(pl.col("child_name")).alias("child_name_py"),
        name_key(pl.col("mother_name")).alias("mother_name_py"),
    )


def link(
    records: pl.DataFrame, fuzzy: FuzzyPairs | None = None, min_match_weight: float = 10.0
) -> Linked:
    """Group prepared records (see sql/link/records.sql and `prepare`) into births."""
    records = records.with_row_index("birth").with_columns(pl.col("birth").cast(pl.Int64))
    members = records.select("uid", "feed", "birth", "child_name_py")
    links: list[pl.DataFrame] = []
    for step in DETERMINISTIC_PASSES:
        candidates = _candidates_on_keys(_open_to(records, members, step), step)
        members, accepted = _merge(
            members, candidates, step.left, step.right, step.names_must_agree
        )
        links.append(accepted)

    if fuzzy is not None:
        incomplete = _incomplete(members)
        residual = records.filter(pl.col("uid").is_in(incomplete.implode()))
        if residual.height:
            pairs = fuzzy(residual).filter(pl.col("match_weight") >= min_match_weight)
            for left, right in (("hosp", "police"), ("pop", "hosp"), ("pop", "police")):
                candidates = _fuzzy_candidates(records, pairs, left, right)
                members, accepted = _merge(members, candidates, left, right, True)
                links.append(accepted)

    duplicates = _duplicates(records, members)
    births = (
        members.filter(~pl.col("uid").is_in(duplicates["uid"].implode()))
        .select("uid", "feed", "birth")
        .pivot(on="feed", index="birth", values="uid")
        .rename({f: f"{f}_uid" for f in FEED_ORDER}, strict=False)
    )
    for feed in FEED_ORDER:
        if f"{feed}_uid" not in births.columns:
            births = births.with_columns(pl.lit(None, pl.String).alias(f"{feed}_uid"))
    births = births.select("birth", *(f"{f}_uid" for f in FEED_ORDER)).sort("birth")
    return Linked(births, pl.concat(links), duplicates)


def link_methods(linked: Linked) -> pl.DataFrame:
    """birth -> the methods of the links that made it, for the evidence."""
    members = linked.births.unpivot(
        index="birth", on=[f"{f}_uid" for f in FEED_ORDER], value_name="uid"
    )
    # Both ends of a link lie in one birth: its left end finds the birth.
    return (
        linked.links.select("method", pl.col("uid_l").alias("uid"))
        .join(members, on="uid")
        .group_by("birth")
        .agg(pl.col("method").unique().sort().str.join("；").alias("link_methods"))
    )


def _open_to(records: pl.DataFrame, members: pl.DataFrame, step: Pass) -> pl.DataFrame:
    """The records of the pass's two feeds whose birth still lacks the other feed."""
    births_with = {
        feed: members.filter(pl.col("feed") == feed)["birth"].implode()
        for feed in (step.left, step.right)
    }
    placed = records.drop("birth").join(members.select("uid", "birth"), on="uid")
    return placed.filter(
        ((pl.col("feed") == step.left) & ~pl.col("birth").is_in(births_with[step.right]))
        | ((pl.col("feed") == step.right) & ~pl.col("birth").is_in(births_with[step.left]))
    )


def _candidates_on_keys(records: pl.DataFrame, step: Pass) -> pl.DataFrame:
    keys = list(step.keys)
    left = records.filter(pl.col("feed") == step.left).drop_nulls(keys)
    right = records.filter(pl.col("feed") == step.right).drop_nulls(keys)
    pairs = left.join(right, on=keys, how="inner", suffix="_r")
    if step.corroborate:
        pairs = pairs.filter(
            pl.any_horizontal(
                (pl.col(f) == pl.col(f"{f}_r")).fill_null(False) for f in step.corroborate
            )
        )
    return _ranked(pairs, step.method, step.score)


def _fuzzy_candidates(
    records: pl.DataFrame, pairs: pl.DataFrame, left: str, right: str
) -> pl.DataFrame:
    # Splink pairs come in either order; orient them left -> right.
    oriented = pl.concat(
        [
            pairs.select(pl.col("uid_l").alias("uid"), pl.col("uid_r"), "match_weight"),
            pairs.select(
                pl.col("uid_r").alias("uid"), pl.col("uid_l").alias("uid_r"), "match_weight"
            ),
        ]
    )
    left_records = records.filter(pl.col("feed") == left)
    right_records = records.filter(pl.col("feed") == right).rename(
        {c: f"{c}_r" for c in records.columns}
    )
    joined = oriented.join(left_records, on="uid").join(right_records, on="uid_r")
    return _ranked(
        joined.with_columns(pl.col("match_weight").alias("_weight")),
        "概率匹配",
        50.0,
        weight=pl.col("_weight"),
    )


def _ranked(
    pairs: pl.DataFrame, method: str, score: float, weight: pl.Expr | None = None
) -> pl.DataFrame:
    """Candidate pairs with a score and the tie-breaks that order them."""
    agree = [
        (pl.col(f) == pl.col(f"{f}_r")).fill_null(False).cast(pl.Int32)
        for f in _TIEBREAK_FIELDS
        if f in pairs.columns and f"{f}_r" in pairs.columns
    ]
    live = (pl.col("outcome").fill_null(LIVE) == LIVE) & (
        pl.col("outcome_r").fill_null(LIVE) == LIVE
    )
    total = pl.lit(score) + (weight if weight is not None else pl.lit(0.0))
    return pairs.select(
        pl.col("uid").alias("uid_l"),
        pl.col("uid_r"),
        pl.lit(method).alias("method"),
        total.cast(pl.Float64).alias("score"),
        live.cast(pl.Int32).alias("live"),
        pl.sum_horizontal(agree).alias("agree") if agree else pl.lit(0).alias("agree"),
        pl.min_horizontal(pl.col("entered_on"), pl.col("entered_on_r")).alias("entered_on"),
    )


def _merge(
    members: pl.DataFrame,
    candidates: pl.DataFrame,
    left: str,
    right: str,
    names_must_agree: bool,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Accept one-to-one links that keep every birth to one record per feed; merge births.

    With `names_must_agree`, births whose children's names read differently stay apart.
    """
    third = next(f for f in FEED_ORDER if f not in (left, right))
    # Only the births the candidates touch matter: summarise those, not all births.
    uids = pl.concat([candidates["uid_l"], candidates["uid_r"]]).unique()
    birth_of = members.filter(pl.col("uid").is_in(uids.implode())).select("uid", "birth")
    touched = members.filter(pl.col("birth").is_in(birth_of["birth"].unique().implode()))
    has = touched.group_by("birth").agg(
        *((pl.col("feed") == f).any().alias(f"has_{f}") for f in FEED_ORDER),
        (
            pl.col("child_name_py").drop_nulls().first()
            if names_must_agree
            else pl.lit(None, pl.String)
        ).alias("name_py"),
    )
    eligible = (
        candidates.join(birth_of, left_on="uid_l", right_on="uid")
        .join(birth_of, left_on="uid_r", right_on="uid", suffix="_r")
        .join(has, on="birth")
        .join(has, left_on="birth_r", right_on="birth", suffix="_r")
        .filter(
            (pl.col("birth") != pl.col("birth_r"))
            & ~pl.col(f"has_{right}")
            & ~pl.col(f"has_{left}_r")
            & ~(pl.col(f"has_{third}") & pl.col(f"has_{third}_r"))
            & (pl.col("name_py") == pl.col("name_py_r")).fill_null(True)
        )
    )
    accepted = assign_one_to_one(eligible)
    relabel = accepted.select(pl.col("birth_r").alias("birth"), pl.col("birth").alias("into"))
    members = (
        members.join(relabel, on="birth", how="left")
        .with_columns(pl.coalesce("into", "birth").alias("birth"))
        .drop("into")
    )
    return members, accepted.select("uid_l", "uid_r", "method", "score")


def assign_one_to_one(pairs: pl.DataFrame) -> pl.DataFrame:
    """Greedy one-to-one assignment: best score first, each side used at most once.

    Taken as rounds of mutual best choices, which gives exactly the greedy result.
    """
    if pairs["uid_l"].is_unique().all() and pairs["uid_r"].is_unique().all():
        return pairs  # no record has two candidates: nothing to choose
    ranked = pairs.sort(
        ["score", "live", "agree", "entered_on", "uid_l", "uid_r"],
        descending=[True, True, True, False, False, False],
        nulls_last=True,
    ).with_row_index("rank")
    accepted = []
    while ranked.height:
        best_l = ranked.group_by("uid_l").agg(pl.col("rank").min())
        best_r = ranked.group_by("uid_r").agg(pl.col("rank").min())
        mutual = ranked.join(best_l, on=["uid_l", "rank"]).join(best_r, on=["uid_r", "rank"])
        accepted.append(mutual)
        ranked = ranked.filter(
            ~pl.col("uid_l").is_in(mutual["uid_l"].implode())
            & ~pl.col("uid_r").is_in(mutual["uid_r"].implode())
        )
    return pl.concat(accepted).drop("rank") if accepted else pairs.clear()


def _incomplete(members: pl.DataFrame) -> pl.Series:
    """Records of births that lack at least one feed: what the fuzzy pass may still join."""
    sizes = members.group_by("birth").len()
    return members.join(sizes, on="birth").filter(pl.col("len") < len(FEED_ORDER))["uid"]


def _duplicates(records: pl.DataFrame, members: pl.DataFrame) -> pl.DataFrame:
    """Pop records alone in their birth that repeat another pop record.

    The kept record is the one linked to other feeds; between two lonely records, the one
    reported first.
    """
    sizes = members.group_by("birth").len()
    placed = members.join(sizes, on="birth")
    alone = placed.filter((pl.col("feed") == "pop") & (pl.col("len") == 1))["uid"]
    linked = placed.filter((pl.col("feed") == "pop") & (pl.col("len") > 1))["uid"]
    pop = records.filter(pl.col("feed") == "pop")
    lonely = pop.filter(pl.col("uid").is_in(alone.implode()))
    kept = pop.filter(pl.col("uid").is_in(linked.implode()))
    found = [_repeats(lonely, kept)]
    # Lonely records repeating each other: the later report repeats the earlier one.
    among = (
        _repeats(lonely, lonely)
        .join(
            pop.select(pl.col("uid").alias("duplicate_of"), pl.col("entered_on").alias("kept_on")),
            on="duplicate_of",
        )
        .join(pop.select("uid", "entered_on"), on="uid")
    )
    later = (pl.col("entered_on") > pl.col("kept_on")) | (
        (pl.col("entered_on") == pl.col("kept_on")) & (pl.col("uid") > pl.col("duplicate_of"))
    )
    found.append(among.filter(later).select("uid", "duplicate_of", "method"))
    # A record repeating two others (possible only for twins) is no duplicate of either.
    candidates = pl.concat(found).unique(["uid", "duplicate_of"], keep="first", maintain_order=True)
    candidates = candidates.filter(~pl.col("duplicate_of").is_in(candidates["uid"].implode()))
    counts = candidates.group_by("uid").agg(pl.col("duplicate_of").n_unique().alias("n"))
    single = counts.filter(pl.col("n") == 1)["uid"]
    return candidates.filter(pl.col("uid").is_in(single.implode())).unique(
        "uid", keep="first", maintain_order=True
    )


def _repeats(lonely: pl.DataFrame, others: pl.DataFrame) -> pl.DataFrame:
    """uid (lonely) -> duplicate_of (in `others`), by the duplicate keys."""
    found = []
    for method, keys, corroborate in DUPLICATE_KEYS:
        pairs = lonely.drop_nulls(list(keys)).join(
            others.drop_nulls(list(keys)), on=list(keys), suffix="_r"
        )
        pairs = pairs.filter(pl.col("uid") != pl.col("uid_r"))
        if corroborate:
            pairs = pairs.filter(
                pl.any_horizontal(
                    (pl.col(f) == pl.col(f"{f}_r")).fill_null(False) for f in corroborate
                )
            )
        if method == UNNAMED:
            pairs = pairs.filter(pl.col("child_name").is_null() | pl.col("child_name_r").is_null())
        found.append(
            pairs.select(
                "uid", pl.col("uid_r").alias("duplicate_of"), pl.lit(method).alias("method")
            )
        )
    return pl.concat(found)
