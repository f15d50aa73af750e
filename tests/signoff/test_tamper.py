"""`recon audit verify` against edits made straight in the store, and cuts and rewrites of
the chain, each caught given the head kept outside the store (audit-heads, run.json)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from conftest import Recon
from test_apply import AS_OF, case_ids, night, sign

from recon.store import audit


@pytest.fixture
def store(recon: Recon, tmp_path: Path) -> Recon:
    """A night signed and applied: six cases applied, the register's missing birth rejected."""
    assert recon.run(night(tmp_path / "in"), as_of=AS_OF).exit_code == 0
    ids = case_ids(recon)
    book = tmp_path / "worklist.xlsx"
    assert recon("worklist", "export", "--db", str(recon.db), "--out", str(book)).exit_code == 0
    sign(book, {ids[("missing", "pop")]: ["同意", "不同意"]})
    assert recon("worklist", "import", str(book), "--db", str(recon.db)).exit_code == 0
    assert recon("apply", "--db", str(recon.db), "--out", str(recon.out)).exit_code == 0
    assert verify(recon).exit_code == 0
    return recon


def verify(recon: Recon, *extra: str) -> object:
    return recon("audit", "verify", "--db", str(recon.db), *extra)


def edit(recon: Recon, *statements: str) -> None:
    con = duckdb.connect(str(recon.db))
    try:
        for statement in statements:
            con.execute(statement)
    finally:
        con.close()


def rejected(recon: Recon) -> str:
    return case_ids(recon)[("missing", "pop")]


def applied(recon: Recon) -> str:
    return case_ids(recon)[("misreported", "pop")]


EDITS: dict[str, Callable[[Recon], list[str]]] = {
    "signer's name": lambda r: [
        f"UPDATE signatures SET name = '冒名者' WHERE case_id = '{applied(r)}' AND position = 4"
    ],
    "signing date": lambda r: [
        f"UPDATE signatures SET signed_on = signed_on - 3 WHERE case_id = '{applied(r)}'"
        " AND position = 1"
    ],
    "reason": lambda r: [
        f"UPDATE signatures SET reason = '无' WHERE case_id = '{rejected(r)}' AND position = 2"
    ],
    "decision and status": lambda r: [
        f"UPDATE signatures SET decision = '同意', reason = NULL WHERE case_id = '{rejected(r)}'",
        f"UPDATE cases SET status = 'approved' WHERE case_id = '{rejected(r)}'",
    ],
    "status": lambda r: [f"UPDATE cases SET status = 'approved' WHERE case_id = '{rejected(r)}'"],
    "status log row": lambda r: [
        f"DELETE FROM case_status_log WHERE case_id = '{applied(r)}' AND to_status = 'applied'",
    ],
    "corrections row": lambda r: [
        f"UPDATE corrections SET new_value = 'F' WHERE case_id = '{applied(r)}'"
    ],
    "corrections row deleted": lambda r: [
        f"DELETE FROM corrections WHERE case_id = '{applied(r)}'"
    ],
    "signed case's proposal": lambda r: [
        f"UPDATE cases SET proposed_value = 'F' WHERE case_id = '{applied(r)}'"
    ],
}


@pytest.mark.parametrize("what", sorted(EDITS))
def test_an_edit_in_the_store_fails_verify(store: Recon, what: str) -> None:
    edit(store, *EDITS[what](store))
    result = verify(store)
    assert result.exit_code == 1, (what, result.output)
    assert "与审计日志不符" in result.output or "不符" in result.output


def test_forged_signatures_are_caught_and_never_applied(recon: Recon, tmp_path: Path) -> None:
    """Six signature rows and two status rows written straight into the store."""
    assert recon.run(night(tmp_path / "in"), as_of=AS_OF).exit_code == 0
    case_id = case_ids(recon)[("fictitious", "pop")]
    rows = ", ".join(
        f"('{case_id}', {n}, '{role}', '冒名者{n}', DATE '2025-01-0{n}', '同意', NULL, 'E0', now())"
        for n, role in enumerate(
            ["计生专干", "村组干部", "包保国家干部", "统计员", "分管领导", "单位一把手"], start=1
        )
    )
    edit(
        recon,
        f"INSERT INTO signatures VALUES {rows}",
        f"INSERT INTO case_status_log VALUES ('{case_id}', 'open', 'signing', now(), 'E0'),"
        f" ('{case_id}', 'signing', 'approved', now(), 'E0')",
        f"UPDATE cases SET status = 'approved' WHERE case_id = '{case_id}'",
    )
    result = verify(recon)
    assert result.exit_code == 1 and "被直接写入" in result.output
    result = recon("apply", "--db", str(recon.db), "--out", str(recon.out))
    assert "已应用 0 个案件" in result.output and case_id in result.output
    assert recon.query("SELECT count(*) FROM corrections") == [(0,)]


