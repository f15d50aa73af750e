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

import numpy as np
import polars as pl

from recon.names import name_key

FEED_ORDER = ("pop", "hosp", "police")
LIVE = "活产"

# Fields whose agreement breaks ties between candidates of equal rank.
_TIEBREAK_FIELDS = ("division_code", "birth_order", "child_name_py", "mother_name_py", "sex")
# The fields a pass compares its pairs on (corroboration, sex, tie-breaks).
_GATHERED = (*_TIEBREAK_FIELDS, "mother_id", "birth_date", "outcome", "entered_on")


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
    # A birth is numbered by the row of the record it starts from; records are referred
    # to by their row throughout, and by their uid only in what link returns.
    records = records.with_row_index("birth").with_columns(pl.col("birth").cast(pl.Int64))
    births = _Births(records)
    # The fields compared pair by pair, gathered by record row: each in one chunk, since a
    # gather across the link records' many chunks (DuckDB's batches) is 15x slower.
    fields = (
        records.select("uid", *_GATHERED)
        .with_columns(pl.Series("_single", births.single_record))
        .rechunk()
    )
    links: list[pl.DataFrame] = []  # row_l, row_r, method, score
    for step in DETERMINISTIC_PASSES:
        open_to = births.open_to(step.left, step.right)
        candidates = _candidates_on_keys(records, fields, open_to, step)
        links.append(births.merge(fields, candidates, step.left, step.right, step.names_must_agree))

    if fuzzy is not None:
        residual = records.filter(births.incomplete())
        if residual.height:
            pairs = _rows(_taken(fuzzy(residual), residual, min_match_weight), residual, records)
            for left, right in (("hosp", "police"), ("pop", "hosp"), ("pop", "police")):
                candidates = _fuzzy_candidates(births, pairs, left, right)
                # Splink may pair a mother's child with the wrong record of hers or with
                # another woman's: the names must agree, single delivery or not.
                links.append(births.merge(fields, candidates, left, right, True, False))

    duplicates = _duplicates(records, births)
    duplicates, links = _first_report_kept(records, births, duplicates, links)
    uid = fields["uid"]
    all_links = pl.concat(links)
    return Linked(
        births.frame(uid, duplicates["_row"]),
        all_links.select(
            uid.gather(all_links["row_l"]).alias("uid_l"),
            uid.gather(all_links["row_r"]).alias("uid_r"),
            "method",
            "score",
        ),
        duplicates.drop("_row", "_row_of"),
    )


