"""Ingest: find the feed files in an inbox and read each into a frame of raw strings.

Every physical record ends up either as a row of `RawFeed.rows` (with its line
number) or in `RawFeed.malformed` with a reason; nothing is dropped. Values stay
strings here; `recon.normalize` turns them into canonical types.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import fnmatch
import hashlib
import io
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from recon.config import Config
from recon.feeds import FEED_SPECS, Feed

LINE = "line"  # physical line of the record in its file (header = 1); sheet row for XLSX


class InputError(Exception):
    """An input cannot be processed at all (exit code 3)."""

    def __init__(self, file: Path | str, problem: str) -> None:
        super().__init__(f"{file}: {problem}")
        self.file = str(file)
        self.problem = problem


@dataclass(frozen=True)
class InboxFile:
    path: Path
    kind: str  # pop, hosp, police or divisions


@dataclass(frozen=True)
class Inbox:
    feeds: list[InboxFile]
    divisions: list[InboxFile]
    ignored: list[Path]


@dataclass
class RawFeed:
    """One feed file, read: string values under canonical names, plus what could not be read."""

    feed: Feed
    path: Path
    sha256: str
    size_bytes: int
    format: str
    encoding: str | None
    header: list[str]  # as it stands in the file
    columns: dict[str, str]  # header as in file -> canonical name (extras keep their header)
    extras: list[str]  # headers not in the feed's contract, carried through
    rows: pl.DataFrame  # LINE + one String column per canonical/extra column
    malformed: pl.DataFrame  # LINE, raw, reason: records that are not rows at all


def discover(inbox: Path, config: Config) -> Inbox:
    """Assign each file in the inbox to a feed by its name; other files are listed as ignored."""
    if not inbox.is_dir():
        raise InputError(inbox, "inbox is not a directory")
    feeds: list[InboxFile] = []
    divisions: list[InboxFile] = []
    ignored: list[Path] = []
    order: dict[str, int] = {name: i for i, name in enumerate(FEED_SPECS)}
    for path in sorted(p for p in inbox.iterdir() if p.is_file()):
        if path.name.startswith((".", "~$")):  # hidden files and Excel lock files
            continue
        kind = _kind_of(path.name, config)
        if kind == "divisions":
            divisions.append(InboxFile(path, kind))
        elif kind is not None and _format_of(path) is not None:
            feeds.append(InboxFile(path, kind))
        else:
            ignored.append(path)
    feeds.sort(key=lambda f: (order[f.kind], f.path.name))
    return Inbox(feeds, divisions, ignored)


def _kind_of(name: str, config: Config) -> str | None:
    lowered = name.lower()
    for kind, patterns in config.inbox_patterns.items():
        if any(fnmatch.fnmatch(lowered, p.lower()) for p in patterns):
            return kind
    return None


def _format_of(path: Path) -> str | None:
    suffix = path.suffix.lower()
    return {".csv": "csv", ".txt": "csv", ".xlsx": "xlsx", ".parquet": "parquet"}.get(suffix)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- headers ---------------------------------------------------------------------------------


def _header_key(text: str) -> str:
    """Compare headers by content: NFKC folds full-width forms; case and spaces do not count."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()


def map_header(header: list[str], feed: Feed, config: Config, path: Path) -> dict[str, str]:
    """Map each header to a canonical column; unknown headers map to themselves (extras)."""
    lookup: dict[str, str] = {}
    for column in feed.columns:
        lookup[_header_key(column.name)] = column.name
        lookup[_header_key(column.label)] = column.name
    for alias, target in config.header_aliases.get(feed.name, {}).items():
        lookup[_header_key(alias)] = target

    mapping: dict[str, str] = {}
    seen: dict[str, str] = {}
    for name in header:
        canonical = lookup.get(_header_key(name))
        if canonical is None:
            mapping[name] = name
            continue
        if canonical in seen:
            raise InputError(
                path, f"headers {seen[canonical]!r} and {name!r} both mean {canonical}; keep one"
            )
        seen[canonical] = name
        mapping[name] = canonical

    missing = [c for c in feed.columns if c.required and c.name not in seen]
    if missing:
        names = ", ".join(f"{c.label} ({c.name})" for c in missing)
        raise InputError(path, f"{feed.name} feed is missing required column(s): {names}")
    return mapping


