"""The report's first section, the squeezed figures (挤干水分), on stores built by the CLI.

A hand-made store with known fictitious, duplicate, missing and misreported records in two
townships gives exact verified counts before and after apply; a generated store shows the
section leads the page and every item needing attention links into it.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Sequence
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from conftest import Recon, hosp_row, id_with_check, police_row, pop_row, write_csv, write_divisions

from recon_sim.generate import generate

AS_OF = date(2024, 12, 31)
ZHANGWAN, LIUJI = "420607101000", "420607102000"  # 张湾街道, 刘集镇 (conftest DIVISIONS)
VILLAGE = {ZHANGWAN: "420607101203", LIUJI: "420607102001"}


def _birth(
    rows: dict[str, list[dict[str, Any]]],
    n: int,
    township: str,
    born: str,
    sex: str,
    *,
    pop: bool = True,
    hosp: bool = True,
    police: bool = True,
    pop_sex: str | None = None,
    reported: str = "2024-06-01",
) -> dict[str, Any]:
    """One birth in the feeds that hold it; its register row is returned."""
    sequence = 2 * n + (1 if sex == "男" else 0)  # the id's sequence is odd for a boy
    child = id_with_check(f"420607{born.replace('-', '')}{sequence:03d}")
    mother = id_with_check(f"42062119{90 + n}0101{sequence:03d}")
    village, mother_name = VILLAGE[township], f"李娜{n}"
    name = f"张{n}{'伟' if sex == '男' else '芳'}"
    certificate = f"Q42001{n:04d}"
    register = pop_row(
        记录编号=f"P{n:04d}", 姓名=name, 性别=pop_sex or sex, 出生日期=born, 公民身份号码=child,
        母亲姓名=mother_name, 母亲公民身份号码=mother, 居住地区划代码=village, 上报日期=reported,
    )  # fmt: skip
    if pop:
        rows["pop"].append(register)
    if hosp:
        rows["hosp"].append(hosp_row(
            登记编号=f"H{n:04d}", 产妇姓名=mother_name, 产妇公民身份号码=mother,
            分娩时间=f"{born} 08:30", 新生儿性别=sex, 出生医学证明编号=certificate,
            产妇户籍地区划代码=village, 登记日期=born,
        ))  # fmt: skip
    if police:
        rows["police"].append(police_row(
            公民身份号码=child, 姓名=name, 性别=sex, 出生日期=born, 出生医学证明编号=certificate,
            母亲姓名=mother_name, 母亲公民身份号码=mother, 户号=f"H{n:06d}",
            户籍地区划代码=village, 登记日期="2024-07-01",
        ))  # fmt: skip
    return register


def feeds(folder: Path, extra_pop: Sequence[dict[str, Any]] = ()) -> tuple[Path, dict[str, Any]]:
    """Two townships' feeds as of 2024-12-31 (the register's deadline: 120 days).

    张湾街道: 5 register records: P0001 right; P0002 its sex wrong (女 for a boy) and entered
    173 days after the birth; P0003 fictitious; P0004 right and P0104 its duplicate entered
    later; birth 5 missing from the register (hospital and police hold it).
    刘集镇: 3 register records: P0006, P0007 right; P0008 fictitious and entered 134 days
    after the birth; birth 9 missing (the hospital alone holds it), its register row returned.
    """
    rows: dict[str, list[dict[str, Any]]] = {"pop": [], "hosp": [], "police": []}
    _birth(rows, 1, ZHANGWAN, "2024-03-05", "男", reported="2024-04-01")
    _birth(rows, 2, ZHANGWAN, "2024-03-10", "男", pop_sex="女", reported="2024-08-30")
    _birth(rows, 3, ZHANGWAN, "2024-04-02", "女", hosp=False, police=False, reported="2024-05-01")
    kept = _birth(rows, 4, ZHANGWAN, "2024-04-12", "女", reported="2024-05-01")
    rows["pop"].append({**kept, "记录编号": "P0104", "上报日期": "2024-07-01"})
    _birth(rows, 5, ZHANGWAN, "2024-05-02", "女", pop=False)
    _birth(rows, 6, LIUJI, "2024-03-15", "男", reported="2024-04-01")
    _birth(rows, 7, LIUJI, "2024-03-20", "女", reported="2024-04-02")
    _birth(rows, 8, LIUJI, "2024-04-20", "男", hosp=False, police=False, reported="2024-09-01")
    nine = _birth(rows, 9, LIUJI, "2024-05-20", "女", pop=False, police=False)
    folder.mkdir(exist_ok=True)
    write_csv(folder / "pop_births.csv", rows["pop"] + list(extra_pop))
    write_csv(folder / "hosp_deliveries.csv", rows["hosp"])
    write_csv(folder / "police_births.csv", rows["police"])
    write_divisions(folder)
    return folder, nine


def report(recon: Recon, out: Path) -> tuple[dict[str, Any], str]:
    result = recon("report", "--db", str(recon.db), "--out", str(out))
    assert result.exit_code == 0, result.output
    data = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    return data, (out / "report.html").read_text(encoding="utf-8")


def case_id(recon: Recon, category: str, target: str, **where: str) -> str:
    clause = "".join(f" AND {column} = '{value}'" for column, value in where.items())
    (found,) = recon.query(
        f"SELECT case_id FROM cases WHERE category = '{category}' "
        f"AND target_system = '{target}'{clause}"
    )
    return str(found[0])


def sign(recon: Recon, folder: Path, decisions: dict[str, str | None]) -> None:
    """Export the worklist as CSV, sign the given cases and import it.

    decisions: case_id -> None for six 同意, or the first signer's reason for 不同意.
    CSV, not the workbook: its columns are the contract's, whatever the printable form.
    """
    sheet = folder / "worklist.csv"
    result = recon("worklist", "export", "--db", str(recon.db), "--format", "csv",
                   "--out", str(sheet))  # fmt: skip
    assert result.exit_code == 0, result.output
    with sheet.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert set(decisions) <= {r["case_id"] for r in rows}
    for row in rows:
        if row["case_id"] not in decisions:
            continue
        reason = decisions[row["case_id"]]
        for n in range(1, 7 if reason is None else 2):
            row[f"sig{n}_name"] = f"签字人{n}"
            row[f"sig{n}_date"] = date(2025, 1, n).isoformat()
            row[f"sig{n}_decision"] = "同意" if reason is None else "不同意"
            row[f"sig{n}_reason"] = reason or ""
    with sheet.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    result = recon("worklist", "import", str(sheet), "--db", str(recon.db))
    assert result.exit_code == 0, result.output
    assert "问题 0" in result.output, result.output


Row = dict[str, Any]


def rows_of(data: dict[str, Any]) -> dict[str | None, Row]:
    squeeze = data["squeeze"]
    return {None: squeeze["county"], **{r["township"]: r for r in squeeze["townships"]}}


def verified(row: Row, scope: str) -> tuple[int, int, int, int, int]:
    v = row[scope]
    return row["reported"], v["fictitious"], v["duplicate"], v["missing"], v["verified"]


def sexes(row: Row) -> dict[str, tuple[int, int]]:
    return {scope: (x["boys"], x["girls"]) for scope, x in row["srb"].items()}


def shares(row: Row) -> tuple[tuple[int, int, int | None], tuple[int, int, int | None]]:
    a, t = row["accuracy"], row["timeliness"]
    return (a["count"], a["records"], a["rank"]), (t["count"], t["records"], t["rank"])


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The reports of the first night, after signing and apply, and of two later nights."""
    root = tmp_path_factory.mktemp("squeeze")
    recon = Recon(root)
    inbox, nine = feeds(root / "inbox")
    assert recon.run(inbox, as_of=AS_OF).exit_code == 0
    out: dict[str, Any] = {"recon": recon, "first": report(recon, root / "r1")}

    sign(recon, root, {
        case_id(recon, "fictitious", "pop", pop_record_id="P0003"): None,
        case_id(recon, "duplicate", "pop", pop_record_id="P0104"): None,
        case_id(recon, "misreported", "pop", pop_record_id="P0002", field="sex"): None,
        case_id(recon, "missing", "pop", hosp_delivery_id="H0009"): None,
        case_id(recon, "fictitious", "pop", pop_record_id="P0008"): "入户核实，孩子在家",
    })  # fmt: skip
    result = recon("apply", "--db", str(recon.db), "--out", str(recon.out))
    assert result.exit_code == 0, result.output
    out["applied"] = report(recon, root / "r2")

    assert recon.run(inbox, as_of=AS_OF).exit_code == 0  # the same night again
    out["again"] = report(recon, root / "r3")

    # The register catches up with birth 9, whose missing case was applied.
    later, _ = feeds(root / "inbox2", extra_pop=[{**nine, "上报日期": "2024-12-20"}])
    assert recon.run(later, as_of=AS_OF).exit_code == 0
    out["caught_up"] = report(recon, root / "r4")
    return out