class _Births:
    """Which birth each record is in, and what each birth holds, kept up to date in place.

    Hand-written (numpy arrays indexed by record row and by birth number) rather than a
    members frame summarised with group_by and relabelled with replace on every pass:
    on 2.7M records those whole-frame operations were most of the link time, while a
    pass touches only the births of its candidates. A birth is numbered by a record
    row, so every array has one slot per record; a merged-away birth's slots go unused.
    """

    def __init__(self, records: pl.DataFrame) -> None:
        n = records.height
        self.n = n
        feed = records["feed"]
        self.feed = np.full(n, -1, dtype=np.int8)
        for code, name in enumerate(FEED_ORDER):
            self.feed[(feed == name).fill_null(False).to_numpy()] = code
        self.birth = np.arange(n, dtype=np.int64)  # record row -> birth
        self.size = np.ones(n, dtype=np.int32)  # birth -> records
        self.has = np.zeros((len(FEED_ORDER), n), dtype=bool)  # feed, birth -> holds one
        known = self.feed >= 0
        self.has[self.feed[known], np.flatnonzero(known)] = True
        # a hospital record of a single delivery: its birth has no twin to tell apart
        self.single_record = (
            ((feed == "hosp") & (records["plurality"] == 1)).fill_null(False).to_numpy()
        )
        self.single = self.single_record.copy()  # birth -> holds a single delivery
        # birth -> the first (lowest) row of its records that has a child's name; n: none.
        # The names with a null appended, so that row n reads as no name.
        self.names = pl.concat(
            [records["child_name_py"], pl.Series([None], dtype=pl.String)], rechunk=True
        )
        rows = np.arange(n, dtype=np.int64)
        self.name_row = np.where(records["child_name_py"].is_not_null().to_numpy(), rows, n)

    def open_to(self, left: str, right: str) -> pl.Series:
        """Records of the two feeds whose birth still lacks the other feed."""
        lf, rf = FEED_ORDER.index(left), FEED_ORDER.index(right)
        return pl.Series(
            ((self.feed == lf) & ~self.has[rf][self.birth])
            | ((self.feed == rf) & ~self.has[lf][self.birth])
        )

    def incomplete(self) -> pl.Series:
        """Records of births that lack at least one feed: what the fuzzy pass may still join."""
        return pl.Series(self.size[self.birth] < len(FEED_ORDER))

    def merge(
        self,
        records: pl.DataFrame,
        candidates: _Candidates,
        left: str,
        right: str,
        names_must_agree: bool,
        single_waives_names: bool = True,
    ) -> pl.DataFrame:
        """Accept one-to-one links that keep every birth to one record per feed; merge
        births. Returns the links taken: row_l, row_r, method, score.

        With `names_must_agree`, births whose children's names read differently stay
        apart, unless (`single_waives_names`) one of them holds a single delivery: an
        exact pass has found the mother and date of a delivery with no twin to mistake.
        """
        third = next(f for f in FEED_ORDER if f not in (left, right))
        pairs = candidates.pairs
        lf, rf, tf = (FEED_ORDER.index(f) for f in (left, right, third))
        birth_l = self.birth[pairs["row_l"].to_numpy()]
        birth_r = self.birth[pairs["row_r"].to_numpy()]
        fits = (
            (birth_l != birth_r)
            & ~self.has[rf][birth_l]
            & ~self.has[lf][birth_r]
            & ~(self.has[tf][birth_l] & self.has[tf][birth_r])
        )
        same_name = self.names.gather(self.name_row[birth_l]) == self.names.gather(
            self.name_row[birth_r]
        )
        names_ok = same_name.fill_null(True).to_numpy() | (not names_must_agree)
        if single_waives_names:
            # a single delivery has no twin to mistake: a renamed child is still it
            names_ok = names_ok | self.single[birth_l] | self.single[birth_r]
        eligible = pairs.with_columns(
            pl.Series("birth", birth_l),
            pl.Series("birth_r", birth_r),
            # Between candidates of one rank, the births whose children's names read the
            # same go first: a twin's register record goes to the twin of its name.
            same_name.fill_null(False).alias("named"),
        ).filter(pl.Series(fits & names_ok))
        accepted = assign_one_to_one(eligible, records, candidates.tiebreak)
        kept, gone = accepted["birth"].to_numpy(), accepted["birth_r"].to_numpy()
        # A birth is merged into at most one other: each side holds one feed's record.
        relabel = np.arange(self.n, dtype=np.int64)
        relabel[gone] = kept
        self.birth = relabel[self.birth]
        self.has[:, kept] |= self.has[:, gone]
        self.size[kept] += self.size[gone]
        self.single[kept] |= self.single[gone]
        self.name_row[kept] = np.minimum(self.name_row[kept], self.name_row[gone])
        return accepted.select("row_l", "row_r", "method", "score")

    def frame(self, uid: pl.Series, dropped: pl.Series) -> pl.DataFrame:
        """birth, pop_uid, hosp_uid, police_uid: one row per birth, in birth order, of the
        records not `dropped` (rows)."""
        keep = np.ones(self.n, dtype=bool)
        keep[dropped.to_numpy()] = False
        rows = np.flatnonzero(keep)
        births = self.birth[rows]
        # the birth numbers in use, in order (np.unique sorts: 50x slower here)
        present = np.zeros(self.n, dtype=bool)
        present[births] = True
        numbers = np.flatnonzero(present)
        columns = {}
        for code, feed in enumerate(FEED_ORDER):
            of_feed = self.feed[rows] == code
            slot = np.full(self.n, -1, dtype=np.int64)
            slot[births[of_feed]] = rows[of_feed]
            held = pl.Series(slot[numbers])
            columns[f"{feed}_uid"] = uid.gather(held.set(held == -1, None))
        return pl.DataFrame({"birth": numbers, **columns})


