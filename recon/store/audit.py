"""The audit log: append-only and hash-chained, so `recon audit verify` can prove it unaltered.

Every signature and every status change is an entry in `audit_log` (sql/schema.sql). Entry
`seq` (1, 2, 3, ...) carries `prev_hash`, the hash of entry `seq - 1` (64 zeros for entry 1),
and `hash`, the SHA-256 of its own content together with `prev_hash` (see `entry_hash`).
Editing, deleting, reordering or inserting an entry therefore breaks the chain at that
entry, and `verify` names the first entry where it breaks.

What the chain cannot show by itself: entries cut off the END of the log (the last
remaining entry still verifies), or a log rewritten whole. The heads recorded outside
the store (recon/heads.py) show both.

Details never contain data about a birth or a family: callers pass ids of cases, files,
runs and exports, digests, statuses and positions, never a child's or mother's name or
an id number. A signature's entry holds the signer's name, date, decision and reason:
the official act itself, which must be in the chain so that editing it shows.

The functions work inside the caller's open transaction: they neither begin nor commit, so
the entries are written or rolled back together with the change they record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from json.encoder import encode_basestring
from typing import Any

import duckdb
import pyarrow as pa

from recon.resources import sql
from recon.store.connection import registered

GENESIS_HASH = "0" * 64
"""The `prev_hash` of entry 1."""

VERIFY_CHUNK = 100_000
"""Entries read per query by `verify`: memory stays flat however long the log is."""

Entry = tuple[str, str | None, dict[str, Any] | None]
"""(action, subject, details) for `append_many`."""

_SCHEMA = pa.schema(
    [
        ("seq", pa.int64()),
        ("at", pa.timestamp("us")),
        ("run_id", pa.int32()),
        ("action", pa.string()),
        ("subject", pa.string()),
        ("details", pa.string()),
        ("prev_hash", pa.string()),
        ("hash", pa.string()),
    ]
)


@dataclass(frozen=True)
class AuditCheck:
    """The result of `verify`: the problem is given in Chinese and English."""

    ok: bool
    entries: int  # entries read (up to and including the first bad one)
    first_bad_seq: int | None
    problem: str | None


# One encoder for every call: json.dumps with options builds a new one each time.
_ENCODER = json.JSONEncoder(
    sort_keys=True,
    separators=(",", ":"),
    ensure_ascii=False,
    allow_nan=False,
    default=str,
)


def _canonical(value: Any) -> str:
    return _ENCODER.encode(value)


def _json_text(value: str | None) -> str:
    """A string or None as `_canonical` writes it, without the encoder's call: for a str
    (ensure_ascii off) JSONEncoder.encode returns encode_basestring's text itself."""
    return "null" if value is None else encode_basestring(value)


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="microseconds")


