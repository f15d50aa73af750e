"""The audit log: a clean chain verifies; editing, deleting, reordering or forging is caught."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from recon.store import audit
from recon.store.connection import create_schema

AT = datetime(2024, 12, 31, 8, 0, 0)


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(tmp_path / "recon.duckdb"))
    create_schema(connection)
    yield connection
    connection.close()


def fill(con: duckdb.DuckDBPyConnection, n: int = 10) -> None:
    for i in range(1, n + 1):
        seq = audit.append(
            con,
            "signature" if i % 2 else "status",
            f"C-{i:04d}",
            {"case_id": f"C-{i:04d}", "position": i % 6 + 1, "decision": "同意"},
            run_id=1,
            at=AT,
        )
        assert seq == i


def test_empty_log_verifies(con: duckdb.DuckDBPyConnection) -> None:
    assert audit.verify(con) == audit.AuditCheck(True, 0, None, None)
    assert audit.head(con) == (0, "0" * 64)
    assert audit.append_many(con, []) == 0


def test_clean_chain_verifies(con: duckdb.DuckDBPyConnection) -> None:
    fill(con)
    check = audit.verify(con)
    assert check.ok and check.entries == 10 and check.first_bad_seq is None
    first = con.execute("SELECT prev_hash FROM audit_log WHERE seq = 1").fetchall()[0]
    assert first == ("0" * 64,)


def test_hash_is_the_documented_canonical_form(con: duckdb.DuckDBPyConnection) -> None:
    audit.append(con, "signature", "C-1", {"position": 1, "decision": "同意"}, at=AT)
    row = con.execute("SELECT hash FROM audit_log WHERE seq = 1").fetchall()[0]
    text = (
        '{"action":"signature","at":"2024-12-31T08:00:00.000000",'
        '"details":{"decision":"同意","position":1},"prev_hash":"' + "0" * 64 + '",'
        '"run_id":null,"seq":1,"subject":"C-1"}'
    )
    assert row == (hashlib.sha256(text.encode("utf-8")).hexdigest(),)


@pytest.mark.parametrize(
    "change",
    [
        """UPDATE audit_log SET details = '{"case_id":"C-0004","decision":"不同意","position":5}' WHERE seq = 4""",
        "UPDATE audit_log SET action = 'signature' WHERE seq = 4",
        "UPDATE audit_log SET subject = 'C-9999' WHERE seq = 4",
        'UPDATE audit_log SET "at" = "at" + INTERVAL 1 SECOND WHERE seq = 4',
        "UPDATE audit_log SET run_id = 2 WHERE seq = 4",
    ],
)
def test_edited_row_is_caught_at_its_seq(con: duckdb.DuckDBPyConnection, change: str) -> None:
    fill(con)
    con.execute(change)
    check = audit.verify(con)
    assert not check.ok
    assert check.first_bad_seq == 4
    assert check.problem is not None
    assert "第 4 条记录的哈希与内容不符" in check.problem and "entry 4" in check.problem


def test_deleted_middle_row_is_caught(con: duckdb.DuckDBPyConnection) -> None:
    fill(con)
    con.execute("DELETE FROM audit_log WHERE seq = 5")
    check = audit.verify(con)
    assert not check.ok and check.first_bad_seq == 5
    assert check.problem is not None and "missing" in check.problem


def test_deleted_and_renumbered_row_is_caught(con: duckdb.DuckDBPyConnection) -> None:
    fill(con)
    con.execute("DELETE FROM audit_log WHERE seq = 5")
    con.execute("UPDATE audit_log SET seq = seq - 1 WHERE seq > 5")
    check = audit.verify(con)
    assert not check.ok and check.first_bad_seq == 5


def test_deleted_first_row_is_caught(con: duckdb.DuckDBPyConnection) -> None:
    fill(con)
    con.execute("DELETE FROM audit_log WHERE seq = 1")
    check = audit.verify(con)
    assert not check.ok and check.first_bad_seq == 1


def test_swapped_rows_are_caught(con: duckdb.DuckDBPyConnection) -> None:
    fill(con)
    con.execute("UPDATE audit_log SET seq = -1 WHERE seq = 6")
    con.execute("UPDATE audit_log SET seq = 6 WHERE seq = 7")
    con.execute("UPDATE audit_log SET seq = 7 WHERE seq = -1")
    check = audit.verify(con)
    assert not check.ok and check.first_bad_seq == 6


def test_naive_forger_is_caught_at_the_next_row(con: duckdb.DuckDBPyConnection) -> None:
    fill(con)
    con.execute("UPDATE audit_log SET action = 'forged' WHERE seq = 4")
    seq, at, run_id, action, subject, details, prev_hash = con.execute(
        'SELECT seq, "at", run_id, action, subject, details, prev_hash FROM audit_log WHERE seq = 4'
    ).fetchall()[0]
    entry = {
        "seq": seq,
        "at": at,
        "run_id": run_id,
        "action": action,
        "subject": subject,
        "details": json.loads(details),
    }
    con.execute("UPDATE audit_log SET hash = ? WHERE seq = 4", [audit.entry_hash(entry, prev_hash)])
    check = audit.verify(con)
    assert not check.ok and check.first_bad_seq == 5
    assert check.problem is not None and "prev_hash" in check.problem


def test_inserted_forged_row_is_caught(con: duckdb.DuckDBPyConnection) -> None:
    fill(con)
    con.execute("UPDATE audit_log SET seq = seq + 1 WHERE seq >= 5")  # make room at 5
    prev = con.execute("SELECT hash FROM audit_log WHERE seq = 4").fetchall()[0][0]
    entry = {"seq": 5, "at": AT, "run_id": 1, "action": "forged", "subject": "C-0", "details": None}
    con.execute(
        "INSERT INTO audit_log VALUES (5, ?, 1, 'forged', 'C-0', NULL, ?, ?)",
        [AT, prev, audit.entry_hash(entry, prev)],
    )
    check = audit.verify(con)
    assert not check.ok and check.first_bad_seq == 6  # the forged row chains; the next cannot


def test_forged_row_before_the_first_is_caught(con: duckdb.DuckDBPyConnection) -> None:
    fill(con, 3)
    entry = {"seq": 0, "at": AT, "run_id": None, "action": "x", "subject": None, "details": None}
    con.execute(
        "INSERT INTO audit_log VALUES (0, ?, NULL, 'x', NULL, NULL, ?, ?)",
        [AT, "0" * 64, audit.entry_hash(entry, "0" * 64)],
    )
    check = audit.verify(con)
    assert not check.ok and check.first_bad_seq == 0


def test_append_many_then_verify_in_small_chunks(con: duckdb.DuckDBPyConnection) -> None:
    audit.append(con, "run", "run:1", {"run_id": 1}, run_id=1)
    entries: list[audit.Entry] = [
        ("status", f"C-{i:05d}", {"case_id": f"C-{i:05d}", "to": "signing", "on": date(2024, 1, 2)})
        for i in range(1000)
    ]
    assert audit.append_many(con, entries, run_id=1, at=AT) == 1001
    assert audit.append(con, "run_end", None, None) == 1002
    assert audit.verify(con) == audit.AuditCheck(True, 1002, None, None)
    assert audit.verify(con, chunk=97).ok  # crosses many chunk boundaries
    on = con.execute("SELECT details->>'on' FROM audit_log WHERE seq = 2").fetchall()[0]
    assert on == ("2024-01-02",)
    con.execute("UPDATE audit_log SET subject = 'C-x' WHERE seq = 700")
    assert audit.verify(con, chunk=97).first_bad_seq == 700


def test_works_inside_the_callers_transaction(con: duckdb.DuckDBPyConnection) -> None:
    fill(con, 3)
    con.begin()
    audit.append_many(con, [("signature", "C-1", {"position": 1})] * 5)
    assert audit.verify(con).entries == 8
    con.rollback()
    assert audit.head(con)[0] == 3
    assert audit.verify(con).ok


def test_int_keys_and_unicode_round_trip(con: duckdb.DuckDBPyConnection) -> None:
    audit.append(con, "x", "张湾村", {2: "a", 10: "b", "nested": {"z": 1, "a": [1.5, None]}})  # type: ignore[dict-item]
    audit.append_many(con, [("y", None, {10: 1, 2: 2})])  # type: ignore[dict-item]
    assert audit.verify(con).ok


def test_equal_details_of_other_types_are_written_as_themselves(
    con: duckdb.DuckDBPyConnection,
) -> None:
    # append_many keeps the text of details seen before: True == 1 == 1.0 and
    # 0.0 == -0.0 in Python, yet each is written (and hashed) as itself.
    values = [True, 1, 1.0, "1", 0.0, -0.0, 0, False, None]
    entries: list[audit.Entry] = [("x", f"C-{i}", {"v": v}) for i, v in enumerate(values * 3)]
    audit.append_many(con, entries, run_id=1, at=AT)
    stored = [r[0] for r in con.execute("SELECT details FROM audit_log ORDER BY seq").fetchall()]
    written = ['{"v":true}', '{"v":1}', '{"v":1.0}', '{"v":"1"}', '{"v":0.0}', '{"v":-0.0}',
               '{"v":0}', '{"v":false}', '{"v":null}']  # fmt: skip
    assert stored == written * 3
    assert audit.verify(con).ok


def test_rejects_bad_input(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(ValueError):
        audit.append(con, "")
    with pytest.raises(ValueError):
        audit.append(con, "x", None, {"v": float("nan")})
    with pytest.raises(TypeError):
        audit.append(con, "x", None, ["not", "a", "dict"])  # type: ignore[arg-type]
    assert audit.head(con)[0] == 0
