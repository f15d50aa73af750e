"""The same night gives the same worklist, whatever the code's shape or speed.

`tests/data/golden/` holds a generated night (2,500 births, families that moved, 3% of
register names misspelt, twins and every messy form of the feeds) and the worklist and
quarantine the tool wrote for it before the code was split into named stages. A change
that moves or speeds up the code must leave both byte for byte the same; a change that
means to alter the findings regenerates them and says why in its commit.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

from conftest import Recon

GOLDEN = Path(__file__).parents[1] / "data" / "golden"
AS_OF = date(2024, 12, 31)


def test_a_generated_night_gives_the_recorded_worklist(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    shutil.copytree(GOLDEN / "inbox", inbox)
    recon = Recon(tmp_path)
    result = recon.run(inbox, as_of=AS_OF)
    assert result.exit_code == 0, result.output
    for name in ("worklist.csv", "quarantine.csv"):
        got = (recon.out / name).read_text(encoding="utf-8-sig").splitlines()
        want = (GOLDEN / "expected" / name).read_text(encoding="utf-8-sig").splitlines()
        assert got[0] == want[0], f"{name}: the columns changed"
        assert len(got) == len(want), f"{name}: {len(got) - 1} rows, recorded {len(want) - 1}"
        changed = [(g, w) for g, w in zip(got, want, strict=True) if g != w]
        assert not changed, f"{name}: {len(changed)} rows differ, first:\n{changed[0]}"
