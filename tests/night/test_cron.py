"""A night that runs unattended: cron logs, --quiet, --json and the RECON_* defaults."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import AS_OF, Recon, pop_row, write_csv, write_divisions
from typer.testing import CliRunner

from recon import console as console_module
from recon.cli import app
from recon_sim.generate import PROFILES

LONG_NAME = (
    "pop_births_2024年第四季度_襄州区张湾街道办事处_全员人口信息系统导出_最终版_v2_20241231.csv"
)
# A cron line: date, time, the command, seconds since it started, the step, the stage.
CRON_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d recon run +\d+\.\d s  (.+)$")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # anything but tab and newline


@pytest.fixture(autouse=True)
def _no_forced_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    # CliRunner is not a terminal; these would make rich treat it as one anyway.
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)


def run_json(recon: Recon) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((recon.out / "run.json").read_text(encoding="utf-8"))
    return data


def test_the_summary_is_not_cut_without_a_terminal(recon: Recon, inbox: Path) -> None:
    (inbox / "pop_births.csv").rename(inbox / LONG_NAME)
    result = recon.run(inbox)
    assert result.exit_code == 0, result.output
    head = run_json(recon)["audit_head"]["hash"]
    assert len(head) == 64
    assert head in result.stdout  # not wrapped mid-hash at 80 columns
    rows = [line for line in result.stdout.splitlines() if line.startswith("│ 全员人口")]
    assert len(rows) == 1, result.stdout  # one table row, not wrapped
    assert LONG_NAME in rows[0] and rows[0].endswith("│"), rows[0]  # the whole name, all columns
    assert not CONTROL.search(result.output), repr(result.output)


def test_without_a_terminal_progress_is_one_plain_line_per_stage(recon: Recon, inbox: Path) -> None:
    result = recon.run(inbox)
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    stages = []
    for line in lines:
        match = CRON_LINE.match(line)
        assert match, line
        stages.append(match.group(1))
    assert not CONTROL.search(result.stderr), repr(result.stderr)
    assert "None" not in result.stderr
    # Three files of four steps, then the five stages after them: 17 steps in all.
    assert stages[0].startswith("  1/17  读取 ")
    assert [s.split("  ")[-1] for s in stages[-6:]] == [
        "链接 (linking)", "核对", "案件", "指标", "输出", "完成 (done)",
    ]  # fmt: skip
    assert stages[-2] == " 17/17  输出"
    assert len(stages) == len(set(stages)) == 3 * 4 + 5 + 1


def test_json_puts_run_json_alone_on_stdout(recon: Recon, inbox: Path) -> None:
    result = recon.run(inbox, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == run_json(recon)
    assert "数据源" not in result.output  # no table anywhere
    # Progress and the one-line outcome went to stderr.
    assert "链接 (linking)" in result.stderr
    assert run_json(recon)["audit_head"]["hash"] in result.stderr


def test_quiet_prints_the_outcome_line_only(recon: Recon, inbox: Path) -> None:
    result = recon.run(inbox, "--quiet")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # no progress
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    assert "数据源" not in result.stdout and "┏" not in result.stdout  # no table
    summary = run_json(recon)
    assert lines[0].startswith(f"recon run {summary['run_id']}")
    assert "3 个文件" in lines[0]
    assert summary["audit_head"]["hash"] in lines[0]


def test_quiet_still_says_why_a_night_is_incomplete(recon: Recon, tmp_path: Path) -> None:
    night = tmp_path / "only-pop"
    night.mkdir()
    write_csv(night / "pop_births.csv", [pop_row()])
    write_divisions(night)
    result = recon.run(night, "--quiet", "--json")
    assert result.exit_code == 5, result.output
    assert json.loads(result.stdout)["incomplete"] is True
    assert "从未收到" in result.stderr  # the error, though quiet
    assert "recon run 1" not in result.stderr  # quiet: no outcome line beside the JSON


def test_recon_db_and_recon_out_point_run_and_verify_at_a_store(
    inbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"  # where cron starts: nothing may land here
    home.mkdir()
    monkeypatch.chdir(home)
    store = tmp_path / "srv" / "night.duckdb"
    store.parent.mkdir()
    env = {"RECON_DB": str(store), "RECON_OUT": str(tmp_path / "srv" / "out")}
    runner = CliRunner(env=env)

    def recon(*args: str) -> Any:
        return runner.invoke(app, list(args), catch_exceptions=False)

    result = recon("run", "--inbox", str(inbox), "--as-of", AS_OF.isoformat())
    assert result.exit_code == 0, result.output
    assert store.is_file()
    assert (store.parent / "audit-heads").is_file()  # beside the store, not in $HOME
    assert (tmp_path / "srv" / "out" / "run.json").is_file()
    assert list(home.iterdir()) == []

    result = recon("audit", "verify")
    assert result.exit_code == 0, result.output
    assert "审计日志完整" in result.output
    assert str(store.parent / "audit-heads") in result.output  # checked the heads kept there

    # An explicit --db still wins over the environment.
    other = tmp_path / "other.duckdb"
    result = recon("audit", "verify", "--db", str(other))
    assert result.exit_code == 2 and str(other) in result.output


def test_recon_config_is_the_default_config(
    recon: Recon, inbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "county.toml"
    config.write_text("[deadlines]\npop_dayz = 120\n", encoding="utf-8")
    monkeypatch.setenv("RECON_CONFIG", str(config))
    result = recon.run(inbox)
    assert result.exit_code == 2
    assert "pop_dayz" in result.output  # the file named by RECON_CONFIG was read


def test_help_names_the_environment_variables() -> None:
    runner = CliRunner()
    for command in (["run"], ["audit", "verify"], ["apply"], ["report"], ["worklist", "export"]):
        text = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "200"}).output
        assert "RECON_DB" in text and "RECON_CONFIG" in text, command
        assert ("RECON_OUT" in text) == (command[0] in ("run", "apply", "report")), command


def test_a_terminal_bar_names_the_stage_and_never_says_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    screen = io.StringIO()
    terminal = console_module._Console(file=screen, force_terminal=True, width=100)
    monkeypatch.setattr(console_module, "errors", terminal)
    with console_module.progress_bar("recon link train") as progress:
        progress("训练链接模型", 0, 0)  # a step of unknown length
    assert "训练链接模型" in screen.getvalue()
    assert "None" not in screen.getvalue() and "0/0" not in screen.getvalue()
    with console_module.progress_bar("recon run") as progress:
        progress("链接 (linking)", 12, 17)
    assert "链接 (linking)" in screen.getvalue() and "13/17" in screen.getvalue()


def test_a_pipe_gets_the_whole_line() -> None:
    pipe = io.StringIO()
    plain = console_module._Console(file=pipe)
    plain.print("x" * 300 + " " + "f" * 64)
    assert pipe.getvalue() == "x" * 300 + " " + "f" * 64 + "\n"  # not wrapped at 80


def test_help_paragraphs_flow_to_the_terminal_and_not_to_the_docstrings_lines() -> None:
    # Before: each line break of a docstring broke the screen's line too, so an 80-column
    # terminal showed lines of 80 and of 3 words in turn.
    runner = CliRunner()
    text = runner.invoke(app, ["run", "--help"], env={"COLUMNS": "200"}).output
    lines = [line.strip(" │") for line in text.splitlines()]
    assert any(
        line.startswith("Writes out/worklist.csv") and line.endswith("seconds per stage).")
        for line in lines
    ), text
    profiles = runner.invoke(app, ["generate", "--help"], env={"COLUMNS": "200"}).output
    # A list stays a list: each profile an item of its own.
    items = [line.strip(" │") for line in profiles.splitlines() if line.strip(" │").startswith("•")]
    assert [item.split(":")[0] for item in items] == [f"• {name}" for name in PROFILES], profiles
