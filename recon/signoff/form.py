"""The field form (现场核实表): the worklist as paper a township verifies and signs with a pen.

One case per A4 portrait page: what the case is about, its evidence in full, room for the
field notes and a six-row signature grid. A case never shares a page with another, so a
township can hand each village its own sheets. The machine columns stay on 工作清单,
which is what `recon worklist import` reads; this sheet is only printed.

openpyxl does not size rows to their text, so every wrapped cell's height is estimated
from its display width (a CJK character is two columns) and the width of its cells.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.pagebreak import Break
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from recon.outputs import FORMULA_STARTS
from recon.signoff.common import AGREE, DISAGREE
from recon.vocabulary import CATEGORY_LABELS, FEED_LABELS, FIELD_ZH, HEADERS_ZH, STATUS_ZH

FORM_SHEET = "现场核实表"
TITLE_ROWS = 4  # the form's title, the export's facts, how to fill it in, a gap
PAGE_NUMBERS = "第 &P 页，共 &N 页"

# Six columns that fill A4 portrait inside 1.5 cm margins at 100 % (18 cm: about 83 width
# units of an 11 pt Arial digit, see `set_default_font`), so fitToWidth never has to shrink
# the writing space.
COLUMNS = {"A": 5, "B": 13, "C": 15, "D": 12, "E": 17, "F": 21}
SIGN_HEADERS = (
    "序号", "角色", "姓名（签字）", "日期", "意见（打 √）", "理由（不同意时必填）",
)  # fmt: skip
CM_PER_INCH = 2.54
SIDE_CM = 1.5
TOP_CM = 1.8  # top and bottom: the page header and footer sit inside these margins
# What a page holds below the header, less 5 % for a renderer's rounding.
PAGE_BODY_PT = (29.7 - 2 * TOP_CM) / CM_PER_INCH * 72 * 0.95
SIGN_ROW_PT = 36.0  # 12.7 mm: a signature, a date, a reason written by hand
NOTES_PT = 90.0  # a few handwritten lines of what the visit found
NOTES_MIN_PT = 45.0  # on the first page, below the title, no less than this
NOTES_MORE_PT = 150.0  # at most this much more where the page has room
LINE_PT = 15.0  # one line of 11 pt text: 宋体 in Excel 14.3, Noto Sans CJK in LibreOffice 14.4
PAD_PT = 6.0
MIN_ROW_PT = 20.0
# Width units (an 11 pt Arial digit) one character takes: a CJK character 1.83 in 宋体 or Noto
# Sans CJK; a Latin one 0.92 in 宋体 but up to 1.16 in DejaVu Sans, LibreOffice's stand-in for 宋体.
WIDE_UNITS = 1.9
NARROW_UNITS = 1.15
PAD_UNITS = 0.8  # the cell's own padding, both sides
FILL = 0.95  # a wrapped line is rarely full: words and closing punctuation move down whole

UNIT_FONT = Font(name="Arial", size=11)
FONT_NAME = "宋体"  # what a Chinese office's Excel has; LibreOffice falls back to a CJK font
BODY = Font(name=FONT_NAME, size=11)
BOLD = Font(name=FONT_NAME, size=11, bold=True)
TITLE = Font(name=FONT_NAME, size=16, bold=True)
THIN = Side(style="thin", color="000000")
GRID = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
LABEL_FILL = PatternFill("solid", fgColor="F2F2F2")
CASE_FILL = PatternFill("solid", fgColor="D9E1F2")
WRAP = Alignment(wrap_text=True, vertical="center")
WRAP_CENTER = Alignment(wrap_text=True, vertical="center", horizontal="center")
EMPTY = "—"
BOX, TICKED = "□", "■"


@dataclass(frozen=True)
class Place:
    """A division as the form names it: 刘集镇, or 刘集镇 刘集村."""

    code: str
    name: str
    level: str
    parent: str | None


def set_default_font(workbook: Workbook) -> None:
    """Make the workbook's Normal font Arial 11, whose digit sets the column width unit.

    The default Calibri is missing where LibreOffice runs on Linux, which then measures
    columns with a wider fallback font and shrinks the form to 81 %. Arial (Liberation Sans
    there, the same metrics) gives one column width in Excel, WPS and LibreOffice alike.
    openpyxl has no public setter for the Normal style.
    """
    workbook._named_styles["Normal"].font = UNIT_FONT


def safe_text(text: str) -> str:
    """Text a spreadsheet will never run as a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def text_units(text: str) -> float:
    """Width units the text takes on one line; wide and ambiguous (CJK, □, →) count wide."""
    return sum(
        WIDE_UNITS if unicodedata.east_asian_width(ch) in "WFA" else NARROW_UNITS for ch in text
    )


