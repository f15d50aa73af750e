"""`recon run` on generated feeds with known truth: nothing lost, every bad row caught.

The generator (recon/generate.py) writes every messy form of feeds.md, rows that must be
quarantined and values that must warn, and a truth/ folder saying which is which.
"""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest
from conftest import Recon

from recon_sim.generate import generate

AS_OF = date(2026, 10, 31)

# Generator warning kinds -> the rule in checks/ that must report them.
WARNING_RULES = {
    "bad_check_char": "id_invalid",
    "mother_age": "mother_age",
    "unknown_division": "division_unknown",
    "weight": "birth_weight_g_range",
    "gestation": "gestation_weeks_range",
    "future_date": "future_date",
    "reported_before_birth": "before_birth",
    "id_birth_date_mismatch": "id_birth_date_mismatch",
    "id_sex_mismatch": "id_sex_mismatch",
    "certificate_form": "certificate_form",
    "rank_plurality": "rank_plurality",
}


@pytest.fixture(scope="module", params=["whole", "in blocks"])
def generated(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> tuple[Path, Recon]:
    root = tmp_path_factory.mktemp("generated")
    inbox = root / "inbox"
    if request.param == "whole":
        generate(3000, 11, inbox, as_of=AS_OF)
    else:  # as a big inbox is made: blocks of days appended to the same files
        generate(3000, 11, inbox, as_of=AS_OF, block_births=1000, hosp_format="csv")
    truth = inbox / "truth"
    truth.rename(root / "truth")  # the inbox holds feeds only
    recon = Recon(root)
    result = recon.run(inbox, as_of=AS_OF)
    assert result.exit_code == 0, result.output
    return root, recon


def truth(root: Path, name: str) -> pl.DataFrame:
    return pl.read_parquet(root / "truth" / f"{name}.parquet")


def test_every_bad_row_is_quarantined_and_no_valid_row_is(generated: tuple[Path, Recon]) -> None:
    root, recon = generated
    records = truth(root, "records")
    with (recon.out / "quarantine.csv").open(encoding="utf-8-sig") as handle:
        quarantined = {(r["feed"], r["file"], int(r["line"])) for r in csv.DictReader(handle)}
    bad = {
        (f, fi, li)
        for f, fi, li in records.filter(pl.col("quarantine").is_not_null())
        .select("feed", "file", "line")
        .iter_rows()
    }
    assert len(bad) >= 20  # every kind of bad row, in every feed
    assert quarantined == bad


def test_counts_add_up_per_file(generated: tuple[Path, Recon]) -> None:
    root, recon = generated
    summary = json.loads((recon.out / "run.json").read_text(encoding="utf-8"))
    written = dict(truth(root, "records").group_by("file").len().iter_rows())
    for f in summary["files"]:
        assert f["rows_read"] == written[f["file"]]
        assert f["rows_read"] == f["rows_accepted"] + f["rows_quarantined"]


@pytest.mark.parametrize("feed", ["pop", "hosp", "police"])
def test_every_messy_value_is_read_to_its_canonical_form(
    generated: tuple[Path, Recon], feed: str
) -> None:
    root, recon = generated
    expected = truth(root, f"{feed}_canonical")
    con = duckdb.connect(str(recon.db), read_only=True)
    try:
        stored = pl.from_arrow(con.sql(f"SELECT * FROM {feed}_records").to_arrow_table())
    finally:
        con.close()
    assert isinstance(stored, pl.DataFrame)
    columns = [c for c in stored.columns if c in expected.columns and c != "file"]
    assert len(columns) >= 11
    ours = stored.select(columns).sort("line")
    theirs = expected.select(columns).cast(dict(ours.schema)).sort("line")  # type: ignore[arg-type]
    assert ours.height == theirs.height
    for column in columns:
        mismatched = ours.filter(~ours[column].eq_missing(theirs[column]))
        assert mismatched.height == 0, (column, mismatched.head(3).to_dicts())


def test_every_injected_warning_becomes_a_finding(generated: tuple[Path, Recon]) -> None:
    root, recon = generated
    records = truth(root, "records").filter(
        pl.col("quarantine").is_null() & (pl.col("warnings") != "")
    )
    expected = {
        (feed, line, WARNING_RULES[kind])
        for feed, line, warnings in records.select("feed", "line", "warnings").iter_rows()
        for kind in warnings.split(";")
        if kind in WARNING_RULES
    }
    assert len({rule for _f, _l, rule in expected}) >= 10
    found = set(recon.query("SELECT feed, line, rule FROM warnings"))
    assert expected - found == set()


def test_a_second_run_changes_nothing(generated: tuple[Path, Recon]) -> None:
    root, recon = generated
    before = recon.dump()
    assert recon.run(root / "inbox", as_of=AS_OF).exit_code == 0
    after = recon.dump()
    own = ("runs", "audit_log", "run_metrics")  # what every run records of itself
    assert {t: v for t, v in after.items() if t not in own} == {
        t: v for t, v in before.items() if t not in own
    }
    assert len(after["audit_log"]) == len(before["audit_log"]) + 1  # the run itself
    # The second run's figures are the first's, without ingest counts (it read no file).
    first = {(m, s): v for r, m, s, v in before["run_metrics"]}
    second = {(m, s): v for r, m, s, v in after["run_metrics"] if r == max(after["runs"])[0]}
    ingest = ("rows_read", "rows_accepted", "rows_quarantined", "quarantine_share")
    assert second == {k: v for k, v in first.items() if k[0] not in ingest}


def worklist_rows(recon: Recon) -> list[dict[str, str]]:
    with (recon.out / "worklist.csv").open(encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def test_night_two_corrections_close_their_cases_and_keep_the_others(
    generated: tuple[Path, Recon], tmp_path: Path
) -> None:
    _root, recon = generated
    before = {r["case_id"]: r for r in worklist_rows(recon)}
    sex_cases = [
        r
        for r in before.values()
        if r["category"] == "misreported" and r["target_system"] == "pop" and r["field"] == "sex"
    ]
    assert sex_cases
    # The register corrects those records: a new extract with the proposed sex.
    con = duckdb.connect(str(recon.db), read_only=True)
    try:
        keys = [r["pop_record_id"] for r in sex_cases]
        fixed = pl.from_arrow(
            con.sql(
                "SELECT * FROM pop WHERE list_contains($keys, record_id)", params={"keys": keys}
            ).to_arrow_table()
        )
    finally:
        con.close()
    assert isinstance(fixed, pl.DataFrame)
    proposals = {r["pop_record_id"]: r["proposed_value"] for r in sex_cases}
    fixed = fixed.with_columns(pl.col("record_id").replace_strict(proposals).alias("sex"))
    night2 = tmp_path / "night2"
    night2.mkdir()
    fixed.select(
        "record_id", "name", "sex", "birth_date", "id_number", "mother_name", "mother_id",
        "father_name", "birth_order", "division_code", "reported_on", "reporting_unit",
    ).write_csv(night2 / "pop_corrections.csv")  # fmt: skip
    assert recon.run(night2, as_of=AS_OF).exit_code == 0
    after = {r["case_id"]: r for r in worklist_rows(recon)}
    closed = set(before) - set(after)
    assert closed == {r["case_id"] for r in sex_cases}
    assert set(after) <= set(before)  # nothing new: the other findings kept their ids
    summary = json.loads((recon.out / "run.json").read_text(encoding="utf-8"))
    assert summary["cases"]["closed"] == len(sex_cases)
    assert recon.query("SELECT max(version) FROM pop_records")[0][0] == 2
