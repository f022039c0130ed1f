"""The evidence engine: the held-out tail, the returns behind the selection statistics, and the model-value
comparison against the baseline and random entries. No database."""

import numpy as np
import pandas as pd
import pytest

from backtesting_app.engine import FxCosts, align_forecasts, momentum_forecasts, ohlc_frame, run_backtest
from backtesting_app.engine.optimize import (
    BacktestProblem,
    model_value,
    returns_matrix,
    selection_statistics,
    split_holdout,
)

PARAMS = {
    "entry_threshold": 0.0002,
    "confidence_threshold": 0.0,
    "stop_loss_pct": 0.004,
    "take_profit_pct": 0.004,
    "max_hold_bars": 6,
}


@pytest.fixture(scope="module")
def ohlc():
    from tests.conftest import FIXTURES

    return ohlc_frame(pd.read_csv(FIXTURES / "eurusd_h1.csv").rename(columns={"timestamp": "ts"}))


def _problem(ohlc, pred, conf=None):
    conf = np.ones(len(ohlc)) if conf is None else conf
    return BacktestProblem(ohlc, "forecast", FxCosts(spread_pips=0.5), pred_return=pred, confidence=conf)


def _oracle(ohlc, horizon=6):
    """Forecasts that know the next `horizon` bars: a planted, real edge."""
    close = ohlc["Close"].to_numpy(float)
    future = np.r_[close[horizon:], np.full(horizon, close[-1])]
    return np.log(future / close)


def test_the_held_out_tail_is_the_last_share_of_bars_and_never_overlaps_the_search(ohlc):
    problem = _problem(ohlc, np.zeros(len(ohlc)))
    search, held = split_holdout(problem, 0.25)
    n = len(ohlc)
    assert len(held.ohlc) == round(n / 4) and len(search.ohlc) == n - round(n / 4)
    assert search.ohlc.index[-1] < held.ohlc.index[0]
    assert held.ohlc.index[-1] == ohlc.index[-1]
    assert np.array_equal(held.pred, problem.pred[n - round(n / 4) :])
    same, none = split_holdout(problem, 0.0)
    assert same is problem and none is None


@pytest.mark.parametrize(
    "share, message", [(0.04, "held-out tail 20"), (0.9, "search needs at least 60"), (1.0, "below 1")]
)
def test_a_held_out_share_too_small_or_too_large_is_refused_with_the_reason(ohlc, share, message):
    with pytest.raises(ValueError, match=message):
        split_holdout(_problem(ohlc, np.zeros(len(ohlc))), share)


def test_the_returns_matrix_is_each_sets_daily_equity_returns_as_the_reference_engine_marks_them(ohlc):
    pred, conf = align_forecasts(ohlc, momentum_forecasts(ohlc, halflife=6))
    problem = _problem(ohlc, pred, conf)
    other = PARAMS | {"stop_loss_pct": 0.002}
    R = returns_matrix(problem, [PARAMS, other])
    assert R.shape[1] == 2
    for column, params in zip(R.T, (PARAMS, other)):
        equity = run_backtest(
            ohlc, "forecast", params, problem.costs, pred_return=pred, confidence=conf, engine="reference"
        ).equity["Equity"]
        daily = equity.groupby(equity.index.normalize()).last()  # the last bar of each day
        np.testing.assert_allclose(
            column, (daily.iloc[1:].to_numpy() / daily.iloc[:-1].to_numpy()) - 1, rtol=1e-6, atol=1e-12
        )


def test_forecasts_that_know_the_future_beat_random_entries_and_the_baseline(ohlc):
    problem = _problem(ohlc, _oracle(ohlc))
    baseline = align_forecasts(ohlc, momentum_forecasts(ohlc, halflife=6))
    value = model_value(problem, PARAMS, baseline=baseline, permutations=100, seed=1)
    assert value["metrics"] == problem.evaluate(PARAMS)
    assert value["random"]["permutations"] == 100
    assert value["random"]["p_value_return"] == pytest.approx(1 / 101)  # no shuffle comes close
    assert value["metrics"]["return_pct"] > value["random"]["return_pct"]["p95"]
    assert value["baseline"]["metrics"] == problem.evaluate(PARAMS, *baseline)
    assert value["baseline"]["return_difference_pct"] > 0
    assert value["baseline"]["p_value"] < 0.05


def test_noise_forecasts_show_no_value_over_random_entries(ohlc):
    noise = np.random.default_rng(7).normal(0, 0.001, len(ohlc))
    value = model_value(_problem(ohlc, noise), PARAMS, permutations=100, seed=1)
    assert value["random"]["p_value_return"] > 0.05
    assert "baseline" not in value
    lo, hi = value["random"]["return_pct"]["p05"], value["random"]["return_pct"]["p95"]
    assert lo < value["metrics"]["return_pct"] < hi


def test_the_permutation_p_value_counts_the_shuffles_at_least_as_good(ohlc):
    noise = np.random.default_rng(3).normal(0, 0.001, len(ohlc))
    problem = _problem(ohlc, noise)
    value = model_value(problem, PARAMS, permutations=30, seed=5)
    rng = np.random.default_rng(5)  # the same shuffles, drawn independently here
    draws = []
    for _ in range(30):
        order = rng.permutation(len(noise))
        draws.append(problem.evaluate(PARAMS, noise[order], problem.conf[order])["return_pct"])
    actual = problem.evaluate(PARAMS)["return_pct"]
    assert value["random"]["p_value_return"] == pytest.approx((1 + sum(d >= actual for d in draws)) / 31)
    assert value["random"]["return_pct"]["mean"] == pytest.approx(np.mean(draws))


def test_selection_statistics_count_every_try_and_keep_the_chosen_set(ohlc):
    pred, conf = align_forecasts(ohlc, momentum_forecasts(ohlc, halflife=6))
    problem = _problem(ohlc, pred, conf)
    params = [
        PARAMS | {"stop_loss_pct": s, "take_profit_pct": t}
        for s in (0.002, 0.004, 0.006)
        for t in (0.002, 0.004, 0.008)
    ]
    out = selection_statistics(problem, params, 4, blocks=4, spa_reps=200, max_sets=5)
    assert out["sets_tried"] == 9 and out["sets_used"] <= 6 and out["chosen_params"] == params[4]
    assert out["dsr"]["n_trials"] == 9
    R = returns_matrix(problem, [params[4]])
    assert out["periods"] == R.shape[0]
    assert out["dsr"]["sharpe"] == pytest.approx(R[:, 0].mean() / R[:, 0].std(ddof=1))


def test_correlated_tries_count_as_fewer_independent_ones():
    from backtesting_app.engine._evidence import effective_trials

    rng = np.random.default_rng(0)
    common = rng.normal(size=(500, 1))
    alike = common + 0.1 * rng.normal(size=(500, 50))  # fifty near-copies of one strategy
    rho, n = effective_trials(alike, 50)
    corr = np.corrcoef(alike, rowvar=False)
    assert rho == pytest.approx(corr[np.triu_indices(50, 1)].mean())
    assert n == round(rho + (1 - rho) * 50) and n <= 2
    rho, n = effective_trials(rng.normal(size=(500, 50)), 50)  # independent: each counts
    assert abs(rho) < 0.02 and n >= 49
