"""Audit-chain heads kept outside the store: what proves nothing was cut or rewritten.

The hash chain (recon/audit.py) shows an entry edited, deleted or inserted in the middle,
but not entries cut from its end, nor a chain rewritten whole with recomputed hashes:
the store alone cannot vouch for itself. So every command that writes the chain (run,
worklist export and import, apply, corrections export) appends the head it committed,
`(seq, hash)`, to an append-only file outside the store (`audit-heads` beside it, or
[audit] heads), prints it, and run.json carries it. `recon audit verify --heads FILE`
(or `--expect-head HASH`) then checks that each recorded head is still in the chain:
since each hash covers every entry before it, the chain up to that head is exactly what
it was when the head was written, and nothing after it was cut.

One line per head, JSON: {"at", "chain", "seq", "hash", "event"}; `chain` is the hash
of entry 1, which tells the heads of this store's chain from those of another store
sharing the file. Hand-written (a dozen lines of JSON): no library keeps such a log.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from recon.resources import sql
from recon.store import audit
from recon.store.connection import Notice, transaction

FILE_NAME = "audit-heads"


@dataclass(frozen=True)
class Head:
    chain: str  # the hash of entry 1: which chain this head belongs to
    seq: int
    hash: str
    event: str = ""
    at: str = ""

    def short(self) -> str:
        return f"第 {self.seq} 条 {self.hash[:16]}"


class HeadsError(Exception):
    """A heads file that cannot be read."""


def path_for(db: Path, configured: Path | None) -> Path:
    """Where the heads of the store at `db` go: [audit] heads, else beside the store."""
    return configured if configured is not None else db.resolve().parent / FILE_NAME


def current(con: duckdb.DuckDBPyConnection, event: str = "") -> Head:
    """The chain's head now (seq 0 and 64 zeros for an empty log)."""
    seq, hash_ = audit.head(con)
    rows = con.execute(sql("audit/entry_hash"), {"seq": 1}).fetchall()
    chain = str(rows[0][0]) if rows else audit.GENESIS_HASH
    return Head(chain=chain, seq=seq, hash=hash_, event=event)


def record(path: Path, head: Head) -> None:
    """Append one head line and flush it to disk: the file is only ever appended to."""
    line = json.dumps(
        {
            "at": datetime.now().astimezone().isoformat(timespec="seconds"),
            "chain": head.chain,
            "seq": head.seq,
            "hash": head.hash,
            "event": head.event,
        },
        ensure_ascii=False,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def read(path: Path) -> list[Head]:
    """Every head in the file, in order; a malformed line is an error naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise HeadsError(f"{path}: cannot read the heads file: {exc}") from exc
    heads = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value: Any = json.loads(line)
            heads.append(
                Head(
                    chain=str(value["chain"]),
                    seq=int(value["seq"]),
                    hash=str(value["hash"]),
                    event=str(value.get("event", "")),
                    at=str(value.get("at", "")),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise HeadsError(f"{path}, line {number}: not a head line ({exc})") from exc
    return heads


def check(con: duckdb.DuckDBPyConnection, heads: list[Head]) -> tuple[int, str | None]:
    """(heads of this chain checked, the first problem or None).

    Run on a chain that `audit.verify` found intact. A head is good when the entry at its
    seq still has its hash. Heads of another chain (another store) are skipped, but a file
    holding none of this chain's heads is itself a problem: the chain was rewritten from
    its first entry, or the file belongs to another store.
    """
    now = current(con)
    mine = [h for h in heads if h.chain == now.chain]
    if heads and not mine:
        return 0, (
            "库外保存的链头都不属于本审计日志：日志已从第 1 条起被重写，或链头文件属于另一个库"
            " (none of the recorded heads belongs to this chain: it was rewritten from entry"
            " 1, or the heads file is another store's)"
        )
    for head in mine:
        found = con.execute(sql("audit/entry_hash"), {"seq": head.seq}).fetchall()
        if not found:
            return len(mine), (
                f"库外记录的链头第 {head.seq} 条（{head.event or '—'}，{head.at}）已不在日志中："
                f"日志末尾被截断，现只有 {now.seq} 条"
                f" (the recorded head, entry {head.seq}, is gone: the log was cut to"
                f" {now.seq} entries)"
            )
        if found[0][0] != head.hash:
            return len(mine), (
                f"第 {head.seq} 条记录与库外记录的链头（{head.event or '—'}，{head.at}）不符："
                f"该条或其之前的记录被改写"
                f" (entry {head.seq} differs from the head recorded outside the store:"
                " it or an entry before it was rewritten)"
            )
    return len(mine), None


def find(con: duckdb.DuckDBPyConnection, hash_: str) -> int | None:
    """The seq of the entry whose hash is `hash_` (a head given on the command line)."""
    rows = con.execute(sql("audit/entry_seq"), {"hash": hash_.strip().lower()}).fetchall()
    return int(rows[0][0]) if rows else None


@dataclass
class Anchor:
    """The open transaction of an `anchored` block; `head` is set once it committed."""

    con: duckdb.DuckDBPyConnection
    head: Head | None = None


@contextmanager
def anchored(
    db: Path, settings: Any, event: str, wait: float = 0, notice: Notice | None = None
) -> Iterator[Anchor]:
    """A write transaction on the store whose committed head is then recorded outside it."""
    with transaction(db, settings.store, wait, notice) as con:
        anchor = Anchor(con)
        yield anchor
        head = current(con, event)
    record(path_for(db, settings.heads_path), head)
    anchor.head = head
