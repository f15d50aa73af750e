"""`recon report`: one self-contained Chinese HTML file and metrics.json, on generated feeds."""

from __future__ import annotations

import csv
import json
import math
import re
import shutil
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, ClassVar

import polars as pl
import pytest
from conftest import Recon

from recon.report.build import mask_ids
from recon_sim.generate import generate

AS_OF = date(2026, 10, 31)
SVG_NS = "http://www.w3.org/2000/svg"


@pytest.fixture(scope="module")
def reported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Recon, dict[str, Any]]:
    root = tmp_path_factory.mktemp("report")
    inbox = root / "inbox"
    generate(3000, 5, inbox, as_of=AS_OF)
    (inbox / "truth").rename(root / "truth")
    recon = Recon(root)
    assert recon.run(inbox, as_of=AS_OF).exit_code == 0
    result = recon("report", "--db", str(recon.db), "--out", str(root / "report"))
    assert result.exit_code == 0, result.output
    data = json.loads((root / "report" / "metrics.json").read_text(encoding="utf-8"))
    return root, recon, data


def html_of(root: Path) -> str:
    return (root / "report" / "report.html").read_text(encoding="utf-8")


class References(HTMLParser):
    """Every tag and every attribute that could make a browser fetch something."""

    FETCHING: ClassVar = {
        "src",
        "href",
        "xlink:href",
        "action",
        "data",
        "poster",
        "srcset",
        "background",
    }

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.references: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        for name, value in attrs:
            if name in self.FETCHING and value is not None:
                self.references.append((tag, name, value))


def test_the_report_references_nothing_outside_itself(
    reported: tuple[Path, Recon, dict[str, Any]],
) -> None:
    root, _, _ = reported
    html = html_of(root)
    parser = References()
    parser.feed(html)
    # Only in-page anchors (the table of contents) may be referenced.
    assert [r for r in parser.references if not r[2].startswith("#")] == []
    assert {r[2] for r in parser.references} >= {"#feeds", "#srb", "#missed"}
    assert parser.tags.isdisjoint({"script", "link", "img", "iframe", "object", "embed", "video"})
    assert "url(" not in html and "@import" not in html
    assert re.findall(r"(?:https?:)?//[\w.-]+", html.replace(SVG_NS, "")) == []
    # The browser is told so too: the page's policy forbids every fetch.
    assert "default-src 'none'" in html
    assert html.count("<svg") >= 6  # the charts are inline


def test_the_report_is_in_chinese_with_every_section(
    reported: tuple[Path, Recon, dict[str, Any]],
) -> None:
    root, _, data = reported
    html = html_of(root)
    assert '<html lang="zh-CN">' in html
    for heading in (
        "一、各来源数据质量",
        "二、核对结果",
        "三、出生人口性别比",
        "四、完整性与及时性",
        "五、指标历史",
        "六、各来源均遗漏的出生",
        "一月一排名",
    ):
        assert heading in html
    assert data["as_of"] == AS_OF.isoformat()
    assert "来源相依" in html  # the assumption that matters most stands beside the estimate


def identity_numbers(root: Path) -> set[str]:
    numbers: set[str] = set()
    for name, columns in (
        ("pop_canonical", ("id_number", "mother_id")),
        ("hosp_canonical", ("mother_id",)),
        ("police_canonical", ("id_number", "mother_id")),
    ):
        frame = pl.read_parquet(root / "truth" / f"{name}.parquet")
        for column in columns:
            numbers |= set(frame[column].drop_nulls().to_list())
    return {n for n in numbers if len(n) == 18}


def test_identity_numbers_are_masked_unless_asked(
    reported: tuple[Path, Recon, dict[str, Any]],
) -> None:
    root, recon, _ = reported
    numbers = identity_numbers(root)
    assert len(numbers) > 5000
    for name in ("report.html", "metrics.json"):
        text = (root / "report" / name).read_text(encoding="utf-8")
        assert [n for n in numbers if n in text] == []
        assert re.search(r"(?<![0-9０-９.])[0-9０-９]{15,18}(?![0-9０-９])", text) is None
    assert "********" in html_of(root)  # the masked examples are there

    full = root / "report-full"
    assert recon("report", "--db", str(recon.db), "--out", str(full), "--full-id").exit_code == 0
    text = (full / "report.html").read_text(encoding="utf-8")
    assert any(n in text for n in numbers)  # the check above can fail


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("420621199506105443", "420621********5443"),
        ("42062119950610544x", "420621********544x"),
        ("４２０６０７２０２５０３２１００８７", "４２０６０７********００８７"),
        ("420621950610544", "420621*****0544"),
        ("420607 20250321 0087", "420607********0087"),
        ("原值 “420621199A0610544X”", "原值 “420621********544X”"),
        ("41292919880814010X7", "412929*********10X7"),  # one character too many
        ("RK20240000001", "RK20240000001"),  # a record id is not a person's number
        ("FM2024110300005", "FM2024110300005"),
        ("Q420012345", "Q420012345"),
    ],
)
def test_mask_ids(text: str, masked: str) -> None:
    assert mask_ids(text) == masked