def test_verified_births_as_the_night_found_them(nights: dict[str, Any]) -> None:
    rows = rows_of(nights["first"][0])
    # reported, − fictitious, − duplicate, + missing, = verified
    assert verified(rows[ZHANGWAN], "night") == (5, 1, 1, 1, 4)
    assert verified(rows[LIUJI], "night") == (3, 1, 0, 1, 3)
    assert verified(rows[None], "night") == (8, 2, 1, 2, 7)
    # Nothing applied yet: the corrected figures are the reported ones.
    for row in rows.values():
        assert verified(row, "corrected")[1:] == (0, 0, 0, row["reported"])
        assert row["applied"] == 0
    assert rows[None]["name"] == "全区（县）"
    assert (rows[ZHANGWAN]["name"], rows[LIUJI]["name"]) == ("张湾街道", "刘集镇")
    assert list(rows) == [None, ZHANGWAN, LIUJI]  # the county, then by township code
    assert nights["first"][0]["squeeze"]["applied"]["total"] == 0


def test_the_registers_sex_ratio_reported_and_verified(nights: dict[str, Any]) -> None:
    rows = rows_of(nights["first"][0])
    # 张湾街道 reports 1 boy and 4 girls (P0002's boy as a girl, the fictitious P0003 and
    # the duplicate P0104 girls); verified: P0001, P0002 (a boy), P0004, and birth 5 (a girl).
    assert sexes(rows[ZHANGWAN]) == {"reported": (1, 4), "night": (2, 2), "corrected": (1, 4)}
    # 刘集镇 reports P0006 and the fictitious P0008 (boys), P0007; verified adds birth 9.
    assert sexes(rows[LIUJI]) == {"reported": (2, 1), "night": (1, 2), "corrected": (2, 1)}
    assert sexes(rows[None]) == {"reported": (3, 5), "night": (3, 4), "corrected": (3, 5)}
    night = rows[None]["srb"]["night"]
    half = 1.96 * math.sqrt(1 / 3 + 1 / 4)
    assert night["ratio"] == pytest.approx(75.0)
    assert night["lower"] == pytest.approx(100 * math.exp(math.log(3 / 4) - half), abs=0.01)
    assert night["upper"] == pytest.approx(100 * math.exp(math.log(3 / 4) + half), abs=0.01)
    assert night["flag"] is None  # seven births prove nothing


