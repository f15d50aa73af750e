"""The vectorised CSV reader agrees with the csv module, record for record, on messy files."""

from __future__ import annotations

import random
from pathlib import Path

import polars as pl
import pytest

from recon.ingest.read import _read_csv_exact, read_csv_records

PIECES = [
    "张伟",
    "李娜",
    "a,b",
    'say "hi"',
    "多行\n备注",
    "",
    " 2 ",
    "x\r\ny",
    "Q420012345",
    "=1+1",
]


def random_csv(rng: random.Random, rows: int) -> str:
    lines = ["a,b,c,d"]
    for _ in range(rows):
        width = rng.choice([4] * 12 + [3, 5])
        fields = []
        for _ in range(width):
            value = rng.choice(PIECES)
            needs = any(ch in value for ch in ',"\n\r') or rng.random() < 0.1
            fields.append('"' + value.replace('"', '""') + '"' if needs else value)
        lines.append(",".join(fields))
        if rng.random() < 0.05:
            lines.append("")  # blank line
    newline = rng.choice(["\n", "\r\n"])
    return newline.join(lines) + (newline if rng.random() < 0.8 else "")


@pytest.mark.parametrize("seed", range(40))
def test_vectorised_reader_matches_csv_module(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    path = tmp_path / "pop.csv"
    path.write_bytes(random_csv(rng, rng.randint(1, 60)).encode("gb18030" if seed % 3 else "utf-8"))
    encoding = "utf-8" if seed % 3 == 0 else "gb18030"
    header, rows, malformed = read_csv_records(path, encoding)
    exact_header, exact_rows, exact_malformed = _read_csv_exact(path, encoding, ",")
    assert header == exact_header

    def empty_is_absent(frame: pl.DataFrame) -> list[dict[str, object]]:
        return frame.with_columns(pl.col(pl.String).fill_null("")).to_dicts()

    assert empty_is_absent(rows) == empty_is_absent(exact_rows)
    assert malformed["line"].to_list() == exact_malformed["line"].to_list()


def test_a_stray_quote_falls_back_to_the_exact_reader(tmp_path: Path) -> None:
    path = tmp_path / "pop.csv"
    path.write_text('a,b\n1,张"三\n2,李四\n3,王五\n', encoding="utf-8")
    _header, rows, malformed = read_csv_records(path, "utf-8")
    assert rows["line"].to_list() == [2, 3, 4]
    assert rows["b"].to_list() == ['张"三', "李四", "王五"]
    assert malformed.height == 0


def test_stray_quotes_in_pairs_fall_back_too(tmp_path: Path) -> None:
    # Quote parity pairs the two mid-field quotes and sees two fields; they open no
    # field, so they are literal, as for one stray quote: three fields, a row.
    path = tmp_path / "pop.csv"
    path.write_text('a,b,c\n1,张"三,4"\n2,李四,5\n', encoding="utf-8")
    _header, rows, malformed = read_csv_records(path, "utf-8")
    assert rows["line"].to_list() == [2, 3]
    assert rows.row(0) == (2, "1", '张"三', '4"')
    assert malformed.height == 0


def _texts_held_while_polars_parses(monkeypatch: pytest.MonkeyPatch, read: object) -> int:
    """Bytes Python holds when Polars starts parsing (tracemalloc sees Python's objects)."""
    import tracemalloc

    import recon.ingest.read as reader

    held: list[int] = []
    parse = pl.read_csv

    def watched(*args: object, **kwargs: object) -> pl.DataFrame:
        held.append(tracemalloc.get_traced_memory()[0])
        return parse(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(reader.pl, "read_csv", watched)
    tracemalloc.start()
    try:
        read()  # type: ignore[operator]
    finally:
        tracemalloc.stop()
        monkeypatch.undo()
    return held[0]


def test_the_file_text_is_let_go_before_polars_parses_the_cleaned_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A feed of ten million births is 1.5 GB of text; Polars' parse needs about twice that.
    # Holding the text beside its cleaned copy (a malformed record cut out) during the
    # parse cost another 1.5 GB. Here a file of 15 MB with one malformed record.
    from recon.config import IngestSettings
    from recon.ingest.read import read_csv_file

    path = tmp_path / "hosp.csv"
    # Records of about the length of a real feed's (here 120 bytes).
    body = "".join(
        f"{i:08d},张三,2024-01-01,330102001001,浙江省杭州市上城区某某街道某某社区{i % 97}号,备注\n"
        for i in range(130_000)
    )
    path.write_text("id,name,date,division,address,note\n1,too,few\n" + body, encoding="utf-8")
    size = path.stat().st_size

    def read() -> None:
        encoding, _header, rows, malformed = read_csv_file(path, IngestSettings())
        assert (encoding, rows.height, malformed["line"].to_list()) == ("utf-8", 130_000, [2])

    # The cleaned copy, the line numbers and a few imports: 1.3x; the text kept too, 3.2x.
    assert _texts_held_while_polars_parses(monkeypatch, read) < 1.6 * size


def test_a_text_the_caller_gave_is_read_as_before(tmp_path: Path) -> None:
    path = tmp_path / "pop.csv"
    text = "a,b\n1,2\n3\n4,5"  # no newline at the end, one malformed record
    path.write_text(text, encoding="utf-8")
    given = text.encode()
    _header, rows, malformed = read_csv_records(path, "utf-8", data=given)
    assert rows["line"].to_list() == [2, 4]
    assert malformed["line"].to_list() == [3]
    assert given == text.encode()
