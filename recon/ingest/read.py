"""Ingest: read one feed file (CSV, XLSX or Parquet) into a frame of raw strings.

Every physical record ends up either as a row of `RawFeed.rows` (with its line
number) or in `RawFeed.malformed` with a reason; nothing is dropped. Values stay
strings here; `recon.ingest.normalize` turns them into canonical types. Which files
are feeds, and whether a file is what its name says, is `recon.ingest.inbox`.

A file that cannot be read at all raises `InputError` (exit 3) with one line saying
what the file is and what to do. The limits of [ingest] bound the work one file can
cause, so no file can hang the night.
"""

from __future__ import annotations

import codecs
import csv
import io
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from recon.config import Config, IngestSettings
from recon.ingest.feeds import FEED_SPECS, Feed
from recon.ingest.inbox import (
    EMPTY,
    InboxFile,
    InputError,
    cell_text,
    check_content,
    check_parquet_ends,
    check_size,
    check_workbook,
    damaged,
    dataset_size,
    format_of,
    map_header,
    parquet_parts,
    sha256_of,
    sniff,
)
from recon.ingest.transcode import to_utf8

LINE = "line"  # physical line of the record in its file (header = 1); sheet row for XLSX

RAW_SHOWN = 1000  # characters of an over-long record kept in quarantine's `raw`


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


# --- encodings ---------------------------------------------------------------------------------


