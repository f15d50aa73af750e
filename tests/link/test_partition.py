"""A big store is linked in parts by birth month, then across the parts; the cases are
those of one link of the whole store."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

from conftest import Recon

from recon.link.partition import plan

GOLDEN = Path(__file__).parents[1] / "data" / "golden"
AS_OF = date(2024, 12, 31)


def test_months_are_grouped_into_parts_of_at_most_the_limit() -> None:
    months = [(202311, 400), (202312, 500), (202401, 300), (202402, 900), (202403, 1200), (None, 7)]
    assert plan(months, 1000) == [
        (202311, 202312), (202401, 202401), (202402, 202402), (202403, 202403)
    ]  # fmt: skip
    assert plan(months, 10_000) == [(202311, 202403)]
    assert plan([(None, 5)], 1000) == []


def test_a_night_linked_in_parts_gives_the_recorded_worklist(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    shutil.copytree(GOLDEN / "inbox", inbox)
    config = tmp_path / "recon.toml"
    config.write_text("[reconcile]\npartition_births = 1000\n", encoding="utf-8")
    recon = Recon(tmp_path)
    result = recon.run(inbox, "--config", str(config), as_of=AS_OF)
    assert result.exit_code == 0, result.output
    assert "分 3 段链接" in result.output  # months of at most 3,000 records
    parts = recon.query("SELECT DISTINCT part FROM link_births ORDER BY part")
    assert parts == [(0,), (1,), (2,), (3,)]  # three parts and the pass across them
    got = (recon.out / "worklist.csv").read_text(encoding="utf-8-sig")
    assert got == (GOLDEN / "expected" / "worklist.csv").read_text(encoding="utf-8-sig")

    # Each stage alone on the store linked in parts gives the same tables again.
    tables = {t: sorted(recon.query(f"SELECT * FROM {t}"), key=repr) for t in RECONCILED}
    for stage in ("link", "reconcile"):
        again = recon("stage", stage, "--db", str(recon.db), "--config", str(config),
                      "--as-of", AS_OF.isoformat())  # fmt: skip
        assert again.exit_code == 0, again.output
    assert {t: sorted(recon.query(f"SELECT * FROM {t}"), key=repr) for t in RECONCILED} == tables


RECONCILED = ("link_births", "links", "link_duplicates", "births", "findings")