def text_lines(text: str, width_units: float) -> int:
    """Lines a wrapped cell `width_units` wide needs for `text` (each paragraph apart)."""
    room = max(1.0, width_units - PAD_UNITS)
    return sum(
        1 if text_units(part) <= room else math.ceil(text_units(part) / (room * FILL))
        for part in text.split("\n")
    )


def row_height(texts: Sequence[tuple[str, float]], minimum: float = MIN_ROW_PT) -> float:
    """The height (points) of a row whose cells hold `texts` in cells `width_units` wide."""
    lines = max((text_lines(t, w) for t, w in texts), default=1)
    return max(minimum, lines * LINE_PT + PAD_PT)


def place_name(code: str | None, places: Mapping[str, Place], *, whole: str = "全部区划") -> str:
    """The name of a 6, 9 or 12 digit division code (a village with its township)."""
    if not code:
        counties = [p.name for p in places.values() if p.level == "county"]
        return f"{counties[0]} {whole}" if len(counties) == 1 else whole
    place = places.get(code.ljust(12, "0")) or places.get(code)
    if place is None:
        return f"区划 {code}"
    parent = places.get(place.parent or "")
    if place.level == "village" and parent is not None:
        return f"{parent.name} {place.name}"
    return place.name


def write_form(
    sheet: Worksheet,
    table: Sequence[Mapping[str, str | None]],
    roles: Sequence[str],
    *,
    export_id: str,
    exported_on: date,
    division: str | None,
    places: Mapping[str, Place],
) -> None:
    """Fill `sheet` with the field form of the cases in `table` (rows of the export)."""
    sheet.title = FORM_SHEET
    for letter, width in COLUMNS.items():
        sheet.column_dimensions[letter].width = width
    township = place_name(division, places)
    where = f"{township}（{division}）" if division else township
    row = _title(sheet, township, where, exported_on, export_id, len(table), len(roles))
    ends, notes = [], []
    for number, case in enumerate(table, start=1):
        row, note_row = _case(sheet, row, case, roles, number, len(table), places)
        ends.append(row - 1)
        notes.append(note_row)
    if not table:
        _box(sheet, row, "A", "F", "没有待签字的案件。", BODY, WRAP_CENTER)
        row += 1
    # A manual break after every case but the last: no case is split, none shares a page.
    breaks = ends[:-1]
    over = _height(sheet, 1, ends[0]) - PAGE_BODY_PT if ends else 0
    if over > 0 and NOTES_PT - over >= NOTES_MIN_PT:
        sheet.row_dimensions[notes[0]].height = NOTES_PT - over  # the title's room
    elif over > 0:
        breaks.insert(0, TITLE_ROWS)  # the first case would not fit under the title
    for end in breaks:
        sheet.row_breaks.append(Break(id=end))
    # What a page has left goes to the field notes, up to a limit.
    starts = [b + 1 for b in breaks if b not in ends] or [1]
    starts += [end + 1 for end in ends[:-1]]
    for start, end, note_row in zip(starts, ends, notes, strict=True):
        spare = PAGE_BODY_PT - _height(sheet, start, end)
        if spare > 0:
            sheet.row_dimensions[note_row].height = NOTES_PT + min(spare, NOTES_MORE_PT)
    _page_setup(sheet, township, exported_on, export_id, last_row=row - 1)


def _height(sheet: Worksheet, first: int, last: int) -> float:
    return sum(sheet.row_dimensions[r].height or MIN_ROW_PT for r in range(first, last + 1))


