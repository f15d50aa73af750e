"""What cron meets in an inbox: office file names, stray quotes, damaged files, odd entries.

Each fault gets a clear answer: a file is read under its feed, a row is quarantined with a
reason naming its lines, a damaged file stops the night with one line naming it (exit 3,
the store as it was), or an entry that is no feed file is listed in run.json with why.
"""

from __future__ import annotations

import csv
import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import polars as pl
import pytest
from conftest import Recon, csv_text, hosp_row, police_row, pop_row, write_csv, write_xlsx

from recon.config import load_config
from recon.ingest.inbox import InboxFile
from recon.ingest.read import read_feed


def run_json(recon: Recon) -> dict[str, Any]:
    return json.loads((recon.out / "run.json").read_text(encoding="utf-8"))


def files_of(recon: Recon) -> dict[str, dict[str, Any]]:
    return {f["file"]: f for f in run_json(recon)["files"]}


def ignored_of(recon: Recon) -> dict[str, str]:
    return {i["file"]: i["reason"] for i in run_json(recon)["ignored"]}


def quarantine_of(recon: Recon) -> list[dict[str, str]]:
    with (recon.out / "quarantine.csv").open(encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def error_line(output: str) -> str:
    """The run's one-line reason (progress lines may precede it)."""
    lines = [line for line in output.splitlines() if line.startswith("recon:")]
    assert len(lines) == 1, output
    return lines[0]


# --- names and headers -------------------------------------------------------------------------


def test_the_offices_own_file_names_are_read(recon: Recon, inbox: Path) -> None:
    (inbox / "pop_births.csv").rename(inbox / "全员人口出生登记_20261123.csv")
    (inbox / "hosp_deliveries.csv").rename(inbox / "住院分娩实名登记_20261123.csv")
    (inbox / "police_births.csv").rename(inbox / "公安户籍出生登记_20261123.csv")
    (inbox / "divisions.csv").rename(inbox / "区划代码_2026.csv")
    result = recon.run(inbox)
    assert result.exit_code == 0, result.output
    files = files_of(recon)
    assert files["全员人口出生登记_20261123.csv"]["feed"] == "pop"
    assert files["住院分娩实名登记_20261123.csv"]["feed"] == "hosp"
    assert files["公安户籍出生登记_20261123.csv"]["feed"] == "police"
    assert run_json(recon)["ignored_files"] == []
    assert recon.query("SELECT count(*) FROM divisions")[0][0] > 0


def test_a_file_named_like_no_feed_is_known_by_its_header(recon: Recon, inbox: Path) -> None:
    (inbox / "police_births.csv").rename(inbox / "导出_20261123.csv")
    write_xlsx(inbox / "export (2).xlsx", [hosp_row(登记编号="H2")])
    result = recon.run(inbox)
    assert result.exit_code == 0, result.output
    files = files_of(recon)
    assert files["导出_20261123.csv"]["feed"] == "police"
    assert files["export (2).xlsx"]["feed"] == "hosp"


def test_an_unrecognised_file_is_listed_with_why(recon: Recon, inbox: Path) -> None:
    row = police_row()
    del row["户号"]
    write_csv(inbox / "导出_户籍.csv", [row])
    (inbox / "readme.md").write_text("notes", encoding="utf-8")
    result = recon.run(inbox)
    assert result.exit_code == 0, result.output
    summary = run_json(recon)
    assert summary["ignored_files"] == ["readme.md", "导出_户籍.csv"]  # the old key stays
    reasons = ignored_of(recon)
    assert "最接近 police" in reasons["导出_户籍.csv"] and "户号" in reasons["导出_户籍.csv"]
    assert "CSV/XLSX/Parquet" in reasons["readme.md"]
    assert "导出_户籍.csv" in result.output and "户号" in result.output  # the console says why


# --- stray quotes ------------------------------------------------------------------------------


def stray_quote(lines: list[str], number: int) -> None:
    """A `"` at the start of the last field of physical line `number`."""
    line = lines[number - 1]
    cut = line.rfind(",") + 1
    lines[number - 1] = line[:cut] + '"' + line[cut:]


def register_of_199(tmp_path: Path, *strays: int, quoted_at: int | None = None) -> Path:
    """Header + 199 records = 200 lines, with stray quotes on the given lines."""
    rows = [pop_row(记录编号=f"P{i:03d}") for i in range(1, 200)]
    lines = csv_text(rows).splitlines()
    assert len(lines) == 200
    if quoted_at is not None:  # a properly quoted value later on, closing the stray quote
        line = lines[quoted_at - 1]
        lines[quoted_at - 1] = line[: line.rfind(",") + 1] + '"张湾,卫生院"'
    for number in strays:
        stray_quote(lines, number)
    path = tmp_path / "pop_births.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("strays", "quoted_at", "reasons"),
    [
        ((143,), None, {143: "第143行的引号未闭合，吞并了第144–200行"}),
        ((143,), 180, {143: "第143行的引号未闭合，吞并了第144–180行"}),
        (
            (195,),
            None,
            {195: "第195行的引号未闭合，吞并了第196–200行"},
        ),  # fewer lines than the limit
        ((143, 160), None, {143: "吞并了第144–160行", 160: "吞并了第161–200行"}),
    ],
)
def test_a_stray_quote_loses_no_line(
    tmp_path: Path, strays: tuple[int, ...], quoted_at: int | None, reasons: dict[int, str]
) -> None:
    path = register_of_199(tmp_path, *strays, quoted_at=quoted_at)
    raw = read_feed(InboxFile(path, "pop"), load_config())
    lines = sorted(raw.rows["line"].to_list() + raw.malformed["line"].to_list())
    assert lines == list(range(2, 201))  # every record line once: none swallowed
    found = dict(raw.malformed.select("line", "reason").iter_rows())
    assert set(found) == set(reasons)
    for line, reason in reasons.items():
        assert reason in found[line]
    if quoted_at is not None:
        by_line = dict(raw.rows.select("line", "reporting_unit").iter_rows())
        assert by_line[quoted_at] == "张湾,卫生院"


