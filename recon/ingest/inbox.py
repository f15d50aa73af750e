"""Ingest: which files of the inbox are feeds, and whether each is what its name says.

Each file is assigned to a feed by its name, else by its header; what is not read is
listed in `Inbox.ignored` with the reason, so nothing in the inbox passes unlisted. A
file whose content is not its suffix's (a workbook named .csv, a gzip, random bytes)
or that is over the [ingest] limits raises `InputError` (exit 3), one line saying what
the file is and what to do.
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
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from recon.config import Config, IngestSettings
from recon.ingest.feeds import FEED_SPECS, Column, Feed

FORMATS = {".csv": "csv", ".txt": "csv", ".xlsx": "xlsx", ".parquet": "parquet"}


def one_line(text: str, limit: int = 400) -> str:
    """Messages go to cron logs one line each: no newlines, no control characters."""
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class InputError(Exception):
    """An input cannot be processed at all (exit code 3)."""

    def __init__(self, file: Path | str, problem: str) -> None:
        self.file = str(file)
        self.problem = one_line(problem)
        super().__init__(f"{one_line(self.file)}: {self.problem}")


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
        return _classify_folder(path, config)
    if not stat.S_ISREG(mode):
        what = (
            "命名管道 FIFO"
            if stat.S_ISFIFO(mode)
            else "套接字 socket"
            if stat.S_ISSOCK(mode)
            else "设备文件 device"
        )
        return None, f"不是普通文件（{what}），未打开 (not a regular file, never opened)"

    fmt = format_of(path)
    kind = _kind_of(name, config)
    if kind == "divisions":
        return kind, ""
    if kind is not None:
        if fmt is None:
            return None, (
                f"文件名属于 {kind}，但格式 {path.suffix or '（无扩展名）'} 不支持 (unsupported "
                "format)：请导出为 CSV、XLSX 或 Parquet"
            )
        check_size(path, config.ingest)
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


def format_of(path: Path) -> str | None:
    if path.is_dir():
        return "parquet"  # a folder in the inbox's feeds is a Parquet dataset
    return FORMATS.get(path.suffix.lower())


def parquet_parts(folder: Path) -> list[Path] | None:
    """The parts of a Parquet dataset, in order: a folder of `*.parquet` files, perhaps in
    `key=value` subfolders, as Spark and Hive write a table. Names starting with `_` or
    `.` are the writer's bookkeeping (`_SUCCESS`, `.part-0.crc`, `_temporary/`). None if
    the folder holds no part, or anything else."""
    parts: list[Path] = []
    for entry in sorted(folder.rglob("*")):
        relative = entry.relative_to(folder)
        if any(piece.startswith((".", "_")) for piece in relative.parts) or entry.is_dir():
            continue
        if entry.suffix.lower() != ".parquet" or not entry.is_file():
            return None
        parts.append(entry)
    return parts or None


def _classify_folder(path: Path, config: Config) -> tuple[str | None, str]:
    """A folder is read only as a feed's Parquet dataset (one feed file in many parts)."""
    if parquet_parts(path) is None:
        return None, (
            "是文件夹，不读取其中的文件 (a folder: only files, or a folder holding only the "
            "Parquet parts of one feed, are read)"
        )
    kind = _kind_of(path.name, config)
    if kind == "divisions":
        return None, "区划代码表须是一个 CSV 文件，不能是文件夹 (divisions must be one CSV)"
    if kind is not None:
        check_size(path, config.ingest)
        return kind, ""
    return _kind_by_header(path, "parquet", config)


def dataset_size(path: Path) -> int:
    """Bytes of a file, or of a Parquet dataset's parts."""
    if path.is_dir():
        return sum(part.stat().st_size for part in parquet_parts(path) or [])
    return path.stat().st_size


def _kind_by_header(path: Path, fmt: str, config: Config) -> tuple[str | None, str]:
    """A file named like no feed belongs to the one feed whose required columns it has."""
    try:
        check_size(path, config.ingest)
        header = _header_only(path, fmt, config.ingest)
    except InputError as exc:
        return None, f"文件名不符合任何数据源的命名规则，表头也无法读取：{exc.problem}"
    except Exception as exc:
        detail = one_line(str(exc), 120)
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