def test_counts_add_up_per_feed_and_match_the_run(
    reported: tuple[Path, Recon, dict[str, Any]],
) -> None:
    _, recon, data = reported
    run = json.loads((recon.out / "run.json").read_text(encoding="utf-8"))
    by_file = {f["file"]: f for f in run["files"]}
    for feed in data["feeds"]:
        assert feed["rows_read"] == feed["rows_accepted"] + feed["rows_quarantined"]
        for f in feed["files"]:
            assert f["adds_up"]
            assert f["rows_read"] == by_file[f["file"]]["rows_read"]
            assert f["rows_quarantined"] == by_file[f["file"]]["rows_quarantined"]
        failing = [c for c in feed["checks"] if c["failures"]]
        assert failing, feed["feed"]  # the generator injects errors into every feed
        for check in failing:
            assert check["share"] == pytest.approx(check["failures"] / check["rows"])
            assert len(check["examples"]) <= min(3, check["failures"])
        # A warning on a row quarantined for another reason has its example in quarantine.csv.
        assert sum(bool(c["examples"]) for c in failing) >= len(failing) - 2


def test_sex_ratio_matches_a_hand_count(reported: tuple[Path, Recon, dict[str, Any]]) -> None:
    _, recon, data = reported
    (boys, girls), = recon.query(
        "SELECT count(*) FILTER (WHERE sex = 'M'), count(*) FILTER (WHERE sex = 'F') "
        "FROM births WHERE outcome = '活产' "
        "AND (hosp_delivery_id IS NOT NULL OR police_id_number IS NOT NULL)"
    )  # fmt: skip
    county = next(
        r
        for r in data["sex_ratio"]["rows"]
        if r["township"] is None and r["year"] is None and r["feed"] == "consensus"
    )
    assert (county["boys"], county["girls"]) == (boys, girls)
    half = 1.96 * math.sqrt(1 / boys + 1 / girls)
    assert county["ratio"] == pytest.approx(100 * boys / girls, abs=0.01)
    assert county["lower"] == pytest.approx(100 * math.exp(math.log(boys / girls) - half), abs=0.01)
    assert county["upper"] == pytest.approx(100 * math.exp(math.log(boys / girls) + half), abs=0.01)
    low, high = data["sex_ratio"]["normal_range"]
    for row in data["sex_ratio"]["rows"]:
        if row["ratio"] is None:
            continue
        outside = row["lower"] > high or row["upper"] < low
        assert bool(row["flag"]) == outside, row


def test_the_estimate_uses_a_closed_cohort_of_real_births(
    reported: tuple[Path, Recon, dict[str, Any]],
) -> None:
    _, recon, data = reported
    cutoff = AS_OF - timedelta(days=max(data["deadlines_days"].values()))
    (cohort,) = recon.query(
        "SELECT count(*) FROM births WHERE outcome = '活产' AND birth_date <= ? "
        "AND (hosp_delivery_id IS NOT NULL OR police_id_number IS NOT NULL)".replace(
            "?", f"DATE '{cutoff.isoformat()}'"
        )
    )[0]
    missed = data["missed_births"]
    assert missed["cohort"]["born_on_or_before"] == cutoff.isoformat()
    assert missed["overall"]["observed"] == cohort
    cells = missed["overall"]["detail"]["cells"]
    assert sum(cells.values()) == cohort
    assert cells["001"] == 0  # register-only records are fictitious until signers say not
    assert missed["sensitivity"]["observed"] > cohort
    by_sex = missed["by_sex"]
    assert by_sex["M"]["observed"] + by_sex["F"]["observed"] <= cohort
    overall = missed["overall"]
    assert overall["model"] is not None
    assert overall["lower"] <= overall["total"] <= overall["upper"]
    assert overall["total"] >= cohort
    corrected = missed["corrected_srb"]["ratio"]
    assert corrected == pytest.approx(100 * by_sex["M"]["total"] / by_sex["F"]["total"], abs=0.05)


def test_the_monthly_ranking_warns_the_lowest_townships(
    reported: tuple[Path, Recon, dict[str, Any]],
) -> None:
    _, _, data = reported
    ranking = data["completeness"]["ranking"]
    table = ranking["table"]
    assert len(table) > 5
    parts = ("pop_coverage", "police_coverage", "pop_timely", "police_timely", "accuracy")
    for row in table:
        values = [row[p] for p in parts if row[p] is not None]
        assert row["score"] == pytest.approx(100 * sum(values) / len(values), abs=0.06)
    scores = [row["score"] for row in table]
    assert scores == sorted(scores, reverse=True)
    assert [row["red_warning"] for row in table] == [False] * (len(table) - 3) + [True] * 3
    # Only months whose births are past every deadline are ranked.
    latest = date.fromisoformat(ranking["latest"] + "-01")
    assert latest + timedelta(days=31) <= AS_OF