def test_a_stray_quote_in_a_run_accounts_for_all_199_rows(recon: Recon, inbox: Path) -> None:
    register_of_199(inbox, 143)
    result = recon.run(inbox)
    assert result.exit_code == 0, result.output
    pop = files_of(recon)["pop_births.csv"]
    assert pop["rows_read"] == 199
    assert pop["rows_accepted"] + pop["rows_quarantined"] == 199
    quarantined = [q for q in quarantine_of(recon) if q["file"] == "pop_births.csv"]
    assert [q["line"] for q in quarantined] == ["143"]
    assert "第143行的引号未闭合，吞并了第144–200行" in quarantined[0]["reasons"]
    assert recon.query("SELECT count(*) FROM quarantine")[0][0] == 1


def test_a_long_quoted_value_is_one_record(tmp_path: Path) -> None:
    # A note of 30 lines is no stray quote (no line of it is a record), but longer than
    # any real record: one quarantined record, the lines after it read as they are.
    rows = [
        pop_row(记录编号="P1"),
        pop_row(记录编号="P2", 上报单位="备注\n" * 30),
        pop_row(记录编号="P3"),
    ]
    path = write_csv(tmp_path / "pop.csv", rows)
    raw = read_feed(InboxFile(path, "pop"), load_config())
    assert raw.rows["line"].to_list() == [2, 34]
    assert raw.malformed["line"].to_list() == [3]
    assert "max_record_lines" in raw.malformed["reason"][0]


def test_record_line_limit_is_configurable(tmp_path: Path) -> None:
    rows = [pop_row(记录编号="P1", 上报单位="一\n二\n三\n四"), pop_row(记录编号="P2")]
    path = write_csv(tmp_path / "pop.csv", rows)
    assert read_feed(InboxFile(path, "pop"), load_config()).malformed.height == 0
    config = tmp_path / "recon.toml"
    config.write_text("[ingest]\nmax_record_lines = 3\n", encoding="utf-8")
    raw = read_feed(InboxFile(path, "pop"), load_config(config))
    assert raw.malformed["line"].to_list() == [2]
    assert raw.rows["line"].to_list() == [6]


