"""The record a missing birth (漏报) case proposes to add, as text a signer can read.

A 漏报 case's `proposed_value` is the whole record the evidence supports, written as
`姓名：张伟；性别：男；出生日期：2024-03-05；…`: the signers read and sign exactly this, and
`recon apply` adds exactly this (parsed back by `parse`) to the corrected register or to
the notice for the police. One text serves both, so what is signed is what is applied.
"""

from __future__ import annotations

import polars as pl

# (canonical column, label): the order the proposal is written in.
PARTS: tuple[tuple[str, str], ...] = (
    ("name", "姓名"),
    ("sex", "性别"),
    ("birth_date", "出生日期"),
    ("id_number", "公民身份号码"),
    ("mother_name", "母亲姓名"),
    ("mother_id", "母亲公民身份号码"),
    ("father_name", "父亲姓名"),
    ("birth_order", "孩次"),
    ("certificate_no", "出生医学证明编号"),
    ("division_code", "区划代码"),
)
SEPARATOR = "；"
ASSIGN = "："
SEX_LABELS = {"M": "男", "F": "女"}
_BY_LABEL = {label: column for column, label in PARTS}


class ProposalError(ValueError):
    """A proposal text that is not a record recon wrote."""


def expression(values: dict[str, pl.Expr]) -> pl.Expr:
    """The proposal text from one expression per canonical column (missing ones skipped).

    Separators inside a value are replaced, so the text always parses back.
    """
    parts = []
    for column, label in PARTS:
        value = values.get(column)
        if value is None:
            continue
        text = value.cast(pl.String)
        if column == "sex":
            text = text.replace_strict(SEX_LABELS, default=None)
        text = text.str.replace_all(f"[{SEPARATOR}{ASSIGN}]", " ").str.strip_chars()
        parts.append(pl.when(text.is_not_null() & (text != "")).then(pl.lit(label + ASSIGN) + text))
    return pl.concat_str(parts, separator=SEPARATOR, ignore_nulls=True)


def parse(text: str | None) -> dict[str, str]:
    """The record a proposal text describes, by canonical column (sex as M or F)."""
    if not text or not text.strip():
        raise ProposalError("建议值为空 (empty proposal)")
    record: dict[str, str] = {}
    for part in text.split(SEPARATOR):
        label, assign, value = part.partition(ASSIGN)
        column = _BY_LABEL.get(label.strip())
        if not assign or column is None or column in record:
            raise ProposalError(f"建议值无法识别：“{part.strip()}” (not a recon proposal)")
        value = value.strip()
        if column == "sex":
            value = {v: k for k, v in SEX_LABELS.items()}.get(value, value)
        record[column] = value
    if "birth_date" not in record:
        raise ProposalError("建议值缺少出生日期 (the proposal has no birth date)")
    return record
