"""Each row rule in checks/ catches its error, with the right severity, and passes valid rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import AS_OF, DIVISIONS, MOTHER_ID, ROWS, id_with_check, write_csv

from recon.config import CheckLimits, load_config
from recon.ingest.inbox import InboxFile
from recon.ingest.normalize import normalise
from recon.ingest.read import read_feed
from recon.resources import checks_module
from recon.validate.rules import Validated, validate


def check(tmp_path: Path, feed: str, rows: list[dict[str, Any]]) -> Validated:
    path = write_csv(tmp_path / f"{feed}_x.csv", rows)
    raw = read_feed(InboxFile(path, feed), load_config())
    rules = checks_module("rules")
    ctx = rules.RuleContext(
        as_of=AS_OF, limits=CheckLimits(), known_divisions=frozenset(d[0] for d in DIVISIONS)
    )
    return validate(raw, normalise(raw.rows, raw.feed, raw.extras), ctx)


def failures(result: Validated) -> set[tuple[str, str, str]]:
    return {(f, r, s) for f, r, s, _n in result.rule_results.iter_rows()}


@pytest.mark.parametrize("feed", ["pop", "hosp", "police"])
def test_valid_rows_pass_every_rule(tmp_path: Path, feed: str) -> None:
    result = check(tmp_path, feed, [ROWS[feed]()])
    assert failures(result) == set()
    assert result.accepted.height == 1
    assert result.quarantined.height == 0


# (feed, column changes, the (field, rule, severity) that must fail)
CASES = [
    # quarantine: not a record at all
    ("pop", {"记录编号": ""}, ("record_id", "required", "quarantine")),
    ("pop", {"出生日期": "2005-02-30"}, ("birth_date", "unreadable", "quarantine")),
    ("pop", {"出生日期": ""}, ("birth_date", "required", "quarantine")),
    ("pop", {"性别": "男性?"}, ("sex", "unreadable", "quarantine")),
    ("pop", {"母亲公民身份号码": "4206211995"}, ("mother_id", "unreadable", "quarantine")),
    ("pop", {"孩次": "first"}, ("birth_order", "unreadable", "quarantine")),
    ("pop", {"居住地区划代码": "4206"}, ("division_code", "unreadable", "quarantine")),
    ("hosp", {"胎数": "two"}, ("plurality", "unreadable", "quarantine")),
    ("hosp", {"妊娠结局": "unknown"}, ("outcome", "unreadable", "quarantine")),
    ("hosp", {"分娩时间": "2024-03-05 25:00"}, ("delivered_at", "unreadable", "quarantine")),
    ("police", {"公民身份号码": ""}, ("id_number", "required", "quarantine")),
    ("police", {"登记类别": "迁入"}, ("registration_type", "unreadable", "quarantine")),
    # warning: a readable value that fails a check keeps its row
    ("pop", {"公民身份号码": id_with_check("42060720240305001")[:-1] + "0"}, ("id_number", "id_invalid", "warning")),
    ("pop", {"母亲公民身份号码": MOTHER_ID[:-1] + ("0" if MOTHER_ID[-1] != "0" else "1")}, ("mother_id", "id_invalid", "warning")),
    ("pop", {"公民身份号码": "12345"}, ("id_number", "unreadable", "warning")),
    ("pop", {"母亲公民身份号码": id_with_check("99999919950101002")}, ("mother_id", "id_birthplace", "warning")),
    ("pop", {"出生日期": "2024-03-06"}, ("id_number", "id_birth_date_mismatch", "warning")),
    ("pop", {"性别": "女"}, ("id_number", "id_sex_mismatch", "warning")),
    ("pop", {"母亲公民身份号码": id_with_check("42062120150101002")}, ("mother_id", "mother_age", "warning")),
    ("pop", {"母亲公民身份号码": id_with_check("42062119500101002")}, ("mother_id", "mother_age", "warning")),
    ("pop", {"上报日期": "2025-02-01"}, ("reported_on", "future_date", "warning")),
    ("pop", {"上报日期": "2024-03-01"}, ("reported_on", "before_birth", "warning")),
    ("pop", {"孩次": "0"}, ("birth_order", "birth_order_range", "warning")),
    ("pop", {"居住地区划代码": "420607999999"}, ("division_code", "division_unknown", "warning")),
    ("hosp", {"出生体重(克)": "250"}, ("birth_weight_g", "birth_weight_g_range", "warning")),
    ("hosp", {"出生体重(克)": "7200"}, ("birth_weight_g", "birth_weight_g_range", "warning")),
    ("hosp", {"孕周": "19"}, ("gestation_weeks", "gestation_weeks_range", "warning")),
    ("hosp", {"孕周": "46"}, ("gestation_weeks", "gestation_weeks_range", "warning")),
    ("hosp", {"胎数": "2", "胎序": "3"}, ("birth_rank", "rank_plurality", "warning")),
    ("hosp", {"出生医学证明编号": "Q42001234"}, ("certificate_no", "certificate_form", "warning")),
    ("hosp", {"妊娠结局": "死产"}, ("certificate_no", "stillbirth_certificate", "warning")),
    ("hosp", {"分娩时间": "2025-01-02 08:00", "登记日期": "2025-01-03"}, ("delivered_at", "future_date", "warning")),
    ("hosp", {"登记日期": "2024-03-04"}, ("registered_on", "before_birth", "warning")),
    ("police", {"出生医学证明编号": ""}, ("certificate_no", "certificate_missing", "warning")),
    ("police", {"登记日期": "2024-03-01"}, ("registered_on", "before_birth", "warning")),
    ("police", {"户籍地区划代码": "420607888888"}, ("division_code", "division_unknown", "warning")),
]  # fmt: skip


@pytest.mark.parametrize(("feed", "changes", "expected"), CASES)
def test_rule_catches_its_error(
    tmp_path: Path, feed: str, changes: dict[str, str], expected: tuple[str, str, str]
) -> None:
    result = check(tmp_path, feed, [ROWS[feed](**changes)])
    assert expected in failures(result)
    field, rule, severity = expected
    if severity == "quarantine":
        assert result.accepted.height == 0
        assert result.quarantined.height == 1
        assert field in result.quarantined["reasons"][0]
    else:
        assert result.accepted.height == 1, "a warning must keep its row"
        found = result.warnings.filter(field=field, rule=rule)
        assert found.height == 1
        assert found["line"][0] == 2


def test_late_registration_without_certificate_is_fine(tmp_path: Path) -> None:
    result = check(tmp_path, "police", [ROWS["police"](出生医学证明编号="", 登记类别="补录")])
    assert failures(result) == set()


def test_repeated_key_keeps_the_first_row(tmp_path: Path) -> None:
    rows = [ROWS["pop"](), ROWS["pop"](姓名="张伟伟"), ROWS["pop"](记录编号="P0002")]
    result = check(tmp_path, "pop", rows)
    assert result.accepted["line"].to_list() == [2, 4]
    assert result.quarantined["line"].to_list() == [3]
    assert "重复" in result.quarantined["reasons"][0]


def test_every_reason_of_a_row_is_given(tmp_path: Path) -> None:
    result = check(tmp_path, "pop", [ROWS["pop"](出生日期="2005-02-30", 性别="?", 孩次="")])
    reasons = result.quarantined["reasons"][0]
    for field in ("birth_date", "sex", "birth_order"):
        assert field in reasons


@pytest.mark.parametrize(
    ("feed", "column", "field"),
    [
        ("pop", "公民身份号码", "id_number"),
        ("pop", "母亲公民身份号码", "mother_id"),
        ("hosp", "产妇公民身份号码", "mother_id"),
        ("police", "公民身份号码", "id_number"),
        ("police", "母亲公民身份号码", "mother_id"),
    ],
)
def test_an_unknown_birthplace_is_flagged_beside_a_malformed_number(
    tmp_path: Path, feed: str, column: str, field: str
) -> None:
    # A malformed number in the column once made the whole birthplace check raise, so
    # the column's other numbers went unchecked (one failure, naming no row).
    unknown_place = id_with_check("99999919950101002")
    key = {"pop": "记录编号", "hosp": "登记编号", "police": "公民身份号码"}[feed]
    second = {key: "P2"} if key != column else {}
    if feed == "police" and column != key:
        second = {key: id_with_check("42060720240305002")}
    rows = [
        ROWS[feed](**{column: "12345"}),
        ROWS[feed](**{column: unknown_place, **second}),
    ]
    result = check(tmp_path, feed, rows)
    found = result.warnings.filter(field=field, rule="id_birthplace")
    assert found["line"].to_list() == [3]
