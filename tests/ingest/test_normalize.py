"""Each value form of feeds.md is read to its canonical value, or marked unreadable."""

from __future__ import annotations

import random
from datetime import date, datetime

import polars as pl
import pytest
from stdnum.cn import ric

from recon.ingest.feeds import Column, Kind
from recon.ingest.normalize import canonical, id_check_char, text, unreadable


def apply(kind: Kind, values: list[str | None]) -> tuple[list[object], list[bool]]:
    """Canonical values and unreadable flags of raw strings of one kind."""
    column = Column("v", "v", kind, required=False)
    value = canonical(column, pl.col("v"))
    frame = pl.DataFrame({"v": values}, schema={"v": pl.String})
    out = frame.select(value.alias("c"), unreadable(column, pl.col("v"), value).alias("bad"))
    return out["c"].to_list(), out["bad"].to_list()


@pytest.mark.parametrize(
    "raw",
    ["2024-03-05", "2024/3/5", "2024/03/05", "20240305", "2024年3月5日", "2024.3.5",
     " 2024-03-05 ", "２０２４－０３－０５", "45356", "2024-03-05 00:00:00", "2024-03-05 13:45"],
)  # fmt: skip
def test_every_date_form_reads_as_the_same_date(raw: str) -> None:
    values, bad = apply("date", [raw])
    assert values == [date(2024, 3, 5)]
    assert bad == [False]


@pytest.mark.parametrize(
    "raw", ["2005-02-30", "2024-13-01", "2024-00-10", "next tuesday", "2024-3"]
)
def test_impossible_dates_are_unreadable_not_guessed(raw: str) -> None:
    values, bad = apply("date", [raw])
    assert values == [None]
    assert bad == [True]


def test_empty_date_is_absent_not_unreadable() -> None:
    assert apply("date", ["", None, "  "]) == ([None, None, None], [False, False, False])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-03-05 13:45", datetime(2024, 3, 5, 13, 45)),
        ("2024/3/5 8:05:09", datetime(2024, 3, 5, 8, 5, 9)),
        ("2024年3月5日 13:45", datetime(2024, 3, 5, 13, 45)),
        ("20240305 13:45:30", datetime(2024, 3, 5, 13, 45, 30)),
        ("45356.5", datetime(2024, 3, 5, 12, 0)),
        ("45612.885416666664", datetime(2024, 11, 16, 21, 15)),  # float noise of Excel
        ("2024-03-05", datetime(2024, 3, 5)),
    ],
)
def test_datetime_forms(raw: str, expected: datetime) -> None:
    assert apply("datetime", [raw]) == ([expected], [False])


def test_datetime_with_impossible_time_is_unreadable() -> None:
    assert apply("datetime", ["2024-03-05 25:10"]) == ([None], [True])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("男", "M"), ("女", "F"), ("1", "M"), ("2", "F"), ("M", "M"), ("f", "F"), (" 女 ", "F"),
     ("未知", None), ("0", None), ("9", None), ("", None), (None, None)],
)  # fmt: skip
def test_sex_codes(raw: str | None, expected: str | None) -> None:
    assert apply("sex", [raw]) == ([expected], [False])


@pytest.mark.parametrize("raw", ["男性?", "X", "3", "boy?"])
def test_unknown_sex_codes_are_unreadable(raw: str) -> None:
    assert apply("sex", [raw]) == ([None], [True])


def test_identity_number_forms() -> None:
    valid = "42060719900101123" + ric.calc_check_digit("42060719900101123" + "0")
    lower_x = "11010519491231002x"
    values, bad = apply(
        "id_number",
        [
            valid,
            " ".join([valid[:6], valid[6:14], valid[14:]]),  # stray spaces
            "".join(chr(ord(c) + 0xFEE0) for c in valid),  # full-width digits
            lower_x,
            "420621900101123",  # first generation, 15 digits
            "12345",
        ],
    )
    assert values[:3] == [valid, valid, valid]
    assert values[3] == "11010519491231002X"
    assert values[4] == "42062119900101123" + ric.calc_check_digit("42062119900101123" + "0")
    assert ric.is_valid(values[4])
    assert values[5] == "12345"  # kept for reconciliation, but marked unreadable
    assert bad == [False, False, False, False, False, True]


def test_check_character_agrees_with_stdnum() -> None:
    rng = random.Random(7)
    bodies = [f"{rng.randrange(10**16, 10**17)}" for _ in range(2000)]
    frame = pl.DataFrame({"b": bodies})
    ours = frame.select(id_check_char(pl.col("b")))["b"].to_list()
    assert ours == [ric.calc_check_digit(b + "0") for b in bodies]


@pytest.mark.parametrize(
    ("raw", "expected", "is_bad"),
    [("420607", "420607000000", False), ("420607101", "420607101000", False),
     ("420607101203", "420607101203", False), ("４２０６０７１０１２０３", "420607101203", False),
     (" 420607 101 203 ", "420607101203", False), ("42060", "42060", True),
     ("4206071012", "4206071012", True)],
)  # fmt: skip
def test_division_codes_pad_to_twelve_digits(raw: str, expected: str, is_bad: bool) -> None:
    assert apply("division", [raw]) == ([expected], [is_bad])


def test_integers_and_text() -> None:
    assert apply("integer", [" 2 ", "２", "2.0", "x", None]) == (
        [2, 2, 2, None, None],
        [False, False, False, True, False],
    )
    frame = pl.DataFrame({"v": ["\u3000张 伟\u3000", "  ", " 李娜 "]})
    assert frame.select(text(pl.col("v")))["v"].to_list() == ["张 伟", None, "李娜"]
