"""Probabilistic linkage of what the exact passes leave unlinked (Splink 5, DuckDB).

The deterministic passes link records that share a certificate number, a child
id, or mother id + birth date + sex + rank. What they leave is mostly typing:
a child id with one wrong digit or two digits swapped, a birth date with one
digit wrong or day and month swapped, a child name written with a homophone
(张/章), a mother who moved township, a mother id with a typo. This module
scores candidate pairs of such records between feeds; the caller assigns them
one to one. It never clusters.

The input is a *link frame*, one row per record (``LINK_FRAME_SCHEMA``). The
model compares, each comparison once:

- ``child_id``: exact / one typo (Damerau-Levenshtein <= 1 and a check
  character that does not check out) / else.
- ``mother_and_date``: the mother (id exact; id DL <= 1 and same name pinyin,
  weighed as the exact id; id DL <= 1 or same name pinyin; unknown) jointly with
  the birth date (exact; one digit off, day and month
  swapped, or within 7 days; else). Jointly, because twins share both and
  siblings share the mother: scored apart, mother and date add up for twins.
- ``sex``: exact / else.
- ``child_name_py``: toneless pinyin exact / Jaro-Winkler >= 0.9 / else.
- ``division_code``: exact / same township / else; neutral when the mother id
  is the same (where the family lives is the mother's evidence again) or the
  code names the county only, or the township only and the other code lies in it.

A value missing on either side is neutral (weight 0): hosp has no child name or
id, and that must not count against a hospital record.

Training (``train``): lambda from deterministic rules, u by seeded random
sampling, m by EM on blocks of the *child's* keys (child id; birth date + sex +
township; child name + birth date), never on the mother (EM on same-mother
blocks learns that same mother means same birth, and siblings merge). Then two
corrections Splink does not make: u less the true matches that random pairs
contain (``_remove_matches_from_u``), and no level below -10 bits
(``_cap_negative_weights``).

Every DuckDB connection here is private and in memory, with ``memory_limit``
and ``max_temp_directory_size`` set and spill files in a temporary directory of
its own, so a bad plan fails fast instead of filling the disk.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from math import log2
from typing import Any

import duckdb
import polars as pl
import splink
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on
from splink.internals.exceptions import SplinkException
from splink.internals.splink_dataframe import SplinkDataFrame

from recon.ingest.normalize import id_check_ok
from recon.names import name_key
from recon.resources import sql
from recon.store.connection import execute_script

logger = logging.getLogger(__name__)

LINK_FRAME_SCHEMA: dict[str, pl.DataType] = {
    "unique_id": pl.String(),
    "source_dataset": pl.String(),
    "child_name": pl.String(),
    "child_id": pl.String(),
    "sex": pl.String(),
    "birth_date": pl.Date(),
    "mother_name": pl.String(),
    "mother_id": pl.String(),
    "division_code": pl.String(),
    "birth_rank": pl.Int64(),
}

# What Splink sees: the link frame's comparison columns plus derived blocking keys.
_MODEL_COLUMNS = [
    "unique_id",
    "source_dataset",
    "child_id",
    "child_id_ok",
    "child_name_py",
    "sex",
    "birth_date",
    "mother_id",
    "mother_name_py",
    "division_code",
    "birth_year",
    "birth_month",
    "township",
]

# u from random pairs; EM on at most this many blocked pairs per training rule.
_U_MAX_PAIRS = 3e7
_EM_MAX_PAIRS = 2e6
_EM_ITERATIONS = (25, 8, 3)  # tried in turn: see train()
# No single disagreement counts for less than this many bits (see _cap_negative_weights).
_LEAST_WEIGHT = -10.0
# The deterministic rules for lambda find about this share of true cross-feed pairs.
_DETERMINISTIC_RECALL = 0.95

DEFAULT_MIN_MATCH_WEIGHT = -5.0


@dataclass(frozen=True)
class LinkModel:
    """A trained model: Splink's full settings (with m and u), storable and reloadable."""

    settings_json: str
    trained_at: datetime
    records: int
    summary: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- model


