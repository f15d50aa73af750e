"""The string functions Spark is given compute exactly what DuckDB computes: a last-bit
difference in Jaro-Winkler moves a pair sitting on the model's 0.9 threshold."""

from __future__ import annotations

import random
import string

import duckdb
import pyarrow as pa
import pytest

from recon.link.similarity import damerau_levenshtein, hamming, jaro_winkler

SYLLABLES = [
    "zhang",
    "wei",
    "li",
    "na",
    "wang",
    "fang",
    "liu",
    "yang",
    "chen",
    "jing",
    "huang",
    "min",
    "zhao",
    "xin",
    "zhou",
    "jie",
    "wu",
    "lei",
    "xu",
    "ting",
    "sun",
    "hao",
    "ma",
    "hui",
    "zhu",
    "ying",
    "hu",
    "jun",
    "guo",
    "mei",
    "he",
    "lin",
    "gao",
    "qiang",
    "luo",
    "xiu",
    "a",
    "e",
    "o",
]


def typed(name: str, rng: random.Random) -> str:
    """A name as a clerk might type it: letters wrong, added, dropped or swapped."""
    chars = list(name)
    for _ in range(rng.randint(0, 4)):
        i = rng.randrange(len(chars)) if chars else 0
        op = rng.random()
        if op < 0.25 and chars:
            chars[i] = rng.choice(string.ascii_lowercase)
        elif op < 0.5:
            chars.insert(i, rng.choice(string.ascii_lowercase))
        elif op < 0.75 and i < len(chars) - 1:
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
        elif chars:
            del chars[i]
    return "".join(chars)


def pairs(count: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    found = [
        ("", ""), ("a", ""), ("a", "a"), ("a", "b"), ("ab", "ba"), ("张伟", "张玮"),
        ("zhangwei", "zhangwie"), ("x" * 70, "x" * 69 + "y"), ("liuminxu", "gaojungao"),
    ]  # fmt: skip
    for _ in range(count):
        name = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 4)))
        other = typed(name, rng) if rng.random() < 0.7 else rng.choice(SYLLABLES) * 2
        found.append((name, other))
    return found


def duckdb_values(sql: str, rows: list[tuple[str, str]]) -> list[object]:
    p = pa.table({"a": [a for a, _ in rows], "b": [b for _, b in rows]})  # noqa: F841
    return [r[0] for r in duckdb.connect().execute(f"SELECT {sql} FROM p").fetchall()]


@pytest.mark.parametrize("seed", [1, 2])
def test_jaro_winkler_is_duckdbs_to_the_last_bit(seed: int) -> None:
    rows = pairs(40_000, seed)
    want = duckdb_values("jaro_winkler_similarity(a, b)", rows)
    got = [jaro_winkler(a, b) for a, b in rows]
    differ = [(a, b, w, g) for (a, b), w, g in zip(rows, want, got, strict=True) if w != g]
    assert not differ, f"{len(differ)} pairs differ, e.g. {differ[:3]}"


def test_hamming_and_damerau_levenshtein_are_duckdbs() -> None:
    rows = [(a, b) for a, b in pairs(20_000, 3) if a and len(a) == len(b)]
    assert len(rows) > 1000
    assert [hamming(a, b) for a, b in rows] == duckdb_values("hamming(a, b)", rows)
    assert [damerau_levenshtein(a, b) for a, b in rows] == duckdb_values(
        "damerau_levenshtein(a, b)", rows
    )


def test_a_missing_value_gives_no_score() -> None:
    assert jaro_winkler(None, "wei") is None
    assert hamming("wei", None) is None
    assert hamming("wei", "weii") is None  # DuckDB refuses unequal lengths
    assert damerau_levenshtein(None, None) is None
