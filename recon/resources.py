"""Locate the SQL and check files that ship with the package.

`sql/` and `checks/` sit at the top of the repository so reviewers find them;
the wheel carries them inside the package as `recon/sql` and `recon/checks`.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

_PACKAGE_DIR = Path(__file__).resolve().parent


def _shipped(name: str) -> Path:
    for candidate in (_PACKAGE_DIR / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"recon is installed without its {name}/ folder")


def sql_dir() -> Path:
    return _shipped("sql")


def checks_dir() -> Path:
    return _shipped("checks")


@cache
def sql(name: str) -> str:
    """The text of `sql/<name>.sql`, e.g. sql("ingest/pop_records")."""
    return (sql_dir() / f"{name}.sql").read_text(encoding="utf-8")


def checks_module(name: str) -> ModuleType:
    """Import `checks/<name>.py` as `recon.checks.<name>`, from the wheel or a source checkout."""
    package = "recon.checks"
    if package not in sys.modules:
        folder = checks_dir()
        spec = importlib.util.spec_from_file_location(
            package, folder / "__init__.py", submodule_search_locations=[str(folder)]
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[package] = module
        spec.loader.exec_module(module)
    return importlib.import_module(f"{package}.{name}")
