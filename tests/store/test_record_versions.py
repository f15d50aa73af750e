"""Record versions without a declared primary key: one row per key and version, however
many files and nights change a record, and no index the store must hold in memory."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest
from conftest import Recon, hosp_row, police_row, pop_row, write_csv, write_divisions

from recon.ingest.store import store_rows
from recon.store.connection import create_schema
from recon.validate.rules import Validated


def _inbox(folder: Path, pop_files: list[list[dict[str, object]]]) -> Path:
    folder.mkdir()
    for n, rows in enumerate(pop_files):
        write_csv(folder / f"pop_births_{n}.csv", rows)
    write_csv(folder / "hosp_deliveries.csv", [hosp_row()])
    write_csv(folder / "police_births.csv", [police_row()])
    write_divisions(folder)
    return folder


def test_a_record_changed_by_two_files_and_a_second_night_has_one_row_per_version(
    tmp_path: Path,
) -> None:
    recon = Recon(tmp_path)
    first = [pop_row(记录编号="P1", 姓名="张一"), pop_row(记录编号="P2", 姓名="张二")]
    again = [pop_row(记录编号="P1", 姓名="张壹"), pop_row(记录编号="P2", 姓名="张二")]
    assert recon.run(_inbox(tmp_path / "night1", [first, again])).exit_code == 0
    third = [pop_row(记录编号="P1", 姓名="张一"), pop_row(记录编号="P3", 姓名="张三")]
    assert recon.run(_inbox(tmp_path / "night2", [third])).exit_code == 0
    rows = recon.query("SELECT record_id, version, name FROM pop_records ORDER BY ALL")
    assert rows == [
        ("P1", 1, "张一"), ("P1", 2, "张壹"), ("P1", 3, "张一"), ("P2", 1, "张二"),
        ("P3", 1, "张三"),
    ]  # fmt: skip
    assert recon.query("SELECT record_id, name FROM pop ORDER BY ALL") == [
        ("P1", "张一"), ("P2", "张二"), ("P3", "张三"),
    ]  # fmt: skip


def test_the_record_tables_hold_no_index_the_store_keeps_in_memory(recon: Recon) -> None:
    # A primary key is an ART index DuckDB keeps in memory: 1.5 GB of the store's cap at
    # ten million births, which ran the night's last stage out of memory.
    con = duckdb.connect(str(recon.db))
    create_schema(con)
    indexed = con.execute(
        "SELECT table_name FROM duckdb_constraints() WHERE constraint_type IN "
        "('PRIMARY KEY', 'UNIQUE') AND table_name LIKE '%_records' ORDER BY ALL"
    ).fetchall()
    con.close()
    assert indexed == []


def test_a_key_accepted_twice_in_one_file_is_refused_before_anything_is_stored(
    recon: Recon,
) -> None:
    con = duckdb.connect(str(recon.db))
    create_schema(con)
    accepted = pl.DataFrame({"record_id": ["P1", "P2", "P1"], "line": [2, 3, 4]})
    validated = Validated(accepted, pl.DataFrame(), pl.DataFrame(), pl.DataFrame())
    with pytest.raises(RuntimeError, match="1 keys accepted twice"):
        store_rows(con, 1, "pop", validated)
    assert con.execute("SELECT count(*) FROM pop_records").fetchone() == (0,)
    con.close()


@pytest.mark.parametrize(
    ("feed", "key"), [("pop", "record_id"), ("hosp", "delivery_id"), ("police", "id_number")]
)
def test_each_feeds_view_holds_the_latest_version_of_every_key_once(feed: str, key: str) -> None:
    con = duckdb.connect()
    create_schema(con)
    columns = [c for (c,) in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = ? ORDER BY column_index",
        [f"{feed}_records"],
    ).fetchall()]  # fmt: skip
    stored = [("K1", 1), ("K1", 2), ("K1", 3), ("K2", 1), ("K3", 2), ("K3", 1)]
    for record, version in stored:
        # Only the key and the version matter here; every other column takes a default.
        values = {key: record, "version": version, "file_id": version, "line": 1}
        con.execute(
            f"INSERT INTO {feed}_records BY NAME SELECT * FROM (SELECT "
            + ", ".join(f"{_placeholder(con, feed, c)} AS {c}" for c in columns if c not in values)
            + ", " + ", ".join(f"? AS {c}" for c in values) + ")",
            list(values.values()),
        )  # fmt: skip
    current = con.execute(f"SELECT {key}, version FROM {feed} ORDER BY ALL").fetchall()
    assert current == [("K1", 3), ("K2", 1), ("K3", 2)]
    con.close()


def _placeholder(con: duckdb.DuckDBPyConnection, feed: str, column: str) -> str:
    """A value of the column's type that satisfies NOT NULL."""
    (kind,) = con.execute(
        "SELECT data_type FROM duckdb_columns() WHERE table_name = ? AND column_name = ?",
        [f"{feed}_records", column],
    ).fetchall()[0]
    defaults = {"DATE": "DATE '2025-01-01'", "INTEGER": "1", "BIGINT": "1", "JSON": "NULL"}
    return defaults.get(kind, "TIMESTAMP '2025-01-01 00:00'" if "TIMESTAMP" in kind else "'x'")
