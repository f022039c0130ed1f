"""Selection statistics of a parameter search: deflated Sharpe, PBO (CSCV) and SPA, against hand
computations from the papers' formulas and on searches whose answer is known. No database."""

import itertools
import math
import statistics
from statistics import NormalDist

import numpy as np
import pytest
from arch.bootstrap import SPA, RealityCheck
from scipy.stats import rankdata

from backtesting_app.engine._spa import FastSPA
from backtesting_app.engine.optimize import (
    deflated_sharpe_ratio,
    probability_of_backtest_overfitting,
    sharpe_variance_of,
    spa_test,
)

T_DAYS, N_SETS, EDGE_COLUMN = 1000, 200, 17


def _noise(seed=7):
    return np.random.default_rng(seed).normal(0.0, 0.01, (T_DAYS, N_SETS))


def _planted(seed=7):
    R = _noise(seed)
    R[:, EDGE_COLUMN] += 0.3 * 0.01  # a real edge: mean 0.3 std a day (annualised Sharpe ~4.8)
    return R


def _best_column(R):
    return int(np.argmax(R.mean(axis=0) / R.std(axis=0, ddof=1)))


def test_pure_noise_search_is_flagged_by_every_statistic():
    R = _noise()
    best = _best_column(R)
    dsr = deflated_sharpe_ratio(R[:, best], n_trials=N_SETS, sharpe_variance=sharpe_variance_of(R))
    assert dsr["psr"] > 0.95  # taken alone, the luckiest of 200 looks significant ...
    assert dsr["dsr"] < 0.95  # ... and deflating for the 200 tries removes that
    assert probability_of_backtest_overfitting(R, blocks=16)["pbo"] > 0.2  # chance level is 0.5 (seeds 0-39: 0.25-0.84)
    spa = spa_test(R, reps=500)
    assert spa["best"] == best and spa["p_values"]["consistent"] > 0.05


def test_planted_edge_is_found_by_every_statistic():
    R = _planted()
    assert _best_column(R) == EDGE_COLUMN
    dsr = deflated_sharpe_ratio(R[:, EDGE_COLUMN], n_trials=N_SETS, sharpe_variance=sharpe_variance_of(R))
    assert dsr["dsr"] > 0.95
    pbo = probability_of_backtest_overfitting(R, blocks=16)
    assert pbo["pbo"] < 0.1 and pbo["degradation"]["prob_oos_loss"] < 0.1  # seeds 0-39: pbo at most 0.004
    spa = spa_test(R, reps=500)
    assert spa["best"] == EDGE_COLUMN and spa["p_values"]["consistent"] < 0.05
    # against the edge itself as benchmark, no other set is superior
    assert (
        spa_test(np.delete(R, EDGE_COLUMN, axis=1), benchmark=R[:, EDGE_COLUMN], reps=500)["p_values"]["consistent"]
        > 0.05
    )


# -- deflated Sharpe ratio --------------------------------------------------------------------------


def _moments_by_hand(r):
    """Per-period Sharpe (ddof=1), and skewness and kurtosis from the population (sample) moments."""
    T = len(r)
    mu = sum(r) / T
    m2, m3, m4 = (sum((x - mu) ** k for x in r) / T for k in (2, 3, 4))
    return mu / statistics.stdev(r), m3 / m2**1.5, m4 / m2**2


def _expected_max_sharpe_by_hand(n_trials, variance):
    z, gamma = NormalDist().inv_cdf, 0.5772156649015329
    return math.sqrt(variance) * ((1 - gamma) * z(1 - 1 / n_trials) + gamma * z(1 - 1 / (n_trials * math.e)))


def _psr_by_hand(r, benchmark_sharpe):
    """Bailey & Lopez de Prado: Phi((SR - SR*) sqrt(T - 1) / sqrt(1 - g3 SR + (g4 - 1)/4 SR^2))."""
    sr, g3, g4 = _moments_by_hand(r)
    return NormalDist().cdf(
        (sr - benchmark_sharpe) * math.sqrt(len(r) - 1) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2)
    )


def test_dsr_matches_the_papers_formulas_worked_by_hand():
    rng = np.random.default_rng(3)
    r = (0.0015 + 0.01 * (rng.standard_t(4, 500) - 0.3 * (rng.exponential(1.0, 500) - 1))).tolist()  # fat tails, skewed
    sr, g3, g4 = _moments_by_hand(r)
    sr0 = _expected_max_sharpe_by_hand(300, 0.0005)
    got = deflated_sharpe_ratio(r, n_trials=300, sharpe_variance=0.0005, periods_per_year=252)
    assert abs(g3) > 0.3 and g4 > 4  # the moment terms matter here
    assert got["dsr"] == pytest.approx(_psr_by_hand(r, sr0), rel=1e-9)
    assert got["psr"] == pytest.approx(_psr_by_hand(r, 0.0), rel=1e-9)
    assert (got["sharpe"], got["expected_max_sharpe"], got["skew"], got["kurtosis"]) == pytest.approx(
        (sr, sr0, g3, g4), rel=1e-9
    )
    assert got["sharpe_annual"] == pytest.approx(sr * math.sqrt(252), rel=1e-12)
    assert (got["n_obs"], got["n_trials"], got["sharpe_variance"], got["reason"]) == (500, 300, 0.0005, None)
    assert 0.5 < got["dsr"] < 0.95 < got["psr"] < 1  # a case where deflating changes the verdict


