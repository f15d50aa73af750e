"""Ingest: find the feed files in an inbox and read each into a frame of raw strings.

Every physical record ends up either as a row of `RawFeed.rows` (with its line
number) or in `RawFeed.malformed` with a reason; nothing is dropped. Values stay
strings here; `recon.normalize` turns them into canonical types.

A file that cannot be read at all raises `InputError` (exit 3) with one line saying
what the file is and what to do; a file in the inbox that is no feed is listed in
`Inbox.ignored` with the reason. The limits of [ingest] bound the work one file can
cause, so no file can hang the night.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import fnmatch
import hashlib
import io
import re
import stat
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from recon.config import Config, IngestSettings
from recon.ingest.feeds import FEED_SPECS, Column, Feed

LINE = "line"  # physical line of the record in its file (header = 1); sheet row for XLSX

FORMATS = {".csv": "csv", ".txt": "csv", ".xlsx": "xlsx", ".parquet": "parquet"}
RAW_SHOWN = 1000  # characters of an over-long record kept in quarantine's `raw`


def _one_line(text: str, limit: int = 400) -> str:
    """Messages go to cron logs one line each: no newlines, no control characters."""
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class InputError(Exception):
    """An input cannot be processed at all (exit code 3)."""

    def __init__(self, file: Path | str, problem: str) -> None:
        self.file = str(file)
        self.problem = _one_line(problem)
        super().__init__(f"{_one_line(self.file)}: {self.problem}")


@dataclass(frozen=True)
class InboxFile:
    path: Path
    kind: str  # pop, hosp, police or divisions


@dataclass(frozen=True)
class IgnoredFile:
    """A file of the inbox that is not read, and why."""

    path: Path
    reason: str

    @property
    def name(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class Inbox:
    feeds: list[InboxFile]
    divisions: list[InboxFile]
    ignored: list[IgnoredFile]


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


# --- the inbox ---------------------------------------------------------------------------------


def discover(inbox: Path, config: Config) -> Inbox:
    """Assign each file in the inbox to a feed, by its name or else its header.

    Nothing in the inbox is passed over unlisted: what is not read is in `ignored` with
    the reason. Only regular files are opened (a FIFO would block the night), and a
    symlink is followed only when its target stays inside the inbox.
    """
    if not inbox.is_dir():
        raise InputError(inbox, "收件箱不是文件夹 (inbox is not a directory)")
    root = inbox.resolve()
    feeds: list[InboxFile] = []
    divisions: list[InboxFile] = []
    ignored: list[IgnoredFile] = []
    order: dict[str, int] = {name: i for i, name in enumerate(FEED_SPECS)}
    for path in sorted(inbox.iterdir()):
        kind, reason = _classify(path, root, config)
        if kind == "divisions":
            divisions.append(InboxFile(path, kind))
        elif kind is not None:
            feeds.append(InboxFile(path, kind))
        else:
            ignored.append(IgnoredFile(path, reason))
    feeds.sort(key=lambda f: (order[f.kind], f.path.name))
    return Inbox(feeds, divisions, ignored)


def _classify(path: Path, root: Path, config: Config) -> tuple[str | None, str]:
    """The kind of an inbox entry, or None and the reason it is not read."""
    name = path.name
    if name.startswith("~$"):
        return None, "Excel 临时锁文件 (an Excel lock file)"
    if name.startswith("."):
        return None, "隐藏文件 (a hidden file)"
    try:
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            target = path.resolve()
            if not target.is_relative_to(root):
                return None, (
                    f"符号链接指向收件箱之外的 {target}，未读取 (symlink target outside the "
                    "inbox, not followed)：请把文件本身复制到收件箱"
                )
            mode = path.stat().st_mode
    except FileNotFoundError:
        return None, "符号链接的目标不存在 (dangling symlink)"
    except (OSError, RuntimeError) as exc:  # a symlink loop, a permission denied
        return None, f"无法查看该文件 (cannot stat: {exc})"
    if stat.S_ISDIR(mode):
        return None, "是文件夹，不读取其中的文件 (a folder: only files in the inbox are read)"
    if not stat.S_ISREG(mode):
        what = (
            "命名管道 FIFO"
            if stat.S_ISFIFO(mode)
            else "套接字 socket"
            if stat.S_ISSOCK(mode)
            else "设备文件 device"
        )
        return None, f"不是普通文件（{what}），未打开 (not a regular file, never opened)"

    fmt = _format_of(path)
    kind = _kind_of(name, config)
    if kind == "divisions":
        return kind, ""
    if kind is not None:
        if fmt is None:
            return None, (
                f"文件名属于 {kind}，但格式 {path.suffix or '（无扩展名）'} 不支持 (unsupported "
                "format)：请导出为 CSV、XLSX 或 Parquet"
            )
        _check_size(path, config.ingest)
        return kind, ""
    if fmt is None:
        return None, (
            "文件名不符合任何数据源的命名规则，格式也不是 CSV/XLSX/Parquet (name matches no "
            "feed pattern; not CSV, XLSX or Parquet)"
        )
    return _kind_by_header(path, fmt, config)


def _kind_of(name: str, config: Config) -> str | None:
    folded = unicodedata.normalize("NFKC", name).lower()
    for kind, patterns in config.inbox_patterns.items():
        if any(fnmatch.fnmatch(folded, unicodedata.normalize("NFKC", p).lower()) for p in patterns):
            return kind
    return None


def _format_of(path: Path) -> str | None:
    return FORMATS.get(path.suffix.lower())


def _kind_by_header(path: Path, fmt: str, config: Config) -> tuple[str | None, str]:
    """A file named like no feed belongs to the one feed whose required columns it has."""
    try:
        _check_size(path, config.ingest)
        header = _header_only(path, fmt, config.ingest)
    except InputError as exc:
        return None, f"文件名不符合任何数据源的命名规则，表头也无法读取：{exc.problem}"
    except Exception as exc:
        detail = _one_line(str(exc), 120)
        return None, f"文件名不符合任何数据源的命名规则，表头也无法读取 ({detail})"
    missing = {name: header_match(header, feed, config)[1] for name, feed in FEED_SPECS.items()}
    complete = [name for name, lacking in missing.items() if not lacking]
    if len(complete) == 1:
        return complete[0], ""
    patterns = "、".join(p for ps in config.inbox_patterns.values() for p in ps)
    if complete:
        return None, (
            f"表头同时含有 {'、'.join(complete)} 的全部必需列，无法判断是哪个数据源 (header fits "
            f"more than one feed)：请按命名规则（{patterns}）命名文件"
        )
    closest = min(missing, key=lambda name: len(missing[name]))
    lacking = "、".join(f"{c.label}({c.name})" for c in missing[closest])
    return None, (
        "文件名不符合任何数据源的命名规则，表头也不含任何数据源的全部必需列 (name and header "
        f"match no feed)；最接近 {closest}，缺少 {lacking}；请按命名规则（{patterns}）命名文件，"
        "或在 recon.toml 的 [headers] 中配置表头别名"
    )


def _check_size(path: Path, limits: IngestSettings) -> None:
    size = path.stat().st_size
    if size > limits.max_file_mb * 1024 * 1024:
        raise InputError(
            path,
            f"文件有 {size / 1024 / 1024:,.0f} MB，超过 [ingest] max_file_mb = "
            f"{limits.max_file_mb} 的上限 (file larger than max_file_mb)：请确认导出的范围，"
            "或在 recon.toml 中调高上限",
        )


def sha256_of(path: Path) -> str:
    """The content hash; a file that vanished or is no regular file is an InputError."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise InputError(path, "不是普通文件，未打开 (not a regular file, never opened)")
        digest = hashlib.sha256()
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()
    except OSError as exc:
        raise InputError(path, f"无法打开 (cannot open: {exc.strerror or exc})") from exc


