"""run.json records the versions a night ran with."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import duckdb
import great_expectations
import polars
import splink
from conftest import Recon

from recon import __version__


def test_run_json_records_python_recon_and_package_versions(recon: Recon, inbox: Path) -> None:
    assert recon.run(inbox).exit_code == 0
    run = json.loads((recon.out / "run.json").read_text(encoding="utf-8"))
    found = run["versions"]
    assert found["duckdb"] == duckdb.__version__
    assert found["polars"] == polars.__version__
    assert found["great_expectations"] == great_expectations.__version__
    assert found["splink"] == splink.__version__
    assert found["python"] == platform.python_version()
    assert found["recon"] == __version__ == run["tool_version"]
    for key in ("pandera", "openpyxl", "pydantic", "pyarrow", "pandas", "numpy"):
        assert found[key], key
