"""Reconcile: a consensus value per birth and field, and the findings that follow.

Categories, as contract.md defines them, seen from the target system:
- missing (漏报): a live birth witnessed by another feed is absent from pop or police,
  and was due there by the as-of date;
- misreported (错报): the record is linked and a field disagrees with the consensus;
- fictitious (虚报): a pop record with no supporting birth in any other feed, or one
  that registers a stillbirth;
- duplicate (重报): a second pop record of a birth already recorded in pop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

from recon.ingest.normalize import id_check_ok
from recon.link.exact import FEED_ORDER, LIVE, Linked, link_methods
from recon.reconcile import proposal
from recon.reconcile.evidence import EvidencePolicy
from recon.vocabulary import FEED_LABELS

STILLBIRTH = "死产"


@dataclass(frozen=True)
class Field:
    name: str  # canonical column of the target feed, as in worklist `field`
    column: str  # column in the link records
    label: str
    targets: tuple[str, ...]  # feeds a correction may be proposed to


# Which feeds carry a field and which is the best witness: recon/evidence.py.
FIELDS = (
    Field("sex", "sex", "性别", FEED_ORDER),
    Field("birth_date", "birth_date", "出生日期", ("pop", "police")),
    Field("mother_id", "mother_id", "母亲公民身份号码", FEED_ORDER),
    Field("id_number", "child_id", "公民身份号码", ("pop",)),
    Field("name", "child_name", "姓名", ("pop", "police")),
    Field("birth_order", "birth_order", "孩次", ("pop",)),
    Field("division_code", "division_code", "区划代码", FEED_ORDER),
    Field("certificate_no", "certificate_no", "出生医学证明编号", ("hosp", "police")),
)

FINDING_SCHEMA: dict[str, pl.DataType] = {
    "category": pl.String(),
    "target_system": pl.String(),
    "field": pl.String(),
    "current_value": pl.String(),
    "proposed_value": pl.String(),
    "pop_record_id": pl.String(),
    "hosp_delivery_id": pl.String(),
    "police_id_number": pl.String(),
    "duplicate_of": pl.String(),
    "division_code": pl.String(),
    "confidence": pl.Float64(),
    "evidence": pl.String(),
}


@dataclass(frozen=True)
class Deadlines:
    pop_days: int = 120
    police_days: int = 90


def births_wide(records: pl.DataFrame, linked: Linked) -> pl.DataFrame:
    """One row per birth: each feed's record as prefixed columns."""
    wide = linked.births
    for feed in FEED_ORDER:
        wide = beside(wide, feed, records.filter(pl.col("feed") == feed))
    return wide


# What consensus and the findings read of a record (sql/reconcile/feed_records.sql):
# a million births are wide enough.
WIDE_COLUMNS = (
    "uid", "key", "child_name", "child_id", "sex", "birth_date", "mother_name", "mother_id",
    "division_code", "birth_order", "certificate_no", "outcome", "father_name",
)  # fmt: skip


def beside(wide: pl.DataFrame, feed: str, records: pl.DataFrame) -> pl.DataFrame:
    """The births with one feed's records beside them, as `<feed>_<column>`."""
    side = (
        records.select(pl.col(c).alias(f"{feed}_{c}") for c in WIDE_COLUMNS)
        # in one chunk: the join gathers from it at random, slower across chunks
        .rechunk()
    )
    return wide.join(side, on=f"{feed}_uid", how="left")


# The birth's date as the feeds give it, hospital first, to judge a mother's age.
_BIRTH_DATE = pl.coalesce(
    pl.col("hosp_birth_date"), pl.col("police_birth_date"), pl.col("pop_birth_date")
)


