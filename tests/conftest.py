"""Small hand-made feeds: one valid row per feed that each test bends into a messy form."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import openpyxl
import pytest
from stdnum.cn import ric
from typer.testing import CliRunner

from recon.cli import app
from recon.ingest.feeds import FEED_SPECS

AS_OF = date(2024, 12, 31)


def id_with_check(first17: str) -> str:
    """A valid 18-character identity number from its first 17 digits."""
    return first17 + ric.calc_check_digit(first17 + "0")


CHILD_ID = id_with_check("42060720240305001")  # born 2024-03-05, odd sequence: a boy
MOTHER_ID = id_with_check("42062119950101002")  # born 1995-01-01 in 襄阳县
MOTHER_ID_2 = id_with_check("42062119900101002")

DIVISIONS = [
    ("420607000000", "襄州区", "county", ""),
    ("420607101000", "张湾街道", "township", "420607000000"),
    ("420607101203", "张湾村", "village", "420607101000"),
    ("420607101204", "王湾村", "village", "420607101000"),
    ("420607102000", "刘集镇", "township", "420607000000"),
    ("420607102001", "刘集村", "village", "420607102000"),
]


def pop_row(**changes: Any) -> dict[str, Any]:
    row = {
        "记录编号": "P0001", "姓名": "张伟", "性别": "男", "出生日期": "2024-03-05",
        "公民身份号码": CHILD_ID, "母亲姓名": "李娜", "母亲公民身份号码": MOTHER_ID,
        "父亲姓名": "张强", "孩次": "1", "居住地区划代码": "420607101203",
        "上报日期": "2024-04-01", "上报单位": "张湾街道卫生院",
    }  # fmt: skip
    row.update(changes)
    return row


def hosp_row(**changes: Any) -> dict[str, Any]:
    row = {
        "登记编号": "H0001", "医疗机构代码": "F001", "医疗机构名称": "襄州区人民医院",
        "产妇姓名": "李娜", "产妇公民身份号码": MOTHER_ID, "分娩时间": "2024-03-05 08:30",
        "新生儿性别": "男", "胎数": "1", "胎序": "1", "孩次": "1", "出生体重(克)": "3200",
        "孕周": "39", "妊娠结局": "活产", "出生医学证明编号": "Q420012345",
        "产妇户籍地区划代码": "420607101203", "登记日期": "2024-03-06",
    }  # fmt: skip
    row.update(changes)
    return row


def police_row(**changes: Any) -> dict[str, Any]:
    row = {
        "公民身份号码": CHILD_ID, "姓名": "张伟", "性别": "男", "出生日期": "2024-03-05",
        "出生医学证明编号": "Q420012345", "母亲姓名": "李娜", "母亲公民身份号码": MOTHER_ID,
        "户号": "H000123", "户籍地区划代码": "420607101203", "登记日期": "2024-05-01",
        "登记类别": "出生登记",
    }  # fmt: skip
    row.update(changes)
    return row


ROWS: dict[str, Callable[..., dict[str, Any]]] = {
    "pop": pop_row,
    "hosp": hosp_row,
    "police": police_row,
}


def csv_text(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_csv(path: Path, rows: list[dict[str, Any]], encoding: str = "utf-8") -> Path:
    path.write_bytes(csv_text(rows).encode(encoding))
    return path


def write_xlsx(path: Path, rows: list[dict[str, Any]], blank_rows_above: int = 0) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for _ in range(blank_rows_above):
        sheet.append([None])
    sheet.append(list(rows[0]))
    for row in rows:
        sheet.append(list(row.values()))
    workbook.save(path)
    return path


def write_divisions(folder: Path) -> Path:
    path = folder / "divisions.csv"
    lines = ["code,name,level,parent"] + [",".join(d) for d in DIVISIONS]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    """A valid inbox: one row per feed and the divisions reference."""
    folder = tmp_path / "inbox"
    folder.mkdir()
    write_csv(folder / "pop_births.csv", [pop_row()])
    write_csv(folder / "hosp_deliveries.csv", [hosp_row()])
    write_csv(folder / "police_births.csv", [police_row()])
    write_divisions(folder)
    return folder


class Recon:
    """Runs the CLI in-process against one store and out folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.db = root / "recon.duckdb"
        self.out = root / "out"
        self.runner = CliRunner()

    def __call__(self, *args: str) -> Any:
        return self.runner.invoke(app, list(args), catch_exceptions=False)

    def run(self, inbox: Path, *extra: str, as_of: date = AS_OF) -> Any:
        return self(
            "run", "--inbox", str(inbox), "--db", str(self.db), "--out", str(self.out),
            "--as-of", as_of.isoformat(), *extra,
        )  # fmt: skip

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        con = duckdb.connect(str(self.db), read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every table's rows, to compare the store before and after."""
        if not self.db.exists():
            return {}
        con = duckdb.connect(str(self.db), read_only=True)
        try:
            tables = [
                r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
            ]
            return {
                t: sorted(con.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) for t in tables
            }
        finally:
            con.close()


@pytest.fixture
def recon(tmp_path: Path) -> Recon:
    return Recon(tmp_path)


__all__ = ["AS_OF", "FEED_SPECS"]


def sign_workbook(
    book: Path,
    position: int,
    name: str,
    day: date,
    decision: str,
    reason: str | None = None,
    row: int = 2,
) -> None:
    """Write one signature (签字人N) into an exported worklist, as a signer would."""
    workbook = openpyxl.load_workbook(book)
    sheet = workbook["工作清单"]  # the machine sheet; the first one is the printed form
    header = [c.value for c in sheet[1]]
    for part, value in (("姓名", name), ("日期", day), ("意见", decision), ("理由", reason)):
        if value is not None:
            sheet.cell(row, header.index(f"签字人{position}{part}") + 1, value)
    workbook.save(book)


MOTHER_3 = id_with_check("42062119920101002")
CHILD_3 = id_with_check("42060720240510002")


def four_case_inbox(root: Path) -> Path:
    """Four cases: P0001's sex wrong, P0007 fictitious, H0002 missing from pop (张湾街道),
    P0009 a duplicate (刘集镇)."""
    inbox = root
    inbox.mkdir()
    pop = [
        pop_row(性别="女"),
        pop_row(
            记录编号="P0007", 母亲公民身份号码=MOTHER_ID_2, 母亲姓名="王芳",
            出生日期="2024-06-01", 公民身份号码="",
        ),
        pop_row(记录编号="P0009", 居住地区划代码="420607102001", 上报日期="2024-09-01"),
    ]  # fmt: skip
    hosp = [
        hosp_row(),
        hosp_row(
            登记编号="H0002", 产妇姓名="赵敏", 产妇公民身份号码=MOTHER_3,
            分娩时间="2024-05-10 10:00", 出生医学证明编号="Q420099999", 新生儿性别="女",
        ),
    ]  # fmt: skip
    police = [
        police_row(),
        police_row(
            公民身份号码=CHILD_3, 姓名="钱多", 性别="女", 出生日期="2024-05-10",
            出生医学证明编号="Q420099999", 母亲姓名="赵敏", 母亲公民身份号码=MOTHER_3,
            户号="H000999",
        ),
    ]  # fmt: skip
    write_csv(inbox / "pop_births.csv", pop)
    write_csv(inbox / "hosp_deliveries.csv", hosp)
    write_csv(inbox / "police_births.csv", police)
    write_divisions(inbox)
    return inbox
