"""What `audit verify` checks beyond the hash chain: the sign-off tables against it.

The chain proves its own entries unaltered; these checks prove that the tables apply
acts on say exactly what the chain says: every signature (signer, date, decision,
reason), every status change and every row of the corrections ledger, and that each
signed case is still the case that was signed. An edit made directly in the store, with
no audit entry, shows here.
"""

from __future__ import annotations

import duckdb
import polars as pl

from recon.resources import sql
from recon.signoff.apply import correction_digest
from recon.signoff.common import case_digest, signed_digests, status_violations
from recon.store.connection import query_frame, registered
from recon.vocabulary import PROBLEM_ZH


def disagreements(con: duckdb.DuckDBPyConnection, limit: int = 20) -> list[str]:
    """The first `limit` places where the sign-off tables and the chain disagree."""
    problems: list[str] = []
    for case_id, position, seq, kind in con.execute(sql("audit/signatures")).fetchall():
        where = f"（审计第 {seq} 条）" if seq is not None else ""
        problems.append(
            f"签字 {case_id} 第{position}签字：{PROBLEM_ZH.get(kind, kind)}{where}"
            f" (signature {case_id}/{position}: {kind})"
        )
    for case_id, change, _seq, kind in con.execute(sql("audit/statuses")).fetchall():
        if kind.startswith("status:"):
            problems.append(
                f"案件 {case_id} 的状态为“{change}”，审计日志记录的是“{kind[7:]}”"
                f" (case {case_id}: status {change}, the chain says {kind[7:]})"
            )
        else:
            problems.append(
                f"案件 {case_id} 的状态变化 {change}：{PROBLEM_ZH[kind]}"
                f" (status change {case_id} {change}: {kind})"
            )
    problems += _ledger(con)
    problems += _signed_content(con)
    problems += [f"案件状态与签字不符：{v}" for v in status_violations(con)]
    return problems[:limit]


def _ledger(con: duckdb.DuckDBPyConnection) -> list[str]:
    chain = {case_id: (digest, seq) for case_id, digest, seq in con.execute(
        sql("audit/corrections")
    ).fetchall()}  # fmt: skip
    rows = query_frame(con, sql("audit/ledger"))
    problems = []
    for row in rows.iter_rows(named=True):
        entry = chain.pop(row["case_id"], None)
        if entry is None:
            problems.append(
                f"更正记录 {row['case_id']}：审计日志没有记录（被直接写入）"
                f" (correction {row['case_id']} has no audit entry)"
            )
        elif correction_digest(row) != entry[0]:
            problems.append(
                f"更正记录 {row['case_id']} 与审计日志（第 {entry[1]} 条）不符：被改动"
                f" (correction {row['case_id']} differs from audit entry {entry[1]})"
            )
    problems += [
        f"更正记录 {case_id}：审计日志（第 {seq} 条）有记录但库中已没有（被删除）"
        f" (correction {case_id} was deleted)"
        for case_id, (_, seq) in sorted(chain.items())
    ]
    return problems


def _signed_content(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Cases signed off whose content is no longer the content their signatures name."""
    digests = signed_digests(con)
    if not digests:
        return []
    wanted = pl.DataFrame({"case_id": sorted(digests)}, schema={"case_id": pl.String})
    with registered(con, "wanted", wanted):
        cases = query_frame(con, sql("audit/signed_cases"))
    return [
        f"案件 {case['case_id']} 的内容与签字时不符（签字后被改动）"
        f" (case {case['case_id']} changed after it was signed)"
        for case in cases.iter_rows(named=True)
        if digests[case["case_id"]] != {case_digest(case)}
    ]
