"""Name keys: homophones meet, polyphonic surnames read as surnames, nulls stay null."""

from __future__ import annotations

import polars as pl
import pytest

from recon.names import name_key, name_key_str


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("张伟", "章玮"),  # the textbook pair
        ("何欣雅", "何馨雅"),
        ("余璐", "俞璐"),
        ("王依", "王宜"),
    ],
)
def test_homophones_have_one_key(a: str, b: str) -> None:
    assert name_key_str(a) == name_key_str(b)


def test_key_is_toneless_pinyin_without_separators() -> None:
    assert name_key_str("张伟") == "zhangwei"
    assert name_key_str("吕布") == "lvbu"


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("单雄信", "shanxiongxin"),  # pypinyin alone: dan
        ("曾国藩", "zengguofan"),  # ceng
        ("解缙", "xiejin"),  # jie
        ("仇英", "qiuying"),  # chou
        ("区志坚", "ouzhijian"),  # qu
        ("朴正民", "piaozhengmin"),  # pu
        ("查良镛", "zhaliangyong"),  # cha
        ("万俟卨", "moqixie"),  # compound surname read whole
    ],
)
def test_polyphonic_surnames_read_as_surnames(name: str, key: str) -> None:
    assert name_key_str(name) == key


def test_surname_reading_applies_to_the_first_character_only() -> None:
    # 单 in a given name keeps its ordinary reading; 曾经 is no phrase across the surname.
    assert name_key_str("王单") == "wangdan"
    assert name_key_str("曾经") == "zengjing"


def test_spaces_and_middle_dots_drop_out() -> None:
    assert name_key_str("李 明") == name_key_str("李明") == "liming"
    assert name_key_str("阿依古丽·买买提") == "ayigulimaimaiti"


@pytest.mark.parametrize("empty", [None, "", "   ", "·"])
def test_nothing_readable_is_null(empty: str | None) -> None:
    assert name_key_str(empty) is None


def test_expression_maps_every_row_and_keeps_nulls() -> None:
    names = pl.DataFrame({"name": ["张伟", None, "章玮", "单田芳", "张伟", ""]})
    keys = names.select(name_key(pl.col("name"))).to_series().to_list()
    assert keys == ["zhangwei", None, "zhangwei", "shantianfang", "zhangwei", None]


def test_expression_on_an_empty_or_all_null_column() -> None:
    empty = pl.DataFrame({"name": pl.Series([], dtype=pl.String)})
    assert empty.select(name_key(pl.col("name"))).height == 0
    nulls = pl.DataFrame({"name": pl.Series([None, None], dtype=pl.String)})
    assert nulls.select(name_key(pl.col("name"))).to_series().to_list() == [None, None]


def test_expression_agrees_with_the_string_helper_on_many_names() -> None:
    surnames = ["张", "章", "单", "曾", "解", "仇", "区", "朴", "查", "王"]
    given = ["伟", "玮", "乐", "行", "长", "重"]
    names = [s + g for s in surnames for g in given] * 3
    keys = pl.Series(names).to_frame("n").select(name_key(pl.col("n"))).to_series().to_list()
    assert keys == [name_key_str(n) for n in names]
