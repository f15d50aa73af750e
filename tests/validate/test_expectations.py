"""Feed-level expectations: checks/expectations.py run through recon/expectations.py."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from recon.ingest.feeds import FEED_SPECS, Column
from recon.validate import expectations as rx
from recon.validate.expectations import ExpectationOutcome, check_feed, outcomes_frame

NAME_MARK = "张秘密"  # a personal value that must never reach a stored result
ID_MARK = "420601199001011234"
OUTGOING = frozenset(
    {
        "socket.connect",
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "socket.gethostbyaddr",
        "socket.sendto",
        "socket.sendmsg",
        "http.client.connect",
        "urllib.Request",
    }
)


def _values(column: Column, n: int, feed: str) -> pl.Series:
    """n plausible, distinct values of a canonical column."""
    i = pl.int_range(0, n, eager=True)
    if column.kind == "sex":
        return pl.Series(column.name, ["M", "F"] * (n // 2) + ["M"] * (n % 2), dtype=pl.String)
    if column.kind == "date":
        return pl.Series(column.name, [date(2024, 3, 5)] * n, dtype=pl.Date)
    if column.kind == "datetime":
        return pl.Series(column.name, [datetime(2024, 3, 5, 8, 30)] * n, dtype=pl.Datetime("us"))
    if column.kind == "integer":
        return pl.Series(column.name, [1] * n, dtype=pl.Int64)
    if column.kind == "enum":
        return pl.Series(column.name, [column.values[0]] * n, dtype=pl.String)
    if column.kind == "id_number":
        return ("4206011990" + i.cast(pl.String).str.zfill(8)).alias(column.name)
    if column.kind == "division":
        return pl.Series(column.name, ["420601001001"] * n, dtype=pl.String)
    if column.kind == "certificate":
        return ("Q" + i.cast(pl.String).str.zfill(9)).alias(column.name)
    return (f"{feed}-{column.name}-" + i.cast(pl.String)).alias(column.name)


def feed_frame(feed: str, n: int = 200) -> pl.DataFrame:
    """A clean feed: every canonical column, unique keys, 100 boys per 100 girls."""
    spec = FEED_SPECS[feed]  # type: ignore[index]
    return pl.DataFrame([_values(column, n, feed) for column in spec.columns])


def with_sex(frame: pl.DataFrame, boys: int, girls: int, unknown: int = 0) -> pl.DataFrame:
    sexes = ["M"] * boys + ["F"] * girls + [None] * unknown
    assert len(sexes) == frame.height
    return frame.with_columns(pl.Series("sex", sexes, dtype=pl.String))


def run(
    feed: str, frame: pl.DataFrame, previous_rows: int | None = None, **limits: float
) -> list[ExpectationOutcome]:
    return check_feed(
        feed, frame, previous_rows=previous_rows, thresholds=rx.ExpectationThresholds(**limits)
    )


def outcome(outcomes: list[ExpectationOutcome], rule: str, column: str | None = None) -> Any:
    found = [
        o for o in outcomes if o.expectation == rule and (column is None or o.column == column)
    ]
    assert len(found) == 1, f"{rule} {column}: {found}"
    return found[0]


def failed(outcomes: list[ExpectationOutcome]) -> set[tuple[str, str | None]]:
    return {(o.expectation, o.column) for o in outcomes if not o.success}


@pytest.mark.parametrize("feed", ["pop", "hosp", "police"])
def test_a_clean_feed_meets_every_expectation(feed: str) -> None:
    outcomes = run(feed, feed_frame(feed), previous_rows=200)

    assert failed(outcomes) == set()
    spec = FEED_SPECS[feed]  # type: ignore[index]
    required = [c.name for c in spec.columns if c.required and c.name != "sex"]
    assert [o.column for o in outcomes if o.expectation == "required_complete"] == required
    assert outcome(outcomes, "key_unique").column == spec.key
    assert {o.expectation for o in outcomes} == {
        "key_unique",
        "required_complete",
        "row_count_not_collapsed",
        "unknown_sex_share",
        "sex_ratio_at_birth",
    }
    assert all(o.label and o.feed == feed for o in outcomes)


@pytest.mark.parametrize("feed", ["pop", "hosp", "police"])
def test_a_duplicated_key_fails_uniqueness(feed: str) -> None:
    frame = feed_frame(feed)
    key = FEED_SPECS[feed].key  # type: ignore[index]
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) < 2).then(pl.lit(ID_MARK)).otherwise(pl.col(key)).alias(key)
    )

    outcomes = run(feed, frame)

    assert failed(outcomes) == {("key_unique", key)}
    unique = outcome(outcomes, "key_unique")
    assert unique.unexpected_count == 2
    assert unique.element_count == 200
    assert unique.observed_value == 2


def test_a_required_column_ten_percent_null_fails_completeness() -> None:
    frame = feed_frame("pop").with_columns(
        pl.when(pl.int_range(pl.len()) % 10 == 0)
        .then(None)
        .otherwise(pl.col("mother_id"))
        .alias("mother_id")
    )

    outcomes = run("pop", frame)

    assert failed(outcomes) == {("required_complete", "mother_id")}
    complete = outcome(outcomes, "required_complete", "mother_id")
    assert complete.label == "必填项完整率：母亲公民身份号码"
    assert complete.unexpected_count == 20
    assert complete.unexpected_percent == pytest.approx(10.0)
    assert complete.observed_value == pytest.approx(0.9)


def test_one_percent_null_is_complete_enough() -> None:
    frame = feed_frame("pop").with_columns(
        pl.when(pl.int_range(pl.len()) < 2)
        .then(None)
        .otherwise(pl.col("mother_id"))
        .alias("mother_id")
    )
    assert failed(run("pop", frame)) == set()


def test_a_missing_required_column_fails_completeness() -> None:
    outcomes = run("pop", feed_frame("pop").drop("division_code"))

    assert failed(outcomes) == {("required_complete", "division_code")}
    details = json.loads(outcome(outcomes, "required_complete", "division_code").details_json)
    assert "division_code" in json.dumps(details["exception_info"])


def test_row_count_is_compared_with_the_previous_run() -> None:
    clean = feed_frame("hosp", 900)
    collapsed = feed_frame("hosp", 300)

    now_300 = outcome(run("hosp", collapsed, previous_rows=1000), "row_count_not_collapsed")
    now_900 = outcome(run("hosp", clean, previous_rows=1000), "row_count_not_collapsed")
    first_run = run("hosp", clean, previous_rows=None)

    assert not now_300.success and now_300.observed_value == 300
    assert now_300.label == "行数未骤降"
    assert json.loads(now_300.details_json)["expectation_config"]["kwargs"]["min_value"] == 500
    assert now_900.success
    assert "row_count_not_collapsed" not in {o.expectation for o in first_run}


def test_five_percent_unknown_sex_fails() -> None:
    outcomes = run("police", with_sex(feed_frame("police"), boys=98, girls=92, unknown=10))

    assert failed(outcomes) == {("unknown_sex_share", "sex")}  # not also as a missing value
    unknown = outcome(outcomes, "unknown_sex_share")
    assert unknown.label == "性别不详比例"
    assert unknown.observed_value == pytest.approx(0.05)


def test_unknown_sex_has_its_own_threshold() -> None:
    frame = with_sex(feed_frame("police"), boys=98, girls=92, unknown=10)
    outcomes = run("police", frame, completeness_min=0.9, unknown_sex_max=0.04)
    assert failed(outcomes) == {("unknown_sex_share", "sex")}


def test_sex_ratio_outside_the_band_fails() -> None:
    skewed = run("pop", with_sex(feed_frame("pop", 250), boys=150, girls=100))
    normal = run("pop", with_sex(feed_frame("pop", 206), boys=106, girls=100))

    assert failed(skewed) == {("sex_ratio_at_birth", "is_boy")}
    srb = outcome(skewed, "sex_ratio_at_birth")
    assert srb.label == "出生人口性别比在合理区间"
    assert srb.observed_value == pytest.approx(150.0)
    assert failed(normal) == set()
    assert outcome(normal, "sex_ratio_at_birth").observed_value == pytest.approx(106.0)


def test_sex_ratio_band_edges_come_from_the_thresholds() -> None:
    frame = with_sex(feed_frame("pop", 250), boys=150, girls=100)
    assert failed(run("pop", frame, srb_max=150.0)) == set()
    assert failed(run("pop", frame, srb_max=149.9)) == {("sex_ratio_at_birth", "is_boy")}


def test_unknown_sex_does_not_count_in_the_sex_ratio() -> None:
    frame = with_sex(feed_frame("pop", 210), boys=106, girls=100, unknown=4)
    assert outcome(run("pop", frame), "sex_ratio_at_birth").observed_value == pytest.approx(106.0)


def test_hospital_sex_ratio_counts_live_births_only() -> None:
    frame = with_sex(feed_frame("hosp", 256), boys=156, girls=100).with_columns(
        outcome=pl.when(pl.int_range(pl.len()) < 50).then(pl.lit("死产")).otherwise(pl.lit("活产"))
    )  # the first 50 boys were stillborn: 106 live boys per 100 girls

    srb = outcome(run("hosp", frame), "sex_ratio_at_birth")

    assert srb.success
    assert srb.observed_value == pytest.approx(106.0)


def test_stored_results_hold_no_personal_data() -> None:
    frame = feed_frame("police").with_columns(
        pl.when(pl.int_range(pl.len()) < 3)
        .then(pl.lit(ID_MARK))
        .otherwise(pl.col("id_number"))
        .alias("id_number"),
        pl.when(pl.int_range(pl.len()) < 30).then(None).otherwise(pl.lit(NAME_MARK)).alias("name"),
    )

    outcomes = run("police", frame)

    assert {"key_unique", "required_complete"} <= {o.expectation for o in outcomes if not o.success}
    for o in outcomes:
        details = json.loads(o.details_json)  # valid JSON
        assert details["expectation_config"]["meta"]["label"] == o.label
        text = o.details_json
        assert ID_MARK not in text and NAME_MARK not in text
        for key in ("partial_unexpected_list", "unexpected_list", "unexpected_index_list"):
            assert key not in text
        assert "partial_unexpected_counts" not in text


def test_outcomes_frame_has_one_row_per_outcome() -> None:
    outcomes = run("pop", feed_frame("pop"), previous_rows=100)

    frame = outcomes_frame(outcomes)

    assert frame.height == len(outcomes)
    assert frame.columns == [
        "feed",
        "expectation",
        "label",
        "column",
        "success",
        "observed_value",
        "unexpected_count",
        "unexpected_percent",
        "element_count",
        "details",
    ]
    assert frame["details"].to_list() == [o.details_json for o in outcomes]
    assert outcomes_frame([]).schema == frame.schema


def test_validation_makes_no_network_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    calls: list[str] = []
    listening = True

    def audit(event: str, args: tuple[Any, ...]) -> None:
        # Outgoing traffic only: importing urllib3 (GE → requests) binds a socket to ::1 to
        # probe for IPv6, which sends nothing.
        if listening and event in OUTGOING:
            calls.append(event)

    sys.addaudithook(audit)  # hooks cannot be removed; this one stops listening below
    try:
        run("pop", feed_frame("pop"), previous_rows=100)
    finally:
        listening = False

    assert calls == []
    assert list(tmp_path.iterdir()) == []  # nothing written either (no gx/ project, no docs)


def test_row_count_floor_is_exact_in_decimal() -> None:
    checks = rx.load_checks()
    assert checks.min_rows(100, 1.1) == 110
    assert checks.min_rows(1000, 0.5) == 500
    assert checks.min_rows(999, 0.5) == 500


@pytest.fixture(autouse=True)
def _no_progress_bars(capsys: pytest.CaptureFixture[str]) -> Iterator[None]:
    yield
    captured = capsys.readouterr()
    assert "Calculating Metrics" not in captured.out + captured.err


def test_the_validated_data_is_not_kept_after_the_check() -> None:
    import gc

    import pandas as pd

    run("pop", feed_frame("pop", 321))
    gc.collect()

    assert not [o for o in gc.get_objects() if isinstance(o, pd.DataFrame) and len(o) == 321]


def test_the_file_is_not_hashed_into_a_batch_fingerprint(monkeypatch: pytest.MonkeyPatch) -> None:
    # GE would hash every row of a file under 1 GB into a marker nothing reads: a third
    # of the expectations' time. A GE that renamed its threshold would hash again.
    import pandas as pd

    hashed: list[int] = []
    real = pd.util.hash_pandas_object

    def counting(obj: Any, *args: Any, **kwargs: Any) -> Any:
        hashed.append(len(obj))
        return real(obj, *args, **kwargs)

    monkeypatch.setattr(pd.util, "hash_pandas_object", counting)
    outcomes = run("pop", feed_frame("pop", 321))

    assert not failed(outcomes)
    assert 321 not in hashed