def detect_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, else GB18030 (a superset of GBK).

    A file that is no text (a workbook, random bytes) is refused as what it is first.
    """
    check_content(path, "csv")
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
    raise InputError(path, _UNDECODABLE)


_UNDECODABLE = (
    "无法按 UTF-8 或 GB18030/GBK 解码 (cannot be decoded as UTF-8 or GB18030/GBK)：可能混用了"
    "编码或已损坏；请重新导出为 CSV UTF-8"
)


def _decoded(path: Path) -> tuple[str, bytes | bytearray]:
    """detect_encoding and _utf8_bytes in one read of the file: its encoding, and its text
    as UTF-8 without BOM.

    detect_encoding reads a file once per encoding it tries and _utf8_bytes once more; a
    GB18030 file was decoded twice. Here UTF-8 is validated by Arrow (the same strict
    rules as Python's decoder, a tenth of its time) and GB18030 decoded once.
    """
    check_content(path, "csv")
    data = path.read_bytes()
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", data[3:]
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", _utf8_bytes(path, "utf-16")
    if _is_utf8(data):
        return "utf-8", data
    try:
        return "gb18030", to_utf8(data, "gb18030")
    except UnicodeDecodeError:
        raise InputError(path, _UNDECODABLE) from None


def _is_utf8(data: bytes) -> bool:
    import pyarrow as pa

    # One Arrow string holding the whole file; full validation checks it is UTF-8.
    offsets = np.array([0, len(data)], dtype=np.int64)
    text = pa.LargeStringArray.from_buffers(1, pa.py_buffer(offsets), pa.py_buffer(data))
    try:
        text.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


# --- readers -----------------------------------------------------------------------------------


def read_feed(file: InboxFile, config: Config, sha256: str | None = None) -> RawFeed:
    """Read one feed file into raw string columns under canonical names.

    `sha256` is the file's content hash when the caller has it already. Whatever goes
    wrong reading the file is an InputError naming it: a damaged file stops the night
    (exit 3), it never crashes it.
    """
    path = file.path
    feed = FEED_SPECS[file.kind]  # type: ignore[index]
    limits = config.ingest
    fmt = format_of(path) or "csv"
    encoding: str | None = None
    try:
        if not stat.S_ISREG(path.stat().st_mode) and not path.is_dir():
            raise InputError(path, "不是普通文件，未打开 (not a regular file, never opened)")
        check_size(path, limits)
        if fmt == "csv":
            encoding, header, records, malformed = read_csv_file(path, limits)
        elif fmt == "xlsx":
            check_content(path, fmt)
            header, records, malformed = _read_xlsx(path, limits)
        else:
            check_content(path, fmt)
            header, records, malformed = _read_parquet(path, limits)
        records, malformed = _limit_fields(records, malformed, header, limits)
        mapping = map_header(header, feed, config, path)
        size_bytes = dataset_size(path)
        digest = sha256 or sha256_of(path)
    except InputError:
        raise
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # a reader's panic (pyo3 PanicException) is one, too
        raise damaged(path, fmt, exc) from exc

    rows = records.rename({h: mapping[h] for h in header})
    missing_optional = [c for c in feed.column_names if c not in rows.columns]
    rows = rows.with_columns(pl.lit(None, pl.String).alias(c) for c in missing_optional)
    extras = [mapping[h] for h in header if mapping[h] not in feed.column_names]
    rows = rows.select(LINE, *feed.column_names, *extras)
    return RawFeed(
        feed=feed,
        path=path,
        sha256=digest,
        size_bytes=size_bytes,
        format=fmt,
        encoding=encoding,
        header=header,
        columns=mapping,
        extras=extras,
        rows=rows,
        malformed=malformed,
    )


def _clean_header(path: Path, header: list[str], max_columns: int | None = None) -> list[str]:
    """Trim header names, name blank ones by position, refuse a header used twice."""
    if max_columns is not None and len(header) > max_columns:
        raise InputError(
            path,
            f"表头有 {len(header):,} 列，超过 [ingest] max_columns = {max_columns} (too many "
            "columns)：请检查分隔符和表头",
        )
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


def _clip(text: str, limit: int = RAW_SHOWN) -> str:
    """An over-long record's `raw`, cut: quarantine.csv must stay a file people can open."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…（已截断，共 {len(text):,} 字符 truncated）"


def _limit_fields(
    rows: pl.DataFrame, malformed: pl.DataFrame, header: list[str], limits: IngestSettings
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Quarantine rows with a value longer than max_field_chars.

    Vectorised and cheap: the byte length of every value is read from the string
    offsets; characters are counted only in the few rows long enough to be suspects.
    """
    limit = limits.max_field_chars
    if rows.height == 0 or not header:
        return rows, malformed
    widest = rows.select(pl.col(h).str.len_bytes().max() for h in header).row(0)
    if all(n is None or n <= limit for n in widest):
        return rows, malformed
    longest = pl.max_horizontal(pl.col(h).str.len_bytes() for h in header)
    suspects = rows.filter(longest > limit)
    chars = suspects.select(pl.col(h).str.len_chars().fill_null(0) for h in header)
    over = suspects.filter(pl.max_horizontal(chars) > limit)
    if over.height == 0:
        return rows, malformed
    lines, raws, reasons = [], [], []
    for values in over.select(LINE, *header).iter_rows():
        line, cells = values[0], ["" if v is None else str(v) for v in values[1:]]
        longest_at = max(range(len(header)), key=lambda i: len(cells[i]))
        lines.append(line)
        raws.append(_clip(_as_csv([_clip(c, RAW_SHOWN // 4) for c in cells])))
        reasons.append(
            f"字段“{header[longest_at]}”有 {len(cells[longest_at]):,} 字符，超过 [ingest] "
            f"max_field_chars = {limit} (field longer than max_field_chars)"
        )
    kept = rows.filter(~pl.col(LINE).is_in(over[LINE].implode()))
    found = pl.concat([malformed, _malformed(lines, raws, reasons)]).sort(LINE)
    return kept, found


def read_csv_records(
    path: Path, encoding: str, limits: IngestSettings | None = None, data: bytes | None = None
) -> tuple[list[str], pl.DataFrame, pl.DataFrame]:
    """Header, rows (with physical line numbers) and malformed records of a CSV file.

    `data`: the file's text as UTF-8 without BOM, when the caller has read it already.
    """
    held: list[bytes | bytearray] = [] if data is None else [data]
    return _read_csv(path, encoding, held, limits or IngestSettings(), owned=data is None)


def read_csv_file(
    path: Path, limits: IngestSettings
) -> tuple[str, list[str], pl.DataFrame, pl.DataFrame]:
    """read_csv_records of a file whose encoding it detects: its encoding, header, rows and
    malformed records. The file's text is read once, and let go before Polars parses it."""
    encoding, data = _decoded(path)
    held = [data]
    del data
    return encoding, *_read_csv(path, encoding, held, limits, owned=True)


def _read_csv(
    path: Path, encoding: str, held: list[bytes | bytearray], limits: IngestSettings, owned: bool
) -> tuple[list[str], pl.DataFrame, pl.DataFrame]:
    """`held` holds the file's text (or nothing yet: it is read here). When `owned`,
    nothing else does: the vectorised reader empties it once it has placed every record,
    so that the text (1.5 GB for a feed of ten million births) is not kept beside Polars'
    parse of it (twice that again); the exact reader, when it is needed after all, reads
    the file again."""
    try:
        if not held:
            held.append(_utf8_bytes(path, encoding))
        data = held[0]
        if not data or data.isspace():
            raise InputError(path, EMPTY)
        end = data.find(b"\n", 0, 1 << 16)
        first_line = data[: end if end >= 0 else 1 << 16]
        delimiter = sniff(first_line.decode("utf-8", errors="replace"))
        del data
        fast = _read_csv_vectorised(path, held, delimiter, limits, owned)
        if fast is not None:
            return fast
        data = held[0] if held else _utf8_bytes(path, encoding)
        held.clear()
        return _read_csv_exact(path, encoding, delimiter, data=data, limits=limits)
    except InputError:
        raise
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # divisions are read here too
        raise damaged(path, "csv", exc) from exc


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


def _looks_like_record(text: str, delimiter: str, width: int) -> bool:
    """Whether a physical line found inside another record starts a record of its own.

    Such a line is the mark of a stray quote that swallowed it. A line that truly
    continues a quoted value starts inside the value, so its first quote closes the value
    (followed by a delimiter or the line's end) or is an escaped "" in it; a line whose
    first quote opens a field starts a record (its own value may go on to the next line,
    or hold a stray quote of its own). A line without quotes starts a record when it has
    the header's width: a note's line break is not followed by a record's delimiters.
    """
    text = text.rstrip("\r\n")
    if width < 2 or not text:
        return False
    first = text.find('"')
    if first < 0:
        return text.count(delimiter) == width - 1
    opens_a_field = first == 0 or text[first - 1] == delimiter
    return opens_a_field and text[first + 1 : first + 2] not in ('"', delimiter, "")


def _swallow_reason(first: int, swallowed: list[int], to_end: bool) -> str:
    """「第143行的引号未闭合，吞并了第144–200行」, for the quarantined line of a stray quote."""
    lines = f"第{swallowed[0]}行" if len(swallowed) == 1 else f"第{swallowed[0]}–{swallowed[-1]}行"
    more = "起的若干行" if to_end else ""
    english = (
        f"line {swallowed[0]}" if len(swallowed) == 1 else f"lines {swallowed[0]}–{swallowed[-1]}"
    )
    return (
        f"第{first}行的引号未闭合，吞并了{lines}{more} (an unclosed quote on line {first} "
        f"swallowed {english}{' and on' if to_end else ''})；第{first}行已隔离，其后各行已单独读取"
    )


_SCAN_PIECE = 1 << 18  # bytes: a quarter of a MB sits in the L2 cache


def _scan(buf: np.ndarray, delimiter: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The positions of the newlines and of the quotes in `buf`, and how many delimiters
    come before each of them (newlines first, then quotes).

    One pass over the file in pieces that stay in the CPU cache: comparing the whole file
    at once writes (and page-faults) a mask as large as the file for each byte sought.
    Delimiters are many (one byte in ten), so they are not listed one by one: their mask
    is packed into 64-bit words whose set bits are counted (popcount).
    """
    piece = _SCAN_PIECE
    newlines, quotes, before_newlines, before_quotes = [], [], [], []
    seen = 0  # delimiters in the pieces before this one
    for start in range(0, buf.size, piece):
        chunk = buf[start : start + piece]
        words = np.packbits(chunk == delimiter, bitorder="little")
        words = np.concatenate([words, np.zeros(-words.size % 8, dtype=np.uint8)]).view(np.uint64)
        before_word = np.concatenate(([0], np.cumsum(_popcount(words), dtype=np.int64)))
        at_newlines = np.flatnonzero(chunk == 10)
        newlines.append(at_newlines + start)
        before_newlines.append(_set_bits_before(words, before_word, at_newlines) + seen)
        at_quotes = np.flatnonzero(chunk == 34)
        if at_quotes.size:
            quotes.append(at_quotes + start)
            before_quotes.append(_set_bits_before(words, before_word, at_quotes) + seen)
        seen += int(before_word[-1])
    empty = np.empty(0, dtype=np.int64)
    return (
        np.concatenate([empty, *newlines]),
        np.concatenate([empty, *quotes]),
        np.concatenate([empty, *before_newlines, *before_quotes]),
    )


_BITS_IN_BYTE = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _popcount(words: np.ndarray) -> np.ndarray:
    """The set bits of each 64-bit word: NumPy 2's bitwise_count, else a table of bytes."""
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(words)
    per_byte = _BITS_IN_BYTE[np.ascontiguousarray(words).view(np.uint8)]
    return per_byte.reshape(-1, 8).sum(axis=1, dtype=np.uint8)


def _set_bits_before(words: np.ndarray, before_word: np.ndarray, bits: np.ndarray) -> np.ndarray:
    """The set bits before each bit position in `bits`: those of the words before its word
    (`before_word`, a running count) and those of its own word below it."""
    word = bits >> 6
    below = (np.uint64(1) << (bits & 63).astype(np.uint64)) - np.uint64(1)
    return before_word[word] + _popcount(words[word] & below)


@dataclass(frozen=True)
class _Placed:
    """What the scan of a file found, all that Polars' parse needs beside it."""

    header: list[str]
    lines: np.ndarray  # the physical line of each record Polars is to read
    malformed: pl.DataFrame
    cleaned: bytes  # the header and those records (the text itself when none was cut)


def _read_csv_vectorised(
    path: Path, held: list[bytes | bytearray], delimiter: str, limits: IngestSettings, owned: bool
) -> tuple[list[str], pl.DataFrame, pl.DataFrame] | None:
    """Polars parses the values; numpy finds each record's physical line and field count.

    Records and delimiters are located by quote parity (RFC 4180: a quote only opens or
    closes a quoted field, "" inside one is an escaped quote). When Polars' rows disagree
    with that view (a stray quote in an unquoted field, say), or a record looks like a
    stray quote's work (it spans more than max_record_lines lines, or a line inside it is
    a whole record by itself), this returns None and the exact reader reads the file, so
    line numbers are exact and swallowed lines are read as their own records.

    When `owned`, the text is let go before the parse: only the cleaned copy and the
    records' line numbers are kept beside it, not the scan's arrays (about 120 bytes a
    record) nor the text itself.
    """
    placed = _place(path, held, delimiter, limits, owned)
    if placed is None:
        return None
    if owned:
        held.clear()
    header, lines, malformed, cleaned = (
        placed.header, placed.lines, placed.malformed, placed.cleaned
    )  # fmt: skip
    del placed
    try:
        rows = pl.read_csv(
            cleaned,
            has_header=True,
            separator=delimiter,
            quote_char='"',
            infer_schema=False,
            raise_if_empty=False,
        )
    except pl.exceptions.PolarsError:
        return None
    finally:
        del cleaned
    if rows.height != lines.size or rows.width != len(header):
        return None
    rows.columns = header
    rows = rows.select(pl.Series(LINE, lines, dtype=pl.Int64), *[pl.col(h) for h in header])
    return header, rows, malformed


def _place(
    path: Path, held: list[bytes | bytearray], delimiter: str, limits: IngestSettings, owned: bool
) -> _Placed | None:
    """Every record's place, physical line and field count (numpy), the malformed records,
    and the text cut to the header and the good records; None when the exact reader must
    read the file (see _read_csv_vectorised)."""
    data = held[0]
    if not data or data.isspace():
        return None
    if not data.endswith(b"\n"):
        if owned and isinstance(data, bytearray):
            data += b"\n"  # in place: the text is not copied
        else:
            data = data + b"\n"
        if owned:  # the copy stands for the text; the exact reader would read it again
            held.clear()
    buf = np.frombuffer(data, dtype=np.uint8)
    newlines, quotes, delimiters_before = _scan(buf, ord(delimiter))
    quotes_through_line = np.searchsorted(quotes, newlines, side="right")
    closes = quotes_through_line % 2 == 0  # a newline outside quotes ends a record
    record_ends = newlines[closes]
    if record_ends.size == 0 or record_ends[-1] != newlines[-1]:
        return None  # a quote is never closed: the exact reader says whose
    record_starts = np.concatenate(([0], record_ends[:-1] + 1))
    start_lines = np.searchsorted(newlines, record_starts, side="left") + 1
    end_lines = np.flatnonzero(closes) + 1
    spans = end_lines - start_lines + 1
    if spans[0] > 1:
        return None  # a header across lines: the exact reader refuses it with the reason

    header_record = data[record_starts[0] : record_ends[0]].decode("utf-8").rstrip("\r")
    if len(header_record) > limits.max_record_chars:
        return None
    header = _clean_header(
        path, next(csv.reader([header_record], delimiter=delimiter)), limits.max_columns
    )
    width = len(header)

    # Records over several lines are few: check each for a stray quote's marks.
    for i in np.flatnonzero(spans > 1):
        if spans[i] > limits.max_record_lines:
            return None
        for line in range(int(start_lines[i]) + 1, int(end_lines[i]) + 1):
            text = data[newlines[line - 2] + 1 : newlines[line - 1]].decode("utf-8")
            if _looks_like_record(text, delimiter, width):
                return None

    sizes = record_ends - record_starts + 1
    too_long: list[int] = []
    for i in np.flatnonzero(sizes > limits.max_record_chars):  # bytes bound characters
        text = data[record_starts[i] : record_ends[i] + 1].decode("utf-8")
        if len(text) > limits.max_record_chars:
            if spans[i] > 1:
                return None  # the exact reader finds where such a record ends
            too_long.append(int(i))

    # Delimiters before each record's end, less those inside quoted values: every quoted
    # value (a pair of quotes) lies within one record, so those before a record's end are
    # the pairs that close before it.
    through_end = delimiters_before[: newlines.size][closes]
    if quotes.size:
        at_quotes = delimiters_before[newlines.size :]
        inside = np.concatenate(([0], np.cumsum(at_quotes[1::2] - at_quotes[::2])))
        through_end = through_end - inside[np.searchsorted(quotes[1::2], record_ends)]
    fields = np.diff(through_end, prepend=0) + 1
    lengths = record_ends - record_starts
    trimmed = lengths - (buf[np.maximum(record_ends - 1, 0)] == 13)  # CRLF
    blank = trimmed == 0
    body = np.arange(record_ends.size) >= 1
    # A line of white space only is blank too, as the csv reader has it; such lines are
    # among the few with a wrong field count.
    for i in np.flatnonzero(body & ~blank & (fields != width)):
        if not data[record_starts[i] : record_ends[i]].decode("utf-8").strip():
            blank[i] = True
    over = np.zeros(record_ends.size, dtype=bool)
    over[too_long] = True
    bad = body & ~blank & ((fields != width) | over)
    good = body & ~blank & ~bad

    taken = np.flatnonzero(good)
    bad_index = np.flatnonzero(bad)
    for i in bad_index:
        if data.find(b'"', record_starts[i], record_ends[i]) >= 0:
            return None  # a malformed record with quotes: the exact reader sees what they took
    raws, reasons = [], []
    for i in bad_index:
        text = data[record_starts[i] : record_ends[i]].decode("utf-8").rstrip("\r")
        raws.append(_clip(text))
        reasons.append(
            _too_long_reason(int(start_lines[i]), int(end_lines[i]), limits)
            if over[i]
            else f"字段数为 {fields[i]}，表头为 {width} 列 (wrong number of fields)"
        )
    malformed = _malformed(start_lines[bad_index].tolist(), raws, reasons)

    # Polars reads the header and the good records only: cut out the few others.
    dropped = np.flatnonzero(body & ~good)
    pieces: list[memoryview] = []  # views: slicing the bytes would copy each piece first
    view, position = memoryview(data), 0
    for i in dropped:
        pieces.append(view[position : record_starts[i]])
        position = record_ends[i] + 1
    # Polars reads bytes only: a transcoded file's bytearray is copied when nothing is cut
    # (bytes(data) is data itself when it is bytes).
    cleaned = b"".join([*pieces, view[position:]]) if pieces else bytes(data)
    del pieces, view
    return _Placed(header, start_lines[taken], malformed, cleaned)


def _too_long_reason(first: int, last: int, limits: IngestSettings) -> str:
    where = f"第{first}行" if first == last else f"第{first}–{last}行"
    return (
        f"记录（{where}）超过 [ingest] max_record_chars = {limits.max_record_chars} 字符 "
        "(record longer than max_record_chars)"
    )


class _Lines:
    """The physical lines of a file (split at \\n only, as `line` counts them), numbered.

    The csv module reads records from it; it keeps the lines each record took, stops a
    record at max_record_chars, and takes lines back so that a stray quote's swallowed
    lines can be read again as records of their own.
    """

    def __init__(self, data: bytes | bytearray, max_chars: int) -> None:
        self._stream = io.BytesIO(data)
        self._back: list[tuple[int, str]] = []
        self._count = 0
        self.max_chars = max_chars
        self.begin()

    def begin(self) -> None:
        """Start a record."""
        self.taken: list[tuple[int, str]] = []
        self.chars = 0
        self.over = False  # the record reached max_record_chars
        self.exhausted = False  # the file ended inside the record

    def pull(self) -> tuple[int, str] | None:
        if self._back:
            return self._back.pop()
        raw = self._stream.readline()
        if not raw:
            return None
        self._count += 1
        return self._count, raw.decode("utf-8", errors="replace")

    def give_back(self, lines: list[tuple[int, str]]) -> None:
        self._back.extend(reversed(lines))

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if self.over:
            raise StopIteration
        item = self.pull()
        if item is None:
            self.exhausted = True
            raise StopIteration
        self.taken.append(item)
        self.chars += len(item[1])
        if self.chars > self.max_chars:
            self.over = True
            raise StopIteration
        return item[1]

    def rest_of_value(self, delimiter: str, width: int, most: int) -> list[tuple[int, str]]:
        """The lines that close a value opened on a malformed record's lines, if that is
        what they are: up to `most` lines, none a record by itself, the last closing the
        quote. Otherwise nothing is taken."""
        taken: list[tuple[int, str]] = []
        while len(taken) < most:
            item = self.pull()
            if item is None:
                break
            taken.append(item)
            if _looks_like_record(item[1], delimiter, width):
                break
            if sum(text.count('"') for _, text in taken) % 2:
                return taken
        self.give_back(taken)
        return []

    def close_quote(self) -> int:
        """Skip the rest of a record cut at max_record_chars: the line its quote closes on.

        Quote parity per line is exact enough here: the record is quarantined whole.
        """
        number, text = self.taken[-1]  # the line that did not fit, inside the quoted value
        quoted = True
        while True:
            if text.count('"') % 2:
                quoted = not quoted
            if not quoted:
                return number
            item = self.pull()
            if item is None:
                return number
            number, text = item


def _read_csv_exact(
    path: Path,
    encoding: str,
    delimiter: str,
    data: bytes | bytearray | None = None,
    limits: IngestSettings | None = None,
) -> tuple[list[str], pl.DataFrame, pl.DataFrame]:
    """The csv module, record by record: slower, but exact for any file the vectorised
    reader cannot vouch for, and the one that undoes a stray quote.

    A record that holds a line which is a whole record by itself, or that spans more than
    max_record_lines lines, is a stray quote's work: its first line is quarantined, naming
    the lines swallowed, and those lines are read again as records of their own.
    """
    limits = limits or IngestSettings()
    if data is None:
        data = _utf8_bytes(path, encoding)
    # Records are cut at max_record_chars before the csv module sees them.
    csv.field_size_limit(max(csv.field_size_limit(), limits.max_record_chars + 1))
    source = _Lines(data, limits.max_record_chars)

    try:
        header_record = next(csv.reader(source, delimiter=delimiter), None)
    except csv.Error as exc:
        raise InputError(path, f"表头无法按 CSV 解析 (header is not CSV: {exc})") from exc
    if source.over:
        raise InputError(
            path,
            f"表头超过 [ingest] max_record_chars = {limits.max_record_chars} 字符 (header too "
            "long)：请检查分隔符和文件格式",
        )
    if header_record is None:
        raise InputError(path, EMPTY)
    if len(source.taken) > 1:
        raise InputError(
            path,
            f"表头跨了第1–{source.taken[-1][0]}行，可能有未闭合的引号 (header spans several "
            "lines: an unclosed quote?)：请检查表头",
        )
    header = _clean_header(path, header_record, limits.max_columns)
    width = len(header)

    columns: list[list[str | None]] = [[] for _ in header]
    lines: list[int] = []
    bad_lines: list[int] = []
    bad_raw: list[str] = []
    bad_reason: list[str] = []

    def refuse(taken: list[tuple[int, str]], reason: str) -> None:
        bad_lines.append(taken[0][0])
        bad_raw.append(_clip("".join(text for _, text in taken).rstrip("\r\n")))
        bad_reason.append(reason)

    reader = csv.reader(source, delimiter=delimiter)
    while True:
        source.begin()
        try:
            record: list[str] | None = next(reader)
        except StopIteration:
            record = None
        except csv.Error as exc:
            if source.taken:
                refuse(source.taken, f"无法按 CSV 解析 (not parseable as CSV: {exc})")
            reader = csv.reader(source, delimiter=delimiter)
            continue
        taken = source.taken
        if not taken:
            break
        first, last = taken[0][0], taken[-1][0]
        swallowed = len(taken) > 1 and any(
            _looks_like_record(text, delimiter, width) for _, text in taken[1:]
        )
        if source.over:  # cut at max_record_chars
            reader = csv.reader(source, delimiter=delimiter)
            if swallowed:
                refuse(taken[:1], _swallow_reason(first, [n for n, _ in taken[1:]], to_end=True))
                source.give_back(taken[1:])
            elif len(taken) > 1:
                refuse(taken, _too_long_reason(first, source.close_quote(), limits))
            else:
                refuse(taken, _too_long_reason(first, last, limits))
            continue
        if record is None:
            break
        if swallowed:
            refuse(taken[:1], _swallow_reason(first, [n for n, _ in taken[1:]], to_end=False))
            source.give_back(taken[1:])
            reader = csv.reader(source, delimiter=delimiter)
            continue
        if len(taken) > limits.max_record_lines:
            refuse(
                taken,
                f"一条记录跨 {len(taken)} 行（第{first}–{last}行），超过 [ingest] "
                f"max_record_lines = {limits.max_record_lines} (record spans more lines "
                "than max_record_lines)",
            )
            continue
        if source.exhausted:  # the file ended inside a quoted value
            refuse(
                taken,
                f"第{first}行的引号直到文件末尾都未闭合 (an unclosed quote on line {first} runs "
                "to the end of the file)",
            )
            continue
        if not record or (len(record) == 1 and not record[0].strip()):
            continue  # a blank line is no record
        if len(record) != width:
            reason = f"字段数为 {len(record)}，表头为 {width} 列 (wrong number of fields)"
            quotes = sum(text.count('"') for _, text in taken)
            # A stray quote that paired with a value's opening quote: the value's other
            # lines belong to this record, not to records of their own.
            rest = (
                source.rest_of_value(delimiter, width, limits.max_record_lines - len(taken))
                if quotes and quotes % 2 == 0
                else []
            )
            if rest:
                where = f"第{first}行" if first == last else f"第{first}–{last}行"
                after = f"第{rest[0][0]}行" if len(rest) == 1 else f"第{rest[0][0]}–{rest[-1][0]}行"
                reason += (
                    f"；{where}引号不成对，{after}是其中一个值的续行 (an unbalanced quote: the "
                    "lines after continue one of its values)"
                )
                refuse(taken + rest, reason)
            else:
                bad_lines.append(first)
                bad_raw.append(_clip(_as_csv(record)))
                bad_reason.append(reason)
            continue
        lines.append(first)
        for column, value in zip(columns, record, strict=True):
            column.append(value)
    return header, _frame(header, columns, lines), _malformed(bad_lines, bad_raw, bad_reason)


def _as_csv(values: Iterable[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(values)
    return buffer.getvalue()


def _read_xlsx(
    path: Path, limits: IngestSettings | None = None
) -> tuple[list[str], pl.DataFrame, pl.DataFrame]:
    # openpyxl rather than fastexcel: it reports true sheet rows (fastexcel skips leading blank
    # rows) and tells numbers from text, so an id number stored as a float is caught.
    import openpyxl

    limits = limits or IngestSettings()
    check_workbook(path, limits)
    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        if not workbook.worksheets:
            raise InputError(path, "工作簿没有工作表 (no worksheet)：请导出数据所在的工作表")
        sheet = workbook.worksheets[0]
        # The sheet's stated size is not trusted: a wrong one would skip or pad rows.
        sheet.reset_dimensions()
        rows = sheet.iter_rows(min_row=1, values_only=True)
        header: list[str] | None = None
        columns: list[list[str | None]] = []
        lines: list[int] = []
        bad_lines: list[int] = []
        bad_raw: list[str] = []
        bad_reason: list[str] = []
        for row_number, row in enumerate(rows, start=1):
            cells = [cell_text(v) for v in row]
            if all(c is None or not c.strip() for c in cells):
                continue
            if header is None:
                while cells and (cells[-1] is None or not cells[-1].strip()):
                    cells.pop()
                header = _clean_header(path, [c or "" for c in cells], limits.max_columns)
                columns = [[] for _ in header]
                continue
            if len(cells) > len(header) and any(c not in (None, "") for c in cells[len(header) :]):
                bad_lines.append(row_number)
                bad_raw.append(_clip(_as_csv([c or "" for c in cells])))
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
        raise InputError(path, "第一个工作表是空的，没有表头 (first sheet is empty: no header row)")
    return header, _frame(header, columns, lines), _malformed(bad_lines, bad_raw, bad_reason)


def _read_parquet(
    path: Path, limits: IngestSettings | None = None
) -> tuple[list[str], pl.DataFrame, pl.DataFrame]:
    limits = limits or IngestSettings()
    parts = parquet_parts(path) if path.is_dir() else [path]
    if not parts:
        raise InputError(path, "文件夹中没有 Parquet 文件 (no Parquet part in the folder)")
    for part in parts:
        check_parquet_ends(part)
    schema = pl.read_parquet_schema(parts[0])
    for position, (name, dtype) in enumerate(schema.items(), start=1):
        if dtype.is_nested() or dtype in (pl.Binary, pl.Object):
            raise InputError(
                path,
                f"第{position}列“{name}”是 {dtype} 类型，不是平面的值 (nested, list or binary "
                "column)：recon 只读文本、数字和日期列；请把该列展开或转为文本后重新导出",
            )
    if path.is_dir():
        # The parts in order, one after the other: a row's line is its place in them all.
        # Columns of `key=value` folders are the dataset's too, carried like any column.
        table = pl.read_parquet(parts, hive_partitioning=True, missing_columns="raise")
    else:
        table = pl.read_parquet(path)
    header = _clean_header(path, table.columns, limits.max_columns)
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