def _one_edit(column: str) -> str:
    """SQL: Damerau-Levenshtein distance <= 1, cheaply.

    DuckDB's damerau_levenshtein costs ~3 us on two 18-character ids, and u sampling
    scores millions of pairs. Between equal lengths, DL <= 1 is a Hamming distance
    <= 1 or one adjacent swap (Hamming 2): only those pay for the full function.
    """
    left, right = f"{column}_l", f"{column}_r"
    return (
        f"(CASE WHEN length({left}) = length({right}) THEN (CASE"
        f" WHEN hamming({left}, {right}) <= 1 THEN true"
        f" WHEN hamming({left}, {right}) = 2 THEN damerau_levenshtein({left}, {right}) <= 1"
        f" ELSE false END) ELSE levenshtein({left}, {right}) <= 1 END)"
    )


def _date_typo(date_l: str, date_r: str) -> str:
    """SQL: one digit typed wrong, day and month swapped, or a few days out."""
    return (
        f"(hamming(strftime({date_l}, '%Y%m%d'), strftime({date_r}, '%Y%m%d')) <= 1"
        f" OR (year({date_l}) = year({date_r}) AND month({date_l}) = day({date_r})"
        f" AND day({date_l}) = month({date_r}))"
        f" OR abs(date_diff('day', {date_l}, {date_r})) <= 7)"
    )


_SAME_MOTHER_SAME_DATE = "same mother, same date"
_SAME_MOTHER_DATE_TYPO = "same mother, date typo"
_SAME_MOTHER_OTHER_DATE = "same mother, other date (a sibling)"
_TYPO_MOTHER_SAME_DATE = "mother id typo and same name, same date"
_TYPO_MOTHER_DATE_TYPO = "mother id typo and same name, date typo"
# A mother id one typo from the other and the same mother's name is the same mother:
# those levels weigh what the same-mother levels weigh (see _typo_mother_as_same).
_SAME_AS = {
    _TYPO_MOTHER_SAME_DATE: _SAME_MOTHER_SAME_DATE,
    _TYPO_MOTHER_DATE_TYPO: _SAME_MOTHER_DATE_TYPO,
}


def _mother_and_date_levels() -> list[Any]:
    """Levels of the one comparison of mother and birth date, jointly.

    Twins share mother and date, and siblings share the mother: given the same
    mother, a same date is weak evidence (a twin) and another date strong evidence
    against (a sibling). Scored as two independent comparisons, mother and date
    would add up for twins; scored jointly, they are counted once.
    """
    same = "mother_id_l = mother_id_r"
    typo_same_name = f"({_one_edit('mother_id')} AND mother_name_py_l = mother_name_py_r)"
    probable = f"({_one_edit('mother_id')} OR mother_name_py_l = mother_name_py_r)"
    unknown = (
        "((mother_id_l IS NULL OR mother_id_r IS NULL)"
        " AND (mother_name_py_l IS NULL OR mother_name_py_r IS NULL))"
    )
    exact = "birth_date_l = birth_date_r"
    typo = _date_typo("birth_date_l", "birth_date_r")
    return [
        cll.NullLevel("birth_date"),
        cll.CustomLevel(f"{same} AND {exact}", label_for_charts=_SAME_MOTHER_SAME_DATE),
        cll.CustomLevel(f"{same} AND {typo}", label_for_charts=_SAME_MOTHER_DATE_TYPO),
        cll.CustomLevel(same, label_for_charts=_SAME_MOTHER_OTHER_DATE),
        cll.CustomLevel(f"{typo_same_name} AND {exact}", label_for_charts=_TYPO_MOTHER_SAME_DATE),
        cll.CustomLevel(f"{typo_same_name} AND {typo}", label_for_charts=_TYPO_MOTHER_DATE_TYPO),
        cll.CustomLevel(
            f"{probable} AND {exact}",
            label_for_charts="mother id typo or same name, same date",
        ),
        cll.CustomLevel(
            f"{probable} AND {typo}", label_for_charts="mother id typo or same name, date typo"
        ),
        cll.CustomLevel(f"{unknown} AND {exact}", label_for_charts="mother unknown, same date"),
        cll.CustomLevel(f"{unknown} AND {typo}", label_for_charts="mother unknown, date typo"),
        cll.CustomLevel(exact, label_for_charts="other mother, same date"),
        cll.ElseLevel(),
    ]


