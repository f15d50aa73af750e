"""recon.stats against numbers worked out by hand in each test."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import numpy as np
import pytest

from recon.report.stats import (
    OBSERVED_CELLS,
    cells_from_flags,
    chapman,
    closed_form_missed,
    estimate,
    fit_models,
    is_outlier,
    modified_z,
    sex_ratio,
)

# A dependent three-list table (hosp, police, pop) used in several tests.
CELLS = {
    (1, 0, 0): 300,
    (0, 1, 0): 150,
    (0, 0, 1): 200,
    (1, 1, 0): 120,
    (1, 0, 1): 180,
    (0, 1, 1): 90,
    (1, 1, 1): 400,
}
N_OBS = 300 + 150 + 200 + 120 + 180 + 90 + 400  # 1440


def _by_name(fits):
    return {f.name: f for f in fits}


# --- sex ratio at birth ---------------------------------------------------------------


def test_sex_ratio_1060_1000_by_hand() -> None:
    half = 1.96 * math.sqrt(1 / 1060 + 1 / 1000)
    s = sex_ratio(1060, 1000)
    assert s.ratio == pytest.approx(106.0)
    assert s.lower == pytest.approx(100 * math.exp(math.log(1.06) - half))
    assert s.upper == pytest.approx(100 * math.exp(math.log(1.06) + half))
    assert s.lower == pytest.approx(97.3, abs=0.1)  # about 97-115, as statistics.md says
    assert s.upper == pytest.approx(115.5, abs=0.1)
    assert s.flag is None


def test_sex_ratio_small_township_is_wide_and_not_flagged() -> None:
    half = 1.96 * math.sqrt(1 / 53 + 1 / 50)
    s = sex_ratio(53, 50)
    assert s.ratio == pytest.approx(106.0)
    assert s.lower == pytest.approx(106 * math.exp(-half))
    assert s.upper == pytest.approx(106 * math.exp(half))
    assert s.upper - s.lower > 80  # roughly 72 to 157
    assert s.flag is None
    # A point estimate of 120 in a small area is still noise.
    assert sex_ratio(60, 50).flag is None


def test_sex_ratio_distorted_areas_flagged() -> None:
    high = sex_ratio(1200, 1000)
    lower = 100 * math.exp(math.log(1.2) - 1.96 * math.sqrt(1 / 1200 + 1 / 1000))
    assert high.lower == pytest.approx(lower)
    assert lower > 107
    assert high.flag == "high"

    low = sex_ratio(900, 1000)
    upper = 100 * math.exp(math.log(0.9) + 1.96 * math.sqrt(1 / 900 + 1 / 1000))
    assert low.upper == pytest.approx(upper)
    assert upper < 103
    assert low.flag == "low"


def test_sex_ratio_zero_counts_undefined() -> None:
    for boys, girls in ((5, 0), (0, 5), (0, 0)):
        s = sex_ratio(boys, girls)
        assert (s.ratio, s.lower, s.upper, s.flag) == (None, None, None, None)
    assert sex_ratio(5, 0).as_json() == {
        "boys": 5,
        "girls": 0,
        "ratio": None,
        "lower": None,
        "upper": None,
        "flag": None,
    }
    with pytest.raises(ValueError):
        sex_ratio(-1, 5)


# --- Chapman ----------------------------------------------------------------------------


def test_chapman_worked_example() -> None:
    n_hat = 101 * 81 / 61 - 1  # 133.115
    var = 101 * 81 * 40 * 20 / (61**2 * 62)  # 28.369
    t = chapman(100, 80, 60)
    assert t.estimate == pytest.approx(n_hat)
    assert t.estimate == pytest.approx(133.115, abs=1e-3)
    assert t.variance == pytest.approx(var)
    assert t.lower == pytest.approx(n_hat - 1.96 * math.sqrt(var))
    assert t.upper == pytest.approx(n_hat + 1.96 * math.sqrt(var))
    assert t.observed == 120
    assert t.below_observed is False
    # Against all births seen (a third source saw more), the same figure is too low.
    assert chapman(100, 80, 60, observed=140).below_observed is True
    with pytest.raises(ValueError):
        chapman(10, 10, 11)


# --- three-list MSE ---------------------------------------------------------------------


def test_closed_form_by_hand() -> None:
    expected = 400 * 300 * 150 * 200 / (120 * 180 * 90)  # 1851.85
    assert closed_form_missed(CELLS) == pytest.approx(expected)
    assert expected == pytest.approx(1851.85, abs=0.01)


def test_all_two_way_glm_matches_closed_form() -> None:
    fits = _by_name(fit_models(CELLS))
    full = fits["[HP][HR][PR]"]
    expected = 400 * 300 * 150 * 200 / (120 * 180 * 90)
    assert full.usable
    assert full.missed == pytest.approx(expected, rel=1e-6)
    assert full.total == pytest.approx(N_OBS + expected, rel=1e-6)
    assert full.n_params == 7
    assert full.df_resid == 0
    assert full.deviance == pytest.approx(0.0, abs=1e-6)
    # Saturated on the 7 cells: fitted = observed, so the log-likelihood is known by hand.
    llf = sum(y * math.log(y) - y - math.lgamma(y + 1) for y in CELLS.values())
    assert full.loglik == pytest.approx(llf, rel=1e-9)
    assert full.aic == pytest.approx(-2 * llf + 2 * 7, rel=1e-9)
    assert full.bic == pytest.approx(-2 * llf + 7 * math.log(N_OBS), rel=1e-9)


def test_eight_models_named_and_described() -> None:
    fits = fit_models(CELLS)
    assert [f.name for f in fits] == [
        "[H][P][R]",
        "[HP][R]",
        "[HR][P]",
        "[H][PR]",
        "[HP][HR]",
        "[HP][PR]",
        "[HR][PR]",
        "[HP][HR][PR]",
    ]
    by = _by_name(fits)
    assert by["[H][P][R]"].description == "独立模型"
    assert by["[HP][R]"].description == "住院×公安 相依"
    assert by["[HP][HR][PR]"].terms == ("HP", "HR", "PR")
    assert [f.n_params for f in fits] == [4, 5, 5, 5, 6, 6, 6, 7]
    assert [f.df_resid for f in fits] == [3, 2, 2, 2, 1, 1, 1, 0]


def test_chao_interval_formula() -> None:
    for f in fit_models(CELLS):
        assert f.missed is not None and f.se_log_missed is not None
        c = math.exp(1.96 * math.sqrt(math.log(1 + f.se_log_missed**2)))
        assert f.lower == pytest.approx(N_OBS + f.missed / c)
        assert f.upper == pytest.approx(N_OBS + f.missed * c)
        assert N_OBS < f.lower < f.total < f.upper


def _independent_cells() -> tuple[dict[tuple[int, int, int], int], float]:
    # Exact fractions, chosen so that every cell N·p_h·p_p·p_r is an integer.
    n, probs = 8000, (Fraction(1, 2), Fraction(3, 4), Fraction(4, 5))
    cells = {}
    for cell in OBSERVED_CELLS:
        p = math.prod(q if present else 1 - q for q, present in zip(probs, cell, strict=True))
        assert (n * p).denominator == 1
        cells[cell] = int(n * p)
    return cells, float(n * (1 - probs[0]) * (1 - probs[1]) * (1 - probs[2]))  # 200


def test_independent_table_recovers_truth_and_is_chosen() -> None:
    cells, missed = _independent_cells()
    assert missed == 200
    for criterion in ("aic", "bic"):
        est = estimate(cells, criterion=criterion)
        assert est.n_observed == 8000 - 200
        assert est.chosen is not None
        assert est.chosen.name == "[H][P][R]"
        assert est.chosen.missed == pytest.approx(200, rel=1e-6)
        assert est.chosen.total == pytest.approx(8000, rel=1e-6)
        assert est.chosen.lower < 8000 < est.chosen.upper
        assert est.runner_up is not None and est.runner_up.name != "[H][P][R]"
    # Independence also makes every two-way interaction zero, so the closed form agrees.
    assert closed_form_missed(cells) == pytest.approx(200)


def test_zero_cell_makes_all_two_way_unusable_not_crash() -> None:
    cells = dict(CELLS)
    cells[(1, 1, 0)] = 0
    assert closed_form_missed(cells) is None
    fits = _by_name(fit_models(cells))
    full = fits["[HP][HR][PR]"]
    assert full.usable is False
    assert full.reason
    assert full.missed is None and full.aic is None
    est = estimate(cells)
    assert est.chosen is not None and est.chosen.usable
    assert est.chosen.name != "[HP][HR][PR]"
    json.dumps(est.as_json(), allow_nan=False, ensure_ascii=False)


def test_zero_cell_hidden_from_margins_is_caught() -> None:
    # [HR][PR] with n110 = 0: no margin is zero, yet the MLE does not exist and a naive
    # GLM "converges" to a missed cell of e^31. It must be marked unusable.
    cells = dict(CELLS)
    cells[(1, 1, 0)] = 0
    assert _by_name(fit_models(cells))["[HR][PR]"].usable is False


def test_estimate_chooses_lowest_criterion_and_pairwise_chapman() -> None:
    est = estimate(CELLS)
    usable = sorted((f for f in est.fits if f.usable), key=lambda f: f.aic)
    assert est.chosen is usable[0] and est.runner_up is usable[1]
    assert est.chosen.name == "[HP][HR][PR]"  # the dependent table needs all terms
    assert est.reason is None
    # police-pop from the margins by hand: police 150+120+90+400, pop 200+180+90+400, both 490
    pp = est.pairwise["police-pop"]
    assert (pp.n1, pp.n2, pp.m) == (760, 870, 490)
    assert pp.estimate == pytest.approx(761 * 871 / 491 - 1)
    assert pp.observed == N_OBS
    assert pp.below_observed is True  # 1348.9 < 1440: dependent sources
    hp = est.pairwise["hosp-police"]
    assert (hp.n1, hp.n2, hp.m) == (1000, 760, 520)
    assert set(est.pairwise) == {"hosp-police", "hosp-pop", "police-pop"}
    data = est.as_json()
    json.dumps(data, allow_nan=False, ensure_ascii=False)
    assert data["cells"]["111"] == 400 and data["chosen"] == "[HP][HR][PR]"
    with pytest.raises(ValueError):
        estimate(CELLS, criterion="deviance")


def test_estimate_refuses_tiny_counts() -> None:
    cells = {c: 2 for c in OBSERVED_CELLS}  # 14 births
    est = estimate(cells)
    assert est.n_observed == 14
    assert est.chosen is None and est.runner_up is None
    assert est.reason and "20" in est.reason
    empty = estimate({})
    assert empty.chosen is None and all(not f.usable for f in empty.fits)


def test_cells_from_flags() -> None:
    hosp = [True, True, False, False, True, True]
    police = [True, False, True, False, True, False]
    pop = np.array([True, False, False, True, True, True])
    cells = cells_from_flags(hosp, police, pop)
    assert cells == {
        (1, 0, 0): 1,
        (0, 1, 0): 1,
        (0, 0, 1): 1,
        (1, 1, 0): 0,
        (1, 0, 1): 1,
        (0, 1, 1): 0,
        (1, 1, 1): 2,
    }
    with pytest.raises(ValueError):
        cells_from_flags([True], [True, False], [True])
    with pytest.raises(ValueError):
        cells_from_flags([False], [False], [False])


# --- modified z-score -------------------------------------------------------------------


def test_modified_z_by_hand() -> None:
    history = [10, 12, 11, 13, 9]  # median 11; |dev| 1,1,0,2,2 -> MAD 1
    assert modified_z(history, 15) == pytest.approx(0.6745 * 4 / 1)  # 2.698
    assert not is_outlier(modified_z(history, 15))
    z = modified_z(history, 17)
    assert z == pytest.approx(0.6745 * 6)  # 4.047
    assert is_outlier(z)
    assert modified_z(history, 5) == pytest.approx(-0.6745 * 6)


def test_modified_z_mad_zero_uses_mean_absolute_deviation() -> None:
    history = [5, 5, 5, 5, 9]  # median 5; |dev| 0,0,0,0,4 -> MAD 0, mean 0.8
    assert modified_z(history, 8) == pytest.approx(0.7979 * 3 / 0.8)  # 2.992
    assert modified_z(history, 9) == pytest.approx(0.7979 * 4 / 0.8)  # 3.990
    assert is_outlier(modified_z(history, 9))


def test_modified_z_constant_history() -> None:
    assert modified_z([7, 7, 7], 7) == 0.0
    assert modified_z([7, 7, 7], 8) == math.inf
    assert modified_z([7, 7, 7], 6) == -math.inf
    assert is_outlier(modified_z([7, 7, 7], 8))
    assert not is_outlier(modified_z([7, 7, 7], 7))


def test_modified_z_short_history() -> None:
    assert modified_z([1, 2], 3) is None
    assert modified_z([], 3) is None
    assert not is_outlier(None)
    assert modified_z([1, 2], 3, min_history=2) == pytest.approx(0.6745 * 1.5 / 0.5)
    assert is_outlier(3.5) and not is_outlier(3.49)


def test_wild_extrapolation_is_unusable() -> None:
    # Hardly any overlap: the closed form gives 1·100³/1 = 1,000,000 missed for 304 seen.
    cells = {(1, 0, 0): 100, (0, 1, 0): 100, (0, 0, 1): 100}
    cells |= {(1, 1, 0): 1, (1, 0, 1): 1, (0, 1, 1): 1, (1, 1, 1): 1}
    assert closed_form_missed(cells) == pytest.approx(1_000_000)
    full = _by_name(fit_models(cells))["[HP][HR][PR]"]
    assert full.missed == pytest.approx(1_000_000, rel=1e-6)
    assert full.usable is False and full.reason
    assert estimate(cells).chosen != full