def _usable(
    field: Field,
    value: pl.Expr,
    as_of: date,
    known: frozenset[str] | None,
    policy: EvidencePolicy,
) -> pl.Expr:
    """Whether a value may vote: one that fails its own check is no evidence."""
    match field.name:
        case "mother_id" | "id_number":
            ok = value.str.contains(r"^\d{17}[\dX]$") & id_check_ok(value)
            if field.name == "mother_id":  # a mother aged 9 by her number is a wrong number
                born = value.str.slice(6, 8).str.to_date("%Y%m%d", strict=False)
                age = (_BIRTH_DATE - born).dt.total_days() / 365.25
                ok = ok & age.is_between(policy.mother_age_min, policy.mother_age_max)
        case "division_code":
            # A township or county code (…000) is imprecise, not a different place.
            ok = ~value.str.ends_with("000")
            if known is not None:
                ok = ok & value.is_in(sorted(known))
        case "birth_date":
            ok = value <= pl.lit(as_of.isoformat())
        case "certificate_no":
            ok = value.str.contains(r"^[A-Z]\d{9}$")
        case _:
            ok = pl.lit(True)
    return value.is_not_null() & ok.fill_null(False)


def _agrees(field: Field, value: pl.Expr, other: pl.Expr, other_ok: pl.Expr) -> pl.Expr:
    """1 where `other` (another feed's value) supports `value`, else 0."""
    same = (value == other) & other_ok
    if field.name == "division_code":
        # A township code (…000) names no village, but it does name the township: it
        # supports a village of that township against a village of another.
        township = other.str.ends_with("000") & ~other.str.ends_with("000000")
        same = same | (township & (value.str.slice(0, 9) == other.str.slice(0, 9)))
    return same.fill_null(False).cast(pl.Int8)


def consensus(
    wide: pl.DataFrame,
    as_of: date,
    known_divisions: frozenset[str] | None = None,
    policy: EvidencePolicy | None = None,
    judge_settled: bool = True,
) -> pl.DataFrame:
    """Add `<field>_consensus`, `<field>_support` (how many feeds hold that value) and,
    per feed, `<feed>_<field>_ok` (whether its value may vote).

    The evidence policy (recon/evidence.py): a value failing its own check does not vote;
    the value most feeds hold wins; between single witnesses the authority order decides.

    With `judge_settled=False`, a birth that pop and police both hold and whose feeds
    give one mother's (child's) identity number is not judged on that number: no
    finding can rest on it (no feed differs, none is missing the birth), and checking
    the numbers was most of the time. Its `mother_id` (`id_number`) consensus is null,
    its support 0, its values not usable.
    """
    policy = policy or EvidencePolicy()
    out = wide
    for field in FIELDS:
        # Materialised step by step: nested expressions would be evaluated many times over.
        feeds = policy.order(field.name)
        value = {f: f"_{field.name}_{f}_value" for f in feeds}
        ok = {f: f"{f}_{field.name}_ok" for f in feeds}
        vote = {f: f"_{field.name}_{f}_votes" for f in feeds}
        out = out.with_columns(
            pl.col(f"{f}_{field.column}").cast(pl.String).alias(value[f]) for f in feeds
        )
        usable = [
            _usable(field, pl.col(value[f]), as_of, known_divisions, policy).alias(ok[f])
            for f in feeds
        ]
        if field.name in ("mother_id", "id_number"):
            judged = None if judge_settled else ~_settled(out, [value[f] for f in feeds])
            out = out.with_columns(_checked_once(out, [value[f] for f in feeds], usable, judged))
        else:
            out = out.with_columns(usable)
        # Lazy, so that the parts several votes share (a feed's township) are computed once.
        out = (
            out.lazy()
            .with_columns(
                pl.sum_horizontal(
                    _agrees(field, pl.col(value[f]), pl.col(value[g]), pl.col(ok[g])) for g in feeds
                ).alias(vote[f])
                for f in feeds
            )
            .collect()
        )
        out = out.with_columns(
            pl.lit(None, pl.String).alias("_best"), pl.lit(0, pl.Int8).alias("_votes")
        )
        # Most votes win; feeds come best witness first, so a tie keeps the better witness.
        for f in feeds:
            take = pl.col(ok[f]) & (pl.col(vote[f]) > pl.col("_votes"))
            out = out.with_columns(
                pl.when(take).then(pl.col(value[f])).otherwise(pl.col("_best")).alias("_best"),
                pl.when(take).then(pl.col(vote[f])).otherwise(pl.col("_votes")).alias("_votes"),
            )
        out = out.rename({"_best": f"{field.name}_consensus", "_votes": f"{field.name}_support"})
        out = out.drop(*value.values(), *vote.values())
    return out


