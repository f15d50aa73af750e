"""Name keys: the toneless pinyin of a Chinese name, for homophone-aware comparison.

张伟 and 章玮 are typed for one another all the time; both read ``zhang wei``.
``name_key`` gives ``"zhangwei"`` for either: toneless syllables joined with no
separator, lower case, letters and digits only (the ``·`` of a transcribed
minority name and stray spaces drop out).

The first character is read as a surname. pypinyin reads a lone character by
its commonest reading, which for a handful of family names is wrong (单 is
Shan, not dan; 曾 is Zeng, not ceng). Compound surnames with a special reading
(万俟 Moqi, 尉迟 Yuchi) are read whole. The given name is read on its own, so a
surname and given name that happen to form a dictionary phrase (曾经) do not
change each other's reading.

pypinyin is slow per call and names repeat a lot, so the expression reads each
distinct name of the whole column once and maps the keys back.
"""

from __future__ import annotations

import re
from functools import lru_cache

import polars as pl
from pypinyin import Style, lazy_pinyin

# Surnames whose reading differs from pypinyin's reading of the lone character.
SURNAME_READINGS: dict[str, str] = {
    "单": "shan",
    "曾": "zeng",
    "解": "xie",
    "仇": "qiu",
    "区": "ou",
    "朴": "piao",
    "查": "zha",
    "翟": "zhai",
    "覃": "qin",
    "缪": "miao",
    "召": "shao",
    "阚": "kan",
    "隗": "wei",
    "种": "chong",
    "折": "she",
    "句": "gou",
    "繁": "po",
    "宓": "fu",
}

# Compound surnames whose reading differs from reading their characters one by one.
COMPOUND_SURNAME_READINGS: dict[str, str] = {
    "万俟": "moqi",
    "尉迟": "yuchi",
    "单于": "chanyu",
    "澹台": "tantai",
    "长孙": "zhangsun",
}

_NOT_KEY = re.compile(r"[^a-z0-9]+")
# No compound surname can start a name whose first character starts none of them.
_COMPOUND_FIRST = frozenset(surname[0] for surname in COMPOUND_SURNAME_READINGS)


@lru_cache(maxsize=1 << 18)
def _read(text: str) -> str:
    # Given names repeat across surnames far more than whole names do: cache them.
    return "".join(lazy_pinyin(text, style=Style.NORMAL)) if text else ""


def name_key_str(name: str | None) -> str | None:
    """The name key of one name: 曾伟 -> "zengwei"; None (or nothing readable) -> None."""
    if name is None:
        return None
    name = name.strip()
    if not name:
        return None
    for surname, reading in COMPOUND_SURNAME_READINGS.items() if name[0] in _COMPOUND_FIRST else ():
        if name.startswith(surname):
            key = reading + _read(name[len(surname) :])
            break
    else:
        surname_reading = SURNAME_READINGS.get(name[0]) or _read(name[0])
        key = surname_reading + _read(name[1:])
    if key.isascii() and key.isalnum():  # nearly every key: nothing to remove
        return key.lower()
    key = _NOT_KEY.sub("", key.lower())
    return key or None


def name_keys(names: pl.Series) -> pl.Series:
    """Name keys of a Series of names, reading each distinct name once."""
    names = names.cast(pl.String)
    distinct = names.drop_nulls().unique()
    keys = [name_key_str(n) for n in distinct.to_list()]
    return names.replace_strict(
        distinct, pl.Series(keys, dtype=pl.String), default=None, return_dtype=pl.String
    )


def name_key(name: pl.Expr) -> pl.Expr:
    """Expression: the name key of each name (see module docstring); null stays null."""
    # Not elementwise: Polars would then call name_keys once per chunk of the column
    # (23 chunks for a million births read from parquet), reading the names common to
    # several chunks again in each.
    return name.map_batches(name_keys, return_dtype=pl.String)