# --- headers ---------------------------------------------------------------------------------


def _header_key(text: str) -> str:
    """Compare headers by content: NFKC folds full-width forms; case and spaces do not count."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()


def header_match(
    header: list[str], feed: Feed, config: Config
) -> tuple[dict[str, str], list[Column], list[tuple[str, str, str]]]:
    """Each header's canonical column (unknown ones map to themselves), the feed's required
    columns the header lacks, and (first, second, canonical) for headers meaning one column."""
    lookup: dict[str, str] = {}
    for column in feed.columns:
        lookup[_header_key(column.name)] = column.name
        lookup[_header_key(column.label)] = column.name
    for alias, target in config.header_aliases.get(feed.name, {}).items():
        lookup[_header_key(alias)] = target

    mapping: dict[str, str] = {}
    seen: dict[str, str] = {}
    twice: list[tuple[str, str, str]] = []
    for name in header:
        canonical = lookup.get(_header_key(name))
        if canonical is None:
            mapping[name] = name
            continue
        if canonical in seen:
            twice.append((seen[canonical], name, canonical))
        seen[canonical] = name
        mapping[name] = canonical
    missing = [c for c in feed.columns if c.required and c.name not in seen]
    return mapping, missing, twice


def map_header(header: list[str], feed: Feed, config: Config, path: Path) -> dict[str, str]:
    """Map each header to a canonical column; unknown headers map to themselves (extras)."""
    mapping, missing, twice = header_match(header, feed, config)
    for first, second, canonical in twice:
        raise InputError(path, f"headers {first!r} and {second!r} both mean {canonical}; keep one")
    if missing:
        names = ", ".join(f"{c.label} ({c.name})" for c in missing)
        raise InputError(path, f"{feed.name} feed is missing required column(s): {names}")
    return mapping


def _header_only(path: Path, fmt: str, limits: IngestSettings) -> list[str]:
    """The header row alone, read cheaply: the first 64 KB of a CSV, one sheet row, a schema."""
    _check_content(path, fmt)
    if fmt == "xlsx":
        import openpyxl

        _check_workbook(path, limits)
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            if not workbook.worksheets:
                raise InputError(path, "工作簿没有工作表 (no worksheet)")
            for row in workbook.worksheets[0].iter_rows(values_only=True, max_row=1000):
                cells = [_cell_text(v) or "" for v in row]
                if any(c.strip() for c in cells):
                    return [c.strip() for c in cells if c.strip()]
        finally:
            workbook.close()
        raise InputError(path, "第一个工作表是空的 (first sheet is empty)")
    if fmt == "parquet":
        _check_parquet_ends(path)
        return list(pl.read_parquet_schema(path))
    with path.open("rb") as f:
        head = f.read(1 << 16)
    text = _decode_head(head)
    if "\n" not in text and len(head) == 1 << 16:
        raise InputError(path, "第1行超过 64 KB，不像表头 (first line longer than 64 KB)")
    first = text.split("\n", 1)[0].rstrip("\r")
    names = next(csv.reader([first], delimiter=_sniff(first)), [])
    return [h.strip().lstrip("\ufeff") for h in names]


def _decode_head(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return head[3:].decode("utf-8", errors="replace")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return head.decode("utf-16", errors="replace")
    for encoding in ("utf-8", "gb18030"):
        try:  # incremental: the 64 KB may end inside a character
            return codecs.getincrementaldecoder(encoding)("strict").decode(head, final=False)
        except UnicodeDecodeError:
            continue
    return head.decode("utf-8", errors="replace")


# --- what a file is ----------------------------------------------------------------------------

_ZIP = (b"PK\x03\x04", b"PK\x05\x06")
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls, or an encrypted .xlsx
_GZIP = b"\x1f\x8b"
_PARQUET = b"PAR1"
_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 12, 13)) + b"\x7f"


def _content_of(path: Path) -> str:
    """What the first bytes say the file is: empty, zip, ole, gzip, parquet, binary or text."""
    with path.open("rb") as f:
        head = f.read(1 << 16)
    if not head.strip():
        return "empty"
    if head.startswith(_ZIP):
        return "zip"
    if head.startswith(_OLE):
        return "ole"
    if head.startswith(_GZIP):
        return "gzip"
    if head.startswith(_PARQUET):
        return "parquet"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "text"
    # Text has no NULs and few control characters; a stray few are the row checks' business.
    controls = len(head) - len(head.translate(None, _CONTROL))
    if head.count(0) > len(head) // 100 or controls > len(head) // 20:
        return "binary"
    return "text"


_NOT = {
    "csv": {
        "zip": "这是 Excel 工作簿（XLSX），不是 CSV (an Excel workbook named .csv)：请把扩展名改为 "
        ".xlsx，或在 Excel 中“另存为 CSV UTF-8”后再放入收件箱",
        "ole": "这是旧版 Excel 工作簿（.xls），不是 CSV (a legacy .xls workbook named .csv)：请在 "
        "Excel 中另存为 .xlsx 或 CSV UTF-8",
        "parquet": "这是 Parquet 文件，不是 CSV (a Parquet file named .csv)：请把扩展名改为 "
        ".parquet",
    },
    "xlsx": {
        "text": "这是文本文件（可能是 CSV），不是 Excel 工作簿 (text, not an XLSX workbook)：若是 "
        "CSV，请把扩展名改为 .csv",
        "ole": "这是旧版 .xls 或加了密码的 Excel 文件，不是 XLSX (a legacy .xls or encrypted "
        "workbook)：请在 Excel 中另存为 .xlsx（不设密码）",
        "parquet": "这是 Parquet 文件，不是 Excel 工作簿 (a Parquet file named .xlsx)：请把扩展名"
        "改为 .parquet",
    },
    "parquet": {
        "zip": "这是 Excel 工作簿，不是 Parquet (an Excel workbook named .parquet)：请把扩展名改为 "
        ".xlsx",
        "ole": "这是旧版 Excel 工作簿（.xls），不是 Parquet：请另存为 .xlsx 或 CSV UTF-8",
        "text": "这是文本文件（可能是 CSV），不是 Parquet (text, not Parquet)：若是 CSV，请把扩展名"
        "改为 .csv",
    },
}
_EMPTY = "文件是空的，没有表头 (empty file, no header)：请重新导出该文件"
_GZIPPED = "这是 gzip 压缩文件 (a gzip archive)：请先解压，再把其中的文件放入收件箱"
_BINARY = {
    "csv": "内容是二进制数据，不是 CSV 文本 (binary data, not CSV text)：文件可能已损坏，请重新导出"
    "为 CSV UTF-8",
    "xlsx": "不是 Excel 工作簿，内容无法识别 (not an XLSX workbook: unrecognised data)：文件可能已"
    "损坏，请重新导出",
    "parquet": "不是 Parquet 文件，内容无法识别 (not a Parquet file: unrecognised data)：文件可能已"
    "损坏，请重新导出",
}


def _check_content(path: Path, fmt: str) -> None:
    """Refuse a file whose content is not what its suffix says, saying what it is."""
    content = _content_of(path)
    if content == "empty":
        raise InputError(path, _EMPTY)
    if content == "gzip":
        raise InputError(path, _GZIPPED)
    expected = {"csv": "text", "xlsx": "zip", "parquet": "parquet"}[fmt]
    if content == expected:
        return
    if fmt == "csv" and content == "text":
        return
    raise InputError(path, _NOT[fmt].get(content) or _BINARY[fmt])


def _check_workbook(path: Path, limits: IngestSettings) -> None:
    """An XLSX is a zip: a truncated one has no directory, a bomb unpacks past the limit."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile as exc:
        raise InputError(
            path,
            "Excel 工作簿不完整或已损坏（zip 结构无效，可能复制或传输中断）(truncated or damaged "
            "XLSX)：请重新导出或重新复制该文件",
        ) from exc
    if "xl/workbook.xml" not in names:
        raise InputError(
            path,
            "这是 ZIP 压缩包，不是 Excel 工作簿 (a zip archive, not an XLSX workbook)：请放入 "
            ".xlsx 工作簿本身，或解压后放入其中的 CSV",
        )
    if unpacked > limits.max_file_mb * 1024 * 1024:
        raise InputError(
            path,
            f"工作簿解压后有 {unpacked / 1024 / 1024:,.0f} MB，超过 [ingest] max_file_mb = "
            f"{limits.max_file_mb} (unzipped workbook larger than max_file_mb)：请导出为 CSV",
        )