def test_accuracy_and_timeliness_of_reporting(nights: dict[str, Any]) -> None:
    rows = rows_of(nights["first"][0])
    # (records with no case, records, rank), (entered within 120 days, records, rank)
    assert shares(rows[ZHANGWAN]) == ((2, 5, 2), (4, 5, 1))
    assert shares(rows[LIUJI]) == ((2, 3, 1), (2, 3, 2))
    assert shares(rows[None]) == ((4, 8, None), (6, 8, None))
    assert rows[ZHANGWAN]["accuracy"]["share"] == 0.4
    assert rows[LIUJI]["timeliness"]["share"] == pytest.approx(2 / 3, abs=1e-4)


def test_the_months_ranking_counts_the_records_reported_in_it(nights: dict[str, Any]) -> None:
    """一月一排名: the as-of month (December 2024) holds no report on the first night; once
    the register enters birth 9 on 2024-12-20 (214 days after it), 刘集镇's month is one
    record, accurate but late, and 张湾街道 reported nothing to rank."""
    first = rows_of(nights["first"][0])
    assert first[LIUJI]["accuracy_month"]["records"] == 0
    assert first[LIUJI]["accuracy_month"]["rank"] is None
    data = nights["caught_up"][0]["squeeze"]
    assert data["month"] == {"from": "2024-12-01", "to": "2024-12-31"}
    rows = rows_of(nights["caught_up"][0])
    month = rows[LIUJI]["accuracy_month"], rows[LIUJI]["timeliness_month"]
    assert [(m["count"], m["records"], m["rank"]) for m in month] == [(1, 1, 1), (0, 1, 1)]
    assert rows[ZHANGWAN]["accuracy_month"] == {
        "count": 0, "records": 0, "share": None, "rank": None,
    }  # fmt: skip
    assert rows[None]["timeliness_month"]["records"] == 1
    assert "本月（2024-12-01 至 2024-12-31 上报）" in nights["caught_up"][1]