# --- encodings ---------------------------------------------------------------------------------


def detect_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, else GB18030 (a superset of GBK)."""
    with path.open("rb") as f:
        head = f.read(4)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    for encoding in ("utf-8", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
        try:
            with path.open("rb") as f:
                for chunk in iter(lambda: f.read(1 << 22), b""):
                    decoder.decode(chunk)
            decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError:
            continue
    raise InputError(path, "cannot be decoded as UTF-8 or GB18030/GBK; re-export it as UTF-8")


# --- readers -----------------------------------------------------------------------------------


def read_feed(file: InboxFile, config: Config, sha256: str | None = None) -> RawFeed:
    """Read one feed file into raw string columns under canonical names.

    `sha256` is the file's content hash when the caller has it already.
    """
    path = file.path
    feed = FEED_SPECS[file.kind]  # type: ignore[index]
    fmt = _format_of(path) or "csv"
    try:
        if fmt == "csv":
            encoding: str | None = detect_encoding(path)
            assert encoding is not None
            header, records, malformed = read_csv_records(path, encoding)
        elif fmt == "xlsx":
            encoding = None
            header, records, malformed = _read_xlsx(path)
        else:
            encoding = None
            header, records, malformed = _read_parquet(path)
    except InputError:
        raise
    except (OSError, ValueError, csv.Error, KeyError, TypeError) as exc:
        raise InputError(path, f"cannot be read as {fmt}: {exc}") from exc

    mapping = map_header(header, feed, config, path)
    rows = records.rename({h: mapping[h] for h in header})
    missing_optional = [c for c in feed.column_names if c not in rows.columns]
    rows = rows.with_columns(pl.lit(None, pl.String).alias(c) for c in missing_optional)
    extras = [mapping[h] for h in header if mapping[h] not in feed.column_names]
    rows = rows.select(LINE, *feed.column_names, *extras)
    return RawFeed(
        feed=feed,
        path=path,
        sha256=sha256 or sha256_of(path),
        size_bytes=path.stat().st_size,
        format=fmt,
        encoding=encoding,
        header=header,
        columns=mapping,
        extras=extras,
        rows=rows,
        malformed=malformed,
    )


def _clean_header(path: Path, header: list[str]) -> list[str]:
    """Trim header names, name blank ones by position, refuse a header used twice."""
    cleaned = []
    for position, raw in enumerate(header, start=1):
        name = raw.strip().lstrip("\ufeff").strip() or f"column_{position}"
        if name in cleaned:
            raise InputError(path, f"header {name!r} appears twice")
        cleaned.append(name)
    return cleaned


def _frame(header: list[str], columns: list[list[str | None]], lines: list[int]) -> pl.DataFrame:
    data: dict[str, pl.Series] = {LINE: pl.Series(LINE, lines, pl.Int64)}
    for name, values in zip(header, columns, strict=True):
        data[name] = pl.Series(name, values, pl.String)
    return pl.DataFrame(data)


def _malformed(lines: list[int], raws: list[str], reasons: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {LINE: lines, "raw": raws, "reason": reasons},
        schema={LINE: pl.Int64, "raw": pl.String, "reason": pl.String},
    )


def _sniff_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def read_csv_records(path: Path, encoding: str) -> tuple[list[str], pl.DataFrame, pl.DataFrame]:
    """Header, rows (with physical line numbers) and malformed records of a CSV file."""
    data = _utf8_bytes(path, encoding)
    first_line = data[: data.find(b"\n") if b"\n" in data[:65536] else 65536]
    delimiter = _sniff_delimiter(first_line.decode("utf-8", errors="replace"))
    fast = _read_csv_vectorised(path, data, delimiter)
    if fast is not None:
        return fast
    return _read_csv_exact(path, encoding, delimiter)


def _utf8_bytes(path: Path, encoding: str) -> bytes:
    """The file as UTF-8 without BOM; other encodings are transcoded in one streaming pass."""
    if encoding in ("utf-8", "utf-8-sig"):
        data = path.read_bytes()
        return data[3:] if data.startswith(codecs.BOM_UTF8) else data
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    out = bytearray()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            out += decoder.decode(chunk).encode("utf-8")
    out += decoder.decode(b"", final=True).encode("utf-8")
    text = bytes(out)
    return text[3:] if text.startswith(codecs.BOM_UTF8) else text


def _read_csv_vectorised(
    path: Path, data: bytes, delimiter: str
) -> tuple[list[str], pl.DataFrame, pl.DataFrame] | None:
    """Polars parses the values; numpy finds each record's physical line and field count.

    Records and delimiters are located by quote parity (RFC 4180: a quote only opens or
    closes a quoted field, "" inside one is an escaped quote). When Polars' rows disagree
    with that view (a stray quote in an unquoted field, say) this returns None and the
    csv module reads the file instead, so line numbers are exact either way.
    """
    if not data or data.isspace():
        return None
    if not data.endswith(b"\n"):
        data += b"\n"
    buf = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(buf == 10)
    quotes = np.flatnonzero(buf == 34)
    quotes_through_line = np.searchsorted(quotes, newlines, side="right")
    record_ends = newlines[quotes_through_line % 2 == 0]  # a newline outside quotes ends a record
    if record_ends.size == 0 or record_ends[-1] != newlines[-1]:
        return None  # a quote is never closed: not a file this reader can vouch for
    record_starts = np.concatenate(([0], record_ends[:-1] + 1))
    start_lines = np.searchsorted(newlines, record_starts, side="left") + 1

    delimiters = np.flatnonzero(buf == ord(delimiter))
    if quotes.size:
        delimiters = delimiters[np.searchsorted(quotes, delimiters) % 2 == 0]  # outside quotes
    through_end = np.searchsorted(delimiters, record_ends)
    fields = np.diff(through_end, prepend=0) + 1
    lengths = record_ends - record_starts
    trimmed = lengths - (buf[np.maximum(record_ends - 1, 0)] == 13)  # CRLF
    blank = trimmed == 0

    header_record = data[record_starts[0] : record_ends[0]].decode("utf-8").rstrip("\r")
    header = _clean_header(path, next(csv.reader([header_record], delimiter=delimiter)))
    width = len(header)
    body = np.arange(record_ends.size) >= 1
    good = body & ~blank & (fields == width)
    bad = body & ~blank & (fields != width)

    spans = np.flatnonzero(good)
    # Polars reads the header and the good records only: cut out the few others.
    dropped = np.flatnonzero(body & ~good)
    pieces, position = [], 0
    for i in dropped:
        pieces.append(data[position : record_starts[i]])
        position = record_ends[i] + 1
    cleaned = b"".join([*pieces, data[position:]]) if pieces else data
    try:
        rows = pl.read_csv(
            io.BytesIO(cleaned),
            has_header=True,
            separator=delimiter,
            quote_char='"',
            infer_schema=False,
            raise_if_empty=False,
        )
    except pl.exceptions.PolarsError:
        return None
    if rows.height != spans.size or rows.width != width:
        return None
    rows.columns = header
    rows = rows.select(
        pl.Series(LINE, start_lines[spans], dtype=pl.Int64), *[pl.col(h) for h in header]
    )
    bad_index = np.flatnonzero(bad)
    malformed = _malformed(
        start_lines[bad_index].tolist(),
        [data[record_starts[i] : record_ends[i]].decode("utf-8").rstrip("\r") for i in bad_index],
        [f"字段数为 {fields[i]}，表头为 {width} 列 (wrong number of fields)" for i in bad_index],
    )
    return header, rows, malformed


def _read_csv_exact(
    path: Path, encoding: str, delimiter: str
) -> tuple[list[str], pl.DataFrame, pl.DataFrame]:
    # The csv module, record by record: slower, but exact for any file the vectorised
    # reader cannot vouch for.
    with path.open("r", encoding=encoding, newline="") as text:
        reader = csv.reader(text, delimiter=delimiter)
        header = next(reader, None)
        if header is None:
            raise InputError(path, "file is empty: no header line")
        header = _clean_header(path, header)
        width = len(header)
        columns: list[list[str | None]] = [[] for _ in header]
        lines: list[int] = []
        bad_lines: list[int] = []
        bad_raw: list[str] = []
        bad_reason: list[str] = []
        previous_end = reader.line_num
        for record in reader:
            start = previous_end + 1
            previous_end = reader.line_num
            if not record or (len(record) == 1 and not record[0].strip()):
                continue  # a blank line is no record
            if len(record) != width:
                bad_lines.append(start)
                bad_raw.append(_as_csv(record))
                bad_reason.append(
                    f"字段数为 {len(record)}，表头为 {width} 列 (wrong number of fields)"
                )
                continue
            lines.append(start)
            for column, value in zip(columns, record, strict=True):
                column.append(value)
    return header, _frame(header, columns, lines), _malformed(bad_lines, bad_raw, bad_reason)


def _as_csv(values: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(values)
    return buffer.getvalue()


def _cell_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        # An 18-digit identity number typed as a number has lost its last digits in Excel;
        # keep the float's text so the value fails to read instead of turning into another id.
        return repr(value)
    return str(value)


def _read_xlsx(path: Path) -> tuple[list[str], pl.DataFrame, pl.DataFrame]:
    # openpyxl rather than fastexcel: it reports true sheet rows (fastexcel skips leading blank
    # rows) and tells numbers from text, so an id number stored as a float is caught.
    import openpyxl

    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header: list[str] | None = None
        columns: list[list[str | None]] = []
        lines: list[int] = []
        bad_lines: list[int] = []
        bad_raw: list[str] = []
        bad_reason: list[str] = []
        start = sheet.min_row or 1
        for row_number, row in enumerate(rows, start=start):
            cells = [_cell_text(v) for v in row]
            if all(c is None or not c.strip() for c in cells):
                continue
            if header is None:
                while cells and (cells[-1] is None or not cells[-1].strip()):
                    cells.pop()
                header = _clean_header(path, [c or "" for c in cells])
                columns = [[] for _ in header]
                continue
            if len(cells) > len(header) and any(c not in (None, "") for c in cells[len(header) :]):
                bad_lines.append(row_number)
                bad_raw.append(_as_csv([c or "" for c in cells]))
                bad_reason.append(
                    f"表头外的单元格有值 (values beyond the {len(header)} headed columns)"
                )
                continue
            cells = (cells + [None] * len(header))[: len(header)]
            lines.append(row_number)
            for column, value in zip(columns, cells, strict=True):
                column.append(value)
    finally:
        workbook.close()
    if header is None:
        raise InputError(path, "first sheet is empty: no header row")
    return header, _frame(header, columns, lines), _malformed(bad_lines, bad_raw, bad_reason)


def _read_parquet(path: Path) -> tuple[list[str], pl.DataFrame, pl.DataFrame]:
    table = pl.read_parquet(path)
    header = _clean_header(path, table.columns)
    table.columns = header
    rows = table.select(_parquet_text(table, c) for c in header).with_row_index(LINE, offset=1)
    rows = rows.with_columns(pl.col(LINE).cast(pl.Int64))
    return header, rows, _malformed([], [], [])


def _parquet_text(table: pl.DataFrame, column: str) -> pl.Expr:
    dtype = table.schema[column]
    if dtype == pl.Datetime:
        return pl.col(column).dt.strftime("%Y-%m-%d %H:%M:%S").alias(column)
    return pl.col(column).cast(pl.String).alias(column)


def iter_rows_as_csv(frame: pl.DataFrame, columns: list[str]) -> Iterator[str]:
    """The raw row as read, in file column order, for quarantine."""
    for values in frame.select(columns).iter_rows():
        yield _as_csv(["" if v is None else str(v) for v in values])