def _check_parquet_ends(path: Path) -> None:
    with path.open("rb") as f:
        size = f.seek(0, io.SEEK_END)
        f.seek(max(size - 4, 0))
        tail = f.read(4)
    if size < 12 or tail != _PARQUET:
        raise InputError(
            path,
            "Parquet 文件不完整（缺少文件尾，可能传输中断）(truncated Parquet)：请重新导出或"
            "重新复制",
        )


def _damaged(path: Path, fmt: str, exc: BaseException) -> InputError:
    """The one-line reason for a file a reader failed on, with what to do next."""
    detail = _one_line(f"{type(exc).__name__}: {exc}", 160)
    what = {
        "csv": "无法作为 CSV 读取 (cannot be read as CSV",
        "xlsx": "Excel 工作簿内容已损坏 (damaged XLSX",
        "parquet": "Parquet 文件已损坏或不符合规范 (damaged or out-of-spec Parquet",
    }[fmt]
    todo = {
        "csv": "请检查文件后重新导出为 CSV UTF-8",
        "xlsx": "请在 Excel 中打开并另存为 .xlsx，或导出为 CSV UTF-8",
        "parquet": "请重新导出，或改为导出 CSV",
    }[fmt]
    if isinstance(exc, MemoryError):
        return InputError(path, f"文件太大，内存不足 (out of memory reading it)：{todo}")
    return InputError(path, f"{what}: {detail})：{todo}")


