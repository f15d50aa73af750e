"""A frame lent to SQL for one statement is let go when the statement's block ends, even
inside the night's one transaction (where DuckDB keeps dropped views until the commit)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from recon.store.connection import registered, scalar


def _frame(rows: int) -> pl.DataFrame:
    # Values in pyarrow's own pool (a computed column), shared with Polars without a copy,
    # so the pool's byte count shows whether anything still holds them.
    values = pc.add(pa.array(range(rows), pa.int64()), 1)
    return pl.from_arrow(pa.table({"value": values}))  # type: ignore[return-value]


@pytest.mark.parametrize("statements", [1, 5])
def test_frames_lent_in_a_transaction_are_let_go_before_it_ends(
    tmp_path: Path, statements: int
) -> None:
    con = duckdb.connect(str(tmp_path / "store.duckdb"))
    con.begin()
    before = pa.total_allocated_bytes()
    for _ in range(statements):
        frame = _frame(2_000_000)  # 16 MB
        with registered(con, "incoming", frame):
            assert scalar(con, "SELECT sum(value) FROM incoming") == 2_000_000 * 2_000_001 // 2
        del frame
    # Still inside the transaction: nothing of the frames is held any more.
    assert pa.total_allocated_bytes() - before < 1_000_000
    con.commit()
    con.close()


def test_a_lent_frame_can_be_read_twice_in_one_statement(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "store.duckdb"))
    con.begin()
    frame = pl.DataFrame({"key": ["a", "b", "c"]})
    with registered(con, "staged", frame):
        query = "SELECT count(*) FROM staged WHERE key IN (SELECT key FROM staged)"
        assert scalar(con, query) == 3
    con.rollback()