def test_with_one_trial_the_dsr_is_the_psr_against_zero():
    r = np.random.default_rng(4).normal(0.001, 0.01, 300)
    got = deflated_sharpe_ratio(r, n_trials=1, sharpe_variance=0.01)
    assert got["expected_max_sharpe"] == 0.0 and got["sharpe_annual"] is None
    assert got["dsr"] == got["psr"] == pytest.approx(_psr_by_hand(list(r), 0.0), rel=1e-9)


def test_dsr_falls_as_more_trials_are_counted():
    r = np.random.default_rng(5).normal(0.002, 0.01, 400)
    dsrs = [deflated_sharpe_ratio(r, n_trials=n, sharpe_variance=0.0025)["dsr"] for n in (1, 10, 100, 1000)]
    assert dsrs == sorted(dsrs, reverse=True) and len(set(dsrs)) == 4


def test_sharpe_variance_leaves_out_columns_that_never_move():
    R = np.random.default_rng(6).normal(0.0, 0.01, (60, 5))
    R[:, 2] = 0.0
    sharpes = [statistics.mean(R[:, j]) / statistics.stdev(R[:, j]) for j in (0, 1, 3, 4)]
    assert sharpe_variance_of(R) == pytest.approx(statistics.variance(sharpes), rel=1e-9)
    with pytest.raises(ValueError, match="at least 2 columns whose returns vary"):
        sharpe_variance_of(np.column_stack([R[:, 0], np.zeros(60)]))


def test_constant_returns_give_no_dsr_and_say_why():
    got = deflated_sharpe_ratio(np.full(50, 0.001), n_trials=10, sharpe_variance=0.001)
    assert got["dsr"] is None and got["psr"] is None and got["sharpe"] is None
    assert "all equal" in got["reason"] and got["n_obs"] == 50


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"returns": [0.01, -0.01]}, "at least 3 returns"),
        ({"returns": [0.01, np.nan, 0.0, 0.02]}, "NaN or infinite"),
        ({"n_trials": 0}, "n_trials must be an integer of at least 1"),
        ({"n_trials": 2.5}, "n_trials must be an integer"),
        ({"sharpe_variance": -1e-4}, "sharpe_variance must be finite and at least 0"),
        ({"periods_per_year": 0}, "periods_per_year must be positive"),
    ],
)
def test_dsr_rejects_bad_input(kwargs, message):
    args = {"returns": [0.01, -0.02, 0.03, 0.0], "n_trials": 5, "sharpe_variance": 1e-3} | kwargs
    with pytest.raises(ValueError, match=message):
        deflated_sharpe_ratio(args.pop("returns"), **args)


# -- probability of backtest overfitting ------------------------------------------------------------


def _sharpe_by_hand(x):
    x = list(x)
    sd = statistics.stdev(x)
    return statistics.mean(x) / sd if sd else 0.0  # the documented convention: no trading scores 0


