"""A night missing a feed the store never received: exit 5, and no case resting on it.

The first night of a county often brings only the register. Without the other feeds
every register record looks fictitious and every birth missing from the police: those
cases must wait for the feed, not flood the worklist.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

from conftest import Recon, hosp_row, police_row, pop_row, write_csv, write_divisions
from test_apply import AS_OF, night


def only(root: Path, *feeds: str) -> Path:
    """The night of test_apply with only `feeds` in it."""
    full = night(root.with_name(root.name + "-full"))
    root.mkdir()
    for name in ("pop_births.csv", "hosp_deliveries.csv", "police_births.csv"):
        if name.split("_")[0] in feeds:
            (root / name).write_bytes((full / name).read_bytes())
    write_divisions(root)
    return root


def run_json(recon: Recon) -> dict:
    return json.loads((recon.out / "run.json").read_text(encoding="utf-8"))


def test_only_the_register_on_the_first_night(recon: Recon, tmp_path: Path) -> None:
    result = recon.run(only(tmp_path / "in", "pop"), as_of=AS_OF)
    assert result.exit_code == 5, result.output
    assert "从未收到住院分娩、公安户籍的数据" in result.output
    summary = run_json(recon)
    assert summary["incomplete"] is True
    assert summary["feeds_never_received"] == ["hosp", "police"]
    # Seven register records, none supported by a feed that never came: no 虚报, no 错报.
    kinds = recon.query("SELECT category, count(*) FROM cases GROUP BY ALL ORDER BY 1")
    assert kinds == [("duplicate", 1)]  # found within the register itself
    assert summary["cases"]["held"] > 0

    # The other feeds arrive: the night is complete and the held cases are found.
    later = only(tmp_path / "in2", "hosp", "police")
    result = recon.run(later, as_of=AS_OF)
    assert result.exit_code == 0, result.output
    assert run_json(recon)["incomplete"] is False
    kinds = dict(recon.query("SELECT category, count(*) FROM cases GROUP BY ALL"))
    assert kinds == {"duplicate": 1, "fictitious": 1, "misreported": 3, "missing": 2}


def test_a_missing_police_feed_holds_what_rests_on_it(recon: Recon, tmp_path: Path) -> None:
    result = recon.run(only(tmp_path / "in", "pop", "hosp"), as_of=AS_OF)
    assert result.exit_code == 5, result.output
    cases = recon.query("SELECT category, target_system, field FROM cases ORDER BY ALL")
    # Missing from the register on the hospital's word, and the duplicate, stand; a sex
    # the police would have voted on, and 虚报, wait for the police.
    assert ("duplicate", "pop", None) in cases
    assert all(c[0] not in ("fictitious", "misreported") for c in cases)
    assert all(c[1] != "police" for c in cases)


def test_an_empty_inbox_exits_5_and_records_nothing(recon: Recon, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = recon.run(empty, as_of=AS_OF)
    assert result.exit_code == 5
    assert "没有数据文件" in result.output
    assert not recon.db.exists()  # no store made, no run recorded

    assert recon.run(night(tmp_path / "in"), as_of=AS_OF).exit_code == 0
    before = recon.dump()
    write_divisions(empty)  # a divisions file alone is not a feed
    result = recon.run(empty, as_of=AS_OF)
    assert result.exit_code == 5
    assert recon.dump() == before


def test_a_future_as_of_is_a_usage_error(recon: Recon, tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    inbox.mkdir()
    write_csv(inbox / "pop_births.csv", [pop_row()])
    write_csv(inbox / "hosp_deliveries.csv", [hosp_row()])
    write_csv(inbox / "police_births.csv", [police_row()])
    result = recon.run(inbox, as_of=date.today() + timedelta(days=1))
    assert result.exit_code == 2
    assert "after today" in result.output
    assert not recon.db.exists()
    assert recon.run(inbox, as_of=date.today()).exit_code == 0
