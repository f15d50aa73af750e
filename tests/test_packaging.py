"""A wheel installed elsewhere, run from any directory, finds its sql/ and checks/."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import hosp_row, police_row, pop_row, write_csv

ROOT = Path(__file__).resolve().parent.parent


def test_installed_wheel_runs_from_another_directory(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(wheels), str(ROOT)],
        check=True,
    )  # fmt: skip
    site = tmp_path / "site"
    wheel = next(wheels.glob("recon-*.whl"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(site),
            str(wheel),
        ],
        check=True,
    )
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_csv(inbox / "pop_births.csv", [pop_row()])
    write_csv(inbox / "hosp_deliveries.csv", [hosp_row()])
    write_csv(inbox / "police_births.csv", [police_row()])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    script = (
        "import recon.resources as r, sys; "
        "print(r.sql_dir()); print(r.checks_dir()); "
        "from recon.cli import app; sys.argv = ['recon', 'run', '--inbox', sys.argv[1], "
        "'--as-of', '2024-12-31']; app()"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(inbox)],
        cwd=elsewhere, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    sql_dir, checks_dir = result.stdout.splitlines()[:2]
    assert sql_dir == str(site / "recon" / "sql")
    assert checks_dir == str(site / "recon" / "checks")
    assert (elsewhere / "recon.duckdb").exists()
    assert (elsewhere / "out" / "run.json").exists()
    # The report's template ships in the wheel too.
    report = (
        "import sys; from recon.cli import app; "
        "sys.argv = ['recon', 'report', '--out', 'report']; app()"
    )
    result = subprocess.run(
        [sys.executable, "-c", report], cwd=elsewhere, env=env,
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "出生人口性别比" in (elsewhere / "report" / "report.html").read_text(encoding="utf-8")
