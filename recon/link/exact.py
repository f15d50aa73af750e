"""Link: group the records of the three feeds into births.

A birth holds at most one record of each feed: the hospital and the police keep one
record per baby, and the register should. Records join a birth pass by pass, the surest
evidence first (certificate number, the child's identity number, mother + date + sex;
then mother + date of a single delivery, whatever the sex; then the mother's name + date
where her id is one typo off), then a probabilistic pass (Splink, recon/fuzzy.py) over
what is left: pairs at the minimum match weight, or a few bits below it where neither
record has another candidate. Within a pass each record takes at most one partner:
candidates are ranked (a birth whose child's name reads the same first) and assigned
one-to-one, so two twins sharing mother and date become two births, never one.

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
    # The sex must agree too, unless the pair's hosp record is of a single delivery
    # (plurality 1); such a pair scores SEX_DISAGREES less and says so in its method.
    sex_unless_single: bool = False
    # Equal or one typo apart (a digit wrong or two swapped) on both sides, and non-null.
    near: tuple[str, ...] = ()


MOTHER_DATE_SEX = ("mother_id", "birth_date", "sex")
MOTHER_DATE = ("mother_id", "birth_date")
SEX_DISAGREES = 20.0
SINGLE = "（单胎，性别不一）"  # appended to the method of a link whose sexes disagree
DETERMINISTIC_PASSES = (
    # The mother's name corroborates too: police entries often lack the mother's id, and
    # a birth date typed wrong on one side must not undo a shared certificate.
    Pass("出生医学证明编号", "hosp", "police", ("certificate_no",), 100,
         ("mother_id", "birth_date", "mother_name_py"), names_must_agree=False),
    # Not the birth date: the identity number encodes it, so a typo'd number agrees with it.
    Pass("公民身份号码", "pop", "police", ("child_id",), 100,
         ("mother_id", "child_name_py", "mother_name_py"), names_must_agree=False),
    # Mother + date, and the sex too unless the hospital saw a single delivery (胎数 1):
    # then there is no twin, and the register or police record of her child that day is
    # this baby even where the sex was typed wrong (hosp is the witness of sex; reconcile
    # reports the disagreement). A pair that agrees on the sex ranks first.
    Pass("母亲身份号码+出生日期+性别", "hosp", "police", MOTHER_DATE, 90, sex_unless_single=True),
    Pass("母亲身份号码+出生日期+性别", "pop", "hosp", MOTHER_DATE, 90, sex_unless_single=True),
    Pass("母亲身份号码+出生日期+性别", "pop", "police", MOTHER_DATE_SEX, 85),
    Pass("姓名+母亲姓名+出生日期", "pop", "police",
         ("child_name_py", "mother_name_py", "birth_date"), 80),
    # The mother's id mistyped in one feed (a digit, two swapped): her name and the date,
    # with the sex or a single delivery, still say it is her child of that day.
    *(
        Pass("母亲姓名+出生日期+性别，母亲身份号码一字之差", left, right,
             ("mother_name_py", "birth_date"), 65, near=("mother_id",), sex_unless_single=True)
        for left, right in (("hosp", "police"), ("pop", "hosp"), ("pop", "police"))
    ),
)  # fmt: skip

# Pop duplicates: the same birth entered twice; twins differ in name, so the name counts.
DUPLICATE_KEYS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    # (method, equal keys, at least one of these equal too)
    ("公民身份号码", ("child_id",), ("mother_id", "child_name_py", "mother_name_py")),
    ("母亲身份号码+出生日期+性别+姓名", ("mother_id", "birth_date", "sex", "child_name_py"), ()),
    ("姓名+母亲姓名+出生日期+性别", ("child_name_py", "mother_name_py", "birth_date", "sex"), ()),
    # One of the two dates mistyped: same mother, sex and name is still the same child.
    ("母亲身份号码+性别+姓名", ("mother_id", "sex", "child_name_py"), ()),
    # One of the two sexes mistyped: same mother, date and name is still the same child.
    ("母亲身份号码+出生日期+姓名", ("mother_id", "birth_date", "child_name_py"), ()),
    ("母亲身份号码+出生日期+性别（未起名）", ("mother_id", "birth_date", "sex"), ()),
)
UNNAMED = "母亲身份号码+出生日期+性别（未起名）"  # used only where one record has no name yet
# Register records repeating each other are compared with the first reports of their key
# only: real repeats come in twos and threes, a broken export in thousands.
REPEATS_COMPARED = 16

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
    members = records.select(
        "uid",
        "feed",
        "birth",
        "child_name_py",
        # a hospital record of a single delivery: its birth has no twin to tell apart
        ((pl.col("feed") == "hosp") & (pl.col("plurality") == 1)).fill_null(False).alias("single"),
    )
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
            pairs = _taken(fuzzy(residual), residual, min_match_weight)
            for left, right in (("hosp", "police"), ("pop", "hosp"), ("pop", "police")):
                candidates = _fuzzy_candidates(records, pairs, left, right)
                # Splink may pair a mother's child with the wrong record of hers or with
                # another woman's: the names must agree, single delivery or not.
                members, accepted = _merge(members, candidates, left, right, True, False)
                links.append(accepted)

    duplicates = _duplicates(records, members)
    members, duplicates, links = _first_report_kept(records, members, duplicates, links)
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
    # members stays row for row with records (see _merge): no join needed
    placed = records.with_columns(members["birth"]).filter(
        pl.col("feed").is_in([step.left, step.right])
    )
    return placed.filter(
        ((pl.col("feed") == step.left) & ~pl.col("birth").is_in(births_with[step.right]))
        | ((pl.col("feed") == step.right) & ~pl.col("birth").is_in(births_with[step.left]))
    )


def _candidates_on_keys(records: pl.DataFrame, step: Pass) -> pl.DataFrame:
    keys = list(step.keys)
    left = records.filter(pl.col("feed") == step.left).drop_nulls(keys)
    right = records.filter(pl.col("feed") == step.right).drop_nulls(keys)
    if step.near:
        left, right = left.drop_nulls(list(step.near)), right.drop_nulls(list(step.near))
    pairs = left.join(right, on=keys, how="inner", suffix="_r")
    for column in step.near:
        pairs = pairs.filter(one_typo_apart(pl.col(column), pl.col(f"{column}_r")))
    if step.corroborate:
        pairs = pairs.filter(
            pl.any_horizontal(
                (pl.col(f) == pl.col(f"{f}_r")).fill_null(False) for f in step.corroborate
            )
        )
    if not step.sex_unless_single:
        return _ranked(pairs, step.method, step.score)
    same_sex = (pl.col("sex") == pl.col("sex_r")).fill_null(False)
    single = ((pl.col("feed") == "hosp") & (pl.col("plurality") == 1)).fill_null(False) | (
        (pl.col("feed_r") == "hosp") & (pl.col("plurality_r") == 1)
    ).fill_null(False)
    pairs = pairs.filter(same_sex | single)
    return _ranked(
        pairs,
        pl.when(same_sex).then(pl.lit(step.method)).otherwise(pl.lit(step.method + SINGLE)),
        pl.when(same_sex).then(pl.lit(step.score)).otherwise(pl.lit(step.score - SEX_DISAGREES)),
    )


# An uncontested pair (each record's only candidate of the other feed) is taken this many
# bits below the threshold: with no rival there is no twin or sibling to mistake it for.
UNCONTESTED_MARGIN = 4.0


def _taken(pairs: pl.DataFrame, records: pl.DataFrame, min_match_weight: float) -> pl.DataFrame:
    """The scored pairs the fuzzy pass may take: weight >= `min_match_weight`, or, for a
    pair that is the only candidate of both its records between their two feeds, agrees
    on the sex and has no two mother ids more than a typo apart, weight >=
    `min_match_weight - UNCONTESTED_MARGIN`.

    A hospital record whose mother id was mistyped and whose division is known only to
    the township, or a police entry without the mother's id, loses the evidence that
    would lift it over the threshold; yet nothing else in the other feed resembles it.
    Twins and a mother's other children are candidates of each other, so never
    uncontested. A sex that disagrees is a real disagreement, not missing evidence: two
    lonely records of two births (a home birth's register and police entries, another
    baby's hospital record) by mothers of one name on one day must stay apart.
    """
    if pairs.is_empty():
        return pairs
    feed = pl.col("uid_l").str.split_exact(":", 1).struct.field("field_0")
    feed_r = pl.col("uid_r").str.split_exact(":", 1).struct.field("field_0")
    fields = records.select("uid", "sex", "mother_id")
    scored = (
        pairs.with_columns(feed.alias("_feed_l"), feed_r.alias("_feed_r"))
        .join(
            fields.rename(lambda c: f"{c}_l" if c == "uid" else f"_{c}_l"), on="uid_l", how="left"
        )
        .join(
            fields.rename(lambda c: f"{c}_r" if c == "uid" else f"_{c}_r"), on="uid_r", how="left"
        )
    )
    sole = (pl.len().over("uid_l", "_feed_r") == 1) & (pl.len().over("uid_r", "_feed_l") == 1)
    same_sex = (pl.col("_sex_l") == pl.col("_sex_r")).fill_null(False)
    # Two mother ids more than a typo apart are two mothers, whatever their names say.
    mother_ok = (
        pl.col("_mother_id_l").is_null()
        | pl.col("_mother_id_r").is_null()
        | one_typo_apart(pl.col("_mother_id_l"), pl.col("_mother_id_r"))
    )
    weight = pl.col("match_weight")
    near = weight >= min_match_weight - UNCONTESTED_MARGIN
    return scored.filter(
        (weight >= min_match_weight) | (sole & same_sex & mother_ok & near)
    ).select(pairs.columns)


def one_typo_apart(left: pl.Expr, right: pl.Expr, width: int = 18) -> pl.Expr:
    """Equal, or one character wrong, or two neighbours swapped (Damerau-Levenshtein <= 1
    between strings of one length; an identity number is 18 characters)."""
    chars = [(left.str.slice(i, 1), right.str.slice(i, 1)) for i in range(width)]
    wrong = pl.sum_horizontal((a != b).cast(pl.Int32) for a, b in chars)
    swapped = pl.any_horizontal(
        (a != b) & (a == chars[i + 1][1]) & (chars[i + 1][0] == b)
        for i, (a, b) in enumerate(chars[:-1])
    )
    same_length = left.str.len_chars() == right.str.len_chars()
    return (same_length & ((wrong <= 1) | ((wrong == 2) & swapped))).fill_null(False)


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
    pairs: pl.DataFrame,
    method: str | pl.Expr,
    score: float | pl.Expr,
    weight: pl.Expr | None = None,
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
    base = score if isinstance(score, pl.Expr) else pl.lit(score)
    total = base + (weight if weight is not None else pl.lit(0.0))
    return pairs.select(
        pl.col("uid").alias("uid_l"),
        pl.col("uid_r"),
        (method if isinstance(method, pl.Expr) else pl.lit(method)).alias("method"),
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
    single_waives_names: bool = True,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Accept one-to-one links that keep every birth to one record per feed; merge births.

    With `names_must_agree`, births whose children's names read differently stay apart,
    unless (`single_waives_names`) one of them holds a single delivery: an exact pass
    has found the mother and date of a delivery with no twin to mistake.
    """
    third = next(f for f in FEED_ORDER if f not in (left, right))
    # Only the births the candidates touch matter: summarise those, not all births.
    uids = pl.concat([candidates["uid_l"], candidates["uid_r"]]).unique()
    birth_of = members.filter(pl.col("uid").is_in(uids.implode())).select("uid", "birth")
    touched = members.filter(pl.col("birth").is_in(birth_of["birth"].unique().implode()))
    has = touched.group_by("birth").agg(
        *((pl.col("feed") == f).any().alias(f"has_{f}") for f in FEED_ORDER),
        pl.col("child_name_py").drop_nulls().first().alias("name_py"),
        pl.col("single").any(),
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
            & (
                (pl.col("name_py") == pl.col("name_py_r")).fill_null(True)
                | pl.lit(not names_must_agree)
                # a single delivery has no twin to mistake: a renamed child is still it
                | (pl.lit(single_waives_names) & (pl.col("single") | pl.col("single_r")))
            )
        )
        # Between candidates of one rank, the births whose children's names read the same
        # go first: a twin's register record goes to the twin of its name.
        .with_columns((pl.col("name_py") == pl.col("name_py_r")).fill_null(False).alias("named"))
    )
    accepted = assign_one_to_one(eligible)
    # Relabel in place, so members stays row for row with the records (_open_to relies
    # on it). A birth is merged into at most one other: each side holds one feed's record.
    members = members.with_columns(pl.col("birth").replace(accepted["birth_r"], accepted["birth"]))
    return members, accepted.select("uid_l", "uid_r", "method", "score")