def test_after_apply_the_corrected_figures_count_applied_cases_only(
    nights: dict[str, Any],
) -> None:
    rows = rows_of(nights["applied"][0])
    # The night's figures keep applied cases and drop the rejected one (P0008 is a child).
    assert verified(rows[ZHANGWAN], "night") == (5, 1, 1, 1, 4)
    assert verified(rows[LIUJI], "night") == (3, 0, 0, 1, 4)
    assert verified(rows[None], "night") == (8, 1, 1, 2, 8)
    # Applied: P0003 and P0104 removed from 张湾街道, birth 9 added to 刘集镇; birth 5 is not.
    assert verified(rows[ZHANGWAN], "corrected") == (5, 1, 1, 0, 3)
    assert verified(rows[LIUJI], "corrected") == (3, 0, 0, 1, 4)
    assert verified(rows[None], "corrected") == (8, 1, 1, 1, 7)
    # P0002's sex applied: 张湾街道 keeps P0001, P0002 (boys) and P0004.
    assert sexes(rows[ZHANGWAN])["corrected"] == (2, 1)
    assert sexes(rows[LIUJI])["corrected"] == (2, 2)
    # An applied case was still a wrong report; the rejected one was not.
    assert shares(rows[ZHANGWAN])[0] == (2, 5, 2)
    assert shares(rows[LIUJI])[0] == (3, 3, 1)
    assert (rows[ZHANGWAN]["applied"], rows[LIUJI]["applied"], rows[None]["applied"]) == (3, 1, 4)
    applied = nights["applied"][0]["squeeze"]["applied"]
    assert applied["total"] == 4
    assert {c["category"]: c["corrections"] for c in applied["by_category"]} == {
        "missing": 1, "misreported": 1, "fictitious": 1, "duplicate": 1,
    }  # fmt: skip
    assert [(t["target"], t["corrections"]) for t in applied["by_target"]] == [("pop", 4)]
    assert "3,744" in applied["by_hand"]
    html = nights["applied"][1]
    assert "3,744" in html and "襄阳区" in html


def test_the_figures_hold_on_later_nights(nights: dict[str, Any]) -> None:
    assert nights["again"][0]["squeeze"] == nights["applied"][0]["squeeze"]
    # The register now carries birth 9: reported once, not added again by its applied case.
    rows = rows_of(nights["caught_up"][0])
    assert verified(rows[LIUJI], "corrected") == (4, 0, 0, 0, 4)
    assert verified(rows[LIUJI], "night") == (4, 0, 0, 0, 4)
    assert verified(rows[None], "corrected") == (9, 1, 1, 0, 7)
    assert sexes(rows[LIUJI])["corrected"] == (2, 2)