def check_size(path: Path, limits: IngestSettings) -> None:
    size = dataset_size(path)
    if size > limits.max_file_mb * 1024 * 1024:
        raise InputError(
            path,
            f"文件有 {size / 1024 / 1024:,.0f} MB，超过 [ingest] max_file_mb = "
            f"{limits.max_file_mb} 的上限 (file larger than max_file_mb)：请确认导出的范围，"
            "或在 recon.toml 中调高上限",
        )


def sha256_of(path: Path) -> str:
    """The content hash; a file that vanished or is no regular file is an InputError.

    A Parquet dataset's hash covers its parts' names and contents, in order."""
    try:
        digest = hashlib.sha256()
        if path.is_dir():
            for part in parquet_parts(path) or []:
                digest.update(part.relative_to(path).as_posix().encode() + b"\0")
                digest.update(bytes.fromhex(sha256_of(part)))
            return digest.hexdigest()
        if not stat.S_ISREG(path.stat().st_mode):
            raise InputError(path, "不是普通文件，未打开 (not a regular file, never opened)")
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()
    except OSError as exc:
        raise InputError(path, f"无法打开 (cannot open: {exc.strerror or exc})") from exc


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
    check_content(path, fmt)
    if fmt == "xlsx":
        import openpyxl

        check_workbook(path, limits)
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            if not workbook.worksheets:
                raise InputError(path, "工作簿没有工作表 (no worksheet)")
            for row in workbook.worksheets[0].iter_rows(values_only=True, max_row=1000):
                cells = [cell_text(v) or "" for v in row]
                if any(c.strip() for c in cells):
                    return [c.strip() for c in cells if c.strip()]
        finally:
            workbook.close()
        raise InputError(path, "第一个工作表是空的 (first sheet is empty)")
    if fmt == "parquet":
        part = (parquet_parts(path) or [path])[0]
        check_parquet_ends(part)
        return list(pl.read_parquet_schema(part))
    with path.open("rb") as f:
        head = f.read(1 << 16)
    text = _decode_head(head)
    if "\n" not in text and len(head) == 1 << 16:
        raise InputError(path, "第1行超过 64 KB，不像表头 (first line longer than 64 KB)")
    first = text.split("\n", 1)[0].rstrip("\r")
    names = next(csv.reader([first], delimiter=sniff(first)), [])
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


EMPTY = "文件是空的，没有表头 (empty file, no header)：请重新导出该文件"


_GZIPPED = "这是 gzip 压缩文件 (a gzip archive)：请先解压，再把其中的文件放入收件箱"


_BINARY = {
    "csv": "内容是二进制数据，不是 CSV 文本 (binary data, not CSV text)：文件可能已损坏，请重新导出"
    "为 CSV UTF-8",
    "xlsx": "不是 Excel 工作簿，内容无法识别 (not an XLSX workbook: unrecognised data)：文件可能已"
    "损坏，请重新导出",
    "parquet": "不是 Parquet 文件，内容无法识别 (not a Parquet file: unrecognised data)：文件可能已"
    "损坏，请重新导出",
}


def check_content(path: Path, fmt: str) -> None:
    """Refuse a file whose content is not what its suffix says, saying what it is."""
    if path.is_dir():
        for part in parquet_parts(path) or []:
            check_content(part, "parquet")
        return
    content = _content_of(path)
    if content == "empty":
        raise InputError(path, EMPTY)
    if content == "gzip":
        raise InputError(path, _GZIPPED)
    expected = {"csv": "text", "xlsx": "zip", "parquet": "parquet"}[fmt]
    if content == expected:
        return
    if fmt == "csv" and content == "text":
        return
    raise InputError(path, _NOT[fmt].get(content) or _BINARY[fmt])


def check_workbook(path: Path, limits: IngestSettings) -> None:
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


def check_parquet_ends(path: Path) -> None:
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


def damaged(path: Path, fmt: str, exc: BaseException) -> InputError:
    """The one-line reason for a file a reader failed on, with what to do next."""
    detail = one_line(f"{type(exc).__name__}: {exc}", 160)
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


def sniff(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def cell_text(value: object) -> str | None:
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