# --- encodings ---------------------------------------------------------------------------------


def detect_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, else GB18030 (a superset of GBK).

    A file that is no text (a workbook, random bytes) is refused as what it is first.
    """
    _check_content(path, "csv")
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


def _decoded(path: Path) -> tuple[str, bytes]:
    """detect_encoding and _utf8_bytes in one read of the file: its encoding, and its text
    as UTF-8 without BOM.

    detect_encoding reads a file once per encoding it tries and _utf8_bytes once more; a
    GB18030 file was decoded twice. Here UTF-8 is validated by Arrow (the same strict
    rules as Python's decoder, a tenth of its time) and GB18030 decoded once.
    """
    _check_content(path, "csv")
    data = path.read_bytes()
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", data[3:]
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", _utf8_bytes(path, "utf-16")
    if _is_utf8(data):
        return "utf-8", data
    try:
        return "gb18030", _transcoded(data, "gb18030")
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
    fmt = _format_of(path) or "csv"
    encoding: str | None = None
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise InputError(path, "不是普通文件，未打开 (not a regular file, never opened)")
        _check_size(path, limits)
        if fmt == "csv":
            encoding, text = _decoded(path)
            header, records, malformed = read_csv_records(path, encoding, limits, data=text)
            del text
        elif fmt == "xlsx":
            _check_content(path, fmt)
            header, records, malformed = _read_xlsx(path, limits)
        else:
            _check_content(path, fmt)
            header, records, malformed = _read_parquet(path, limits)
        records, malformed = _limit_fields(records, malformed, header, limits)
        mapping = map_header(header, feed, config, path)
        size_bytes = path.stat().st_size
        digest = sha256 or sha256_of(path)
    except InputError:
        raise
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # a reader's panic (pyo3 PanicException) is one, too
        raise _damaged(path, fmt, exc) from exc

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


def _sniff(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def read_csv_records(
    path: Path, encoding: str, limits: IngestSettings | None = None, data: bytes | None = None
) -> tuple[list[str], pl.DataFrame, pl.DataFrame]:
    """Header, rows (with physical line numbers) and malformed records of a CSV file.

    `data`: the file's text as UTF-8 without BOM, when the caller has read it already.
    """
    limits = limits or IngestSettings()
    try:
        if data is None:
            data = _utf8_bytes(path, encoding)
        if not data or data.isspace():
            raise InputError(path, _EMPTY)
        end = data.find(b"\n", 0, 1 << 16)
        first_line = data[: end if end >= 0 else 1 << 16]
        delimiter = _sniff(first_line.decode("utf-8", errors="replace"))
        fast = _read_csv_vectorised(path, data, delimiter, limits)
        if fast is not None:
            return fast
        return _read_csv_exact(path, encoding, delimiter, data=data, limits=limits)
    except InputError:
        raise
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # divisions are read here too
        raise _damaged(path, "csv", exc) from exc


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


def _transcoded(data: bytes, encoding: str) -> bytes:
    """`data` from `encoding` to UTF-8 without BOM, as _utf8_bytes reads a file."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    out = bytearray()
    view = memoryview(data)
    for start in range(0, len(data), 1 << 22):
        out += decoder.decode(view[start : start + (1 << 22)]).encode("utf-8")
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


def _read_csv_vectorised(
    path: Path, data: bytes, delimiter: str, limits: IngestSettings
) -> tuple[list[str], pl.DataFrame, pl.DataFrame] | None:
    """Polars parses the values; numpy finds each record's physical line and field count.

    Records and delimiters are located by quote parity (RFC 4180: a quote only opens or
    closes a quoted field, "" inside one is an escaped quote). When Polars' rows disagree
    with that view (a stray quote in an unquoted field, say), or a record looks like a
    stray quote's work (it spans more than max_record_lines lines, or a line inside it is
    a whole record by itself), this returns None and the exact reader reads the file, so
    line numbers are exact and swallowed lines are read as their own records.
    """
    if not data or data.isspace():
        return None
    if not data.endswith(b"\n"):
        data += b"\n"
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
    # Polars reads the header and the good records only: cut out the few others.
    dropped = np.flatnonzero(body & ~good)
    pieces: list[memoryview] = []  # views: slicing the bytes would copy each piece first
    view, position = memoryview(data), 0
    for i in dropped:
        pieces.append(view[position : record_starts[i]])
        position = record_ends[i] + 1
    cleaned = b"".join([*pieces, view[position:]]) if pieces else data
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
    if rows.height != taken.size or rows.width != width:
        return None
    rows.columns = header
    rows = rows.select(
        pl.Series(LINE, start_lines[taken], dtype=pl.Int64), *[pl.col(h) for h in header]
    )
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
    return header, rows, _malformed(start_lines[bad_index].tolist(), raws, reasons)


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

    def __init__(self, data: bytes, max_chars: int) -> None:
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
    data: bytes | None = None,
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
        raise InputError(path, _EMPTY)
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


def _read_xlsx(
    path: Path, limits: IngestSettings | None = None
) -> tuple[list[str], pl.DataFrame, pl.DataFrame]:
    # openpyxl rather than fastexcel: it reports true sheet rows (fastexcel skips leading blank
    # rows) and tells numbers from text, so an id number stored as a float is caught.
    import openpyxl

    limits = limits or IngestSettings()
    _check_workbook(path, limits)
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
            cells = [_cell_text(v) for v in row]
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
    _check_parquet_ends(path)
    schema = pl.read_parquet_schema(path)
    for position, (name, dtype) in enumerate(schema.items(), start=1):
        if dtype.is_nested() or dtype in (pl.Binary, pl.Object):
            raise InputError(
                path,
                f"第{position}列“{name}”是 {dtype} 类型，不是平面的值 (nested, list or binary "
                "column)：recon 只读文本、数字和日期列；请把该列展开或转为文本后重新导出",
            )
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