def entry_hash(entry: dict[str, Any], prev_hash: str) -> str:
    """The hash of one entry, chained to the hash of the entry before it.

    The canonical form, so an auditor can recompute it by hand:

    1. Take the object with exactly these seven keys:
       `seq` (integer), `at` (string, the timestamp as `YYYY-MM-DDTHH:MM:SS.ffffff`, always
       with six digits of microseconds, no time zone), `run_id` (integer or null), `action`
       (string), `subject` (string or null), `details` (the JSON value stored in the column:
       an object, or null) and `prev_hash` (the 64 lowercase hex digits of the previous
       entry's hash; 64 zeros for seq 1).
    2. Serialise it as JSON with keys sorted at every level, no whitespace at all
       (separators "," and ":"), non-ASCII characters written as themselves (not \\u
       escapes; quote, backslash and control characters escaped as JSON requires, e.g.
       \\n, \\u0001), numbers as Python writes them (floats in shortest round-trip form),
       i.e. Python's
       `json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`.
    3. Encode the text as UTF-8 and take SHA-256; the hash is its lowercase hex digest.

    Example (seq 1): `{"action":"sign","at":"2024-12-31T08:00:00.000000","details":
    {"position":1},"prev_hash":"000…000","run_id":null,"seq":1,"subject":"C-1"}`.

    `entry` needs the keys seq, at, run_id, action, subject, details; `at` may be a datetime
    or its ISO text as above, `details` a dict (or None). Other keys are ignored.
    """
    at = entry["at"]
    obj = {
        "seq": int(entry["seq"]),
        "at": _iso(at) if isinstance(at, datetime) else str(at),
        "run_id": None if entry["run_id"] is None else int(entry["run_id"]),
        "action": entry["action"],
        "subject": entry["subject"],
        "details": entry["details"],
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(_canonical(obj).encode("utf-8")).hexdigest()


def head(con: duckdb.DuckDBPyConnection) -> tuple[int, str]:
    """The last entry's (seq, hash); (0, 64 zeros) for an empty log."""
    rows = con.execute(sql("audit/head")).fetchall()
    return (int(rows[0][0]), str(rows[0][1])) if rows else (0, GENESIS_HASH)


def _normal_at(at: datetime | None) -> datetime:
    if at is None:
        return datetime.now()
    if at.tzinfo is not None:  # the column is a local TIMESTAMP, like runs.started_at
        return at.astimezone().replace(tzinfo=None)
    return at


_PLAIN = (str, int, float, bool, type(None))


def _details_text(details: dict[str, Any] | None) -> str | None:
    """The canonical JSON text of details, as stored in the column and hashed.

    What is hashed must be exactly what verify reads back, so anything but a flat dict of
    str keys and plain values goes through JSON and back first (a date becomes its ISO
    string, an int key a string key, a tuple a list) before the canonical form is taken.
    """
    if details is None:
        return None
    if not isinstance(details, dict):
        raise TypeError(f"audit details must be a dict of ids, not {type(details).__name__}")
    if all(type(k) is str and type(v) in _PLAIN for k, v in details.items()):
        return _canonical(details)
    return _canonical(
        json.loads(json.dumps(details, ensure_ascii=False, allow_nan=False, default=str))
    )


def _entry_text(
    seq: int,
    at_json: str,
    run_id_json: str,
    action: str,
    subject: str | None,
    details_text: str | None,
    prev_hash: str,
) -> str:
    """The canonical JSON of an entry (as `entry_hash` makes it), built without a dict.

    Keys in sorted order: action, at, details, prev_hash, run_id, seq, subject. The
    tests check it against `entry_hash`, which `verify` uses.
    """
    return (
        f'{{"action":{_json_text(action)},"at":{at_json},'
        f'"details":{"null" if details_text is None else details_text},'
        f'"prev_hash":{_json_text(prev_hash)},"run_id":{run_id_json},'
        f'"seq":{seq},"subject":{_json_text(subject)}}}'
    )


# The plain values but floats (-0.0 == 0.0, yet each is written as itself).
_MEMO_TYPES = tuple(t for t in _PLAIN if t is not float)


def _memo_key(details: dict[str, Any] | None) -> tuple[Any, ...] | None:
    """A key under which a flat dict's canonical text may be kept for the next entries
    with the same details (a night opens a million cases with a few kinds of details):
    each key and value with its type, since True == 1 yet they are written differently.
    None where the text must be made afresh."""
    if type(details) is not dict:
        return None
    key = []
    for k, v in details.items():
        if type(k) is not str or type(v) not in _MEMO_TYPES:
            return None
        key.append((k, type(v), v))
    return tuple(key)


def _check(action: str, subject: str | None) -> None:
    if not isinstance(action, str) or not action:
        raise ValueError(f"audit action must be a non-empty string, not {action!r}")
    if subject is not None and not isinstance(subject, str):
        raise TypeError(f"audit subject must be a string or None, not {type(subject).__name__}")


def append(
    con: duckdb.DuckDBPyConnection,
    action: str,
    subject: str | None = None,
    details: dict[str, Any] | None = None,
    *,
    run_id: int | None = None,
    at: datetime | None = None,
) -> int:
    """Add one entry at the end of the log and return its seq.

    `subject` and `details` identify what the entry is about by ids only (case, file,
    run, export ids, positions, statuses): never a name, id number or other personal data.
    Runs in the caller's transaction; `at` defaults to now (local time).
    """
    _check(action, subject)
    last_seq, last_hash = head(con)
    seq = last_seq + 1
    stamp = _normal_at(at)
    text = _details_text(details)
    rid = None if run_id is None else int(run_id)
    canonical = _entry_text(
        seq, _canonical(_iso(stamp)), _canonical(rid), action, subject, text, last_hash
    )
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    con.execute(
        sql("audit/audit_log"),
        {
            "seq": seq, "at": stamp, "run_id": rid, "action": action, "subject": subject,
            "details": text, "prev_hash": last_hash, "hash": digest,
        },
    )  # fmt: skip
    return seq


def append_many(
    con: duckdb.DuckDBPyConnection,
    entries: Sequence[Entry],
    *,
    run_id: int | None = None,
    at: datetime | None = None,
) -> int:
    """Add entries (action, subject, details) in order, in one insert; return the last seq.

    All entries share `run_id` and `at` (default now). The hashes are chained in Python
    (each needs the one before), then the whole batch goes in as one Arrow table. With no
    entries nothing is written and the current last seq (0 for an empty log) is returned.
    As for `append`: ids only in subject and details, never personal data.
    """
    last_seq, prev = head(con)
    if not entries:
        return last_seq
    stamp = _normal_at(at)
    at_json = _canonical(_iso(stamp))
    rid = None if run_id is None else int(run_id)
    rid_json = _canonical(rid)
    n = len(entries)
    actions: list[str] = []
    subjects: list[str | None] = []
    texts: list[str | None] = []
    prevs: list[str] = []
    hashes: list[str] = []
    sha256 = hashlib.sha256
    known: dict[tuple[Any, ...], str | None] = {}  # details' canonical texts, by _memo_key
    for offset, (action, subject, details) in enumerate(entries, start=1):
        _check(action, subject)
        key = _memo_key(details)
        if key is None:
            text = _details_text(details)
        elif key in known:
            text = known[key]
        else:
            text = known[key] = _details_text(details)
        canonical = _entry_text(last_seq + offset, at_json, rid_json, action, subject, text, prev)
        digest = sha256(canonical.encode("utf-8")).hexdigest()
        actions.append(action)
        subjects.append(subject)
        texts.append(text)
        prevs.append(prev)
        hashes.append(digest)
        prev = digest
    batch = pa.table(
        [
            pa.array(range(last_seq + 1, last_seq + n + 1), pa.int64()),
            pa.array([stamp] * n, pa.timestamp("us")),
            pa.array([rid] * n, pa.int32()),
            pa.array(actions, pa.string()),
            pa.array(subjects, pa.string()),
            pa.array(texts, pa.string()),
            pa.array(prevs, pa.string()),
            pa.array(hashes, pa.string()),
        ],
        schema=_SCHEMA,
    )
    with registered(con, "audit_batch", batch):
        con.execute(sql("audit/audit_log_batch"))
    return last_seq + n


def _bad(entries: int, seq: int, problem: str) -> AuditCheck:
    return AuditCheck(ok=False, entries=entries, first_bad_seq=seq, problem=problem)


def verify(con: duckdb.DuckDBPyConnection, chunk: int = VERIFY_CHUNK) -> AuditCheck:
    """Recompute the chain in seq order and name the first entry where it breaks.

    Checks, entry by entry: seq is the previous seq + 1 (the first is 1), so a deleted
    entry shows as a gap; prev_hash equals the previous entry's stored hash, so a deleted,
    reordered or inserted entry shows; and hash equals `entry_hash` of the entry's content,
    so an edited entry shows. An editor who also recomputes the edited entry's hash is
    caught at the next entry, whose prev_hash no longer matches. Reads `chunk` entries per
    query (keyset on seq), so a log of millions of entries needs little memory.
    """
    expected_seq = 1
    prev = GENESIS_HASH
    read = 0
    while True:
        if read == 0:  # the first chunk from the very lowest seq, so a forged seq 0 shows
            rows = con.execute(sql("audit/chain_start"), {"limit": chunk}).fetchall()
        else:  # every seq below expected_seq has been read
            rows = con.execute(
                sql("audit/chain_from"), {"from_seq": expected_seq, "limit": chunk}
            ).fetchall()
        if not rows:
            return AuditCheck(ok=True, entries=read, first_bad_seq=None, problem=None)
        for seq, at, run_id, action, subject, details, prev_hash, stored in rows:
            read += 1
            if seq != expected_seq:
                if seq > expected_seq:
                    return _bad(
                        read,
                        expected_seq,
                        f"第 {expected_seq} 条记录缺失，下一条是第 {seq} 条"
                        f" (entry {expected_seq} is missing: the next entry is {seq})",
                    )
                return _bad(
                    read,
                    seq,
                    f"第 {seq} 条记录的序号不对，应为第 {expected_seq} 条"
                    f" (entry {seq}: unexpected seq, expected {expected_seq})",
                )
            if prev_hash != prev:
                return _bad(
                    read,
                    seq,
                    f"第 {seq} 条记录与上一条的哈希链接不上：记录被删除、调换或插入"
                    f" (entry {seq}: prev_hash does not match the previous entry's hash;"
                    " an entry was deleted, reordered or inserted, or the previous one edited)",
                )
            try:
                value = None if details is None else json.loads(details)
                content = {
                    "seq": seq,
                    "at": at,
                    "run_id": run_id,
                    "action": action,
                    "subject": subject,
                    "details": value,
                }
                recomputed = entry_hash(content, prev_hash)
            except (TypeError, ValueError) as exc:
                return _bad(
                    read,
                    seq,
                    f"第 {seq} 条记录无法读取 (entry {seq}: unreadable content: {exc})",
                )
            if recomputed != stored:
                return _bad(
                    read,
                    seq,
                    f"第 {seq} 条记录的哈希与内容不符"
                    f" (entry {seq}: hash does not match its content)",
                )
            prev = stored
            expected_seq += 1


def check_head(con: duckdb.DuckDBPyConnection, seq: int, hash_: str) -> str | None:
    """A problem if the entry a run recorded as the head is gone or changed, else None.

    The chain alone cannot show entries cut from its end; a head kept elsewhere can.
    """
    if seq == 0:
        return None
    rows = con.execute(sql("audit/entry_hash"), {"seq": seq}).fetchall()
    if not rows:
        return f"第 {seq} 条记录已被删除 (entry {seq}, the head a run recorded, was deleted)"
    if rows[0][0] != hash_:
        return f"第 {seq} 条记录与运行时记录的不符 (entry {seq} differs from the recorded head)"
    return None