class Page(HTMLParser):
    """The h2 sections in order, every id, and every in-page link with its text."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.ids: list[str] = []
        self.links: list[str] = []
        self._in_attention = False
        self.attention_links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.append(str(a["id"]))
        if tag == "h2":
            self.sections.append(str(a.get("id")))
        if tag == "ol" and a.get("class") == "attention":
            self._in_attention = True
        if tag == "a" and str(a.get("href", "")).startswith("#"):
            self.links.append(str(a["href"])[1:])
            if self._in_attention:
                self.attention_links.append(str(a["href"])[1:])

    def handle_endtag(self, tag: str) -> None:
        if tag == "ol":
            self._in_attention = False


def test_the_section_comes_first_in_the_small_store(nights: dict[str, Any]) -> None:
    page = Page()
    page.feed(nights["applied"][1])
    assert page.sections[:2] == ["squeeze", "feeds"]
    assert page.links[0] == "squeeze"  # first in the contents too
    for label in (
        "挤干水分",
        "核实出生数",
        "出生上报准确率",
        "上报及时率",
        "已应用的更正",
        "需关注",
    ):
        assert label in nights["applied"][1]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Recon, dict[str, Any], str, str]:
    root = tmp_path_factory.mktemp("squeeze-generated")
    generate(3000, 5, root / "inbox", as_of=date(2026, 10, 31))
    (root / "inbox" / "truth").rename(root / "truth")
    recon = Recon(root)
    assert recon.run(root / "inbox", as_of=date(2026, 10, 31)).exit_code == 0
    result = recon("report", "--db", str(recon.db), "--out", str(root / "report"))
    assert result.exit_code == 0, result.output
    data = json.loads((root / "report" / "metrics.json").read_text(encoding="utf-8"))
    html = (root / "report" / "report.html").read_text(encoding="utf-8")
    return recon, data, html, result.output


def test_every_item_needing_attention_links_into_the_report(
    generated: tuple[Recon, dict[str, Any], str, str],
) -> None:
    _, data, html, output = generated
    page = Page()
    page.feed(html)
    assert page.sections[0] == "squeeze"
    assert len(page.ids) == len(set(page.ids))
    attention = data["attention"]
    printed = re.search(r"需关注\s*(\d+)\s*项", output)
    assert printed is not None and int(printed.group(1)) == attention["count"]
    assert attention["count"] == len(attention["entries"]) > 0
    anchors = [e["anchor"] for e in attention["entries"]]
    assert page.attention_links == anchors
    assert set(anchors) <= set(page.ids)
    # Each anchor sits in the section that shows the item, after the first section.
    sections = {"srb": "srb", "red_warning": "completeness", "history": "history"}
    for entry in attention["entries"]:
        at = html.index(f'id="{entry["anchor"]}"')
        assert html.rindex("<h2 ", 0, at) == html.index(f'<h2 id="{sections[entry["kind"]]}"')
    # Every in-page link of the whole page lands somewhere.
    assert set(page.links) <= set(page.ids)


def test_the_generated_figures_add_up(generated: tuple[Recon, dict[str, Any], str, str]) -> None:
    recon, data, _, _ = generated
    squeeze = data["squeeze"]
    county, townships = squeeze["county"], squeeze["townships"]
    assert county["reported"] == sum(t["reported"] for t in townships)
    for scope in ("night", "corrected"):
        for key in ("fictitious", "duplicate", "missing", "verified"):
            assert county[scope][key] == sum(t[scope][key] for t in townships)
    ((records,),) = recon.query("SELECT count(*) FROM pop")
    assert county["reported"] == records
    ((fictitious, duplicate, missing),) = recon.query(
        "SELECT count(*) FILTER (WHERE category = 'fictitious'), "
        "count(*) FILTER (WHERE category = 'duplicate'), "
        "count(*) FILTER (WHERE category = 'missing') "
        "FROM cases WHERE target_system = 'pop' AND closed_run IS NULL AND status <> 'rejected'"
    )
    assert (county["night"]["fictitious"], county["night"]["duplicate"]) == (fictitious, duplicate)
    assert county["night"]["missing"] == missing
    assert county["accuracy"]["records"] == county["timeliness"]["records"] == records
    ranks = sorted(t["accuracy"]["rank"] for t in townships)
    assert ranks[0] == 1 and len(ranks) == len(townships)
