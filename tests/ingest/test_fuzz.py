"""Fuzz: a few hundred damaged or odd feed files through `recon run`, each a clear answer.

A seeded generator writes feed files of every form cron meets: clean ones in every
encoding, delimiter and line ending; truncated at a random byte; random bytes; a format
other than the suffix says; stray quotes (alone, in pairs, beside real quoted and
multi-line values); huge fields; many line breaks in a value; empty, header only,
blank lines, wrong field counts; NUL and control characters; mixed encodings; XLSX with
formulas, blank rows and cells beyond the header, truncated or not a workbook; Parquet
with a list column, truncated or out of spec; and entries that are no file (a FIFO, a
folder, symlinks out of the inbox or to nowhere).

Every file goes through the CLI against one store, a night of a few files at a time:
- no traceback (the runner does not catch exceptions), exit code 0, 2, 3 or 5;
- exit 3 names exactly one of the night's files in one line and leaves the store as it
  was; that file is taken out and the night run again;
- exit 0: each file is listed with rows_read = rows_accepted + rows_quarantined, equal to
  the records written; each entry that is no feed file is listed as ignored, with why.

Time: no file here can make the run slow, because the code bounds the work per file:
a record is cut at [ingest] max_record_chars (100,000 characters) and counted over at
most max_record_lines (20) lines before it is taken for a stray quote, a value is
checked against max_field_chars (10,000), a file against max_file_mb, and a FIFO is
never opened. The largest file written is about 1 MB.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import polars as pl
from conftest import Recon, hosp_row, id_with_check, police_row, pop_row, write_csv, write_divisions

from recon.ingest.feeds import FEED_SPECS

SEED = 20261123
CASES = 240
NIGHT = 10  # files per run

SURNAMES = "张王李赵刘陈杨黄周吴徐孙马朱胡郭何林罗高"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平"
ODD_VALUES = ["待核实\n电话未接通", "张湾,卫生院", '说"是"', "a\nb\nc", "=1+2", " 　 ", ""]


@dataclass
class Case:
    name: str  # the file's name in the inbox (unique: f###_ prefix)
    write: Callable[[Path], None]
    records: int | None  # records written, when exit 0 must count exactly these
    expect: str  # "read" (never exit 3), "refuse" (exit 3), "either", "ignored" (listed)


def people(rng: random.Random, case: int, feed: str, n: int) -> list[dict[str, Any]]:
    """n distinct, plausible records of `feed`, with a 备注 column carried as an extra."""
    rows = []
    for i in range(n):
        day = f"2024{rng.randint(1, 11):02d}{rng.randint(1, 28):02d}"
        mother = id_with_check(f"4206211990{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{i:03d}")
        mother_name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
        date = f"{day[:4]}-{day[4:6]}-{day[6:]}"
        key = f"F{case:03d}R{i:03d}"
        if feed == "pop":
            row = pop_row(记录编号=key, 出生日期=date, 公民身份号码="", 母亲姓名=mother_name,
                          母亲公民身份号码=mother)  # fmt: skip
        elif feed == "hosp":
            row = hosp_row(登记编号=key, 分娩时间=f"{date} 08:30", 产妇姓名=mother_name,
                           产妇公民身份号码=mother, 出生医学证明编号="")  # fmt: skip
        else:
            child = id_with_check(f"420607{day}{case % 500 * 2 + i % 2:03d}"[:17])
            row = police_row(公民身份号码=child, 出生日期=date, 母亲姓名=mother_name,
                             母亲公民身份号码=mother, 户号=key, 出生医学证明编号="")  # fmt: skip
        row["备注"] = ""
        rows.append(row)
    return rows


def records_text(
    rows: list[dict[str, Any]], delimiter: str = ",", newline: str = "\n"
) -> list[str]:
    """Header and each record as csv.writer writes them (quoting what needs it)."""
    out = []
    for values in [list(rows[0]), *[list(r.values()) for r in rows]]:
        buffer = io.StringIO()
        csv.writer(buffer, delimiter=delimiter, lineterminator=newline).writerow(values)
        out.append(buffer.getvalue())
    return out


def put(data: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data)


def stray_quotes(rng: random.Random, records: list[str], count: int) -> list[str]:
    """A `"` at the start of a field on the first line of some records (not the header)."""
    for i in rng.sample(range(1, len(records)), min(count, len(records) - 1)):
        first, newline, rest = records[i].partition("\n")
        fields = first.split(",")
        j = rng.randrange(len(fields))
        if not fields[j].startswith('"'):
            fields[j] = '"' + fields[j]
        records[i] = ",".join(fields) + newline + rest
    return records


def workbook(rows: list[dict[str, Any]], rng: random.Random, formulas: bool) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for _ in range(rng.randint(0, 2)):
        sheet.append([None])  # blank rows above the header
    sheet.append(list(rows[0]))
    for row in rows:
        values = list(row.values())
        if formulas and rng.random() < 0.5:
            values[-1] = '=LEN(A1)&"x"'  # no cached value: read as empty
        sheet.append(values)
        if rng.random() < 0.1:
            sheet.append([None])  # a blank row is no record
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def parquet(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


def a_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("data.csv", "a,b\n1,2\n")
    return buffer.getvalue()


def make_case(rng: random.Random, number: int, tmp: Path) -> Case:
    feed = rng.choice(["pop", "hosp", "police"])
    n = rng.randint(1, 30)
    rows = people(rng, number, feed, n)
    kind = rng.choice(KINDS)
    stem = f"{feed}_f{number:03d}_{kind}"

    def csv_case(lines: list[str], encoding: str = "utf-8", records: int | None = n) -> Case:
        return Case(f"{stem}.csv", put("".join(lines).encode(encoding)), records, "read")

    if kind == "clean":
        delimiter = rng.choice([",", "\t", ";"])
        newline = rng.choice(["\n", "\r\n"])
        encoding = rng.choice(["utf-8", "utf-8-sig", "gb18030", "utf-16"])
        text = "".join(records_text(rows, delimiter, newline))
        if rng.random() < 0.3:
            text = text.rstrip("\r\n")  # no newline at the end
        return Case(f"{stem}.csv", put(text.encode(encoding)), n, "read")
    if kind == "odd_values":  # real quoted and multi-line values, formula text, spaces
        for row in rows:
            row["备注"] = rng.choice(ODD_VALUES)
        return csv_case(records_text(rows))
    if kind == "header_only":  # its own extra column: no two such files are the same
        return csv_case(records_text([{**rows[0], f"备注{number}": ""}])[:1], records=0)
    if kind == "empty":
        return Case(f"{stem}.csv", put(b""), None, "refuse")
    if kind == "random_bytes":
        return Case(f"{stem}.csv", put(rng.randbytes(rng.randint(1, 5000))), None, "refuse")
    if kind == "truncated":
        for row in rows:
            row["备注"] = rng.choice(ODD_VALUES)
        lines = records_text(rows)
        data = "".join(lines).encode("utf-8")
        cut = rng.randint(len(lines[0].encode()), len(data))
        starts = [len("".join(lines[:i]).encode()) for i in range(1, len(lines))]
        return Case(f"{stem}.csv", put(data[:cut]), sum(s < cut for s in starts), "either")
    if kind == "stray_quotes":
        lines = stray_quotes(rng, records_text(rows), rng.randint(1, 4))
        return csv_case(lines)
    if kind == "stray_quotes_among_quoted":
        for row in rows:
            row["备注"] = rng.choice(ODD_VALUES[:4])
        return csv_case(stray_quotes(rng, records_text(rows), rng.randint(1, 3)))
    if kind == "huge_field":
        rows[rng.randrange(n)]["备注"] = rng.choice("x张") * rng.choice(
            [20_000, 200_000, 1_000_000]
        )
        return csv_case(records_text(rows))
    if kind == "many_newlines":
        rows[rng.randrange(n)]["备注"] = "\n" * rng.choice([25, 1_000, 200_000])
        return csv_case(records_text(rows))
    if kind == "blank_and_short_lines":
        lines = records_text(rows)
        out, records = [lines[0]], n
        for line in lines[1:]:
            out.append(line)
            if rng.random() < 0.2:
                out.append(rng.choice(["\n", "  \n", "\r\n"]))  # blank: no record
            if rng.random() < 0.2:
                out.append("F999,only,three\n")  # wrong number of fields: a record
                records += 1
        return csv_case(out, records=records)
    if kind == "nul_and_controls":
        for row in rng.sample(rows, min(3, n)):
            row["备注"] = rng.choice(["a\x00b", "\x01\x02", "x\x1by", "\x7f"])
        return csv_case(records_text(rows))
    if kind == "lone_cr":
        rows[rng.randrange(n)]["备注"] = "a\rb"
        lines = records_text(rows)
        lines = [line.replace('"a\rb"', "a\rb") for line in lines]  # unquoted, as some tools write
        return csv_case(lines)
    if kind == "mixed_encodings":
        lines = records_text(rows)
        data = b"".join(
            line.encode("gb18030" if i and rng.random() < 0.5 else "utf-8")
            for i, line in enumerate(lines)
        )
        return Case(f"{stem}.csv", put(data), n, "either")
    if kind == "english_headers":
        labels = {c.label: c.name for c in FEED_SPECS[feed].columns}
        renamed = [{labels.get(k, k): v for k, v in row.items()} for row in rows]
        return csv_case(records_text(renamed), encoding=rng.choice(["utf-8", "gb18030"]))
    if kind == "xlsx_named_csv":
        return Case(f"{stem}.csv", put(workbook(rows, rng, False)), None, "refuse")
    if kind == "parquet_named_csv":
        return Case(f"{stem}.csv", put(parquet(pl.DataFrame(rows))), None, "refuse")
    if kind == "csv_named_xlsx":
        return Case(f"{stem}.xlsx", put("".join(records_text(rows)).encode()), None, "refuse")
    if kind == "zip_named_xlsx":
        return Case(f"{stem}.xlsx", put(a_zip()), None, "refuse")
    if kind == "xlsx":
        formulas = rng.random() < 0.5
        return Case(f"{stem}.xlsx", put(workbook(rows, rng, formulas)), n, "read")
    if kind == "xlsx_beyond_header":
        book = workbook(rows, rng, False)
        path = tmp / f"{stem}.xlsx"
        path.write_bytes(book)
        loaded = openpyxl.load_workbook(path)
        sheet = loaded.active
        assert sheet is not None
        sheet.cell(sheet.max_row, sheet.max_column + 2, "多出的值")
        loaded.save(path)
        return Case(f"{stem}.xlsx", put(path.read_bytes()), n, "read")
    if kind == "xlsx_truncated":
        book = workbook(rows, rng, False)
        return Case(f"{stem}.xlsx", put(book[: rng.randint(0, len(book) - 1)]), None, "refuse")
    if kind == "parquet":
        frame = pl.DataFrame(rows)
        if rng.random() < 0.5:
            frame = frame.with_columns(
                pl.lit(1, pl.Int64).alias("胎数" if feed == "hosp" else "备注")
            )
        return Case(f"{stem}.parquet", put(parquet(frame)), n, "read")
    if kind == "parquet_list_column":
        frame = pl.DataFrame(rows).with_columns(pl.lit(["a", "b"]).alias("备注"))
        return Case(f"{stem}.parquet", put(parquet(frame)), None, "refuse")
    if kind == "parquet_damaged":
        data = parquet(pl.DataFrame(rows))
        if rng.random() < 0.5:
            data = data[: rng.randint(0, len(data) - 1)]  # truncated
        else:
            middle = rng.randbytes(len(data) - 16)
            data = data[:8] + middle + data[-8:]  # out of spec between valid ends
        return Case(f"{stem}.parquet", put(data), None, "refuse")
    if kind == "fifo":
        return Case(f"{stem}.csv", lambda path: os.mkfifo(path), None, "ignored")
    if kind == "folder":
        return Case(f"{stem}.csv", lambda path: path.mkdir(), None, "ignored")
    if kind == "symlink_out":
        target = rng.choice(["/etc/passwd", "/etc/hostname", str(tmp / "outside.csv")])
        return Case(f"{stem}.csv", lambda path: path.symlink_to(target), None, "ignored")
    assert kind == "dangling_symlink", kind
    return Case(
        f"{stem}.csv", lambda path: path.symlink_to(path.with_name("gone")), None, "ignored"
    )


KINDS = [
    *["clean"] * 4, *["odd_values"] * 2, "header_only", "empty", "random_bytes",
    *["truncated"] * 3, *["stray_quotes"] * 3, *["stray_quotes_among_quoted"] * 3,
    "huge_field", "many_newlines", "blank_and_short_lines", "nul_and_controls", "lone_cr",
    "mixed_encodings", "english_headers", "xlsx_named_csv", "parquet_named_csv",
    "csv_named_xlsx", "zip_named_xlsx", *["xlsx"] * 2, "xlsx_beyond_header",
    "xlsx_truncated", *["parquet"] * 2, "parquet_list_column", "parquet_damaged", "fifo",
    "folder", "symlink_out", "dangling_symlink",
]  # fmt: skip


def test_every_damaged_or_odd_file_gets_a_clear_answer(recon: Recon, tmp_path: Path) -> None:
    rng = random.Random(SEED)
    first = tmp_path / "first"
    first.mkdir()
    for feed, maker in (("pop", pop_row), ("hosp", hosp_row), ("police", police_row)):
        write_csv(first / f"{feed}_first.csv", [maker()])
    write_divisions(first)
    (tmp_path / "outside.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    # Ingest is under test, not linking: no Splink model is trained on the growing store.
    config = tmp_path / "recon.toml"
    config.write_text("[reconcile]\nfuzzy = false\n", encoding="utf-8")
    assert recon.run(first, "--config", str(config)).exit_code == 0
    state = recon.dump()

    cases = [make_case(rng, number, tmp_path) for number in range(CASES)]
    # A file that must be refused has a night of its own (a refused night costs little);
    # the others share nights, with the files that may or may not be refused among them.
    refused = [[case] for case in cases if case.expect == "refuse"]
    others = [case for case in cases if case.expect != "refuse"]
    nights = refused + [others[i : i + NIGHT] for i in range(0, len(others), NIGHT)]
    seen: dict[str, int] = {}
    for number, files in enumerate(nights):
        night = tmp_path / f"night{number:03d}"
        night.mkdir()
        pending = {case.name: case for case in files}
        for case in pending.values():
            case.write(night / case.name)
        while pending:
            result = recon.run(night, "--config", str(config))
            code = result.exit_code
            assert code in (0, 2, 3, 5), result.output
            seen[str(code)] = seen.get(str(code), 0) + 1
            if code == 3:
                line = [row for row in result.output.splitlines() if row.startswith("recon:")]
                assert len(line) == 1, result.output
                named = [name for name in pending if name in line[0]]
                assert len(named) == 1, line[0]
                assert pending[named[0]].expect in ("refuse", "either"), line[0]
                assert recon.dump() == state, line[0]  # the store as it was
                (night / named[0]).unlink()
                del pending[named[0]]
                continue
            if code == 0:
                check_night(recon, pending)
                state = recon.dump()
            else:  # 5: only entries that are no feed file were left; 2: nothing was run
                assert all(c.expect == "ignored" for c in pending.values()), result.output
                assert recon.dump() == state
            break
    assert seen.get("0") and seen.get("3")  # both kinds of night happened


def check_night(recon: Recon, pending: dict[str, Case]) -> None:
    summary = json.loads((recon.out / "run.json").read_text(encoding="utf-8"))
    files = {f["file"]: f for f in summary["files"]}
    ignored = {i["file"]: i["reason"] for i in summary["ignored"]}
    for name, case in pending.items():
        if case.expect == "ignored":
            assert ignored.get(name), (name, ignored)
            continue
        assert case.expect != "refuse", (name, files.get(name), ignored.get(name))
        report = files[name]
        assert report["rows_read"] == report["rows_accepted"] + report["rows_quarantined"], name
        if case.records is not None:
            assert report["rows_read"] == case.records, (name, report)