def assign_one_to_one(pairs: pl.DataFrame) -> pl.DataFrame:
    """Greedy one-to-one assignment: best score first, each side used at most once.

    Taken as rounds of mutual best choices, which gives exactly the greedy result.
    """
    if pairs["uid_l"].is_unique().all() and pairs["uid_r"].is_unique().all():
        return pairs  # no record has two candidates: nothing to choose
    order = ["score", "live", "named", "agree", "entered_on", "uid_l", "uid_r"]
    descending = [True, True, True, True, False, False, False]
    if "named" not in pairs.columns:
        order, descending = order[:2] + order[3:], descending[:2] + descending[3:]
    ranked = pairs.sort(order, descending=descending, nulls_last=True).with_row_index("rank")
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
        _repeats(lonely, lonely, earliest=REPEATS_COMPARED)
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
    # Mother, date and sex alone (no name yet) repeat a twin's record too: while the
    # hospital holds a baby of that mother and day that no register record took, the
    # lonely record may be that baby's, its sex mistyped. It is no duplicate then.
    has_pop = placed.group_by("birth").agg((pl.col("feed") == "pop").any().alias("has_pop"))
    open_hosp = (
        placed.filter(pl.col("feed") == "hosp")
        .join(has_pop.filter(~pl.col("has_pop")), on="birth")
        .join(records.select("uid", "mother_id", "birth_date"), on="uid")
        .select("mother_id", "birth_date")
        .drop_nulls()
        .unique()
    )
    unnamed = (
        candidates.filter(pl.col("method") == UNNAMED)
        .join(pop.select("uid", "mother_id", "birth_date"), on="uid")
        .join(open_hosp, on=["mother_id", "birth_date"], how="semi")["uid"]
    )
    candidates = candidates.filter(
        ~((pl.col("method") == UNNAMED) & pl.col("uid").is_in(unnamed.implode()))
    )
    candidates = candidates.filter(~pl.col("duplicate_of").is_in(candidates["uid"].implode()))
    # A record repeating two twins by different keys repeats the one its surer key names
    # (the same name, not merely the same mother, day and sex).
    strength = {method: rank for rank, (method, _, _) in enumerate(DUPLICATE_KEYS)}
    candidates = candidates.with_columns(
        pl.col("method").replace_strict(strength, return_dtype=pl.Int32).alias("_strength")
    )
    candidates = candidates.filter(
        pl.col("_strength") == pl.col("_strength").min().over("uid")
    ).drop("_strength")
    counts = candidates.group_by("uid").agg(pl.col("duplicate_of").n_unique().alias("n"))
    single = counts.filter(pl.col("n") == 1)["uid"]
    return candidates.filter(pl.col("uid").is_in(single.implode())).unique(
        "uid", keep="first", maintain_order=True
    )


