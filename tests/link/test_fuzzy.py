"""Probabilistic linkage: typo'd records still link, twins do not, a stored model scores alike.

The feeds are built here: a few hundred births in all three feeds, each record
as its feed holds it (hosp has no child name or id), twins among them, and one
typo of each kind the exact passes miss.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import date, timedelta

import duckdb
import polars as pl
import pytest
from stdnum.cn import ric

from recon.link.fuzzy import (
    LINK_FRAME_SCHEMA,
    LinkModel,
    load_model,
    predict,
    save_model,
    train,
)

HIGH = 4.0  # match weight: probability above 0.94
LOW = 0.0  # probability below one half

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚桂英华玉兰萍红娟梅琳雪倩慧颖婷欣怡涵轩浩宇")


def with_check(first17: str) -> str:
    return first17 + ric.calc_check_digit(first17 + "0")


@dataclass(frozen=True)
class Birth:
    key: int
    name: str
    sex: str
    born: date
    child_id: str
    mother_name: str
    mother_id: str
    division: str
    rank: int = 1


def make_births(count: int, seed: int = 7) -> list[Birth]:
    rng = random.Random(seed)
    births: list[Birth] = []
    sequence: dict[tuple[date, str], int] = {}

    def child_id(born: date, sex: str) -> str:
        # odd sequence numbers for boys, even for girls, as GB 11643 has it
        n = sequence.get((born, sex), 1 if sex == "M" else 2)
        sequence[(born, sex)] = n + 2
        return with_check(f"420607{born:%Y%m%d}{n:03d}")

    def mother(i: int) -> tuple[str, str]:
        born = date(1985, 1, 1) + timedelta(days=rng.randrange(5000))
        name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
        return name, with_check(f"420621{born:%Y%m%d}{i % 1000:03d}")

    def child_name() -> str:
        return rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)

    for i in range(count):
        born = date(2025, 1, 1) + timedelta(days=rng.randrange(365))
        sex = rng.choice("MF")
        mother_name, mother_id = mother(i)
        town, village = rng.randrange(101, 114), rng.randrange(201, 215)
        births.append(
            Birth(
                key=len(births),
                name=child_name(),
                sex=sex,
                born=born,
                child_id=child_id(born, sex),
                mother_name=mother_name,
                mother_id=mother_id,
                division=f"420607{town}{village}",
            )
        )
        if i % 40 == 0:  # a twin: same mother, date and home; own name and id
            twin_sex = sex if i % 80 == 0 else ("F" if sex == "M" else "M")
            births.append(
                replace(
                    births[-1],
                    key=len(births),
                    name=child_name(),
                    sex=twin_sex,
                    child_id=child_id(born, twin_sex),
                    rank=2,
                )
            )
    return births


def record(feed: str, birth: Birth, **changes: object) -> dict[str, object]:
    b = replace(birth, **changes)  # type: ignore[arg-type]
    key = {"pop": f"P{birth.key:04d}", "hosp": f"H{birth.key:04d}", "police": b.child_id}[feed]
    assert key is not None
    return {
        "unique_id": f"{feed}:{key}",
        "source_dataset": feed,
        "child_name": None if feed == "hosp" else b.name,
        "child_id": None if feed == "hosp" else b.child_id,
        "sex": b.sex,
        "birth_date": b.born,
        "mother_name": b.mother_name,
        "mother_id": b.mother_id,
        "division_code": b.division,
        "birth_rank": b.rank if feed == "hosp" else None,
    }


def typo(text: str, position: int) -> str:
    """One digit typed wrong; the check character is left as it was."""
    digit = str((int(text[position]) + 3) % 10)
    return text[:position] + digit + text[position + 1 :]


def swap(text: str, position: int) -> str:
    return text[:position] + text[position + 1] + text[position] + text[position + 2 :]


BIRTHS = make_births(300)
TWINS = [(a, b) for a in BIRTHS for b in BIRTHS if b.rank == 2 and a.key == b.key - 1]
TWIN_MOTHERS = {b.mother_id for _, b in TWINS}
SINGLES = [b for b in BIRTHS if b.mother_id not in TWIN_MOTHERS]
HOMOPHONES = {"张": "章", "伟": "玮", "芳": "方"}

# One typo of each kind, each on a birth of its own.
ID_TYPO = SINGLES[10]
ID_SWAP = SINGLES[20]
DATE_SWAP = next(b for b in SINGLES[30:] if b.born.day <= 12 and b.born.day != b.born.month)
HOMOPHONE = next(b for b in SINGLES[40:] if set(b.name) & set(HOMOPHONES))
MOVED = SINGLES[50]
MOTHER_TYPO = SINGLES[60]
DATE_DIGIT = SINGLES[70]
DESIGNATED = {ID_TYPO, ID_SWAP, DATE_SWAP, HOMOPHONE, MOVED, MOTHER_TYPO, DATE_DIGIT}


def errors(feed: str, birth: Birth) -> dict[str, object]:
    """The typos a record carries: the designated ones, else a few at random."""
    if feed == "pop" and birth is ID_TYPO:
        return {"child_id": typo(birth.child_id, 15)}
    if feed == "police" and birth is ID_SWAP:
        return {"child_id": swap(birth.child_id, 14)}
    if feed == "pop" and birth is DATE_SWAP:
        return {"born": birth.born.replace(month=birth.born.day, day=birth.born.month)}
    if feed == "pop" and birth is HOMOPHONE:  # and no id yet: the name must carry it
        return {"name": "".join(HOMOPHONES.get(c, c) for c in birth.name), "child_id": None}
    if feed == "hosp" and birth is MOVED:
        return {"division": moved(birth.division)}
    if feed == "hosp" and birth is MOTHER_TYPO:
        return {"mother_id": typo(birth.mother_id, 9)}
    if feed == "police" and birth is DATE_DIGIT:
        return {"born": one_digit_off(birth.born)}
    if birth in DESIGNATED or birth.mother_id in TWIN_MOTHERS:
        return {}
    # Background typos, as real feeds have them, for EM to learn their rates from.
    rng = random.Random(f"{feed}{birth.key}")
    roll = rng.random()
    if roll < 0.02:
        return {"mother_id": typo(birth.mother_id, rng.randrange(6, 17))}
    if roll < 0.04:
        return {"born": one_digit_off(birth.born)}
    if roll < 0.06:
        return {"division": moved(birth.division)}
    if roll < 0.07 and feed != "hosp":
        return {"child_id": typo(birth.child_id, rng.randrange(6, 17))}
    return {}


def moved(division: str) -> str:
    town = int(division[6:9])
    return f"420607{101 + (town - 100) % 13:03d}201"


def one_digit_off(born: date) -> date:
    return born + timedelta(days=1 if born.day % 10 != 9 else -1)


def link_frame(births: list[Birth]) -> pl.DataFrame:
    rows = [
        record(feed, b, **errors(feed, b)) for feed in ("pop", "hosp", "police") for b in births
    ]
    return pl.DataFrame(rows, schema=LINK_FRAME_SCHEMA)


def uid(feed: str, birth: Birth) -> str:
    return str(record(feed, birth, **errors(feed, birth))["unique_id"])


FRAME = link_frame(BIRTHS)


@pytest.fixture(scope="module")
def model() -> LinkModel:
    return train(FRAME, seed=1, memory_limit="1GB", max_temp_directory_size="1GB")


@pytest.fixture(scope="module")
def pairs(model: LinkModel) -> pl.DataFrame:
    return predict(model, FRAME, min_match_weight=-30, memory_limit="1GB")


def weight(pairs: pl.DataFrame, a: str, b: str) -> float | None:
    found = pairs.filter(
        ((pl.col("unique_id_l") == a) & (pl.col("unique_id_r") == b))
        | ((pl.col("unique_id_l") == b) & (pl.col("unique_id_r") == a))
    )
    return None if found.is_empty() else float(found["match_weight"][0])


def test_the_test_data_holds_what_it_claims() -> None:
    assert len(TWINS) >= 6
    assert any(a.sex == b.sex for a, b in TWINS) and any(a.sex != b.sex for a, b in TWINS)
    assert len(DESIGNATED) == 7
    assert all(a.mother_id == b.mother_id and a.born == b.born for a, b in TWINS)
    homophone = errors("pop", HOMOPHONE)["name"]
    assert homophone != HOMOPHONE.name and len(homophone) == len(HOMOPHONE.name)  # type: ignore[arg-type]
    assert FRAME["unique_id"].n_unique() == FRAME.height


def test_model_is_trained_and_described(model: LinkModel) -> None:
    assert model.records == FRAME.height
    weights = model.summary["match_weights"]
    assert set(weights) == {"child_id", "mother_and_date", "sex", "child_name_py", "division_code"}
    assert all(w is not None for levels in weights.values() for w in levels.values())
    assert all(status.startswith("ok") for status in model.summary["em_sessions"].values())
    assert model.summary["prior_match_weight"] < 0


def test_pairs_are_between_feeds_with_the_promised_columns(pairs: pl.DataFrame) -> None:
    assert pairs.columns == [
        "unique_id_l", "unique_id_r", "source_dataset_l", "source_dataset_r",
        "match_weight", "match_probability",
    ]  # fmt: skip
    assert (pairs["source_dataset_l"] < pairs["source_dataset_r"]).all()
    for side in ("l", "r"):
        feed_of_id = pl.col(f"unique_id_{side}").str.split(":").list.first()
        assert (pairs.select(feed_of_id)[:, 0] == pairs[f"source_dataset_{side}"]).all()


@pytest.mark.parametrize(
    ("case", "birth", "feed", "others"),
    [
        ("child id, one digit", ID_TYPO, "pop", ["police", "hosp"]),
        ("child id, adjacent swap", ID_SWAP, "police", ["pop", "hosp"]),
        ("birth date, day and month swapped", DATE_SWAP, "pop", ["police", "hosp"]),
        ("birth date, one digit", DATE_DIGIT, "police", ["pop", "hosp"]),
        ("child name, homophone", HOMOPHONE, "pop", ["police"]),
        ("mother moved township", MOVED, "hosp", ["pop", "police"]),
        ("mother id, one digit", MOTHER_TYPO, "hosp", ["pop", "police"]),
    ],
)
def test_a_typo_still_links_with_high_weight(
    pairs: pl.DataFrame, case: str, birth: Birth, feed: str, others: list[str]
) -> None:
    for other in others:
        w = weight(pairs, uid(feed, birth), uid(other, birth))
        assert w is not None, f"{case}: {feed}-{other} pair not even compared"
        assert w >= HIGH, f"{case}: {feed}-{other} weight {w:.1f}"


def test_clean_records_link_with_high_weight(pairs: pl.DataFrame) -> None:
    birth = SINGLES[5]
    for a, b in [("pop", "police"), ("pop", "hosp"), ("hosp", "police")]:
        assert (weight(pairs, uid(a, birth), uid(b, birth)) or -99) >= HIGH


@pytest.mark.parametrize("which", range(4))
def test_twins_do_not_link_to_each_other(pairs: pl.DataFrame, which: int) -> None:
    first, second = TWINS[which]
    # Register and police know each twin by name and id: the other twin is no match.
    for a, b in [("pop", "police"), ("police", "pop")]:
        cross = weight(pairs, uid(a, first), uid(b, second))
        own = weight(pairs, uid(a, first), uid(b, first))
        assert own is not None and own >= HIGH
        assert cross is None or cross <= LOW, f"twin {a}-{b}: {cross:.1f}"
    # The hospital knows only sex: a twin of the other sex is no match either.
    if first.sex != second.sex:
        for other in ("pop", "police"):
            cross = weight(pairs, uid("hosp", first), uid(other, second))
            assert cross is None or cross <= LOW, f"twin hosp-{other}: {cross:.1f}"
    else:  # same sex: nothing tells them apart, but never above the record's own
        for other in ("pop", "police"):
            cross = weight(pairs, uid("hosp", first), uid(other, second)) or -99
            assert cross <= (weight(pairs, uid("hosp", first), uid(other, first)) or 99)


def test_siblings_do_not_link(model: LinkModel) -> None:
    older = SINGLES[90]
    younger = replace(
        older, key=9000, name="王小" + older.name[-1], born=older.born + timedelta(days=400)
    )
    younger = replace(younger, child_id=with_check(f"420607{younger.born:%Y%m%d}091"))
    frame = pl.DataFrame(
        [record("pop", older), record("hosp", younger), record("police", younger)],
        schema=LINK_FRAME_SCHEMA,
    )
    scored = predict(model, frame, min_match_weight=-99)
    assert (weight(scored, uid("pop", older), uid("hosp", younger)) or -99) <= LOW
    assert (weight(scored, uid("pop", older), uid("police", younger)) or -99) <= LOW


def test_a_saved_model_loads_and_scores_alike(model: LinkModel, pairs: pl.DataFrame) -> None:
    con = duckdb.connect(":memory:")
    assert load_model(con) is None
    older = replace(model, trained_at=model.trained_at.replace(year=2000), summary={})
    save_model(con, older)
    save_model(con, model)
    loaded = load_model(con)
    assert loaded is not None
    assert loaded.trained_at == model.trained_at  # the newest row wins
    assert loaded.records == model.records and loaded.summary == model.summary
    again = predict(loaded, FRAME, min_match_weight=-30, memory_limit="1GB")
    assert again.equals(pairs)
    tables = con.sql("SELECT table_name FROM duckdb_tables()").fetchall()
    assert tables == [("link_models",)]


def test_one_feed_alone_gives_no_pairs(model: LinkModel) -> None:
    alone = predict(model, FRAME.filter(pl.col("source_dataset") == "pop"))
    assert alone.is_empty()
    assert alone.columns[:2] == ["unique_id_l", "unique_id_r"]


def test_min_match_weight_filters(pairs: pl.DataFrame, model: LinkModel) -> None:
    strong = predict(model, FRAME, min_match_weight=HIGH, memory_limit="1GB")
    assert (strong["match_weight"] >= HIGH).all()
    assert strong.height == pairs.filter(pl.col("match_weight") >= HIGH).height


def test_memory_caps_are_checked(model: LinkModel) -> None:
    with pytest.raises(ValueError, match="size"):
        predict(model, FRAME, memory_limit="4GB'; DROP TABLE x; --")