def _comparisons() -> list[Any]:
    return [
        cl.CustomComparison(
            output_column_name="child_id",
            comparison_description="child id",
            comparison_levels=[
                cll.NullLevel("child_id"),
                cll.ExactMatchLevel("child_id"),
                # A typed digit or swapped pair breaks the check character; twins' ids
                # are one digit apart too, but both check out.
                cll.CustomLevel(
                    f"NOT (child_id_ok_l AND child_id_ok_r) AND {_one_edit('child_id')}",
                    label_for_charts="one typo (DL <= 1, a check character wrong)",
                ),
                cll.ElseLevel(),
            ],
        ),
        cl.CustomComparison(
            output_column_name="mother_and_date",
            comparison_description="mother (id, else name) and birth date, jointly",
            comparison_levels=_mother_and_date_levels(),
        ),
        cl.ExactMatch("sex"),
        cl.JaroWinklerAtThresholds("child_name_py", [0.9]),
        cl.CustomComparison(
            output_column_name="division_code",
            comparison_description="residence division",
            comparison_levels=[
                cll.NullLevel("division_code").configure(label_for_charts=_DIVISION_UNKNOWN),
                cll.ExactMatchLevel("division_code"),
                cll.CustomLevel("township_l = township_r", label_for_charts="same township"),
                cll.ElseLevel(),
            ],
        ),
    ]


_DIVISION_UNKNOWN = "division unknown, or same mother"
# Where the family lives says nothing more once the mother is known to be the same:
# counted then, it would count the mother twice (and add up for twins). The model
# learns m and u for division on all pairs, and scores it only where mothers differ.
# A code known only to the township (``420607103000``) beside a village of that township
# is no disagreement either: the short form names no village to differ in.
# The mother counts as the same where her id is one typo off and her name the same (as in
# mother_and_date).
_DIVISION_NEUTRAL_SQL = (
    "division_code_l IS NULL OR division_code_r IS NULL OR mother_id_l = mother_id_r"
    " OR (township_l = township_r"
    " AND (right(division_code_l, 3) = '000' OR right(division_code_r, 3) = '000'))"
    f" OR (mother_name_py_l = mother_name_py_r AND {_one_edit('mother_id')})"
)


def _typo_mother_as_same(settings: dict[str, Any]) -> dict[str, Any]:
    """The typo'd-mother levels weigh what their same-mother levels weigh: u = m * u' / m'.

    A hospital mother id one digit wrong, with the mother's name the same, is that
    mother; the date then tells a twin or a sibling from the same birth exactly as it
    does for an exact id. What training says of these levels alone is noise: random
    pairs almost never reach them (u is the floor) and EM sees few matches in them. So
    they keep their m and take the likelihood ratio of the same-mother level.
    """
    for comparison in settings["comparisons"]:
        if comparison["output_column_name"] != "mother_and_date":
            continue
        by_label = {lv.get("label_for_charts"): lv for lv in comparison["comparison_levels"]}
        for label, same_label in _SAME_AS.items():
            level, same = by_label.get(label), by_label.get(same_label)
            if level is None or same is None:
                continue
            m = _probability(level.get("m_probability"))
            m_same = _probability(same["m_probability"])
            if m > 0 and m_same > 0:
                level["u_probability"] = m * float(same["u_probability"]) / m_same
    return settings


