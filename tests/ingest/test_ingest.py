"""Reading every file form of feeds.md, and refusing what cannot be read."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest
from conftest import (
    CHILD_ID,
    MOTHER_ID,
    Recon,
    csv_text,
    hosp_row,
    police_row,
    pop_row,
    write_csv,
    write_xlsx,
)

from recon.config import load_config
from recon.ingest.inbox import InboxFile, InputError
from recon.ingest.normalize import normalise
from recon.ingest.read import read_feed


def read(path: Path, feed: str) -> pl.DataFrame:
    raw = read_feed(InboxFile(path, feed), load_config())
    return normalise(raw.rows, raw.feed, raw.extras)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "gbk"])
def test_csv_encodings_are_detected(tmp_path: Path, encoding: str) -> None:
    path = write_csv(tmp_path / "pop.csv", [pop_row(姓名="欧阳娜娜")], encoding=encoding)
    rows = read(path, "pop")
    assert rows["name"].to_list() == ["欧阳娜娜"]
    assert rows["mother_name"].to_list() == ["李娜"]


def test_undecodable_file_is_refused_with_its_name(tmp_path: Path) -> None:
    path = tmp_path / "pop.csv"
    path.write_bytes(csv_text([pop_row()]).encode("utf-8") + b"\xff\xfe\xff\xfe\x81\x30\n")
    with pytest.raises(InputError, match=r"pop\.csv.*decoded"):
        read(path, "pop")


def test_english_headers_and_extra_columns(tmp_path: Path) -> None:
    row = {"record_id": "P9", "name": "王芳", "sex": "F", "birth_date": "2024-03-05",
           "id_number": "", "mother_name": "刘丽", "mother_id": MOTHER_ID, "father_name": "",
           "birth_order": "2", "division_code": "420607101", "reported_on": "2024-04-01",
           "reporting_unit": "", "备注": "随母迁入"}  # fmt: skip
    rows = read(write_csv(tmp_path / "pop.csv", [row]), "pop")
    assert rows["division_code"].to_list() == ["420607101000"]
    assert json.loads(rows["extra"][0]) == {"备注": "随母迁入"}


def test_header_aliases_from_config(tmp_path: Path) -> None:
    row = pop_row()
    row["出生年月日"] = row.pop("出生日期")
    path = write_csv(tmp_path / "pop.csv", [row])
    with pytest.raises(InputError, match="出生日期"):
        read(path, "pop")
    config_file = tmp_path / "recon.toml"
    config_file.write_text('[headers.pop]\n"出生年月日" = "birth_date"\n', encoding="utf-8")
    raw = read_feed(InboxFile(path, "pop"), load_config(config_file))
    assert normalise(raw.rows, raw.feed, raw.extras)["birth_date"].to_list() == [date(2024, 3, 5)]


def test_full_width_header_brackets_match(tmp_path: Path) -> None:
    row = hosp_row()
    row["出生体重（克）"] = row.pop("出生体重(克)")
    rows = read(write_csv(tmp_path / "hosp.csv", [row]), "hosp")
    assert rows["birth_weight_g"].to_list() == [3200]


def test_physical_lines_with_embedded_newlines_and_blank_lines(tmp_path: Path) -> None:
    rows = [pop_row(记录编号="P1", 上报单位="张湾\n卫生院"), pop_row(记录编号="P2")]
    path = tmp_path / "pop.csv"
    path.write_text(csv_text(rows) + "\n" + csv_text([pop_row(记录编号="P3")]).split("\n", 1)[1])
    raw = read_feed(InboxFile(path, "pop"), load_config())
    assert raw.rows["line"].to_list() == [2, 4, 6]
    assert raw.rows["reporting_unit"][0] == "张湾\n卫生院"


def test_wrong_number_of_fields_is_reported_with_its_line(tmp_path: Path) -> None:
    text = csv_text([pop_row(记录编号="P1"), pop_row(记录编号="P2")])
    lines = text.splitlines()
    lines.insert(2, lines[1].replace("P1,", "P9,extra,"))
    lines.append("P7,only,three")
    path = tmp_path / "pop.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    raw = read_feed(InboxFile(path, "pop"), load_config())
    assert raw.rows["line"].to_list() == [2, 4]
    assert raw.malformed["line"].to_list() == [3, 5]
    assert raw.malformed["raw"][1] == "P7,only,three"


def test_xlsx_sheet_rows_excel_dates_and_numeric_ids(tmp_path: Path) -> None:
    path = tmp_path / "hosp.xlsx"
    rows = [
        hosp_row(登记编号="H1", 分娩时间=datetime(2024, 3, 5, 8, 30), 登记日期=date(2024, 3, 6)),
        hosp_row(登记编号="H2", 分娩时间="45356.5", 登记日期=45357, 胎数=1, 孕周=39.0),
        hosp_row(登记编号="H3", 产妇公民身份号码=int(MOTHER_ID[:15])),
    ]
    write_xlsx(path, rows, blank_rows_above=2)
    canonical = read(path, "hosp")
    assert canonical["line"].to_list() == [4, 5, 6]
    assert canonical["delivered_at"].to_list()[:2] == [
        datetime(2024, 3, 5, 8, 30),
        datetime(2024, 3, 5, 12),
    ]
    assert canonical["registered_on"].to_list()[:2] == [date(2024, 3, 6), date(2024, 3, 6)]
    assert canonical["gestation_weeks"].to_list()[1] == 39
    # a 15-digit number typed as a number survives; an 18-digit one would not
    assert (
        canonical["mother_id"].to_list()[2]
        == MOTHER_ID[:6] + "19" + MOTHER_ID[6:15] + canonical["mother_id"][2][-1]
    )


def test_xlsx_id_stored_as_float_is_unreadable(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "police.xlsx", [police_row(公民身份号码=float(CHILD_ID[:17] + "0"))]
    )
    canonical = read(path, "police")
    assert canonical["id_number__bad"].to_list() == [True]


def test_parquet(tmp_path: Path) -> None:
    path = tmp_path / "police.parquet"
    pl.DataFrame([police_row()]).with_columns(
        pl.lit(date(2024, 3, 5)).alias("出生日期")
    ).write_parquet(path)
    canonical = read(path, "police")
    assert canonical["birth_date"].to_list() == [date(2024, 3, 5)]
    assert canonical["line"].to_list() == [1]


def test_missing_required_column_names_file_and_column(tmp_path: Path) -> None:
    row = police_row()
    del row["户号"]
    with pytest.raises(InputError, match=r"police_x.csv.*户号 \(household_no\)"):
        read(write_csv(tmp_path / "police_x.csv", [row]), "police")


def test_run_refuses_bad_input_and_leaves_store_unchanged(recon: Recon, inbox: Path) -> None:
    assert recon.run(inbox).exit_code == 0
    before = recon.dump()
    (inbox / "pop_later.csv").write_text(
        csv_text([{k: v for k, v in pop_row(记录编号="P7").items() if k != "出生日期"}]),
        encoding="utf-8",
    )
    write_csv(inbox / "police_later.csv", [police_row(公民身份号码="110105194912310029")])
    result = recon.run(inbox, "--quiet")  # no progress lines: the error alone
    assert result.exit_code == 3
    assert "pop_later.csv" in result.output and "出生日期" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert recon.dump() == before


def test_failed_first_run_leaves_no_store(recon: Recon, inbox: Path) -> None:
    (inbox / "hosp_deliveries.csv").write_text("登记编号,产妇姓名\nH1,李娜\n", encoding="utf-8")
    result = recon.run(inbox)
    assert result.exit_code == 3
    assert not recon.db.exists()
