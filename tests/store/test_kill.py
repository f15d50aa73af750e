"""`recon run` killed with SIGKILL at many points, before and after the commit.

Each kill must leave the store as it was or as the finished night left it, out/ holding
one night's files (never a mix of two), and a rerun must give the identical worklist.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from recon_sim.generate import DEFAULT_AS_OF, generate

NIGHT_FILES = ("worklist.csv", "quarantine.csv")
# Before the commit: a share of an uninterrupted night's time. After it: seconds after the
# committed head reached audit-heads, i.e. while out/ is being written and swapped.
BEFORE_COMMIT = (0.25, 0.6)
AFTER_COMMIT = (0.0, 0.1, 0.3)


def recon_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "recon.cli", *args]


def run(inbox: Path, root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        recon_cmd(
            "run", "--inbox", str(inbox), "--db", str(root / "r.duckdb"),
            "--out", str(root / "out"), "--as-of", DEFAULT_AS_OF.isoformat(),
        ),
        capture_output=True, text=True, check=False, cwd=root,
    )  # fmt: skip


def night_set(out: Path) -> tuple[bytes, ...]:
    run_id = json.loads((out / "run.json").read_text(encoding="utf-8"))["run_id"]
    return (*((out / name).read_bytes() for name in NIGHT_FILES), str(run_id).encode())


def runs(root: Path) -> int:
    con = duckdb.connect(str(root / "r.duckdb"), read_only=True)
    try:
        return int(con.execute("SELECT count(*) FROM runs").fetchall()[0][0])
    finally:
        con.close()


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Night 1: a generated county; night 2: the same with a later register extract."""
    base = tmp_path_factory.mktemp("nights")
    first = base / "night1"
    generate(600, 11, first, hosp_format="csv")
    second = base / "night2"
    shutil.copytree(first, second)
    pop = next(second.glob("pop*.csv"))
    raw = pop.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:  # the generator writes some extracts in GB18030, as offices do
        text = raw.decode("gb18030")
    lines = text.splitlines(keepends=True)
    # A later extract: the first 150 records again, their reporting unit changed.
    header, body = lines[0], lines[1:151]
    (second / "pop_later.csv").write_text(
        header + "".join(line.replace("卫生院", "卫生服务中心") for line in body),
        encoding="utf-8",
    )
    return first, second


def test_a_killed_night_leaves_old_or_new_and_a_rerun_matches(
    nights: tuple[Path, Path], tmp_path: Path
) -> None:
    first, second = nights
    reference = tmp_path / "reference"
    reference.mkdir()
    assert run(first, reference).returncode == 0
    before = night_set(reference / "out")
    after_first = tmp_path / "after-first"  # the state every killed night starts from
    shutil.copytree(reference, after_first)
    start = time.monotonic()
    assert run(second, reference).returncode == 0
    took = time.monotonic() - start
    after = night_set(reference / "out")
    assert before != after

    outcomes = set()
    points = [("before", s) for s in BEFORE_COMMIT] + [("after", s) for s in AFTER_COMMIT]
    for n, (when, value) in enumerate(points):
        root = tmp_path / f"kill-{n}"
        shutil.copytree(after_first, root)
        heads = root / "audit-heads"
        committed = heads.stat().st_size
        process = subprocess.Popen(
            recon_cmd("run", "--inbox", str(second), "--db", str(root / "r.duckdb"),
                      "--out", str(root / "out"), "--as-of", DEFAULT_AS_OF.isoformat()),
            cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        kill_at = time.monotonic() + took * value if when == "before" else None
        while process.poll() is None:
            now = time.monotonic()
            if kill_at is None and heads.stat().st_size > committed:
                kill_at = now + value  # the night just committed
            if kill_at is not None and now >= kill_at:
                os.kill(process.pid, signal.SIGKILL)
                break
            time.sleep(0.005)
        process.wait()
        stored = runs(root)
        assert stored in (1, 2), (when, value)  # the store as before, or as the night left it
        shown = night_set(root / "out")
        assert shown in (before, after), (when, value)  # one night's files, never a mix
        outcomes.add((when, stored))
        rerun = run(second, root)
        assert rerun.returncode == 0, rerun.stderr
        assert night_set(root / "out")[:-1] == after[:-1], (when, value)  # identical worklist
    # Kills after the commit left the new store; an early one, the old store.
    assert ("before", 1) in outcomes and ("after", 1) not in outcomes
