"""A wheel installed elsewhere, run from any directory, finds its sql/ and checks/; and
every dependency is bounded above and pinned by requirements.lock."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import hosp_row, police_row, pop_row, write_csv
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]


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


def declared() -> list[Requirement]:
    """Every dependency pyproject.toml declares: runtime, each extra, and the build backend."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    texts = [
        *project["project"]["dependencies"],
        *(d for extra in project["project"]["optional-dependencies"].values() for d in extra),
        *project["build-system"]["requires"],
    ]
    return [Requirement(t) for t in texts]


def locked() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"requirements.lock: {line!r} is not pinned with =="
            pins[canonicalize_name(name)] = Version(version)
    return pins


@pytest.mark.parametrize("requirement", declared(), ids=str)
def test_every_dependency_has_an_upper_bound(requirement: Requirement) -> None:
    # A new major of any of these can break a night that runs unattended.
    assert any(s.operator in ("<", "<=", "==", "~=") for s in requirement.specifier), (
        f"{requirement}: give it an upper bound, e.g. <{{next major}}"
    )


@pytest.mark.parametrize("requirement", declared(), ids=str)
def test_the_lock_pins_every_declared_dependency_within_its_bounds(
    requirement: Requirement,
) -> None:
    pins = locked()
    name = canonicalize_name(requirement.name)
    assert name in pins, f"requirements.lock does not pin {requirement.name}"
    assert requirement.specifier.contains(pins[name]), (
        f"requirements.lock pins {name}=={pins[name]}, outside {requirement}"
    )


def test_ci_runs_the_readme_test_command_and_both_install_from_the_lock() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    commands = [line.strip() for line in readme[:12] if line.startswith("    python3 -m venv")]
    assert len(commands) == 2, "the README opens with the sample run and the test command"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1]
    assert commands[1] == ci
    assert all("pip install -q -c requirements.lock " in c for c in commands)
