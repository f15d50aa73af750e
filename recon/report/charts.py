"""Charts for the auditors' HTML report, as inline SVG strings.

Hand-written on purpose: the report needs only a handful of simple chart kinds, drawn as inline
SVG that inherits the page's fonts (Chinese labels) and CSS and opens on an offline machine.
matplotlib would add tens of MB of dependencies and emit SVG whose text needs its own font setup.

Every function returns one ``<svg>`` element: no scripts, no links, no external references; all
text is escaped. Colours are set inline so a chart renders without CSS, and classes (``bar``,
``flag``, ``band``, ``marker``...) let the page's CSS restyle it. Missing values (None, NaN) are
skipped; no data at all gives a small chart saying 无数据.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape
from typing import TypeGuard

RED = "#c0392b"
INK = "#333333"
GRID = "#dddddd"
BAND = "#dff0df"
PALETTE = ("#4a7ab5", "#e69f00", "#009e73", "#7f7f7f", "#56b4e9", "#cc79a7", "#8c564b")
NO_DATA = "无数据"
TOP = 34.0  # below the chart title

Scale = Callable[[float], float]


def _ok(v: float | None) -> TypeGuard[float]:
    return v is not None and math.isfinite(v)


def _num(v: float) -> str:
    """Thousands separators; whole numbers without decimals, others to at most two."""
    if float(v).is_integer():
        return f"{int(v):,}"
    return f"{v:,.2f}".rstrip("0").rstrip(".")


def _f(x: float) -> str:
    """A coordinate, short."""
    return f"{x:.2f}".rstrip("0").rstrip(".")


def _tw(text: str, size: float) -> float:
    """Rough rendered width: CJK characters a full em, others about 0.6 em."""
    return sum(size if ord(c) > 0x2E7F else 0.6 * size for c in text)


def _el(tag: str, content: str = "", /, **attrs: object) -> str:
    """One element; ``class_`` → class, ``stroke_width`` → stroke-width; content is escaped."""
    values = {
        k.rstrip("_").replace("_", "-"): _f(v) if isinstance(v, float) else str(v).strip()
        for k, v in attrs.items()
    }
    a = " ".join(f'{k}="{escape(v)}"' for k, v in values.items() if v)
    if tag == "text":
        return f"<text {a}>{escape(content)}</text>"
    return f"<{tag} {a}><title>{escape(content)}</title></{tag}>" if content else f"<{tag} {a}/>"


def _text(x: float, y: float, s: str, size: int = 12, anchor: str = "start", **kw: object) -> str:
    kw.setdefault("fill", INK)
    return _el("text", s, x=x, y=y, font_size=size, text_anchor=anchor, **kw)


def _rect(x: float, y: float, w: float, h: float, fill: str, cls: str, tip: str = "") -> str:
    return _el("rect", tip, x=x, y=y, width=w, height=h, fill=fill, class_=cls)


def _line(x1: float, y1: float, x2: float, y2: float, stroke: str, cls: str, **kw: object) -> str:
    return _el("line", x1=x1, y1=y1, x2=x2, y2=y2, stroke=stroke, class_=cls, **kw)


def _svg(title: str, w: float, h: float, parts: list[str], kind: str) -> str:
    t = escape(title)
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_f(w)} {_f(h)}" width="{_f(w)}" '
        f'height="{_f(h)}" role="img" aria-label="{t}" class="chart {kind}" font-family="inherit">'
    )
    heading = _text(w / 2, 20, title, 14, "middle", class_="chart-title", font_weight="bold")
    return "\n".join([head, f"<title>{t}</title>", heading, *parts, "</svg>"])


def _empty(title: str, width: float) -> str:
    note = _text(width / 2, 58, NO_DATA, 13, "middle", fill="#888888", class_="no-data")
    return _svg(title, width, 80, [note], "empty")


def _axis(lo: float, hi: float, n: int = 5) -> tuple[float, float, list[float]]:
    """Widen [lo, hi] to round numbers; return it with the ticks."""
    if not hi > lo:
        pad = abs(lo) * 0.05 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / n
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * (1 - 1e-9))
    first, last = math.floor(round(lo / step, 9)), math.ceil(round(hi / step, 9))
    ticks = [round(k * step, 10) for k in range(first, last + 1)]
    return ticks[0], ticks[-1], ticks


def _scale(d0: float, d1: float, r0: float, r1: float) -> Scale:
    return lambda v: r0 + (v - d0) / (d1 - d0) * (r1 - r0)


def _legend(names: Sequence[str], y: float, width: float) -> tuple[list[str], float]:
    """Colour swatches with names, wrapping; returns the parts and the height used."""
    parts, x, rows = [], 10.0, 1
    for i, name in enumerate(names):
        w = _tw(name, 12) + 30
        if x + w > width - 10 and x > 10:
            x, rows = 10.0, rows + 1
        yy = y + (rows - 1) * 18
        colour = PALETTE[i % len(PALETTE)]
        parts.append(_rect(x, yy - 10, 12, 12, colour, f"swatch series-{i}"))
        parts.append(_text(x + 16, yy, name, class_="legend"))
        x += w
    return parts, rows * 18.0


def _value_frame(
    ticks: list[float], top: float, width: float, unit: str
) -> tuple[list[str], float, float, Scale]:
    """Plot area with horizontal grid and y tick labels: parts, x0, x1 and the y scale."""
    x0, x1, bottom = max(_tw(_num(t), 11) for t in ticks) + 14, width - 12.0, top + 210
    y = _scale(ticks[0], ticks[-1], bottom, top)
    parts = [_text(4, top - 8, unit, 11, class_="unit")] if unit else []
    for t in ticks:
        parts.append(_line(x0, y(t), x1, y(t), GRID, "grid"))
        parts.append(_text(x0 - 6, y(t) + 4, _num(t), 11, "end", class_="tick"))
    return parts, x0, x1, y


def bar_chart(
    title: str,
    items: Sequence[tuple[str, float | None]],
    *,
    unit: str = "",
    highlight: set[str] | None = None,
    width: int = 640,
) -> str:
    """Horizontal bars, one per labelled item, value at the bar end; highlighted labels in red."""
    rows = [(str(label), float(v)) for label, v in items if _ok(v)]
    if not rows:
        return _empty(title, width)
    hl = highlight or set()
    label_w = min(max(_tw(lb, 12) for lb, _ in rows) + 8, width * 0.4)
    value_w = max(_tw(_num(v) + unit, 11) for _, v in rows) + 10
    x0 = label_w + 10
    lo, hi = min(0.0, *(v for _, v in rows)), max(0.0, *(v for _, v in rows))
    x = _scale(lo, hi if hi > lo else lo + 1, x0 + (value_w if lo < 0 else 0), width - value_w - 10)
    parts = []
    for i, (label, v) in enumerate(rows):
        y, flag = TOP + i * 24, label in hl
        fill, ink, cls = (RED, RED, " flag") if flag else (PALETTE[0], INK, "")
        left, right = sorted((x(0.0), x(v)))
        tip = f"{label}: {_num(v)}{unit}"
        parts.append(_rect(left, y + 4, right - left, 16, fill, "bar" + cls, tip))
        parts.append(_text(x0 - 6, y + 16, label, 12, "end", fill=ink, class_="label" + cls))
        vx, anchor = (right + 4, "start") if v >= 0 else (left - 4, "end")
        parts.append(_text(vx, y + 16, _num(v) + unit, 11, anchor, fill=ink, class_="value" + cls))
    return _svg(title, width, TOP + len(rows) * 24 + 10, parts, "bar-chart")


def grouped_bar_chart(
    title: str,
    categories: Sequence[str],
    series: dict[str, Sequence[float | None]],
    *,
    unit: str = "",
    width: int = 640,
) -> str:
    """Vertical bars grouped by category, one colour per series, with a legend."""
    names, n = list(series), len(categories)
    vals = [float(v) for s in series.values() for v in s[:n] if _ok(v)]
    if not n or not vals:
        return _empty(title, width)
    legend, leg_h = _legend(names, TOP + 6, width)
    lo, hi, ticks = _axis(min(0.0, *vals), max(0.0, *vals))
    parts, x0, x1, y = _value_frame(ticks, TOP + leg_h + 16, width, unit)
    bottom, zero = y(lo), y(min(max(0.0, lo), hi))
    group_w = (x1 - x0) / n
    bar_w = group_w * 0.8 / len(names)
    for c, cat in enumerate(categories):
        for s, name in enumerate(names):
            v = series[name][c] if c < len(series[name]) else None
            if _ok(v):
                bx, tip = x0 + (c + 0.1) * group_w + s * bar_w, f"{cat} · {name}: {_num(v)}{unit}"
                colour, cls = PALETTE[s % len(PALETTE)], f"bar series-{s}"
                parts.append(_rect(bx, min(y(v), zero), bar_w, abs(y(v) - zero), colour, cls, tip))
        cx = x0 + (c + 0.5) * group_w
        parts.append(_text(cx, bottom + 18, str(cat), 12, "middle", class_="label"))
    return _svg(title, width, bottom + 30, legend + parts, "grouped-bar-chart")


def line_chart(
    title: str,
    x_labels: Sequence[str],
    series: dict[str, Sequence[float | None]],
    *,
    flagged: set[tuple[str, int]] | None = None,
    unit: str = "",
    width: int = 640,
) -> str:
    """Lines with dots over runs; points in ``flagged`` (series, index) as larger red circles."""
    n, names, marks = len(x_labels), list(series), flagged or set()
    vals = [float(v) for s in series.values() for v in s[:n] if _ok(v)]
    if not n or not vals:
        return _empty(title, width)
    legend, leg_h = _legend(names, TOP + 6, width)
    lo, _, ticks = _axis(min(vals), max(vals))
    parts, x0, x1, y = _value_frame(ticks, TOP + leg_h + 16, width, unit)
    bottom = y(lo)
    widest = max(_tw(str(s), 11) for s in x_labels)
    pad = max(8.0, widest / 2 + 2)  # the first and last labels stay inside the chart
    x = (lambda i: (x0 + x1) / 2) if n == 1 else _scale(0, n - 1, x0 + pad, x1 - pad)
    every = math.ceil(n * (widest + 8) / (x1 - x0))
    for i, lab in enumerate(x_labels):
        if i % max(every, 1) == 0 or i == n - 1:
            parts.append(_text(x(i), bottom + 18, str(lab), 11, "middle", class_="label"))
    dots = []
    for s, name in enumerate(names):
        colour, run = PALETTE[s % len(PALETTE)], []
        for i, v in enumerate([*series[name][:n], None]):
            if _ok(v):
                run.append(f"{_f(x(i))},{_f(y(v))}")
                flag = (name, i) in marks
                r, fill, cls = (5.5, RED, "flag") if flag else (3.0, colour, f"dot series-{s}")
                tip = f"{name} · {x_labels[i]}: {_num(v)}{unit}"
                dots.append(
                    _el("circle", tip, cx=x(i), cy=y(v), r=r, fill=fill, stroke="#fff", class_=cls)
                )
                continue
            if len(run) > 1:
                pts, cls = " ".join(run), f"line series-{s}"
                style = {"fill": "none", "stroke": colour, "stroke_width": 2}
                parts.append(_el("polyline", points=pts, class_=cls, **style))
            run = []
    return _svg(title, width, bottom + 30, legend + parts + dots, "line-chart")


def histogram(
    title: str,
    bins: Sequence[tuple[float, float, int]],
    *,
    marker: float | None = None,
    marker_label: str = "",
    unit: str = "",
    width: int = 640,
) -> str:
    """Bins as (lower, upper, count); an optional dashed vertical marker (e.g. a deadline)."""
    good = [(float(a), float(b), c) for a, b, c in bins if _ok(a) and _ok(b) and _ok(c) and b > a]
    if not good:
        return _empty(title, width)
    ticks = _axis(0.0, max(1.0, *(float(c) for *_, c in good)))[2]
    parts, x0, x1, y = _value_frame(ticks, TOP + 14, width, "")
    top, bottom = y(ticks[-1]), y(0.0)
    edges = [e for a, b, _ in good for e in (a, b)] + ([marker] if _ok(marker) else [])
    xlo, xhi = min(edges), max(edges)
    x = _scale(xlo, xhi, x0, x1)
    for a, b, c in good:
        tip = f"{_num(a)}–{_num(b)}{unit}: {_num(c)}"
        parts.append(_rect(x(a), y(c), x(b) - x(a), bottom - y(c), PALETTE[0], "bar", tip))
    for t in _axis(xlo, xhi, 8)[2]:
        if xlo - 1e-9 <= t <= xhi + 1e-9:
            parts.append(_text(x(t), bottom + 16, _num(t), 11, "middle", class_="tick"))
    if unit:
        parts.append(_text(x1, bottom + 32, unit, 11, "end", class_="unit"))
    if _ok(marker):
        mx = x(marker)
        parts.append(_line(mx, top - 6, mx, bottom, RED, "marker", stroke_dasharray="5 4"))
        anchor, dx = ("end", -4) if mx > (x0 + x1) / 2 else ("start", 4)
        text = marker_label or _num(marker)
        parts.append(_text(mx + dx, top + 4, text, 11, anchor, fill=RED, class_="marker-label"))
    return _svg(title, width, bottom + 38, parts, "histogram")


def forest_plot(
    title: str,
    rows: Sequence[tuple[str, float | None, float | None, float | None, bool]],
    *,
    band: tuple[float, float] | None = (103.0, 107.0),
    reference_label: str = "正常范围 103–107",
    width: int = 640,
) -> str:
    """One row per label: estimate with its interval, normal range shaded; flagged rows in red."""
    if not rows:
        return _empty(title, width)
    vals = [float(v) for r in rows for v in r[1:4] if _ok(v)] + list(band or ())
    lo, hi, ticks = _axis(min(vals, default=0.0), max(vals, default=1.0))

    def note(e: float | None, a: float | None, b: float | None) -> str:
        ci = f" ({a:,.1f}–{b:,.1f})" if _ok(a) and _ok(b) else ""
        return f"{e:,.1f}{ci}" if _ok(e) else "—"

    label_w = min(max(_tw(str(r[0]), 12) for r in rows) + 8, width * 0.3)
    note_w = max(_tw(note(*r[1:4]), 11) for r in rows) + 12
    x0, x1 = label_w + 10, width - note_w - 10
    top = TOP + (24 if band else 6)
    bottom = top + len(rows) * 22
    x = _scale(lo, hi, x0, x1)
    parts = []
    if band:
        b0, b1 = x(band[0]), x(band[1])
        parts.append(_rect(b0, top, b1 - b0, bottom - top, BAND, "band"))
        parts.append(_rect(x0, TOP, 12, 12, BAND, "swatch"))
        parts.append(_text(x0 + 16, TOP + 11, reference_label, 11, class_="legend"))
    for t in ticks:
        parts.append(_line(x(t), top, x(t), bottom + 4, GRID, "grid"))
        parts.append(_text(x(t), bottom + 18, _num(t), 11, "middle", class_="tick"))
    for i, (label, est, a, b, flag) in enumerate(rows):
        y = top + (i + 0.5) * 22
        ink, cls = (RED, "flag") if flag else (INK, "")
        parts.append(_text(x0 - 6, y + 4, str(label), 12, "end", fill=ink, class_=f"label {cls}"))
        parts.append(_text(x1 + 8, y + 4, note(est, a, b), 11, fill=ink, class_=f"value {cls}"))
        if _ok(est) and _ok(a) and _ok(b):
            parts.append(_line(x(a), y, x(b), y, ink, cls, stroke_width=1.5))
        if _ok(est):
            tip = f"{label}: {note(est, a, b)}"
            parts.append(_el("circle", tip, cx=x(est), cy=y, r=4.0, fill=ink, class_=cls))
    return _svg(title, width, bottom + 28, parts, "forest-plot")