def _settled(frame: pl.DataFrame, values: list[str]) -> pl.Series:
    """Births pop and police both hold whose feeds give one value (at least one)."""
    columns = [pl.col(v) for v in values]
    agreed = pl.coalesce(columns)
    return frame.select(
        pl.col("pop_key").is_not_null()
        & pl.col("police_key").is_not_null()
        & agreed.is_not_null()
        & pl.all_horizontal((c.is_null() | (c == agreed)) for c in columns)
    ).to_series()


def _checked_once(
    frame: pl.DataFrame,
    values: list[str],
    checks: list[pl.Expr],
    judged: pl.Series | None = None,
) -> list[pl.Series]:
    """`checks` (`_usable` of each feed's `values`), where a value equal to the first
    feed's in its row is not checked again: its check gives the same answer there, and
    the feeds mostly agree. Only the `judged` rows are checked, if given; the others'
    values are not usable. Hand-written because Polars evaluates a check on every row;
    the identity numbers' check character and the mother's age were most of consensus.
    """
    todo = pl.repeat(True, frame.height, eager=True) if judged is None else judged
    never = pl.repeat(False, frame.height, eager=True)

    def checked(check: pl.Expr, rows: pl.Series, into: pl.Series) -> pl.Series:
        if rows.is_empty():
            return into
        needed = frame.select(list(dict.fromkeys(check.meta.root_names())))[rows]
        return into.scatter(rows, needed.select(check).to_series())

    base = frame[values[0]]
    first = checked(checks[0], (todo & base.is_not_null()).arg_true(), never.clone())
    done = [first.alias(checks[0].meta.output_name())]
    for value, check in zip(values[1:], checks[1:], strict=True):
        column = frame[value]
        same = (column == base).fill_null(False) & todo
        ok = first.zip_with(same, never)
        # a null value is never usable
        ok = checked(check, (todo & ~same & column.is_not_null()).arg_true(), ok)
        done.append(ok.alias(check.meta.output_name()))
    return done


@dataclass(frozen=True)
class Reconciliation:
    findings: pl.DataFrame  # one row per finding, in the worklist's columns (FINDING_SCHEMA)
    births: pl.DataFrame  # one row per birth: its records and consensus facts (BIRTH_SCHEMA)


# What the store keeps of each birth for the report: which records witness it, and the
# consensus sex, date, place and outcome (sql/schema.sql, table births).
BIRTH_SCHEMA: dict[str, pl.DataType] = {
    "birth_id": pl.Int64(),
    "pop_record_id": pl.String(),
    "hosp_delivery_id": pl.String(),
    "police_id_number": pl.String(),
    "link_methods": pl.String(),
    "sex": pl.String(),
    "birth_date": pl.Date(),
    "division_code": pl.String(),
    "outcome": pl.String(),
}


def reconcile(
    records: pl.DataFrame,
    linked: Linked,
    as_of: date,
    deadlines: Deadlines,
    known_divisions: frozenset[str] | None = None,
    policy: EvidencePolicy | None = None,
) -> Reconciliation:
    """The consensus of every birth, and every finding of the run, from the records in
    memory (the stage reads the same frames from the store: `reconcile_births`)."""
    pop = records.filter(pl.col("feed") == "pop").select(REPEAT_COLUMNS)
    hosp = records.filter((pl.col("feed") == "hosp") & (pl.col("plurality") >= 1))
    return reconcile_births(
        births_wide(records, linked),
        pop,
        hosp.select(TWIN_COLUMNS),
        linked,
        as_of,
        deadlines,
        known_divisions,
        policy,
    )


# The register records' columns a repeat's finding reads, and the hospital records' a
# twin's rank is judged by (sql/reconcile/repeat_records.sql, twin_records.sql).
REPEAT_COLUMNS = ("uid", "key", "division_code", "entered_on")
TWIN_COLUMNS = ("key", "mother_id", "birth_date", "plurality", "birth_rank", "division_code")