def test_cutting_the_last_entries_fails_verify(store: Recon) -> None:
    edit(store, "DELETE FROM audit_log WHERE seq > (SELECT max(seq) - 3 FROM audit_log)")
    result = verify(store)
    assert result.exit_code == 1 and "截断" in result.output


def test_deleting_every_signoff_entry_after_the_last_run_fails_verify(store: Recon) -> None:
    last_run = store.query("SELECT max(seq) FROM audit_log WHERE action = 'run'")[0][0]
    edit(
        store,
        f"DELETE FROM audit_log WHERE seq > {last_run}",
        # and the tables they recorded, so the store agrees with its shortened chain
        "DELETE FROM signatures", "DELETE FROM case_status_log", "DELETE FROM corrections",
        "DELETE FROM exports", "UPDATE cases SET status = 'open'",
    )  # fmt: skip
    result = verify(store)
    assert result.exit_code == 1 and "截断" in result.output


def rewrite_chain(recon: Recon, signer: str) -> None:
    """Change a signer's name in the table AND its entry, then recompute every hash."""
    case_id = applied(recon)
    con = duckdb.connect(str(recon.db))
    try:
        con.execute(
            f"UPDATE signatures SET name = '{signer}' WHERE case_id = '{case_id}' AND position = 4"
        )
        rows = con.execute(
            'SELECT seq, "at", run_id, action, subject, details FROM audit_log ORDER BY seq'
        ).fetchall()
        prev = audit.GENESIS_HASH
        for seq, at, run_id, action, subject, details in rows:
            value = json.loads(details) if details is not None else None
            if action == "signature" and subject == case_id and value["position"] == 4:
                value["name"] = signer
            entry = {"seq": seq, "at": at, "run_id": run_id, "action": action,
                     "subject": subject, "details": value}  # fmt: skip
            digest = audit.entry_hash(entry, prev)
            con.execute(
                "UPDATE audit_log SET details = ?::JSON, prev_hash = ?, hash = ? WHERE seq = ?",
                [None if value is None else json.dumps(value, ensure_ascii=False), prev,
                 digest, seq],
            )  # fmt: skip
            prev = digest
    finally:
        con.close()


def test_a_chain_rewritten_with_recomputed_hashes_fails_verify(
    store: Recon, tmp_path: Path
) -> None:
    heads = store.db.parent / "audit-heads"
    kept = tmp_path / "heads-copy"  # the office's copy, off the machine
    shutil.copy(heads, kept)
    nightly = json.loads((store.out / "run.json").read_text(encoding="utf-8"))["audit_head"]
    printed = json.loads(heads.read_text(encoding="utf-8").splitlines()[-1])  # apply's head
    rewrite_chain(store, "冒名者")
    # The store is consistent with its own chain now: only a head kept outside shows it.
    heads.unlink()
    alone = verify(store)
    assert alone.exit_code == 0 and "没有库外保存的链头" in alone.output
    result = verify(store, "--heads", str(kept))
    assert result.exit_code == 1 and "改写" in result.output
    result = verify(store, "--expect-head", printed["hash"])
    assert result.exit_code == 1 and "不在日志中" in result.output
    # The night's head came before the signatures: the chain up to it is still intact.
    assert verify(store, "--expect-head", nightly["hash"]).exit_code == 0


def test_the_right_head_passes(store: Recon) -> None:
    expected = json.loads((store.out / "run.json").read_text(encoding="utf-8"))["audit_head"]
    result = verify(store, "--expect-head", expected["hash"])
    assert result.exit_code == 0, result.output
    assert f"给定的链头是第 {expected['seq']} 条" in result.output
    lines = (store.db.parent / "audit-heads").read_text(encoding="utf-8").splitlines()
    events = [json.loads(line)["event"] for line in lines]
    assert events == ["run 1", "worklist export", "worklist import", "apply"]
    assert datetime.fromisoformat(json.loads(lines[-1])["at"])