def _division_neutral_for_same_mother(settings: dict[str, Any]) -> dict[str, Any]:
    for comparison in settings["comparisons"]:
        if comparison["output_column_name"] == "division_code":
            null_level = comparison["comparison_levels"][0]
            assert null_level["label_for_charts"] == _DIVISION_UNKNOWN
            null_level["sql_condition"] = _DIVISION_NEUTRAL_SQL
    return settings


def _prediction_rules() -> list[Any]:
    # Each typo case stays reachable by at least one rule; each rule's blocks stay small
    # (a mother has a few births; a day of one sex in one township a few dozen).
    return [
        block_on("mother_id"),  # child id, date or name typo; moved mother
        block_on("child_id"),  # mother id typo; date typo
        block_on("birth_date", "sex", "township"),  # mother id typo and child id typo
        block_on("birth_date", "mother_name_py"),  # mother id typo and moved
        block_on("mother_name_py", "birth_year", "birth_month"),  # + day typo
        block_on("child_name_py", "birth_year"),  # + day/month swap
    ]


def _training_rules() -> list[Any]:
    # EM blocks on the child's keys (never on the mother: siblings would merge), each
    # narrow enough that matches are not lost among the pairs. With a million births,
    # birth date + sex alone gives ~0.1% matches and EM wanders off (or underflows);
    # the initial of the mother's name splits those blocks ~15 ways. It puts no
    # siblings together (they differ in date), and the mother is not estimated here.
    return [
        block_on("child_id"),
        block_on("birth_date", "sex", "substr(mother_name_py, 1, 1)"),
        block_on("child_name_py", "birth_date"),
    ]


def _settings() -> SettingsCreator:
    return SettingsCreator(
        link_type="link_only",
        comparisons=_comparisons(),
        blocking_rules_to_generate_predictions=_prediction_rules(),
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )


# --------------------------------------------------------------------------- frames


def prepare(frame: pl.DataFrame) -> pl.DataFrame:
    """The link frame as Splink sees it: name keys, blocking keys, nothing else.

    A division code known only to the county (``420607000000``) says nothing about
    where the family lives within it: it becomes null, and the comparison neutral.
    ``birth_rank`` is accepted but not compared: only hosp has it, so it never tells
    two records of different feeds apart (twins are for the one-to-one assignment).
    """
    missing = [c for c in LINK_FRAME_SCHEMA if c not in frame.columns]
    if missing:
        raise ValueError(f"link frame lacks column(s): {', '.join(missing)}")
    division = pl.col("division_code")
    division = pl.when(division.str.slice(6, 3) != "000").then(division)
    return (
        frame.lazy()
        .select(
            pl.col("unique_id").cast(pl.String),
            pl.col("source_dataset").cast(pl.String),
            pl.col("child_id").cast(pl.String),
            _name_key(frame, "child_name"),
            pl.col("sex").cast(pl.String),
            pl.col("birth_date").cast(pl.Date),
            pl.col("mother_id").cast(pl.String),
            _name_key(frame, "mother_name"),
            division.alias("division_code"),
        )
        .with_columns(
            pl.col("birth_date").dt.year().cast(pl.Int32).alias("birth_year"),
            pl.col("birth_date").dt.month().cast(pl.Int32).alias("birth_month"),
            pl.col("division_code").str.slice(0, 9).alias("township"),
            id_check_ok(pl.col("child_id")).fill_null(False).alias("child_id_ok"),
        )
        .select(_MODEL_COLUMNS)
        .collect()
    )


def _name_key(frame: pl.DataFrame, column: str) -> pl.Expr:
    """The name's key, as the frame brings it when the exact passes already read it (a
    part's residual: its names were read a second time; 310,361 of a part's 4,487,723
    records at ten million births)."""
    key = column + "_py"
    if key in frame.columns:
        return pl.col(key).cast(pl.String)
    return name_key(pl.col(column).cast(pl.String)).alias(key)


# --------------------------------------------------------------------------- duckdb