def reconcile_births(
    wide: pl.DataFrame,
    repeats: pl.DataFrame,
    twins: pl.DataFrame,
    linked: Linked,
    as_of: date,
    deadlines: Deadlines,
    known_divisions: frozenset[str] | None = None,
    policy: EvidencePolicy | None = None,
) -> Reconciliation:
    """The consensus of every birth and the findings, from the births with their records
    beside them (`births_wide`), the register records repeats name and the hospital
    records with a plurality."""
    policy = policy or EvidencePolicy()
    wide = wide.join(link_methods(linked), on="birth", how="left")
    # Only what a finding can rest on is judged (consensus, judge_settled).
    wide = consensus(wide, as_of, known_divisions, policy, False)
    parts = [
        _misreported(wide, policy),
        _missing(wide, "pop", as_of, deadlines.pop_days, policy),
        _missing(wide, "police", as_of, deadlines.police_days, policy),
        _fictitious(wide, as_of, deadlines.police_days, policy),
        _duplicates(repeats, linked, policy),
        _twin_ranks(twins, policy),
    ]
    schema = pl.Schema(FINDING_SCHEMA)
    found = pl.concat([p.select(list(FINDING_SCHEMA)).cast(schema) for p in parts])
    births = wide.select(
        pl.col("birth").alias("birth_id"),
        pl.col("pop_key").alias("pop_record_id"),
        pl.col("hosp_key").alias("hosp_delivery_id"),
        pl.col("police_key").alias("police_id_number"),
        "link_methods",
        # Only M or F is a sex; an unreadable one stays unknown.
        pl.col("sex_consensus").replace_strict({"M": "M", "F": "F"}, default=None).alias("sex"),
        _birth_date().alias("birth_date"),
        _route(),
        pl.col("hosp_outcome").fill_null(LIVE).alias("outcome"),
    ).cast(pl.Schema(BIRTH_SCHEMA))
    return Reconciliation(found, births)


def _keys() -> list[pl.Expr]:
    return [
        pl.col("pop_key").alias("pop_record_id"),
        pl.col("hosp_key").alias("hosp_delivery_id"),
        pl.col("police_key").alias("police_id_number"),
    ]


def _route() -> pl.Expr:
    return pl.coalesce(
        pl.col("division_code_consensus"),
        *(pl.col(f"{f}_division_code") for f in ("police", "hosp", "pop")),
    ).alias("division_code")