# --- limits ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "limit"),
    [
        ("x" * 1_000_000, "max_record_chars"),  # 1 MB in one field
        ("张" * 20_000, "max_field_chars"),
        ("\n" * 500_000, "max_record_chars"),  # half a million line breaks in one value
    ],
)
def test_a_huge_field_is_quarantined_naming_the_limit(
    recon: Recon, inbox: Path, value: str, limit: str
) -> None:
    rows = [pop_row(记录编号="P1"), pop_row(记录编号="P2", 上报单位=value), pop_row(记录编号="P3")]
    write_csv(inbox / "pop_births.csv", rows)
    result = recon.run(inbox)
    assert result.exit_code == 0, result.output
    pop = files_of(recon)["pop_births.csv"]
    assert (pop["rows_read"], pop["rows_accepted"], pop["rows_quarantined"]) == (3, 2, 1)
    (quarantined,) = quarantine_of(recon)
    assert quarantined["line"] == "3" and limit in quarantined["reasons"]
    assert len(quarantined["raw"]) < 5_000  # cut, so quarantine.csv stays a file to open


def test_a_file_over_max_file_mb_is_refused(recon: Recon, inbox: Path, tmp_path: Path) -> None:
    write_csv(inbox / "pop_births.csv", [pop_row(备注="x" * 1_500_000)])  # 1.5 MB
    config = tmp_path / "recon.toml"
    config.write_text("[ingest]\nmax_file_mb = 1\n", encoding="utf-8")
    result = recon.run(inbox, "--config", str(config))
    assert result.exit_code == 3
    line = error_line(result.output)
    assert "pop_births.csv" in line and "max_file_mb" in line
    assert not recon.db.exists()


# --- damaged files ---------------------------------------------------------------------------


def workbook_bytes(tmp_path: Path) -> bytes:
    return write_xlsx(tmp_path / "source.xlsx", [pop_row()]).read_bytes()


def parquet_bytes(tmp_path: Path, **columns: Any) -> bytes:
    path = tmp_path / "source.parquet"
    pl.DataFrame([pop_row()]).with_columns(**columns).write_parquet(path)
    return path.read_bytes()


def rewrite_zip(data: bytes, member: str, change: Any) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            content = source.read(info.filename)
            target.writestr(info, change(content) if info.filename == member else content)
    return out.getvalue()


def chartsheet_only(tmp_path: Path) -> bytes:
    workbook = openpyxl.Workbook()
    workbook.create_chartsheet()
    workbook.remove(workbook.active)  # type: ignore[arg-type]
    path = tmp_path / "charts.xlsx"
    workbook.save(path)
    return path.read_bytes()


DAMAGED = {
    # name in the inbox: (content, words the one-line reason must hold)
    "xlsx_named_csv": ("pop_x.csv", lambda t: workbook_bytes(t), ["Excel 工作簿", ".xlsx"]),
    "random_bytes": ("pop_x.csv", lambda t: os.urandom(4096), ["二进制"]),
    "empty": ("pop_x.csv", lambda t: b"", ["空"]),
    "utf16_no_bom": (
        "pop_x.csv",
        lambda t: csv_text([pop_row()]).encode("utf-16-le"),
        ["二进制", "UTF-8"],
    ),
    "truncated_xlsx": (
        "pop_x.xlsx",
        lambda t: workbook_bytes(t)[:1500],
        ["不完整", "truncated"],
    ),
    "xlsx_bad_xml": (
        "pop_x.xlsx",
        lambda t: rewrite_zip(workbook_bytes(t), "xl/worksheets/sheet1.xml", lambda c: c[:300]),
        ["损坏", "ParseError"],
    ),
    "xlsx_chartsheet_only": ("pop_x.xlsx", chartsheet_only, ["Excel"]),
    "csv_named_xlsx": (
        "pop_x.xlsx",
        lambda t: csv_text([pop_row(记录编号="P9")]).encode(),
        ["不是 Excel 工作簿", ".csv"],
    ),
    "zip_named_xlsx": ("pop_x.xlsx", lambda t: plain_zip(), ["ZIP"]),
    "parquet_random": (
        "pop_x.parquet",
        lambda t: b"PAR1" + os.urandom(2000) + b"PAR1",
        ["Parquet"],
    ),
    "parquet_truncated": (
        "pop_x.parquet",
        lambda t: parquet_bytes(t)[:-100],
        ["不完整", "truncated"],
    ),
    "parquet_list_column": (
        "pop_x.parquet",
        lambda t: parquet_bytes(t, 备注=pl.lit(["a", "b"])),
        ["备注", "list"],
    ),
    "parquet_named_csv": ("pop_x.csv", lambda t: parquet_bytes(t), ["Parquet", ".parquet"]),
}


