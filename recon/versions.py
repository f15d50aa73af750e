"""The versions a run ran with, for run.json: an auditor can tell which code decided."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

from recon import __version__

# Import name: distribution, for what shapes a run's figures (requirements.lock pins them).
PACKAGES = {
    "duckdb": "duckdb",
    "polars": "polars",
    "pyarrow": "pyarrow",
    "pandas": "pandas",
    "numpy": "numpy",
    "pandera": "pandera",
    "great_expectations": "great-expectations",
    "splink": "splink",
    "pydantic": "pydantic",
    "openpyxl": "openpyxl",
    "statsmodels": "statsmodels",
    "scipy": "scipy",
    "stdnum": "python-stdnum",
    "pypinyin": "pypinyin",
}


def versions() -> dict[str, str | None]:
    """Python, recon and each of PACKAGES (None if not installed), keyed as imported."""
    found: dict[str, str | None] = {"python": platform.python_version(), "recon": __version__}
    for key, distribution in PACKAGES.items():
        try:
            found[key] = version(distribution)
        except PackageNotFoundError:
            found[key] = None
    return found