def _misreported(wide: pl.DataFrame, policy: EvidencePolicy) -> pl.DataFrame:
    # Lazy: each finding's filter then carries only the columns it reads, not the hundred
    # of the consensus frame; the live births are found once for all of them.
    live = wide.lazy().filter(pl.col("hosp_outcome").fill_null(LIVE) == LIVE)
    parts: list[pl.LazyFrame] = []
    for field in FIELDS:
        authority = policy.order(field.name)
        for target in field.targets:
            current = pl.col(f"{target}_{field.column}").cast(pl.String)
            proposed = pl.col(f"{field.name}_consensus")
            support = pl.col(f"{field.name}_support")
            witnesses = [f for f in authority if f != target]
            differs = current.is_not_null() & proposed.is_not_null() & (current != proposed)
            if field.name == "division_code":
                differs = differs & ~_coarser(current, proposed)
                if target != "pop":
                    # The register says where the family lives, not its registered
                    # residence: alone, it cannot correct the hospital's or the police's.
                    differs = differs & ~(
                        (pl.col("pop_division_code") == proposed) & (support == 1)
                    ).fill_null(False)
            wrong = live.filter(differs)
            # The witnesses that hold the winning value, best first: the first one won.
            holders = [
                pl.when(
                    (pl.col(f"{f}_{field.column}").cast(pl.String) == proposed)
                    & pl.col(f"{f}_{field.name}_ok")
                ).then(pl.lit(FEED_LABELS[f]))
                for f in witnesses
            ]
            held_by = pl.concat_str(holders, separator="、", ignore_nulls=True)
            kind = (
                pl.when(support >= 2)
                .then(pl.lit("agreed"))
                .when(~pl.col(f"{target}_{field.name}_ok"))
                .then(pl.lit("target_invalid"))
                .otherwise(pl.lit("authority"))
            )
            why = (
                pl.when(kind == "agreed")
                .then(pl.format("{}个来源一致", support))
                .when(kind == "target_invalid")
                .then(pl.lit(f"{FEED_LABELS[target]}的值未通过校验，不参与表决"))
                .otherwise(
                    pl.lit(
                        f"无其他来源佐证，按{field.label}的权威顺序："
                        + "＞".join(FEED_LABELS[f] for f in authority)
                    )
                )
            )
            note: pl.Expr = pl.lit("")
            confidence = (
                pl.when(kind == "agreed")
                .then(policy.of("agreed"))
                .when(kind == "target_invalid")
                .then(policy.of("target_invalid"))
                .otherwise(policy.of("authority"))
            )
            if field.name == "name" and target == "pop":
                # A child usually carries the father's surname: a hint, never the decision.
                surname = pl.col("pop_father_name").str.slice(0, 1)
                doubted = (
                    (kind == "authority")
                    & (current.str.slice(0, 1) == surname)
                    & (proposed.str.slice(0, 1) != surname)
                ).fill_null(False)
                note = pl.when(doubted).then(pl.lit("；注意：现值与父亲同姓，建议值不同姓，请核实"))
                confidence = (
                    pl.when(doubted).then(policy.of("authority_doubted")).otherwise(confidence)
                )
            if field.name == "division_code":
                # pop records where the family lives, the others its registered residence:
                # another township is a misreport or a move, and only a visit can tell.
                moved = current.str.slice(0, 9) != proposed.str.slice(0, 9)
                note = pl.when(moved).then(pl.lit("；不同乡镇：或为错报，或为家庭迁居，请入户核实"))
                confidence = pl.when(moved).then(policy.of("other_township")).otherwise(confidence)
            parts.append(
                wrong.select(
                    pl.lit("misreported").alias("category"),
                    pl.lit(target).alias("target_system"),
                    pl.lit(field.name).alias("field"),
                    current.alias("current_value"),
                    proposed.alias("proposed_value"),
                    *_keys(),
                    pl.lit(None, pl.String).alias("duplicate_of"),
                    _route(),
                    confidence.cast(pl.Float64).alias("confidence"),
                    pl.format(
                        "{}与{}记录不一致：以{}为准（{}）{}；链接：{}",
                        pl.lit(field.label),
                        pl.lit(FEED_LABELS[target]),
                        held_by,
                        why,
                        note.fill_null(""),
                        pl.col("link_methods").fill_null("—"),
                    ).alias("evidence"),
                )
            )
    # As before: the targets with no finding give no part.
    found = [part for part in pl.collect_all(parts) if part.height]
    return pl.concat(found) if found else _empty()


def _coarser(code: pl.Expr, precise: pl.Expr) -> pl.Expr:
    """A county or township code that contains the precise one is imprecise, not wrong."""
    county = code.str.ends_with("000000") & precise.str.starts_with(code.str.slice(0, 6))
    township = code.str.ends_with("000") & precise.str.starts_with(code.str.slice(0, 9))
    return county | township


def _birth_date() -> pl.Expr:
    return pl.col("birth_date_consensus").str.to_date(strict=False)


