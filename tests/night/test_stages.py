"""Each stage of the night runs alone on a store, from the tables it reads, and writes the
same tables the whole night wrote (`recon stage NAME`)."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import Recon

GOLDEN = Path(__file__).parents[1] / "data" / "golden"
AS_OF = date(2024, 12, 31)
STAGE_TABLES = {
    "link": ("link_births", "links", "link_duplicates"),
    "reconcile": ("births", "findings"),
}


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> Recon:
    root = tmp_path_factory.mktemp("night")
    shutil.copytree(GOLDEN / "inbox", root / "inbox")
    recon = Recon(root)
    result = recon.run(root / "inbox", as_of=AS_OF)
    assert result.exit_code == 0, result.output
    return recon


def rows(recon: Recon, table: str) -> list[tuple[Any, ...]]:
    return sorted(recon.query(f"SELECT * FROM {table}"), key=repr)


def without(recon: Recon, table: str, column: int) -> list[tuple[Any, ...]]:
    return sorted((r[:column] + r[column + 1 :] for r in rows(recon, table)), key=repr)


def stage(recon: Recon, name: str, *extra: str) -> Any:
    return recon("stage", name, "--db", str(recon.db), "--as-of", AS_OF.isoformat(), *extra)


@pytest.mark.parametrize("name", ["link", "reconcile"])
def test_a_stage_run_alone_rebuilds_the_tables_the_night_wrote(night: Recon, name: str) -> None:
    tables = STAGE_TABLES[name]
    before = {t: rows(night, t) for t in tables}
    assert all(before.values()), "the night wrote every table"
    with duckdb.connect(str(night.db)) as writable:
        for table in tables:
            writable.execute(f"DELETE FROM {table}")
    result = stage(night, name)
    assert result.exit_code == 0, result.output
    assert f"阶段 {name}" in result.output
    for table in tables:
        assert rows(night, table) == before[table], table


def test_the_cases_stage_alone_keeps_every_case_of_the_same_findings(night: Recon) -> None:
    cases = rows(night, "cases")
    result = stage(night, "cases")
    assert result.exit_code == 0, result.output
    assert "opened 0" in result.output and "closed 0" in result.output
    open_cases = night.query("SELECT count(*) FROM cases WHERE closed_run IS NULL")[0][0]
    assert f"kept {open_cases:,}" in result.output
    after = night.query("SELECT case_id, status, closed_run FROM cases ORDER BY case_id")
    assert after == sorted((c[0], c[13], c[16]) for c in cases)


def test_the_cases_stage_closes_a_case_whose_finding_is_gone(night: Recon) -> None:
    with duckdb.connect(str(night.db)) as writable:
        gone = writable.execute(
            "SELECT pop_record_id FROM findings WHERE category = 'fictitious' LIMIT 1"
        ).fetchall()[0][0]
        writable.execute("DELETE FROM findings WHERE pop_record_id = ?", [gone])
    result = stage(night, "cases")
    assert result.exit_code == 0, result.output
    assert "closed 1" in result.output
    closed = night.query(
        "SELECT count(*) FROM cases WHERE pop_record_id = ? AND closed_run IS NOT NULL", [gone]
    )
    assert closed == [(1,)]
    verify = night("audit", "verify", "--db", str(night.db))
    assert verify.exit_code == 0, verify.output


def test_the_metrics_stage_alone_records_the_figures_of_the_store_as_it_is(
    night: Recon,
) -> None:
    figures = []
    for _ in range(2):
        result = stage(night, "metrics")
        assert result.exit_code == 0, result.output
        last = night.query("SELECT max(run_id) FROM run_metrics")[0][0]
        figures.append(
            night.query(
                "SELECT metric, scope, value FROM run_metrics WHERE run_id = ? ORDER BY 1, 2",
                [last],
            )
        )
    assert figures[0] == figures[1], "the same store gives the same figures"
    open_cases = dict(
        night.query(
            "SELECT category, count(*) FROM cases WHERE closed_run IS NULL GROUP BY category"
        )
    )
    recorded = {s: v for m, s, v in figures[1] if m == "open_cases" and s in open_cases}
    assert recorded == {k: float(v) for k, v in open_cases.items()}


def test_the_ingest_stage_alone_stores_the_records_a_night_stores(
    night: Recon, tmp_path: Path
) -> None:
    alone = Recon(tmp_path)
    shutil.copytree(GOLDEN / "inbox", tmp_path / "inbox")
    result = alone("stage", "ingest", "--db", str(alone.db), "--inbox", str(tmp_path / "inbox"),
                   "--as-of", AS_OF.isoformat())  # fmt: skip
    assert result.exit_code == 0, result.output
    # The file ids may differ: compare every other column.
    for table in ("pop_records", "hosp_records", "police_records"):
        assert without(alone, table, 2) == without(night, table, 2), table
    for table in ("quarantine", "warnings"):
        assert without(alone, table, 0) == without(night, table, 0), table
    assert not alone.query("SELECT * FROM findings"), "ingest alone links nothing"


def test_an_unknown_stage_or_a_missing_inbox_is_a_usage_error(night: Recon) -> None:
    assert stage(night, "bogus").exit_code == 2
    assert stage(night, "ingest").exit_code == 2
