"""A GB18030 file decoded in two halves, one of them by a child process, reads exactly as
the whole decoded at once; a file that does not decode is refused either way."""

from __future__ import annotations

import codecs

import pytest

from recon.config import IngestSettings
from recon.ingest import transcode
from recon.ingest.read import read_csv_file

# Two- and four-byte GB18030 characters (a rare name character, a supplementary-plane
# one), ASCII, and a note across two lines inside quotes.
RECORDS = [("张三", "普通"), ("㛃丽", '"两行\n备注"'), ("𠀾明", "x"), ("Zhang Wei", "")]


def _text(copies: int) -> str:
    body = "".join(
        f"P{i}-{j},{name},{note}\n" for i in range(copies) for j, (name, note) in enumerate(RECORDS)
    )
    return "record_id,name,note\n" + body


@pytest.fixture()
def split_small(monkeypatch: pytest.MonkeyPatch) -> None:
    # Halves for any file over 1 KB, so a small file goes through the child.
    monkeypatch.setattr(transcode, "SPLIT_BYTES", 1024)


def test_halves_read_as_the_whole(split_small: None) -> None:
    text = _text(500)
    data = text.encode("gb18030")
    assert transcode._cut(data) is not None  # the file is cut: both halves decode
    assert bytes(transcode.to_utf8(data, "gb18030")) == text.encode("utf-8")


def test_bom_removed_and_short_files_whole(split_small: None) -> None:
    text = "record_id,name\nP1,张三\n"
    assert transcode.to_utf8(codecs.BOM_UTF8 + text.encode("utf-8"), "utf-8") == text.encode()
    assert transcode.to_utf8(text.encode("gb18030"), "gb18030") == text.encode()


@pytest.mark.parametrize("where", ["first", "second"])
def test_undecodable_half_is_refused(split_small: None, where: str) -> None:
    data = bytearray(_text(500).encode("gb18030"))
    cut = transcode._cut(data)
    assert cut is not None
    # A comma (ASCII, never inside a character) made 0xFF, which begins no GB18030 one.
    middle = cut // 2 if where == "first" else cut + (len(data) - cut) // 2
    data[data.index(b",", middle)] = 0xFF
    with pytest.raises(UnicodeDecodeError):
        transcode.to_utf8(bytes(data), "gb18030")


def test_file_read_in_halves_gives_the_same_rows(
    split_small: None, tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "pop_births.csv"  # type: ignore[operator]
    path.write_bytes(_text(500).encode("gb18030"))
    encoding, header, rows, malformed = read_csv_file(path, IngestSettings())
    monkeypatch.setattr(transcode, "SPLIT_BYTES", 1 << 40)  # the whole at once
    _, _, whole_rows, _ = read_csv_file(path, IngestSettings())
    assert encoding == "gb18030" and header == ["record_id", "name", "note"]
    assert rows.height == 2000 and malformed.height == 0
    assert rows.equals(whole_rows)
    assert rows.filter(rows["record_id"] == "P7-1")["note"].to_list() == ["两行\n备注"]