def _missing(
    wide: pl.DataFrame, target: str, as_of: date, days: int, policy: EvidencePolicy
) -> pl.DataFrame:
    live_hosp = pl.col("hosp_key").is_not_null() & (pl.col("hosp_outcome") == LIVE)
    witnessed = live_hosp | pl.col("police_key").is_not_null() if target == "pop" else live_hosp
    due = _birth_date() <= pl.lit(as_of - timedelta(days=days))
    absent = wide.filter(pl.col(f"{target}_key").is_null() & witnessed & due)
    witnesses = pl.concat_str(
        [
            pl.when(pl.col(f"{f}_key").is_not_null()).then(pl.lit(FEED_LABELS[f]))
            for f in FEED_ORDER
            if f != target
        ],
        separator="、",
        ignore_nulls=True,
    )
    others = [f for f in FEED_ORDER if f != target]
    # The whole record to add, as the evidence gives it: what the signers sign is what
    # `recon apply` adds (recon/proposal.py).
    record = proposal.expression(
        {
            "name": pl.col("name_consensus"),
            "sex": pl.col("sex_consensus"),
            "birth_date": pl.col("birth_date_consensus"),
            "id_number": pl.coalesce(
                pl.col("id_number_consensus"), *(pl.col(f"{f}_child_id") for f in others)
            ),
            "mother_name": pl.coalesce(*(pl.col(f"{f}_mother_name") for f in others)),
            "mother_id": pl.col("mother_id_consensus"),
            "father_name": pl.coalesce(*(pl.col(f"{f}_father_name") for f in others)),
            "birth_order": pl.coalesce(
                pl.col("birth_order_consensus"), *(pl.col(f"{f}_birth_order") for f in others)
            ),
            "certificate_no": pl.col("certificate_no_consensus"),
            "division_code": _route(),
        }
    )
    both = pl.col("hosp_key").is_not_null() & pl.col("police_key").is_not_null()
    return absent.select(
        pl.lit("missing").alias("category"),
        pl.lit(target).alias("target_system"),
        pl.lit(None, pl.String).alias("field"),
        pl.lit(None, pl.String).alias("current_value"),
        record.alias("proposed_value"),
        *_keys(),
        pl.lit(None, pl.String).alias("duplicate_of"),
        _route(),
        pl.when(both)
        .then(policy.of("missing_two_witnesses"))
        .otherwise(policy.of("missing_one_witness"))
        .alias("confidence"),
        pl.format(
            "{}有此出生，{}无记录；已超过{}天上报期限（截止 {}）",
            witnesses,
            pl.lit(FEED_LABELS[target]),
            pl.lit(days),
            pl.lit(as_of.isoformat()),
        ).alias("evidence"),
    )


def _fictitious(
    wide: pl.DataFrame, as_of: date, police_days: int, policy: EvidencePolicy
) -> pl.DataFrame:
    alone = (
        pl.col("pop_key").is_not_null()
        & pl.col("hosp_key").is_null()
        & pl.col("police_key").is_null()
    )
    stillbirth = pl.col("pop_key").is_not_null() & (pl.col("hosp_outcome") == STILLBIRTH)
    # Without a hospital record a real birth may just not be with the police yet.
    young = pl.col("pop_birth_date") > pl.lit(as_of - timedelta(days=police_days))
    rows = wide.filter(alone | stillbirth)
    return rows.select(
        *_cancel_registration("fictitious"),
        *_keys(),
        pl.lit(None, pl.String).alias("duplicate_of"),
        pl.col("pop_division_code").alias("division_code"),
        pl.when(stillbirth)
        .then(policy.of("stillbirth"))
        .when(young)
        .then(policy.of("unwitnessed_young"))
        .otherwise(policy.of("unwitnessed"))
        .alias("confidence"),
        pl.when(stillbirth)
        .then(pl.lit("住院分娩记录为死产，不应登记为出生"))
        .when(young)
        .then(
            pl.lit("住院分娩、公安户籍均无此出生（含模糊查找）；出生未满公安登记期限，可能尚未落户")
        )
        .otherwise(pl.lit("住院分娩、公安户籍均无此出生（含模糊查找）"))
        .alias("evidence"),
    )