def _first_report_kept(
    records: pl.DataFrame,
    members: pl.DataFrame,
    duplicates: pl.DataFrame,
    links: list[pl.DataFrame],
) -> tuple[pl.DataFrame, pl.DataFrame, list[pl.DataFrame]]:
    """The record reported first is the one kept; the later ones are its duplicates.

    A duplicate is "a second record of a birth already recorded" (contract.md), so when the
    later report is the one that linked (the first carried a typo), the first takes its
    place in the birth, and the typo becomes a misreport of the kept record.
    """
    if duplicates.is_empty():
        return members, duplicates, links
    family = pl.concat(
        [
            duplicates.select(pl.col("duplicate_of").alias("kept"), "uid"),
            duplicates.select(
                pl.col("duplicate_of").alias("kept"), pl.col("duplicate_of").alias("uid")
            ),
        ]
    ).unique()
    first = (
        family.join(records.select("uid", "entered_on"), on="uid")
        .sort("kept", "entered_on", "uid", nulls_last=True)
        .group_by("kept", maintain_order=True)
        .agg(pl.col("uid").first().alias("first"))
        .filter(pl.col("first") != pl.col("kept"))
    )
    if first.is_empty():
        return members, duplicates, links
    keeper = dict(first.iter_rows())  # old kept -> first report
    # The two records swap births: the first report joins the linked birth. In place, so
    # members stays row for row with the records.
    involved = [*keeper, *keeper.values()]
    birth_of = dict(
        members.filter(pl.col("uid").is_in(involved)).select("uid", "birth").iter_rows()
    )
    swap = {a: birth_of[b] for k, f in keeper.items() for a, b in ((f, k), (k, f))}
    members = members.with_columns(
        pl.col("uid")
        .replace_strict(swap, default=pl.col("birth"), return_dtype=pl.Int64)
        .alias("birth")
    )
    duplicates = duplicates.with_columns(
        # the first report's own row now names the old kept record as the duplicate
        pl.when(pl.col("uid").is_in(list(keeper.values())))
        .then(pl.col("duplicate_of"))
        .otherwise(pl.col("uid"))
        .alias("uid"),
        pl.col("duplicate_of").replace(keeper).alias("duplicate_of"),
    )
    links = [
        frame.with_columns(pl.col("uid_l").replace(keeper), pl.col("uid_r").replace(keeper))
        for frame in links
    ]
    return members, duplicates, links


def _repeats(
    lonely: pl.DataFrame, others: pl.DataFrame, earliest: int | None = None
) -> pl.DataFrame:
    """uid (lonely) -> duplicate_of (in `others`), by the duplicate keys.

    `earliest`: compare each record only with the first `earliest` reports of its key in
    `others`. Among records repeating each other only the first report is kept, so the
    later ones are never needed; without the cap an export holding one birth thousands
    of times makes a join of millions of pairs per key.
    """
    found = []
    for method, keys, corroborate in DUPLICATE_KEYS:
        needed = list(dict.fromkeys(["uid", *keys, *corroborate, "child_name"]))
        right = others.drop_nulls(list(keys))
        if earliest is not None:
            right = right.sort("entered_on", "uid", nulls_last=True).filter(
                pl.int_range(pl.len()).over(list(keys)) < earliest
            )
        pairs = (
            lonely.drop_nulls(list(keys))
            .select(needed)
            .join(right.select(needed), on=list(keys), suffix="_r")
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