def plain_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("pop.csv", csv_text([pop_row()]))
    return out.getvalue()


@pytest.mark.parametrize("kind", list(DAMAGED))
def test_a_damaged_file_is_exit_3_in_one_line_naming_it(
    recon: Recon, inbox: Path, tmp_path: Path, kind: str
) -> None:
    name, content, words = DAMAGED[kind]
    (inbox / name).write_bytes(content(tmp_path))
    result = recon.run(inbox)
    assert result.exit_code == 3, result.output
    line = error_line(result.output)
    assert name in line
    for word in words:
        assert word in line, line
    assert not recon.db.exists()  # a failed first run leaves no store


def test_a_damaged_file_leaves_the_store_as_it_was(
    recon: Recon, inbox: Path, tmp_path: Path
) -> None:
    assert recon.run(inbox).exit_code == 0
    before = recon.dump()
    for kind in ("truncated_xlsx", "parquet_list_column", "xlsx_named_csv"):
        name, content, _words = DAMAGED[kind]
        (inbox / name).write_bytes(content(tmp_path))
        assert recon.run(inbox).exit_code == 3, kind
        (inbox / name).unlink()
        assert recon.dump() == before, kind


# --- entries that are no regular file --------------------------------------------------------


def test_a_symlink_out_of_the_inbox_is_refused_and_listed(recon: Recon, inbox: Path) -> None:
    (inbox / "pop_x.csv").symlink_to("/etc/passwd")
    outside = inbox.parent / "elsewhere.csv"
    write_csv(outside, [police_row(公民身份号码="110105194912310029")])
    (inbox / "police_extra.csv").symlink_to(outside)
    result = recon.run(inbox)
    assert result.exit_code == 0, result.output
    assert set(files_of(recon)) == {"pop_births.csv", "hosp_deliveries.csv", "police_births.csv"}
    reasons = ignored_of(recon)
    assert "收件箱之外" in reasons["pop_x.csv"] and "/etc/passwd" in reasons["pop_x.csv"]
    assert "收件箱之外" in reasons["police_extra.csv"]


def test_a_symlink_inside_the_inbox_is_followed(recon: Recon, inbox: Path) -> None:
    (inbox / "archive").mkdir()
    (inbox / "police_births.csv").rename(inbox / "archive" / "police.csv")
    (inbox / "police_latest.csv").symlink_to(Path("archive") / "police.csv")
    (inbox / "pop_gone.csv").symlink_to(inbox / "nowhere.csv")
    result = recon.run(inbox)
    assert result.exit_code == 0, result.output
    assert files_of(recon)["police_latest.csv"]["rows_accepted"] == 1
    reasons = ignored_of(recon)
    assert "文件夹" in reasons["archive"]
    assert "不存在" in reasons["pop_gone.csv"]


def test_a_fifo_or_folder_named_like_a_feed_is_refused_and_listed(
    recon: Recon, inbox: Path
) -> None:
    os.mkfifo(inbox / "pop_tonight.csv")  # opening it would block the night
    (inbox / "hosp_2026.csv").mkdir()
    result = recon.run(inbox)
    assert result.exit_code == 0, result.output
    reasons = ignored_of(recon)
    assert "FIFO" in reasons["pop_tonight.csv"] and "未打开" in reasons["pop_tonight.csv"]
    assert "文件夹" in reasons["hosp_2026.csv"]
    assert {"pop_tonight.csv", "hosp_2026.csv"} <= set(run_json(recon)["ignored_files"])
