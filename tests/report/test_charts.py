"""Inline SVG charts: well-formed, self-contained, escaped, flags marked, missing values skipped."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest

from recon.report import charts

NS = "{http://www.w3.org/2000/svg}"
TITLE = "标题 <测试> & 图"
LABEL = "镇<&>甲"
NAN = float("nan")


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def elements(svg: str, tag: str) -> list[ET.Element]:
    return list(parse(svg).iter(NS + tag))


def classes(el: ET.Element) -> set[str]:
    return set(el.get("class", "").split())


def texts(svg: str) -> list[str]:
    return [t.text or "" for t in elements(svg, "text")]


def tip(el: ET.Element) -> str:
    child = el.find(NS + "title")
    return "" if child is None else child.text or ""


SAMPLES: dict[str, Callable[[], str]] = {
    "bar": lambda: charts.bar_chart(TITLE, [(LABEL, 1234.0), ("乙镇", 20.0)], unit="人"),
    "grouped": lambda: charts.grouped_bar_chart(
        TITLE, [LABEL, "卫健委"], {"读入": [100, 80], "接受": [90, 70], "隔离": [10, 10]}
    ),
    "line": lambda: charts.line_chart(
        TITLE, [LABEL, "第2次", "第3次"], {"重复率": [1.5, 2.0, 9.0]}
    ),
    "histogram": lambda: charts.histogram(
        TITLE, [(0, 30, 50), (30, 60, 20), (60, 150, 3)], marker=120, marker_label=LABEL
    ),
    "forest": lambda: charts.forest_plot(TITLE, [(LABEL, 105.0, 101.0, 109.0, False)]),
}

EMPTY: dict[str, Callable[[], str]] = {
    "bar": lambda: charts.bar_chart(TITLE, []),
    "bar-all-none": lambda: charts.bar_chart(TITLE, [("a", None), ("b", NAN)]),
    "grouped": lambda: charts.grouped_bar_chart(TITLE, [], {}),
    "grouped-all-none": lambda: charts.grouped_bar_chart(TITLE, ["a"], {"s": [None]}),
    "line": lambda: charts.line_chart(TITLE, [], {}),
    "line-all-none": lambda: charts.line_chart(TITLE, ["a", "b"], {"s": [None, NAN]}),
    "histogram": lambda: charts.histogram(TITLE, []),
    "histogram-nan": lambda: charts.histogram(TITLE, [(NAN, 1.0, 3)]),
    "forest": lambda: charts.forest_plot(TITLE, []),
}


def assert_self_contained(svg: str) -> None:
    assert svg.startswith("<svg")
    assert 'xmlns="http://www.w3.org/2000/svg"' in svg
    root = parse(svg)
    assert root.tag == NS + "svg"
    assert root.get("viewBox") and root.get("role") == "img"
    assert root.get("aria-label") == TITLE
    heading = root.find(NS + "title")
    assert heading is not None and heading.text == TITLE
    lowered = svg.lower().replace('xmlns="http://www.w3.org/2000/svg"', "")
    for banned in ("http", "href", "url(", "<script", "@import", "<foreignobject", "<image"):
        assert banned not in lowered, banned


@pytest.mark.parametrize("kind", SAMPLES)
def test_well_formed_self_contained_and_escaped(kind: str) -> None:
    svg = SAMPLES[kind]()
    assert_self_contained(svg)
    assert "标题 &lt;测试&gt; &amp; 图" in svg
    assert "镇&lt;&amp;&gt;甲" in svg
    assert "<&>" not in svg and "<测试>" not in svg
    assert LABEL in texts(svg)
    assert charts.NO_DATA not in svg


@pytest.mark.parametrize("kind", EMPTY)
def test_empty_input_says_no_data(kind: str) -> None:
    svg = EMPTY[kind]()
    assert_self_contained(svg)
    assert charts.NO_DATA in texts(svg)
    assert not elements(svg, "rect") and not elements(svg, "circle")


def test_bar_lengths_proportional_to_values() -> None:
    svg = charts.bar_chart("t", [("十", 10), ("二十", 20)])
    bars = [r for r in elements(svg, "rect") if "bar" in classes(r)]
    widths = {tip(r).split(":")[0]: float(r.get("width", "0")) for r in bars}
    assert widths["二十"] / widths["十"] == pytest.approx(2, rel=1e-3)
    # both bars start at the zero line
    assert len({r.get("x") for r in bars}) == 1


def test_bar_highlight_red_and_flagged_only_there() -> None:
    svg = charts.bar_chart("乡镇排名", [("甲镇", 5), ("乙镇", 7), ("丙镇", 3)], highlight={"乙镇"})
    bars = [r for r in elements(svg, "rect") if "bar" in classes(r)]
    flagged = [r for r in bars if "flag" in classes(r)]
    assert [tip(r) for r in flagged] == ["乙镇: 7"]
    assert flagged[0].get("fill") == charts.RED
    assert all(r.get("fill") != charts.RED for r in bars if r not in flagged)
    red_text = [t.text for t in elements(svg, "text") if t.get("fill") == charts.RED]
    assert set(red_text) == {"乙镇", "7"}
    assert all("flag" in classes(t) for t in elements(svg, "text") if t.get("fill") == charts.RED)


def test_bar_counts_have_thousands_separators_and_unit() -> None:
    svg = charts.bar_chart("t", [("a", 1234567)], unit="例")
    assert "1,234,567例" in texts(svg)


def test_bar_skips_none_and_nan() -> None:
    svg = charts.bar_chart("t", [("a", None), ("b", NAN), ("c", 3.0)])
    bars = [r for r in elements(svg, "rect") if "bar" in classes(r)]
    assert [tip(r) for r in bars] == ["c: 3"]
    assert "a" not in texts(svg) and "b" not in texts(svg)


def test_grouped_bars_legend_and_none_skipped() -> None:
    svg = charts.grouped_bar_chart(
        "各数据源行数", ["卫健委", "公安"], {"读入": [1000, None], "接受": [900, NAN]}
    )
    assert_self_contained_no_title(svg)
    bars = [r for r in elements(svg, "rect") if "bar" in classes(r)]
    assert len(bars) == 2
    assert {"读入", "接受", "卫健委", "公安"} <= set(texts(svg))
    assert "1,000" in tip(bars[0])
    heights = sorted(float(r.get("height", "0")) for r in bars)
    assert heights[1] / heights[0] == pytest.approx(1000 / 900, rel=1e-3)


def assert_self_contained_no_title(svg: str) -> None:
    parse(svg)
    lowered = svg.lower().replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "http" not in lowered and "href" not in lowered and "url(" not in lowered


def test_line_chart_flags_only_the_flagged_points() -> None:
    svg = charts.line_chart(
        "指标历史",
        ["1", "2", "3", "4"],
        {"重复率": [1.0, 1.1, 5.0, 1.2], "缺失率": [2.0, 2.0, 2.0, 2.0]},
        flagged={("重复率", 2)},
    )
    circles = elements(svg, "circle")
    assert len(circles) == 8
    flagged = [c for c in circles if "flag" in classes(c)]
    assert len(flagged) == 1 and flagged[0].get("fill") == charts.RED
    assert tip(flagged[0]) == "重复率 · 3: 5"
    assert float(flagged[0].get("r", "0")) > float(circles[0].get("r", "0"))
    assert all(c.get("fill") != charts.RED for c in circles if c is not flagged[0])


def test_line_chart_single_point_and_gaps() -> None:
    one = charts.line_chart("t", ["第1次"], {"s": [3.0]}, flagged={("s", 0)})
    assert_self_contained_no_title(one)
    assert len(elements(one, "circle")) == 1 and not elements(one, "polyline")
    assert "flag" in classes(elements(one, "circle")[0])
    gappy = charts.line_chart("t", list("abcde"), {"s": [1.0, 2.0, None, 3.0, 4.0]})
    assert len(elements(gappy, "circle")) == 4
    assert len(elements(gappy, "polyline")) == 2  # the gap breaks the line


def test_histogram_bins_and_marker() -> None:
    svg = charts.histogram(
        "登记时长",
        [(0, 30, 400), (30, 60, 200), (60, 90, None), (90, 150, 20)],  # type: ignore[list-item]
        marker=120,
        marker_label="120 天期限",
        unit="天",
    )
    bars = [r for r in elements(svg, "rect") if "bar" in classes(r)]
    assert len(bars) == 3
    assert float(bars[0].get("height", "0")) / float(bars[1].get("height", "0")) == pytest.approx(2)
    # bin widths follow the bin edges: 30 vs 60
    assert float(bars[2].get("width", "0")) / float(bars[0].get("width", "0")) == pytest.approx(2)
    lines = [ln for ln in elements(svg, "line") if "marker" in classes(ln)]
    assert len(lines) == 1 and lines[0].get("stroke-dasharray")
    assert "120 天期限" in texts(svg)
    no_marker = charts.histogram("t", [(0, 1, 1)])
    assert not [ln for ln in elements(no_marker, "line") if "marker" in classes(ln)]


def test_forest_plot_rows_band_flags_and_missing() -> None:
    rows = [
        ("甲镇", 105.0, 101.0, 109.0, False),
        ("乙镇", 118.0, 110.0, 126.0, True),
        ("丙镇", None, None, None, False),
        ("丁镇", 104.0, None, None, False),
        ("戊镇", NAN, 1.0, 2.0, False),
    ]
    svg = charts.forest_plot("出生性别比", rows)
    assert_self_contained_no_title(svg)
    circles = elements(svg, "circle")
    assert len(circles) == 3  # 丙镇 and 戊镇 have no estimate
    flagged = [el for el in parse(svg).iter() if "flag" in classes(el)]
    assert flagged and all(el.get("fill", el.get("stroke")) == charts.RED for el in flagged)
    assert {tip(c) for c in circles if "flag" in classes(c)} == {"乙镇: 118.0 (110.0–126.0)"}
    assert [t.text for t in elements(svg, "text") if "flag" in classes(t)] == [
        "乙镇",
        "118.0 (110.0–126.0)",
    ]
    assert texts(svg).count("—") == 2
    assert "丙镇" in texts(svg) and "戊镇" in texts(svg)
    assert len([ln for ln in elements(svg, "line") if "grid" not in classes(ln)]) == 2
    band = [r for r in elements(svg, "rect") if classes(r) == {"band"}]
    assert len(band) == 1 and "正常范围 103–107" in texts(svg)
    # the band spans 103..107 on the same scale as the points: 105 sits in its middle
    mid = float(band[0].get("x", "0")) + float(band[0].get("width", "0")) / 2
    assert float(circles[0].get("cx", "0")) == pytest.approx(mid, abs=0.02)


def test_forest_plot_height_grows_and_band_optional() -> None:
    def height(svg: str) -> float:
        return float(parse(svg).get("viewBox", "").split()[3])

    few = charts.forest_plot("t", [(f"镇{i}", 105.0, 100.0, 110.0, False) for i in range(3)])
    many = charts.forest_plot("t", [(f"镇{i}", 105.0, 100.0, 110.0, i == 7) for i in range(30)])
    assert height(many) > height(few)
    assert len([c for c in elements(many, "circle") if "flag" in classes(c)]) == 1
    nob = charts.forest_plot("t", [("a", 1.0, 0.5, 1.5, False)], band=None)
    assert not [r for r in elements(nob, "rect") if "band" in classes(r)]
    ticks = [t.text for t in elements(nob, "text") if "tick" in classes(t)]
    assert len(ticks) >= 2


def test_no_data_is_small_and_colours_inline() -> None:
    svg = charts.bar_chart(TITLE, [])
    assert float(parse(svg).get("viewBox", "").split()[3]) <= 100
    for el in parse(SAMPLES["grouped"]()).iter(NS + "rect"):
        assert el.get("fill"), "colours must be inline so the chart renders without CSS"
    assert not re.search(r"font-family=\"(?!inherit)", SAMPLES["bar"]())