def _rows(pairs: pl.DataFrame, residual: pl.DataFrame, records: pl.DataFrame) -> pl.DataFrame:
    """Scored pairs by record rows: row_l, row_r, match_weight."""
    lookup = residual.select("uid", "birth")
    named = pl.concat([pairs["uid_l"], pairs["uid_r"]])
    if not named.is_in(lookup["uid"].implode()).all():
        lookup = records.select("uid", "birth")  # a pair outside the residual: look wider
    return (
        pairs.join(lookup.rename({"uid": "uid_l", "birth": "row_l"}), on="uid_l")
        .join(lookup.rename({"uid": "uid_r", "birth": "row_r"}), on="uid_r")
        .select("row_l", "row_r", "match_weight")
    )


def _sides(records: pl.DataFrame, pairs: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Add each record's `columns` to pairs of rows (row_l, row_r), the right's as `<c>_r`."""
    return pairs.with_columns(
        *(records[c].gather(pairs["row_l"]).alias(c) for c in columns),
        *(records[c].gather(pairs["row_r"]).alias(f"{c}_r") for c in columns),
    )


def link_methods(linked: Linked) -> pl.DataFrame:
    """birth -> the methods of the links that made it, for the evidence."""
    members = linked.births.unpivot(
        index="birth", on=[f"{f}_uid" for f in FEED_ORDER], value_name="uid"
    ).drop_nulls("uid")
    # Both ends of a link lie in one birth: its left end finds the birth. Joined on the
    # uids' 64-bit hashes, then the uids compared (which drops two uids whose hashes
    # collide): the same pairs as a join on the strings, in half the time.
    ends = linked.links.select("method", pl.col("uid_l").alias("uid")).drop_nulls("uid")
    found = (
        ends.with_columns(pl.col("uid").hash().alias("_hash"))
        .join(
            members.select(
                "birth", pl.col("uid").alias("_uid"), pl.col("uid").hash().alias("_hash")
            ),
            on="_hash",
        )
        .filter(pl.col("uid") == pl.col("_uid"))
        .select("method", "birth")
    )
    methods = found["method"].unique().sort()
    spelled = pl.col("method").unique().sort().str.join("；").alias("link_methods")
    if found.is_empty() or methods.null_count() or methods.len() > 62:
        return found.group_by("birth").agg(spelled)
    # A handful of methods: each birth's set as a bit mask (bit i: the i-th method in
    # sorted order), spelled once per distinct mask. Hand-written because sorting and
    # joining a list in each of a million groups was most of the reconcile stage's time.
    # Grouped sorted: a group_by over sorted keys takes slices instead of hashing.
    names = methods.to_list()
    bit = {method: 1 << i for i, method in enumerate(names)}
    masks = (
        found.select("birth", pl.col("method").replace_strict(bit, return_dtype=pl.Int64))
        .sort("birth")
        .group_by("birth", maintain_order=True)
        .agg(pl.col("method").bitwise_or().alias("_mask"))
    )
    spellings = {
        mask: "；".join(name for i, name in enumerate(names) if mask >> i & 1)
        for mask in masks["_mask"].unique().to_list()
    }
    return masks.select(
        "birth",
        pl.col("_mask").replace_strict(spellings, return_dtype=pl.String).alias("link_methods"),
    )


@dataclass(frozen=True)
class _Candidates:
    pairs: pl.DataFrame  # row_l, row_r, method, score
    # The fields whose agreement breaks ties between candidates of one score; a pass's
    # keys agree on every pair and break none.
    tiebreak: tuple[str, ...]


def _candidates_on_keys(
    records: pl.DataFrame, fields: pl.DataFrame, open_to: pl.Series, step: Pass
) -> _Candidates:
    """Pairs (row_l, row_r) of open records of the pass's two feeds, equal on its keys;
    the fields they are compared on taken from `fields`."""
    keys, near = list(step.keys), list(step.near)
    # Only the keys go through the join; the fields the pass compares are gathered by
    # row for the pairs found, not carried for every record of two feeds.
    placed = records.select("birth", "feed", *keys, *near).filter(open_to)
    sides = [
        placed.filter(pl.col("feed") == feed).drop("feed").drop_nulls([*keys, *near])
        for feed in (step.left, step.right)
    ]
    pairs = (
        sides[0]
        .rename({"birth": "row_l"})
        .join(sides[1].rename({"birth": "row_r"}), on=keys, how="inner", suffix="_r")
    )
    for column in near:
        pairs = pairs.filter(_one_typo_apart(pairs, column, f"{column}_r"))
    pairs = pairs.select("row_l", "row_r")
    if step.corroborate:
        pairs = _sides(fields, pairs, list(step.corroborate))
        pairs = pairs.filter(
            pl.any_horizontal(
                (pl.col(f) == pl.col(f"{f}_r")).fill_null(False) for f in step.corroborate
            )
        ).select("row_l", "row_r")
    tiebreak = tuple(f for f in _TIEBREAK_FIELDS if f not in keys)
    if not step.sex_unless_single:
        return _Candidates(_scored(pairs, step.method, step.score), tiebreak)
    pairs = _sides(fields, pairs, ["sex", "_single"])
    same_sex = (pl.col("sex") == pl.col("sex_r")).fill_null(False)
    pairs = pairs.filter(same_sex | pl.col("_single") | pl.col("_single_r"))
    return _Candidates(
        _scored(
            pairs,
            pl.when(same_sex).then(pl.lit(step.method)).otherwise(pl.lit(step.method + SINGLE)),
            pl.when(same_sex)
            .then(pl.lit(step.score))
            .otherwise(pl.lit(step.score - SEX_DISAGREES)),
        ),
        tiebreak,
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
    scored = scored.with_columns(_one_typo_apart(scored, "_mother_id_l", "_mother_id_r"))
    sole = (pl.len().over("uid_l", "_feed_r") == 1) & (pl.len().over("uid_r", "_feed_l") == 1)
    same_sex = (pl.col("_sex_l") == pl.col("_sex_r")).fill_null(False)
    # Two mother ids more than a typo apart are two mothers, whatever their names say.
    mother_ok = (
        pl.col("_mother_id_l").is_null() | pl.col("_mother_id_r").is_null() | pl.col("_typo")
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


def _one_typo_apart(frame: pl.DataFrame, left: str, right: str, width: int = 18) -> pl.Series:
    """`one_typo_apart` of two columns of `frame` (as `_typo`), computed faster: equal
    values need no test, and the others' characters are sliced once, into columns. As
    one expression, Polars slices a character again for each comparison that reads it
    (5x slower on the fuzzy pairs' mother ids)."""
    a, b = frame[left], frame[right]
    equal = (a == b).fill_null(False).alias("_typo")
    rows = (~equal & a.is_not_null() & b.is_not_null()).arg_true()
    if rows.is_empty():
        return equal
    chars = pl.DataFrame({"a": a.gather(rows), "b": b.gather(rows)}).select(
        *(pl.col("a").str.slice(i, 1).alias(f"a{i}") for i in range(width)),
        *(pl.col("b").str.slice(i, 1).alias(f"b{i}") for i in range(width)),
        (pl.col("a").str.len_chars() == pl.col("b").str.len_chars()).alias("same_length"),
    )
    a_, b_ = [pl.col(f"a{i}") for i in range(width)], [pl.col(f"b{i}") for i in range(width)]
    wrong = pl.sum_horizontal((a_[i] != b_[i]).cast(pl.Int32) for i in range(width))
    swapped = pl.any_horizontal(
        (a_[i] != b_[i]) & (a_[i] == b_[i + 1]) & (a_[i + 1] == b_[i]) for i in range(width - 1)
    )
    apart = chars.select(
        (pl.col("same_length") & ((wrong <= 1) | ((wrong == 2) & swapped))).fill_null(False)
    ).to_series()
    return equal.scatter(rows, apart)


def _fuzzy_candidates(births: _Births, pairs: pl.DataFrame, left: str, right: str) -> _Candidates:
    # Splink pairs come in either order; orient them left -> right.
    oriented = pl.concat(
        [
            pairs,
            pairs.select(
                pl.col("row_r").alias("row_l"), pl.col("row_l").alias("row_r"), "match_weight"
            ),
        ]
    )
    feed_l = births.feed[oriented["row_l"].to_numpy()]
    feed_r = births.feed[oriented["row_r"].to_numpy()]
    oriented = oriented.filter(
        pl.Series((feed_l == FEED_ORDER.index(left)) & (feed_r == FEED_ORDER.index(right)))
    )
    return _Candidates(
        _scored(oriented, "概率匹配", 50.0, weight=pl.col("match_weight")), _TIEBREAK_FIELDS
    )


def _scored(
    pairs: pl.DataFrame,
    method: str | pl.Expr,
    score: float | pl.Expr,
    weight: pl.Expr | None = None,
) -> pl.DataFrame:
    """Candidate pairs with the method and score of their link."""
    base = score if isinstance(score, pl.Expr) else pl.lit(score)
    total = base + (weight if weight is not None else pl.lit(0.0))
    return pairs.select(
        "row_l",
        "row_r",
        (method if isinstance(method, pl.Expr) else pl.lit(method)).alias("method"),
        total.cast(pl.Float64).alias("score"),
    )


def _tiebreaks(records: pl.DataFrame, pairs: pl.DataFrame, fields: tuple[str, ...]) -> pl.DataFrame:
    """Add the tie-breaks that order candidates of one score: both live, how many of
    `fields` agree, the earlier entry."""
    sides = _sides(records, pairs, list(dict.fromkeys([*fields, "outcome", "entered_on"])))
    agree = [(pl.col(f) == pl.col(f"{f}_r")).fill_null(False).cast(pl.Int32) for f in fields]
    live = (pl.col("outcome").fill_null(LIVE) == LIVE) & (
        pl.col("outcome_r").fill_null(LIVE) == LIVE
    )
    return sides.select(
        *pairs.columns,
        live.cast(pl.Int32).alias("live"),
        pl.sum_horizontal(agree).alias("agree") if agree else pl.lit(0).alias("agree"),
        pl.min_horizontal(pl.col("entered_on"), pl.col("entered_on_r")).alias("entered_on"),
    )


def assign_one_to_one(
    pairs: pl.DataFrame, records: pl.DataFrame, tiebreak: tuple[str, ...]
) -> pl.DataFrame:
    """Greedy one-to-one assignment of pairs of rows (row_l, row_r): best score first,
    then the tie-breaks (`_tiebreaks`, `named` where given), then the uids; each side
    used at most once.

    A pair whose two records have no other candidate is taken whatever its rank, so only
    the others are ranked; they are taken as rounds of mutual best choices, which gives
    exactly the greedy result.
    """
    contested = (pl.len().over("row_l") > 1) | (pl.len().over("row_r") > 1)
    marked = pairs.with_columns(contested.alias("_contested"))
    rest = marked.filter(pl.col("_contested")).drop("_contested")
    if rest.is_empty():
        return pairs  # no record has two candidates: nothing to choose
    sure = marked.filter(~pl.col("_contested")).drop("_contested")
    order = ["score", "live", "named", "agree", "entered_on", "uid_l", "uid_r"]
    descending = [True, True, True, True, False, False, False]
    if "named" not in pairs.columns:
        order, descending = order[:2] + order[3:], descending[:2] + descending[3:]
    uid = records["uid"]
    ranked = (
        _tiebreaks(records, rest, tiebreak)
        .with_columns(
            uid.gather(rest["row_l"]).alias("uid_l"), uid.gather(rest["row_r"]).alias("uid_r")
        )
        .sort(order, descending=descending, nulls_last=True)
        .drop("uid_l", "uid_r")
        .with_row_index("rank")
    )
    accepted = [sure]
    while ranked.height:
        best_l = ranked.group_by("row_l").agg(pl.col("rank").min())
        best_r = ranked.group_by("row_r").agg(pl.col("rank").min())
        mutual = ranked.join(best_l, on=["row_l", "rank"]).join(best_r, on=["row_r", "rank"])
        accepted.append(mutual.select(pairs.columns))
        ranked = ranked.filter(
            ~pl.col("row_l").is_in(mutual["row_l"].implode())
            & ~pl.col("row_r").is_in(mutual["row_r"].implode())
        )
    return pl.concat(accepted)


def _duplicates(records: pl.DataFrame, births: _Births) -> pl.DataFrame:
    """Pop records alone in their birth that repeat another pop record: uid,
    duplicate_of, method, and their rows (_row, _row_of).

    The kept record is the one linked to other feeds; between two lonely records, the one
    reported first.
    """
    size = births.size[births.birth]
    is_pop = births.feed == FEED_ORDER.index("pop")
    pop_fields = ["birth", "uid", "entered_on", "mother_id", "birth_date", "sex", "child_id"]
    needed = [*pop_fields, "child_name_py", "mother_name_py", "child_name"]
    lonely = records.select(needed).filter(pl.Series(is_pop & (size == 1)))
    kept = records.select(needed).filter(pl.Series(is_pop & (size > 1)))
    found = [_repeats(lonely, kept)]
    # Lonely records repeating each other: the later report repeats the earlier one.
    # Joined, not gathered by row: the join gives the rows the order they always had.
    pop = records.select("uid", "entered_on").filter(pl.Series(is_pop))
    among = (
        _repeats(lonely, lonely, earliest=REPEATS_COMPARED)
        .join(
            pop.select(pl.col("uid").alias("duplicate_of"), pl.col("entered_on").alias("kept_on")),
            on="duplicate_of",
        )
        .join(pop, on="uid")
    )
    later = (pl.col("entered_on") > pl.col("kept_on")) | (
        (pl.col("entered_on") == pl.col("kept_on")) & (pl.col("uid") > pl.col("duplicate_of"))
    )
    found.append(among.filter(later).drop("entered_on", "kept_on"))
    # A record repeating two others (possible only for twins) is no duplicate of either.
    candidates = pl.concat(found).unique(["uid", "duplicate_of"], keep="first", maintain_order=True)
    # Mother, date and sex alone (no name yet) repeat a twin's record too: while the
    # hospital holds a baby of that mother and day that no register record took, the
    # lonely record may be that baby's, its sex mistyped. It is no duplicate then.
    open_hosp = (
        records.select("mother_id", "birth_date")
        .filter(
            pl.Series(
                (births.feed == FEED_ORDER.index("hosp"))
                & ~births.has[FEED_ORDER.index("pop")][births.birth]
            )
        )
        .drop_nulls()
        .unique()
    )
    rows = candidates.filter(pl.col("method") == UNNAMED)["_row"]
    unnamed = pl.DataFrame(
        {
            "uid": records["uid"].gather(rows),
            "mother_id": records["mother_id"].gather(rows),
            "birth_date": records["birth_date"].gather(rows),
        }
    ).join(open_hosp, on=["mother_id", "birth_date"], how="semi")["uid"]
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
    births: _Births,
    duplicates: pl.DataFrame,
    links: list[pl.DataFrame],
) -> tuple[pl.DataFrame, list[pl.DataFrame]]:
    """The record reported first is the one kept; the later ones are its duplicates.

    A duplicate is "a second record of a birth already recorded" (contract.md), so when the
    later report is the one that linked (the first carried a typo), the first takes its
    place in the birth, and the typo becomes a misreport of the kept record.
    """
    if duplicates.is_empty():
        return duplicates, links
    family = pl.concat(
        [
            duplicates.select(pl.col("_row_of").alias("kept"), pl.col("_row").alias("row")),
            duplicates.select(pl.col("_row_of").alias("kept"), pl.col("_row_of").alias("row")),
        ]
    ).unique()
    uid, entered_on = records["uid"], records["entered_on"]
    first = (
        family.with_columns(
            entered_on.gather(family["row"]).alias("entered_on"),
            uid.gather(family["row"]).alias("uid"),
        )
        .sort("kept", "entered_on", "uid", nulls_last=True)
        .group_by("kept", maintain_order=True)
        .agg(pl.col("row").first().alias("first"))
        .filter(pl.col("first") != pl.col("kept"))
    )
    if first.is_empty():
        return duplicates, links
    keeper = dict(first.iter_rows())  # old kept -> first report (rows)
    # The two records swap births: the first report joins the linked birth.
    birth_of = {row: int(births.birth[row]) for pair in keeper.items() for row in pair}
    swap = {a: birth_of[b] for k, f in keeper.items() for a, b in ((f, k), (k, f))}
    births.birth[list(swap)] = list(swap.values())
    firsts = pl.Series(list(keeper.values()), dtype=pl.Int64)
    relabel = pl.DataFrame(
        {"old": list(keeper), "new": firsts}, schema={"old": pl.Int64, "new": pl.Int64}
    )
    duplicates = duplicates.with_columns(
        # the first report's own row now names the old kept record as the duplicate
        pl.when(pl.col("_row").is_in(firsts.implode()))
        .then(pl.col("duplicate_of"))
        .otherwise(pl.col("uid"))
        .alias("uid"),
        pl.when(pl.col("_row").is_in(firsts.implode()))
        .then(pl.col("_row_of"))
        .otherwise(pl.col("_row"))
        .alias("_row"),
        pl.col("duplicate_of").replace({uid[k]: uid[f] for k, f in keeper.items()}),
        pl.col("_row_of").replace(relabel["old"], relabel["new"]),
    )
    links = [
        frame.with_columns(
            pl.col("row_l").replace(relabel["old"], relabel["new"]),
            pl.col("row_r").replace(relabel["old"], relabel["new"]),
        )
        for frame in links
    ]
    return duplicates, links


def _repeats(
    lonely: pl.DataFrame, others: pl.DataFrame, earliest: int | None = None
) -> pl.DataFrame:
    """uid (lonely) -> duplicate_of (in `others`), by the duplicate keys; their rows
    (`birth` of the records) as _row and _row_of.

    `earliest`: compare each record only with the first `earliest` reports of its key in
    `others`. Among records repeating each other only the first report is kept, so the
    later ones are never needed; without the cap an export holding one birth thousands
    of times makes a join of millions of pairs per key.
    """
    found = []
    for method, keys, corroborate in DUPLICATE_KEYS:
        needed = list(dict.fromkeys(["birth", "uid", *keys, *corroborate, "child_name"]))
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
                "uid",
                pl.col("uid_r").alias("duplicate_of"),
                pl.lit(method).alias("method"),
                pl.col("birth").alias("_row"),
                pl.col("birth_r").alias("_row_of"),
            )
        )
    return pl.concat(found)