def _size(value: str) -> str:
    # DuckDB's SET takes no bound parameters: only a plain size like "4GB" gets through.
    text = value.strip().upper().replace(" ", "")
    if not re.fullmatch(r"\d+(\.\d+)?(KB|MB|GB|TB|KIB|MIB|GIB|TIB)", text):
        raise ValueError(f"not a size like '4GB': {value!r}")
    return text


@contextmanager
def _splink_connection(
    memory_limit: str, max_temp_directory_size: str
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A private in-memory DuckDB with memory and spill caps, gone on exit."""
    with tempfile.TemporaryDirectory(prefix="recon-splink-") as spill:
        con = duckdb.connect(":memory:")
        try:
            con.execute(f"SET memory_limit = '{_size(memory_limit)}'")
            con.execute(f"SET max_temp_directory_size = '{_size(max_temp_directory_size)}'")
            con.execute(f"SET temp_directory = '{spill.replace(chr(39), chr(39) * 2)}'")
            con.execute("SET enable_progress_bar = false")
            con.execute("SET preserve_insertion_order = false")
            yield con
        finally:
            con.close()


class _HandledBelow(logging.Filter):
    """Drops Splink's warning about a level EM never saw: train() caps those levels."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "not observed in dataset" not in record.getMessage()


def _quiet_splink() -> None:
    # Splink logs progress at INFO (and SQL below) unless told otherwise.
    logging.getLogger("splink").setLevel(logging.WARNING)
    # A logger's filters see only what is logged on it, not what its children pass up.
    em_logger = logging.getLogger("splink.internals.expectation_maximisation")
    if not any(isinstance(f, _HandledBelow) for f in em_logger.filters):
        em_logger.addFilter(_HandledBelow())


def _register(con: duckdb.DuckDBPyConnection, prepared: pl.DataFrame) -> list[SplinkDataFrame]:
    """One Splink input table per feed present, named for the feed."""
    db_api = DuckDBAPI(connection=con)
    return [
        db_api.register(
            prepared.filter(pl.col("source_dataset") == feed).to_arrow(),
            dataset_display_name=feed,
        )
        for feed in sorted(prepared["source_dataset"].drop_nulls().unique().to_list())
    ]


def _cap_negative_weights(settings: dict[str, Any], least_weight: float) -> dict[str, Any]:
    """No level weighs less than ``least_weight`` bits: m >= u * 2**least_weight.

    EM finds no true pair whose child names differ in pinyin and drives their m to
    ~1e-15: one renamed child would then veto a match whatever else agrees. A level
    EM never saw (m unknown) gets the cap too. Each comparison's m is renormalised.
    """
    for comparison in settings["comparisons"]:
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        capped = [
            max(_probability(lv.get("m_probability")), float(lv["u_probability"]) * 2**least_weight)
            for lv in levels
        ]
        total = sum(capped)
        for level, m in zip(levels, capped, strict=True):
            level["m_probability"] = m / total
    return settings


def _probability(value: object) -> float:
    # Splink writes a level it never observed as None or as a marker string.
    return float(value) if isinstance(value, float | int) else 0.0


def _cross_feed_pairs(prepared: pl.DataFrame) -> int:
    sizes = prepared.group_by("source_dataset").len()["len"].to_list()
    return sum(a * b for i, a in enumerate(sizes) for b in sizes[i + 1 :])


def _family_u(con: duckdb.DuckDBPyConnection, tables: list[SplinkDataFrame]) -> dict[str, float]:
    """u of the same-mother levels, counted on pairs within the hosp and police feeds.

    Both hold one record per baby, so two records of one feed are never one birth:
    the share of their pairs with the same mother and the same date (twins), a near
    date (twins either side of midnight) or another date (siblings) is what those
    levels' u is among non-matches. Random cross-feed pairs are too few to see
    families in, and mostly matches where they do.
    """
    one_per_baby = [t.physical_name for t in tables if t.dataset_display_name in ("hosp", "police")]
    if not one_per_baby:
        return {}
    pairs = 0
    counts = {_SAME_MOTHER_SAME_DATE: 0, _SAME_MOTHER_DATE_TYPO: 0, _SAME_MOTHER_OTHER_DATE: 0}
    for table in one_per_baby:
        rows = con.sql(
            f"""
            SELECT
                count(*) FILTER (WHERE l.birth_date = r.birth_date),
                count(*) FILTER (
                    WHERE l.birth_date <> r.birth_date
                    AND {_date_typo("l.birth_date", "r.birth_date")}
                ),
                count(*),
                (SELECT count(*) FROM {table})
            FROM {table} l JOIN {table} r
            ON l.mother_id = r.mother_id AND l.unique_id < r.unique_id
            """
        ).fetchall()
        same_date, near_date, same_mother, records = rows[0]
        counts[_SAME_MOTHER_SAME_DATE] += same_date
        counts[_SAME_MOTHER_DATE_TYPO] += near_date
        counts[_SAME_MOTHER_OTHER_DATE] += same_mother - same_date - near_date
        pairs += records * (records - 1) // 2
    if pairs == 0:
        return {}
    return {label: max(count, 1) / pairs for label, count in counts.items()}


def _remove_matches_from_u(
    settings: dict[str, Any], floor: float, family: dict[str, float]
) -> dict[str, Any]:
    """u counted on random pairs, less the true matches among them.

    Random pairs include matches (a share lambda of them). For levels that
    non-matches almost never reach (same child id, same mother and date) those
    matches are most of the count, and u comes out near lambda * m: the level's
    weight then just cancels the prior, whatever the evidence. Since
    u_observed = lambda * m + (1 - lambda) * u, solve for u, at least ``floor``.
    The same-mother levels take their u from ``family`` (see ``_family_u``).
    """
    lam = float(settings["probability_two_random_records_match"])
    for comparison in settings["comparisons"]:
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        corrected = [
            max(
                (float(lv["u_probability"]) - lam * _probability(lv.get("m_probability")))
                / (1 - lam),
                floor,
            )
            for lv in levels
        ]
        if comparison["output_column_name"] == "mother_and_date":
            labels = [lv.get("label_for_charts") for lv in levels]
            for label, u in family.items():
                corrected[labels.index(label)] = u
            # Siblings are commoner than twins: with none in the data (a short period,
            # or synthetic data) "same mother, other date" would outweigh "same date".
            twins = labels.index(_SAME_MOTHER_SAME_DATE)
            siblings = labels.index(_SAME_MOTHER_OTHER_DATE)
            corrected[siblings] = max(corrected[siblings], corrected[twins])
        total = sum(corrected)
        for level, u in zip(levels, corrected, strict=True):
            level["u_probability"] = u / total
    return settings


def _floor_unobserved_u(settings: dict[str, Any], floor: float) -> dict[str, Any]:
    for comparison in settings["comparisons"]:
        for level in comparison["comparison_levels"]:
            if not level.get("is_null_level") and not isinstance(
                level.get("u_probability"), float | int
            ):
                level["u_probability"] = floor
    return settings


# --------------------------------------------------------------------------- train


def train(
    frame: pl.DataFrame,
    *,
    seed: int = 1,
    memory_limit: str = "4GB",
    max_temp_directory_size: str = "20GB",
) -> LinkModel:
    """Train the model on the records of all feeds (link only between feeds).

    ``summary``: Splink version, records by feed, lambda and the prior weight, how
    each EM session went, and the match weight (bits) of every comparison level.
    """
    _quiet_splink()
    prepared = prepare(frame)
    trained_at = datetime.now()
    with _splink_connection(memory_limit, max_temp_directory_size) as con:
        tables = _register(con, prepared)
        if len(tables) < 2:
            raise ValueError("training needs records of at least two feeds")
        linker = Linker(tables, _settings(), log_level=None)
        linker.training.estimate_probability_two_random_records_match(
            [block_on("child_id"), block_on("mother_id", "birth_date", "sex")],
            recall=_DETERMINISTIC_RECALL,
        )
        linker.training.estimate_u_using_random_sampling(max_pairs=_U_MAX_PAIRS, seed=seed)
        # The least u a level gets: below one in all the pairs drawn, it cannot be
        # told from zero; and a level only families reach (a twin born after midnight)
        # is taken as a thousand times rarer than matches, so that its weight keeps
        # pace with the prior as the feeds grow. A level no random pair fell in (a
        # typo'd id) has no u at all, and Splink would score it with an arbitrary
        # default: it gets the floor now, before EM uses it.
        lam = linker.misc.save_model_to_json()["probability_two_random_records_match"]
        u_floor = min(1 / min(_U_MAX_PAIRS, _cross_feed_pairs(prepared)), lam / 1000)
        settings = _floor_unobserved_u(linker.misc.save_model_to_json(), u_floor)
        linker = Linker(tables, settings, log_level=None)
        sessions: dict[str, str] = {}
        # EM first counts blocked pairs on a sample of records: big enough to find some.
        probe = min(1.0, max(0.01, 20_000 / prepared.height))
        for rule in _training_rules():
            rule_sql = rule.get_blocking_rule("duckdb").blocking_rule_sql
            before = linker.misc.save_model_to_json()
            for attempt, iterations in enumerate(_EM_ITERATIONS):
                if attempt:
                    # Splink 5 refuses an m of 0 (a level no match reaches, once EM has
                    # pushed other probabilities out of float range) and fails the
                    # session, leaving the linker's comparisons filtered: start again
                    # from before it, with fewer iterations.
                    retry = {**before, "max_iterations": iterations}
                    linker = Linker(tables, retry, log_level=None)
                try:
                    linker.training.estimate_parameters_using_expectation_maximisation(
                        rule, max_pairs=_EM_MAX_PAIRS, record_sample_proportion=probe
                    )
                except (SplinkException, ValueError) as exc:
                    sessions[rule_sql] = f"failed: {exc}"[:200]
                    continue
                sessions[rule_sql] = f"ok (at most {iterations} iterations)"
                break
            else:
                logger.warning("EM blocked on %s failed: %s", rule_sql, sessions[rule_sql])
                linker = Linker(tables, before, log_level=None)
            if attempt:
                restored = linker.misc.save_model_to_json()
                restored["max_iterations"] = _EM_ITERATIONS[0]
                linker = Linker(tables, restored, log_level=None)
        family = _family_u(con, tables)
        settings = _remove_matches_from_u(linker.misc.save_model_to_json(), u_floor, family)
        settings = _cap_negative_weights(settings, _LEAST_WEIGHT)
        settings = _typo_mother_as_same(settings)
        settings = _division_neutral_for_same_mother(settings)
    summary = _summary(settings, prepared, sessions)
    return LinkModel(
        settings_json=json.dumps(settings, ensure_ascii=False),
        trained_at=trained_at,
        records=prepared.height,
        summary=summary,
    )


def _summary(
    settings: dict[str, Any], prepared: pl.DataFrame, sessions: dict[str, str]
) -> dict[str, Any]:
    """What an auditor needs to read the model: inputs, prior, weight of each level."""
    weights: dict[str, dict[str, float | None]] = {}
    for comparison in settings["comparisons"]:
        levels: dict[str, float | None] = {}
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            m, u = level.get("m_probability"), level.get("u_probability")
            label = level.get("label_for_charts") or level["sql_condition"]
            levels[label] = round(log2(m / u), 3) if m and u else None
        weights[comparison["output_column_name"]] = levels
    lam = settings["probability_two_random_records_match"]
    counts = prepared.group_by("source_dataset").len().sort("source_dataset").rows()
    return {
        "splink_version": splink.__version__,
        "records_by_feed": {feed: int(n) for feed, n in counts},
        "probability_two_random_records_match": lam,
        "prior_match_weight": round(log2(lam / (1 - lam)), 3),
        "em_sessions": sessions,
        "match_weights": weights,
    }


# --------------------------------------------------------------------------- predict

PAIRS_SCHEMA: dict[str, pl.DataType] = {
    "unique_id_l": pl.String(),
    "unique_id_r": pl.String(),
    "source_dataset_l": pl.String(),
    "source_dataset_r": pl.String(),
    "match_weight": pl.Float64(),
    "match_probability": pl.Float64(),
}


def predict_settings(model: LinkModel, dialect: str = "duckdb") -> dict[str, Any]:
    """Splink's settings to score with: the stored m and u, this version's neutral
    division rule, and this version's blocking rules rendered for `dialect`."""
    settings = _division_neutral_for_same_mother(json.loads(model.settings_json))
    settings["blocking_rules_to_generate_predictions"] = [
        rule.get_blocking_rule(dialect).blocking_rule_sql for rule in _prediction_rules()
    ]
    return settings


def predict(
    model: LinkModel,
    frame: pl.DataFrame,
    *,
    min_match_weight: float = DEFAULT_MIN_MATCH_WEIGHT,
    memory_limit: str = "4GB",
    max_temp_directory_size: str = "20GB",
) -> pl.DataFrame:
    """Scored candidate pairs between different feeds, weight >= ``min_match_weight``.

    Columns: unique_id_l, unique_id_r, source_dataset_l, source_dataset_r,
    match_weight, match_probability; ``source_dataset_l < source_dataset_r``.
    The weights include the model's prior (lambda estimated on the training
    records), so they rank pairs; a residual set is richer in matches than
    the prior says.
    """
    _quiet_splink()
    prepared = prepare(frame)
    settings = predict_settings(model)
    with _splink_connection(memory_limit, max_temp_directory_size) as con:
        tables = _register(con, prepared)
        if len(tables) < 2:
            return pl.DataFrame(schema=PAIRS_SCHEMA)
        linker = Linker(tables, settings, log_level=None)
        scored = linker.inference.predict(
            threshold_match_weight=min_match_weight, warning_mode="never"
        )
        # Through an Arrow table, which keeps what it points to alive, and not `.pl()`:
        # on DuckDB 2.0 the frame `.pl()` gave outlived this private connection's memory
        # and corrupted later string work (Polars panics `i < self.len()` in the reconcile
        # of a store linked in parts, which calls this once per part).
        table = con.sql(
            f"SELECT {', '.join(PAIRS_SCHEMA)} FROM {scored.physical_name}"
            " ORDER BY unique_id_l, unique_id_r"
        ).to_arrow_table()
    pairs = pl.from_arrow(table)
    assert isinstance(pairs, pl.DataFrame)
    return pairs.cast(pl.Schema(PAIRS_SCHEMA))


# --------------------------------------------------------------------------- store


def save_model(con: duckdb.DuckDBPyConnection, model: LinkModel) -> None:
    """Append the model to ``link_models`` in the caller's store (table created if absent)."""
    execute_script(
        con,
        sql("link/link_models"),
        {
            "trained_at": model.trained_at,
            "records": model.records,
            "settings": model.settings_json,
            "summary": json.dumps(model.summary, ensure_ascii=False),
        },
    )


def load_model(con: duckdb.DuckDBPyConnection) -> LinkModel | None:
    """The newest model in ``link_models``, or None if none was saved."""
    exists = con.execute(sql("link/has_link_models")).fetchall()[0][0]
    if not exists:
        return None
    rows = con.execute(sql("link/latest_model")).fetchall()
    if not rows:
        return None
    trained_at, records, settings_json, summary_json = rows[0]
    return LinkModel(
        settings_json=settings_json,
        trained_at=trained_at,
        records=int(records),
        summary=json.loads(summary_json) if summary_json else {},
    )
