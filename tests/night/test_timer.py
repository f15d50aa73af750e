"""The night's timer: each stage's own memory peak, not one an earlier stage hid."""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
import pytest

from recon.night import Timer

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def test_a_stage_after_a_hungry_one_shows_its_own_smaller_peak() -> None:
    timer = Timer()
    with timer.stage("hungry"):
        block = np.ones(400 * 2**20 // 8)  # 400 MiB, touched
        time.sleep(3 * Timer.SAMPLE_S)
        del block
    with timer.stage("lean"):
        time.sleep(3 * Timer.SAMPLE_S)
    # The process's peak when each ended is the same; their own peaks are not.
    assert timer.peak_mib["lean"] >= timer.peak_mib["hungry"]
    assert timer.stage_peak_mib["hungry"] - timer.stage_peak_mib["lean"] > 300


def test_an_outer_stage_takes_the_peak_of_the_steps_inside_it() -> None:
    timer = Timer()
    with timer.stage("link"), timer.stage("link.parts"):
        block = np.ones(200 * 2**20 // 8)
        time.sleep(3 * Timer.SAMPLE_S)
        del block
    assert timer.stage_peak_mib["link"] >= timer.stage_peak_mib["link.parts"]


def test_no_sampling_thread_outlives_the_stages() -> None:
    timer = Timer()
    with timer.stage("only"):
        time.sleep(2 * Timer.SAMPLE_S)
    time.sleep(3 * Timer.SAMPLE_S)
    assert not [t for t in threading.enumerate() if t.name.startswith("recon-timer")]