def _cscv_by_hand(R, S, score):
    """Bailey et al. (2017) CSCV, one loop per combination and per column."""
    T, N = R.shape
    parts = np.array_split(np.arange(T), S)
    logits = []
    for is_blocks in itertools.combinations(range(S), S // 2):
        is_rows = np.concatenate([parts[b] for b in is_blocks])
        oos_rows = np.setdiff1d(np.arange(T), is_rows)
        is_scores = [score(R[is_rows, j]) for j in range(N)]
        oos_scores = [score(R[oos_rows, j]) for j in range(N)]
        n_star = int(np.argmax(is_scores))
        w = rankdata(oos_scores)[n_star] / (N + 1)
        logits.append(math.log(w / (1 - w)))
    return logits


def _small_search(T):
    R = np.random.default_rng(T).normal(0.0, 0.01, (T, 5))
    R[:, 1] += 0.001  # a mild edge: the in-sample best still varies between combinations
    R[: T // 4, 3] = R[T // 2 : 3 * T // 4, 3] = 0.0  # a set that trades in two quarters: flat in some halves
    return R


@pytest.mark.parametrize("metric", ["sharpe", "mean"])
@pytest.mark.parametrize(("T", "S"), [(40, 4), (40, 6), (41, 6), (80, 6)])
def test_pbo_matches_a_brute_force_cscv(T, S, metric):
    R = _small_search(T)
    score = _sharpe_by_hand if metric == "sharpe" else (lambda x: statistics.mean(list(x)))
    expected = _cscv_by_hand(R, S, score)
    assert len(set(expected)) >= 3  # an informative case: several out-of-sample ranks
    got = probability_of_backtest_overfitting(R, blocks=S, metric=metric)
    assert got["n_combinations"] == len(got["logits"]) == math.comb(S, S // 2)
    assert got["logits"] == pytest.approx(expected, rel=1e-12)
    assert got["pbo"] == pytest.approx(np.mean(np.array(expected) <= 0), abs=0)
    assert (got["blocks"], got["n_strategies"], got["n_periods"], got["metric"]) == (S, 5, T, metric)


def test_pbo_with_a_callable_metric_equals_the_named_one():
    R = _small_search(40)

    def sharpe(sub):
        sd = sub.std(axis=0, ddof=1)
        return np.where(sd > 0, sub.mean(axis=0) / np.where(sd > 0, sd, 1.0), 0.0)

    named = probability_of_backtest_overfitting(R, blocks=6)
    called = probability_of_backtest_overfitting(R, blocks=6, metric=sharpe)
    assert called["logits"] == pytest.approx(named["logits"], rel=1e-12) and called["metric"] == "sharpe"


@pytest.mark.parametrize(
    ("shape", "blocks", "metric", "message"),
    [
        ((40, 5), 5, None, "blocks must be even"),
        ((40, 5), 0, None, "blocks must be an integer of at least 2"),
        ((40, 5), 22, None, "blocks must be at most 20"),
        ((10, 5), 16, None, "10 periods cannot be cut into 16 blocks"),
        ((3, 5), 2, None, "halves under 2 periods"),
        ((40, 1), 4, None, "at least 2 columns"),
        ((40,), 4, None, "must be 2-D"),
        ((40, 5), 4, "calmar", "unknown PBO metric 'calmar'"),
    ],
)
def test_pbo_rejects_bad_input(shape, blocks, metric, message):
    with pytest.raises(ValueError, match=message):
        probability_of_backtest_overfitting(np.ones(shape), blocks=blocks, metric=metric)


def test_pbo_rejects_missing_returns():
    R = _small_search(40)
    R[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        probability_of_backtest_overfitting(R, blocks=4)


# -- SPA --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("block_size", [1, 4, 9])
def test_spa_variance_by_fft_equals_arch_loop(block_size):
    losses = -_small_search(80)
    ours, theirs = (cls(np.zeros(80), losses, block_size=block_size, seed=0) for cls in (FastSPA, SPA))
    ours._compute_variance()
    theirs._compute_variance()
    assert ours._loss_diff_var == pytest.approx(theirs._loss_diff_var, rel=1e-10)


@pytest.mark.parametrize("block_size", [1, 7])
def test_spa_draws_and_p_values_equal_arch_own(block_size):
    R = np.random.default_rng(9).normal(0.0, 0.01, (300, 30))
    R[:, 4] += 0.0015
    ours, theirs = (cls(np.zeros(300), -R, block_size=block_size, reps=400, seed=3) for cls in (FastSPA, SPA))
    ours.compute()
    theirs.compute()
    assert ours._simulated_vals == pytest.approx(theirs._simulated_vals, rel=1e-9, abs=1e-15)
    assert ours.pvalues.to_dict() == theirs.pvalues.to_dict()
    assert 0 < theirs.pvalues["consistent"] < 1  # a case where the p-values depend on the draws


def test_spa_reality_check_is_arch_reality_check_and_results_repeat():
    R = _small_search(120)
    got = spa_test(R, reps=300, block_size=5, seed=11)
    rc = RealityCheck(np.zeros(120), -R, block_size=5, reps=300, seed=11)
    rc.compute()
    assert got["reality_check_p"] == rc.pvalues["upper"]
    assert spa_test(R, reps=300, block_size=5, seed=11) == got
    assert got["p_values"]["lower"] <= got["p_values"]["consistent"] <= got["p_values"]["upper"]
    best = int(np.argmax(R.mean(axis=0)))
    assert (got["reps"], got["block_size"], got["seed"], got["best"], got["chosen"]) == (300, 5, 11, best, best)
    assert spa_test(R, reps=10, chosen=3)["chosen"] == 3
    assert spa_test(R, reps=10)["block_size"] == int(math.sqrt(120)) and got["n_same_as_benchmark"] == 0


def test_a_set_that_never_trades_does_not_make_losing_sets_look_superior():
    R = np.random.default_rng(8).normal(-0.002, 0.01, (500, 20))
    R[:, 0] = 0.0
    arch_alone = SPA(np.zeros(500), -R, reps=300, seed=0)
    arch_alone.compute()
    assert arch_alone.pvalues["consistent"] < 0.05  # the exact tie at 0 reads as a win
    got = spa_test(R, reps=300)
    assert got["p_values"]["consistent"] > 0.5 and got["n_same_as_benchmark"] == 1 and got["best"] == 0
    assert spa_test(np.zeros((500, 3)), reps=300)["p_values"] == {"lower": 1.0, "consistent": 1.0, "upper": 1.0}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"benchmark": np.zeros(39)}, "benchmark must be 40 per-period returns"),
        ({"chosen": 5}, "chosen column 5 is out of range for 5 columns"),
        ({"reps": 0}, "reps must be an integer of at least 1"),
        ({"block_size": 0}, "block_size must be an integer of at least 1"),
    ],
)
def test_spa_rejects_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        spa_test(_small_search(40), **kwargs)