def _title(
    sheet: Worksheet,
    township: str,
    where: str,
    exported_on: date,
    export_id: str,
    cases: int,
    signers: int,
) -> int:
    _box(sheet, 1, "A", "F", f"{township} 出生统计案件现场核实表", TITLE, WRAP_CENTER)
    sheet.row_dimensions[1].height = 30
    facts = (
        f"区划：{where}　导出日期：{exported_on.isoformat()}　"
        f"导出编号：{export_id}　案件数：{cases}"
    )
    _box(sheet, 2, "A", "F", facts, BODY, WRAP_CENTER)
    sheet.row_dimensions[2].height = row_height([(facts, _span("A", "F"))])
    note = (
        f"说明：每个案件一页。计生专干入户核实后填写「现场核实情况」；{signers} 位签字人按序号"
        f"依次签名、填写日期，在「{AGREE}」或「{DISAGREE}」前的 □ 内打 √，{DISAGREE}须写明理由。"
        "签字齐全后，由统计员把签字录入本工作簿的「工作清单」表并导入（recon worklist import）。"
    )
    _box(sheet, 3, "A", "F", note, BODY, WRAP)
    sheet.row_dimensions[3].height = row_height([(note, _span("A", "F"))])
    sheet.row_dimensions[TITLE_ROWS].height = 8
    return TITLE_ROWS + 1


def _case(
    sheet: Worksheet,
    row: int,
    case: Mapping[str, str | None],
    roles: Sequence[str],
    number: int,
    total: int,
    places: Mapping[str, Place],
) -> tuple[int, int]:
    """Write one case's block from `row`; return the row after it and the notes row."""
    category = _zh(CATEGORY_LABELS, case["category"])
    target = _zh(FEED_LABELS, case["target_system"])
    status = _zh(STATUS_ZH, case["status"])
    heading = (
        f"第 {number} 件（共 {total} 件）　案件编号 {case['case_id']}　"
        f"{category} · {target}　状态：{status}"
    )
    _box(sheet, row, "A", "F", heading, BOLD, WRAP, fill=CASE_FILL, border=True)
    sheet.row_dimensions[row].height = row_height([(heading, _span("A", "F"))], 24)
    row += 1

    field = case["field"]
    field_text = f"{FIELD_ZH.get(field, field)}（{field}）" if field else EMPTY
    division = case["division_code"]
    village = f"{place_name(division, places)}（{division}）" if division else EMPTY
    pairs = [
        ("类别", category, "目标系统", target),
        ("字段", field_text, "置信度", case["confidence"] or EMPTY),
        ("现值", case["current_value"] or "（无记录）", "建议值", case["proposed_value"] or EMPTY),
        (
            HEADERS_ZH["pop_record_id"], case["pop_record_id"] or EMPTY,
            HEADERS_ZH["hosp_delivery_id"], case["hosp_delivery_id"] or EMPTY,
        ),
        (
            HEADERS_ZH["police_id_number"], case["police_id_number"] or EMPTY,
            HEADERS_ZH["duplicate_of"], case["duplicate_of"] or EMPTY,
        ),
    ]  # fmt: skip
    for label, value, label2, value2 in pairs:
        _box(sheet, row, "A", "B", label, BOLD, WRAP, fill=LABEL_FILL, border=True)
        _box(sheet, row, "C", "D", value, BODY, WRAP, border=True)
        _box(sheet, row, "E", "E", label2, BOLD, WRAP, fill=LABEL_FILL, border=True)
        _box(sheet, row, "F", "F", value2, BODY, WRAP, border=True)
        sheet.row_dimensions[row].height = row_height(
            [
                (label, _span("A", "B")),
                (value, _span("C", "D")),
                (label2, _span("E", "E")),
                (value2, _span("F", "F")),
            ]
        )
        row += 1
    singles = [
        ("村（区划）", village, MIN_ROW_PT),
        ("证据", case["evidence"] or EMPTY, MIN_ROW_PT),
        ("现场核实情况", "", NOTES_PT),  # left blank: written in the field
    ]
    for label, value, minimum in singles:
        _box(sheet, row, "A", "B", label, BOLD, WRAP, fill=LABEL_FILL, border=True)
        _box(sheet, row, "C", "F", value, BODY, WRAP, border=True)
        sheet.row_dimensions[row].height = row_height(
            [(label, _span("A", "B")), (value, _span("C", "F"))], minimum
        )
        row += 1
    note_row = row - 1  # the last of `singles`

    for letter, title in zip(COLUMNS, SIGN_HEADERS, strict=True):
        _box(sheet, row, letter, letter, title, BOLD, WRAP_CENTER, fill=LABEL_FILL, border=True)
    sheet.row_dimensions[row].height = row_height(
        [(t, COLUMNS[c]) for c, t in zip(COLUMNS, SIGN_HEADERS, strict=True)], 24
    )
    row += 1
    for n, role in enumerate(roles, start=1):
        decided = case.get(f"sig{n}_decision")
        values = (
            str(n),
            case.get(f"sig{n}_role") or role,
            case.get(f"sig{n}_name") or "",
            case.get(f"sig{n}_date") or "",
            "　".join(f"{TICKED if decided == d else BOX}{d}" for d in (AGREE, DISAGREE)),
            case.get(f"sig{n}_reason") or "",
        )
        for letter, value in zip(COLUMNS, values, strict=True):
            align = WRAP if letter == "F" else WRAP_CENTER
            _box(sheet, row, letter, letter, value, BODY, align, border=True)
        sheet.row_dimensions[row].height = row_height(
            [(v, COLUMNS[c]) for c, v in zip(COLUMNS, values, strict=True)], SIGN_ROW_PT
        )
        row += 1
    return row, note_row