def test_coverage_leaves_out_births_younger_than_the_deadline(
    reported: tuple[Path, Recon, dict[str, Any]],
) -> None:
    _, recon, data = reported
    summary = {s["feed"]: s for s in data["completeness"]["summary"]}
    for feed, days in (("pop", 120), ("police", 90)):
        cutoff = (AS_OF - timedelta(days=days)).isoformat()
        (due, held) = recon.query(
            f"SELECT count(*), count({feed}_{'record_id' if feed == 'pop' else 'id_number'}) "
            f"FROM births WHERE outcome = '活产' AND birth_date <= DATE '{cutoff}' "
            "AND (hosp_delivery_id IS NOT NULL OR police_id_number IS NOT NULL)"
        )[0]
        assert (summary[feed]["due"], summary[feed]["held"]) == (due, held)
        assert 0.8 < summary[feed]["coverage"] < 1.0


def test_a_collapsing_feed_is_flagged_in_the_history(
    reported: tuple[Path, Recon, dict[str, Any]], tmp_path: Path
) -> None:
    root, _, _ = reported
    recon = Recon(tmp_path)
    inbox = tmp_path / "inbox"
    shutil.copytree(root / "inbox", inbox)
    police = inbox / "police_births.csv"
    with police.open(encoding="utf-8-sig", newline="") as handle:
        header, *records = list(csv.reader(handle))
    # Three nights of the usual extract (a few rows fewer each night), then a collapse.
    for night, keep in enumerate((len(records), len(records) - 2, len(records) - 5, 40)):
        with police.open("w", encoding="utf-8-sig", newline="") as handle:
            csv.writer(handle).writerows([header, *records[:keep]])
        assert recon.run(inbox, as_of=AS_OF + timedelta(days=night)).exit_code == 0
    assert recon("report", "--db", str(recon.db), "--out", str(tmp_path / "r")).exit_code == 0
    data = json.loads((tmp_path / "r" / "metrics.json").read_text(encoding="utf-8"))
    flagged = {(s["metric"], s["scope"]) for s in data["history"]["flagged"]}
    assert ("rows_read", "police") in flagged
    assert not any(scope == "pop" for _, scope in flagged)  # pop sent nothing new
    # Coverage and the like wobble a little as the as-of date moves: not a departure.
    ingest = {"rows_read", "rows_accepted", "rows_quarantined", "quarantine_share"}
    assert {metric for metric, _ in flagged} <= ingest
    police_rows = next(
        s for s in data["history"]["series"] if (s["metric"], s["scope"]) == ("rows_read", "police")
    )
    assert police_rows["previous_runs"] == 3
    html = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert "本次运行有" in html and "明显偏离以往" in html


def test_report_needs_a_store(tmp_path: Path) -> None:
    recon = Recon(tmp_path)
    result = recon("report", "--db", str(recon.db), "--out", str(tmp_path / "r"))
    assert result.exit_code == 2
    assert "recon run" in result.output


def test_a_birth_of_unknown_date_counts_in_the_totals_only(inbox: Path, tmp_path: Path) -> None:
    from conftest import AS_OF as SMALL_AS_OF
    from conftest import MOTHER_ID_2, id_with_check, police_row, pop_row, write_csv

    # A birth dated after the as-of date: its date cannot vote, so the
    # consensus has no date; the run and the report must still stand.
    later = pop_row(
        记录编号="P0002", 姓名="王芳", 性别="女", 出生日期="2025-02-01",
        公民身份号码=id_with_check("42060720250201002"), 母亲姓名="赵敏",
        母亲公民身份号码=MOTHER_ID_2,
    )  # fmt: skip
    police = police_row(
        公民身份号码=later["公民身份号码"], 姓名="王芳", 性别="女", 出生日期="2025-02-01",
        出生医学证明编号="", 母亲姓名="赵敏", 母亲公民身份号码=MOTHER_ID_2, 户号="H000999",
    )  # fmt: skip
    write_csv(inbox / "pop_births.csv", [pop_row(), later])
    write_csv(inbox / "police_births.csv", [police_row(), police])
    recon = Recon(tmp_path)
    assert recon.run(inbox, as_of=SMALL_AS_OF).exit_code == 0
    assert recon.query("SELECT count(*) FROM births WHERE birth_date IS NULL") == [(1,)]
    assert recon("report", "--db", str(recon.db), "--out", str(tmp_path / "r")).exit_code == 0
    data = json.loads((tmp_path / "r" / "metrics.json").read_text(encoding="utf-8"))
    keys = [(r["township"], r["year"], r["feed"]) for r in data["sex_ratio"]["rows"]]
    assert len(keys) == len(set(keys))
