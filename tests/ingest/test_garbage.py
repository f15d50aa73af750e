"""A bad row never crashes a run: random garbage in every column is accepted or quarantined."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from conftest import AS_OF, ROWS, write_csv

from recon.config import CheckLimits, load_config
from recon.ingest.inbox import InboxFile
from recon.ingest.normalize import normalise
from recon.ingest.read import read_feed
from recon.resources import checks_module
from recon.validate.rules import validate

ALPHABET = "0123456789０１２３年月日-/.:Xx 　男女未知活产死产出生登记补录=+@\t\"',\n"


def garbage(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 24)))


@pytest.mark.parametrize("feed", ["pop", "hosp", "police"])
def test_garbage_rows_are_accepted_or_quarantined(tmp_path: Path, feed: str) -> None:
    rng = random.Random(feed)
    valid = ROWS[feed]()
    rows = []
    for i in range(300):
        row = dict(valid)
        for column in rng.sample(list(row), rng.randint(1, 4)):
            row[column] = garbage(rng)
        if rng.random() < 0.9:
            row[next(iter(row))] = f"K{i}"  # mostly distinct keys, some repeated
        rows.append(row)
    path = write_csv(tmp_path / f"{feed}_garbage.csv", rows)
    raw = read_feed(InboxFile(path, feed), load_config())
    ctx = checks_module("rules").RuleContext(
        as_of=AS_OF, limits=CheckLimits(), known_divisions=None
    )
    result = validate(raw, normalise(raw.rows, raw.feed, raw.extras), ctx)
    assert result.accepted.height + result.quarantined.height == 300
    lines = sorted(result.accepted["line"].to_list() + result.quarantined["line"].to_list())
    assert len(set(lines)) == 300
    assert (result.quarantined["reasons"].str.len_chars() > 0).all()