def _page_setup(
    sheet: Worksheet, township: str, exported_on: date, export_id: str, last_row: int
) -> None:
    setup = sheet.page_setup
    setup.paperSize = sheet.PAPERSIZE_A4
    setup.orientation = "portrait"
    setup.fitToWidth = 1
    setup.fitToHeight = 0  # as many pages tall as there are cases
    sheet.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    margins = sheet.page_margins
    margins.left = margins.right = SIDE_CM / CM_PER_INCH
    margins.top = margins.bottom = TOP_CM / CM_PER_INCH
    margins.header = margins.footer = 0.8 / CM_PER_INCH
    sheet.print_options.horizontalCentered = True
    sheet.print_options.gridLines = False
    sheet.sheet_view.showGridLines = False
    sheet.print_area = f"A1:F{max(last_row, 1)}"
    # Every page names its township, export date and id, so a loose sheet is traceable.
    # Left and right parts only: LibreOffice lets a long centre part run over its neighbours.
    sheet.oddHeader.left.text = _header_text(f"{township} 出生统计案件现场核实表")
    sheet.oddHeader.right.text = f"导出日期 {exported_on.isoformat()}"
    sheet.oddFooter.left.text = f"导出编号 {export_id}"
    sheet.oddFooter.right.text = PAGE_NUMBERS


def _header_text(text: str) -> str:
    return text.replace("&", "&&")  # a lone & starts a header code


def _span(first: str, last: str) -> float:
    letters = list(COLUMNS)
    chosen = letters[letters.index(first) : letters.index(last) + 1]
    return float(sum(COLUMNS[c] for c in chosen))


def _zh(labels: Mapping[str, str], value: str | None) -> str:
    return EMPTY if value is None else labels.get(value, value)


def _box(
    sheet: Worksheet,
    row: int,
    first: str,
    last: str,
    value: str,
    font: Font,
    align: Alignment,
    *,
    fill: PatternFill | None = None,
    border: bool = False,
) -> None:
    """One (merged) text cell; the border is drawn on every cell a merge covers."""
    start = sheet[f"{first}{row}"]
    if value:  # a blank is left empty, to be written in
        start.value = safe_text(value)
        start.data_type = "s"  # never a formula, whatever the text
    columns = range(start.column, sheet[f"{last}{row}"].column + 1)
    for col in columns:
        cell = sheet.cell(row=row, column=col)
        cell.font = font
        cell.alignment = align
        if fill is not None:
            cell.fill = fill
        if border:
            cell.border = GRID
    if first != last:
        sheet.merge_cells(f"{first}{row}:{last}{row}")