def _twin_ranks(hosp: pl.DataFrame, policy: EvidencePolicy) -> pl.DataFrame:
    """A rank (胎序) beyond the plurality (胎数), put right by the delivery's other babies.

    Only the hospital records the rank. A single birth's rank is 1; a twin's is the one
    rank its siblings (same mother, within a day) leave free.
    """
    bad = hosp.filter(~pl.col("birth_rank").is_between(1, pl.col("plurality")))
    siblings = (
        bad.join(hosp, on="mother_id", how="left", suffix="_sib")
        .with_columns(
            (
                (pl.col("key") != pl.col("key_sib"))
                & ((pl.col("birth_date") - pl.col("birth_date_sib")).dt.total_days().abs() <= 1)
                & pl.col("birth_rank_sib").is_between(1, pl.col("plurality"))
            ).alias("sibling")
        )
        # in order, so that a run gives its findings in the same order as the last
        .group_by("key", "plurality", "birth_rank", "division_code", maintain_order=True)
        .agg(
            pl.col("birth_rank_sib").filter(pl.col("sibling")).unique().alias("taken"),
            pl.col("sibling").sum().alias("siblings"),
        )
    )
    free = siblings.with_columns(
        pl.int_ranges(1, pl.col("plurality") + 1).list.set_difference("taken").alias("free")
    ).filter((pl.col("free").list.len() == 1) & (pl.col("siblings") == pl.col("plurality") - 1))
    return free.select(
        pl.lit("misreported").alias("category"),
        pl.lit("hosp").alias("target_system"),
        pl.lit("birth_rank").alias("field"),
        pl.col("birth_rank").cast(pl.String).alias("current_value"),
        pl.col("free").list.first().cast(pl.String).alias("proposed_value"),
        pl.lit(None, pl.String).alias("pop_record_id"),
        pl.col("key").alias("hosp_delivery_id"),
        pl.lit(None, pl.String).alias("police_id_number"),
        pl.lit(None, pl.String).alias("duplicate_of"),
        pl.col("division_code"),
        pl.lit(policy.of("twin_rank")).alias("confidence"),
        pl.when(pl.col("plurality") == 1)
        .then(pl.lit("单胎分娩，胎序应为 1"))
        .otherwise(
            pl.format(
                "胎序超出胎数 {}；同次分娩的其他胎已占第 {} 胎",
                pl.col("plurality"),
                pl.col("taken").list.sort().cast(pl.List(pl.String)).list.join("、"),
            )
        )
        .alias("evidence"),
    )


def _cancel_registration(category: str) -> list[pl.Expr]:
    """A pop record that is no birth of its own: the correction is to cancel it."""
    return [
        pl.lit(category).alias("category"),
        pl.lit("pop").alias("target_system"),
        pl.lit(None, pl.String).alias("field"),
        pl.lit("出生登记").alias("current_value"),
        pl.lit("注销").alias("proposed_value"),
    ]


def _duplicates(pop: pl.DataFrame, linked: Linked, policy: EvidencePolicy) -> pl.DataFrame:
    rows = linked.duplicates.join(pop, on="uid").join(
        pop.select(pl.col("uid").alias("duplicate_of"), pl.col("key").alias("kept_key")),
        on="duplicate_of",
    )
    return rows.select(
        *_cancel_registration("duplicate"),
        pl.col("key").alias("pop_record_id"),
        pl.lit(None, pl.String).alias("hosp_delivery_id"),
        pl.lit(None, pl.String).alias("police_id_number"),
        pl.col("kept_key").alias("duplicate_of"),
        pl.col("division_code"),
        pl.lit(policy.of("duplicate")).alias("confidence"),
        pl.format(
            "与全员人口记录 {} 为同一出生（{}）；保留先上报的那条",
            pl.col("kept_key"),
            pl.col("method"),
        ).alias("evidence"),
    )


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema=FINDING_SCHEMA)


def depends_on(absent: frozenset[str], policy: EvidencePolicy) -> pl.Expr:
    """Whether a finding (or case) rests on evidence from a feed never received.

    With a feed absent, a birth it would have witnessed looks missing from it, a record
    only it would have supported looks fictitious, and a field it would have voted on
    is decided by fewer witnesses: none of these may open or close a case until the
    feed has arrived once. A duplicate is found within its own feed and stands.
    """
    if not absent:
        return pl.lit(False)
    witnesses = {f.name: set(policy.order(f.name)) for f in FIELDS} | {"birth_rank": {"hosp"}}
    fields_hit = [name for name, feeds in witnesses.items() if feeds & absent]
    category, target = pl.col("category"), pl.col("target_system")
    return (
        ((category == "missing") & target.is_in(sorted(absent)))
        | (category == "fictitious")
        | ((category == "misreported") & pl.col("field").is_in(fields_hit))
    )
