"""The night's Polars allocator keeps freed pages for a while instead of handing them back
to the kernel at once (recon/__init__.py): what jemalloc reads when Polars loads."""

from __future__ import annotations

import os
import subprocess
import sys

import recon

# What Polars' jemalloc is left with once `recon.cli` (the console script) has imported
# Polars: its own defaults first, then what the environment gave; the last value wins.
_PROBE = (
    "import os, sys\n"
    "import recon.cli\n"
    "assert 'polars' in sys.modules\n"
    "print(os.environ['_RJEM_MALLOC_CONF'])\n"
)


def _allocator_conf(env: dict[str, str]) -> dict[str, str]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True
    )
    options: dict[str, str] = {}
    for option in done.stdout.strip().split(","):  # later options override earlier ones
        key, _, value = option.partition(":")
        options[key] = value
    return options


def test_the_night_keeps_freed_pages_seconds_not_half_a_second() -> None:
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    options = _allocator_conf(env)
    assert options["dirty_decay_ms"] == "5000"  # Polars' own default: 500
    assert options["muzzy_decay_ms"] == "5000"
    assert recon.ALLOCATOR_DECAY == "dirty_decay_ms:5000,muzzy_decay_ms:5000"


def test_an_allocator_setting_the_environment_gives_is_left_alone() -> None:
    env = {**os.environ, "_RJEM_MALLOC_CONF": "dirty_decay_ms:250"}
    options = _allocator_conf(env)
    assert options["dirty_decay_ms"] == "250"
    assert "5000" not in options.values()  # recon's own value not added beside it
