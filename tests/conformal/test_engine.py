"""Conformal engine: exact ranks, guarantees by simulation, adaptivity, bad input. No database."""

import math

import numpy as np
import pandas as pd
import pytest

from conformal.engine import (
    AdaptiveConformal,
    AsymmetricConformal,
    MultiHorizonConformal,
    QuantileTracking,
    SlidingWindowConformal,
    SplitConformal,
    calibrate_series,
    conformal_quantile,
    forecast_columns,
    interval_metrics,
    make_calibrator,
    winkler_scores,
)


def test_split_half_width_equals_mapie():
    from mapie.regression import SplitConformalRegressor
    from sklearn.base import BaseEstimator, RegressorMixin

    class GivenForecast(RegressorMixin, BaseEstimator):
        """A prefit 'model' whose prediction is the forecast in column 0."""

        def fit(self, X, y):
            self.is_fitted = True
            return self

        def predict(self, X):
            return np.asarray(X)[:, 0]

    rng = np.random.default_rng(7)
    for n, alpha in ((999, 0.1), (250, 0.05), (57, 0.2)):
        pred = rng.normal(size=n)
        y = pred + rng.standard_t(3, size=n)
        mapie = SplitConformalRegressor(GivenForecast().fit(pred[:, None], y), confidence_level=1 - alpha, prefit=True)
        mapie.conformalize(pred[:, None], y)
        _, bounds = mapie.predict_interval(np.array([[0.0]]))
        ours = SplitConformal(alpha).fit(y, pred)
        assert ours.q_ == pytest.approx((bounds[0, 1, 0] - bounds[0, 0, 0]) / 2, rel=1e-12)


def test_rank_is_the_finite_sample_one():
    scores = np.arange(1.0, 20.0)  # 19 scores
    assert conformal_quantile(scores, 0.1) == 18.0  # ceil(20 * 0.9) = 18th smallest
    assert conformal_quantile(scores, 0.05) == 19.0  # ceil(20 * 0.95) = 19
    assert conformal_quantile(scores, 0.04) == math.inf  # ceil(20 * 0.96) = 20 > 19


def test_too_few_points_give_an_explicit_infinite_interval():
    cal = SplitConformal(0.1).fit([1.0, 2.0, 3.0, 4.0, 5.0], [0.0] * 5)  # rank 6 of 5
    assert cal.is_infinite_
    lo, hi = cal.predict([0.5])
    assert lo[0] == -math.inf and hi[0] == math.inf


def test_finite_sample_guarantee_by_simulation():
    alpha, n_cal, n_test = 0.1, 19, 200
    coverages = []
    for seed in range(400):
        rng = np.random.default_rng(seed)
        y = rng.standard_t(2, size=n_cal + n_test)  # heavy tails, exchangeable
        cal = SplitConformal(alpha).fit(y[:n_cal], np.zeros(n_cal))
        lo, hi = cal.predict(np.zeros(n_test))
        coverages.append(np.mean((y[n_cal:] >= lo) & (y[n_cal:] <= hi)))
    # E[coverage] = k/(n+1) = 18/20 = 0.9 exactly for continuous scores; 400 seeds -> s.e. ~ 0.0035
    assert np.mean(coverages) >= 1 - alpha - 0.01
    assert abs(np.mean(coverages) - 18 / 20) < 0.012


def test_asymmetric_uses_each_tail_rank_on_signed_residuals():
    residuals = np.array([-9.0, -1, -0.5, 0, 0.2, 0.4, 0.6, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])  # n = 19
    cal = AsymmetricConformal(0.2).fit(residuals, np.zeros(19))
    assert cal.q_lo_ == -1.0  # floor(20 * 0.1) = 2nd smallest
    assert cal.q_hi_ == 11.0  # ceil(20 * 0.9) = 18th smallest
    lo, hi = cal.predict([100.0])
    assert (lo[0], hi[0]) == (99.0, 111.0)


def test_asymmetric_guarantee_on_skewed_errors():
    covered = []
    for seed in range(200):
        rng = np.random.default_rng(seed)
        err = rng.exponential(size=600) - 1  # skewed
        cal = AsymmetricConformal(0.1).fit(err[:99], np.zeros(99))
        lo, hi = cal.predict(np.zeros(501))
        covered.append(np.mean((err[99:] >= lo) & (err[99:] <= hi)))
    assert np.mean(covered) >= 0.9 - 0.005
    assert abs(cal.q_lo_) < abs(cal.q_hi_)  # the long right tail gets the longer side


def test_normalized_and_cqr_by_hand():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    pred, scale = np.zeros(4), np.array([1.0, 1.0, 2.0, 2.0])
    cal = SplitConformal(0.2, score="normalized").fit(y, pred, scale=scale)  # scores 1, 2, 1.5, 2 -> rank 4
    assert cal.q_ == 2.0
    lo, hi = cal.predict([0.0, 1.0], scale=[0.5, 3.0])
    assert list(lo) == [-1.0, -5.0] and list(hi) == [1.0, 7.0]
    cqr = SplitConformal(0.2, score="cqr").fit(y, pred, q_lo=y - 1, q_hi=y + 0.5)  # scores all -0.5
    assert cqr.q_ == -0.5
    lo, hi = cqr.predict([0.0], q_lo=[-1.0], q_hi=[1.0])
    assert (lo[0], hi[0]) == (-0.5, 0.5)  # CQR shrinks a band that was too wide


def test_sliding_window_equals_split_refitted_on_the_last_window():
    rng = np.random.default_rng(3)
    y = rng.normal(size=300) * np.linspace(1, 3, 300)
    online = SlidingWindowConformal(0.1, window=50).fit(y[:100], np.zeros(100))
    lo, hi = online.predict_online(y[100:], np.zeros(200))
    for t in (0, 17, 199):
        past = y[100 + t - 50 : 100 + t]
        expected = SplitConformal(0.1).fit(past, np.zeros(50)).q_
        assert hi[t] == pytest.approx(expected) and lo[t] == pytest.approx(-expected)


def test_online_steps_equal_the_batch_call():
    rng = np.random.default_rng(5)
    y, pred = rng.normal(size=400), rng.normal(scale=0.1, size=400)
    batch = AdaptiveConformal(0.1, gamma=0.02, window=100).fit(y[:100], pred[:100])
    lo_b, hi_b = batch.predict_online(y[100:], pred[100:])
    step = AdaptiveConformal(0.1, gamma=0.02, window=100).fit(y[:100], pred[:100])
    for t in range(300):
        lo, hi = step.predict_one(pred[100 + t])
        assert (lo, hi) == (lo_b[t], hi_b[t])
        step.update(y[100 + t])
    assert step.alpha_t_ == batch.alpha_t_


def _variance_break(seed, n=6000, at=2000, factor=3.0):
    rng = np.random.default_rng(seed)
    sigma = np.where(np.arange(n) < at, 1.0, factor)
    return rng.normal(size=n) * sigma


def test_aci_long_run_miss_rate_tends_to_alpha_after_a_variance_break():
    y = _variance_break(11)
    cal_n = 1000
    split = SplitConformal(0.1).fit(y[:cal_n], np.zeros(cal_n))
    lo, hi = split.predict(np.zeros(len(y) - cal_n))
    after = slice(2000 - cal_n, None)
    split_cover = np.mean(((y[cal_n:] >= lo) & (y[cal_n:] <= hi))[after])
    aci = AdaptiveConformal(0.1, gamma=0.01, window=500).fit(y[:cal_n], np.zeros(cal_n))
    lo, hi = aci.predict_online(y[cal_n:], np.zeros(len(y) - cal_n))
    aci_miss = 1 - np.mean(((y[cal_n:] >= lo) & (y[cal_n:] <= hi))[after])
    assert split_cover < 0.6  # split keeps the old, narrow width
    assert abs(aci_miss - 0.1) < 0.02
    # Gibbs & Candes' bound: |miss rate - alpha| <= (max(alpha_1, 1 - alpha_1) + gamma) / (gamma T)
    total_miss = 1 - np.mean((y[cal_n:] >= lo) & (y[cal_n:] <= hi))
    assert abs(total_miss - 0.1) <= (0.9 + 0.01) / (0.01 * (len(y) - cal_n))


def test_aci_alpha_below_zero_is_an_infinite_interval():
    aci = AdaptiveConformal(0.1, gamma=0.5, window=50).fit(np.ones(50), np.zeros(50))
    assert aci.predict_one(0.0) == (-1.0, 1.0)
    assert aci.update(100.0)  # a miss: alpha_t = 0.1 + 0.5 * (0.1 - 1) = -0.35
    assert aci.alpha_t_ == pytest.approx(-0.35)
    assert aci.predict_one(0.0) == (-math.inf, math.inf)
    assert not aci.update(100.0)  # an infinite interval covers: alpha_t rises by gamma * alpha
    assert aci.alpha_t_ == pytest.approx(-0.30) and aci.n_infinite_ == 1


def test_quantile_tracking_follows_a_break():
    y = _variance_break(4)
    pid = QuantileTracking(0.1, lr=0.05).fit(y[:1000], np.zeros(1000))
    lo, hi = pid.predict_online(y[1000:], np.zeros(5000))
    miss = 1 - np.mean(((y[1000:] >= lo) & (y[1000:] <= hi))[2000:])
    assert abs(miss - 0.1) < 0.02


def test_multi_horizon_bonferroni_joint_coverage():
    joint_cover = []
    for seed in range(60):
        rng = np.random.default_rng(seed)
        y = rng.normal(size=(700, 4)) * np.array([1, 2, 3, 4])
        model = MultiHorizonConformal(lambda a: SplitConformal(a), alpha=0.1, joint=True).fit(
            y[:199], np.zeros((199, 4))
        )
        lo, hi = model.predict(np.zeros((501, 4)))
        joint_cover.append(np.mean(((y[199:] >= lo) & (y[199:] <= hi)).all(axis=1)))
    assert model.step_alpha_ == 0.025
    assert np.mean(joint_cover) >= 0.9 - 0.005


def test_winkler_and_metrics_by_hand():
    y, lo, hi = np.array([0.0, 2.0, -3.0]), np.array([-1.0, -1.0, -1.0]), np.array([1.0, 1.0, 1.0])
    assert list(winkler_scores(y, lo, hi, 0.5)) == [2.0, 2.0 + 4 * 1.0, 2.0 + 4 * 2.0]
    m = interval_metrics(y, lo, hi, alpha=0.5, window=2)
    assert m["coverage"] == pytest.approx(1 / 3) and (m["misses_above"], m["misses_below"]) == (1, 1)
    assert m["rolling_min"] == 0.0 and m["mean_width"] == 2.0 and m["winkler"] == pytest.approx((2 + 6 + 10) / 3)
    assert m["under_coverage"] == pytest.approx(0.5 - 1 / 3)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: SplitConformal(1.5).fit([1.0], [0.0]), "alpha must be strictly between 0 and 1"),
        (lambda: SplitConformal(0.0).fit([1.0], [0.0]), "alpha must be strictly between 0 and 1"),
        (
            lambda: SplitConformal(0.1).fit([1.0, np.nan], [0.0, 0.0]),
            "y_true has a missing or infinite value at position 1",
        ),
        (lambda: SplitConformal(0.1, score="normalized").fit([1.0], [0.0]), "needs scale"),
        (lambda: SplitConformal(0.1).fit([1.0, 2.0], [0.0]), "y_true has 2 values but y_pred has 1"),
        (lambda: make_calibrator("bayes", 0.1), "unknown method 'bayes'"),
        (lambda: AdaptiveConformal(0.1, gamma=-1).fit([1.0], [0.0]), "gamma must be a positive step size"),
        (lambda: SlidingWindowConformal(0.1, window=0).fit([1.0], [0.0]), "window must be a positive number"),
    ],
)
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_forecast_table_mapping_and_errors():
    table = pd.DataFrame(
        {
            "timestamp": ["t1", "t2"],
            "y_true": [0.1, 0.2],
            "pred_return": [0.0, 0.1],
            "q05": [-1, -1],
            "q25": [-0.5, -0.4],
            "q75": [0.5, 0.6],
            "q95": [1, 1],
        }
    )
    cols = forecast_columns(table, 0.1)
    assert list(cols["q_lo"]) == [-1, -1] and list(cols["scale"]) == [1.0, 1.0] and list(cols["y_pred"]) == [0.0, 0.1]
    assert "q_lo" not in forecast_columns(table, 0.3)  # no q15 column: no band for CQR
    with pytest.raises(ValueError, match="need a y_true column"):
        forecast_columns(table.drop(columns="y_true"), 0.1)
    with pytest.raises(ValueError, match="column y_pred has a missing or non-numeric value at row 2"):
        forecast_columns(table.assign(pred_return=[0.0, None]), 0.1)
    with pytest.raises(ValueError, match="leaves no rows to evaluate"):
        calibrate_series(forecast_columns(table, 0.1), method="split", alpha=0.1, cal_size=2)


def test_real_eurusd_adaptive_methods_hold_coverage_where_split_does_not(shared_file):
    frame = pd.read_csv(shared_file("EURUSD_H1_2014-2024.csv"))
    ret = np.diff(np.log(frame["close"].to_numpy()))
    sigma = np.sqrt(pd.Series(ret**2).ewm(alpha=0.06).mean().shift(1).to_numpy())[100:]  # EWMA vol, past only
    ret = ret[100:]
    cols = {"y_true": ret, "y_pred": np.zeros_like(ret), "scale": sigma}
    split = calibrate_series(cols, method="split", alpha=0.1, cal_size=5000).metrics
    for method in ("aci", "pid"):
        m = calibrate_series(cols, method=method, alpha=0.1, cal_size=5000).metrics
        assert abs(m["coverage"] - 0.9) <= 0.015, method
        assert m["rolling_min"] >= 0.8, method
    assert split["rolling_min"] < 0.8


def test_a_short_evaluation_gets_a_rolling_window_that_fits_and_says_which():
    """354 evaluated points once left the rolling chart empty and the worst rolling coverage "-"."""
    from conformal.engine import fitting_window, interval_metrics

    rng = np.random.default_rng(0)
    y = rng.normal(size=354)
    m = interval_metrics(y, np.full(354, -1.645), np.full(354, 1.645), alpha=0.1)
    assert m["rolling_window"] == fitting_window(354) == 88 and m["rolling_min"] is not None
    assert (
        interval_metrics(rng.normal(size=600), np.full(600, -2.0), np.full(600, 2.0), alpha=0.1)["rolling_window"]
        == 500
    )


def test_the_rolling_coverage_chart_draws_full_windows_only_and_says_when_it_cuts():
    from types import SimpleNamespace

    from conformal import charts

    rng = np.random.default_rng(0)
    n = 653
    frame = pd.DataFrame(
        {
            "timestamp": pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC"),
            "y_true": rng.normal(size=n),
            "lo": -1.645,
            "hi": 1.645,
        }
    )
    run = SimpleNamespace(label="#1 aci", alpha=0.1)
    fig = charts.coverage_figure([(run, frame)], window=500)
    trace = fig["data"][0]
    y = trace["y"]
    if isinstance(y, dict):  # plotly's typed-array encoding
        import base64

        y = np.frombuffer(base64.b64decode(y["bdata"]), dtype=y["dtype"])
    assert len(y) == n - 500 + 1 and np.isfinite(y).all()  # no run-in of empty points stretching the x axis
    assert pd.Timestamp(trace["x"][0]).tz_localize(None) == frame["timestamp"].iloc[499].tz_localize(None)
    assert "points shown" not in fig["layout"]["title"]["text"] and fig["layout"]["yaxis"]["tickformat"] == ".1%"
    long = pd.concat([frame] * 8, ignore_index=True).assign(
        timestamp=pd.date_range("2024-01-01", periods=8 * n, freq="h", tz="UTC")
    )
    assert "the last 4,000 points shown" in charts.coverage_figure([(run, long)], window=500)["layout"]["title"]["text"]


def test_the_coverage_charts_hide_the_markets_closures_between_their_points():
    from types import SimpleNamespace

    from conformal import charts

    ts = pd.date_range("2024-01-08", "2024-01-19 20:00", freq="h", tz="UTC")
    ts = ts[(ts < "2024-01-12 21:00+00:00") | (ts > "2024-01-14 20:00+00:00")]  # one weekend closure
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"timestamp": ts, "y_true": rng.normal(size=len(ts)), "lo": -1.645, "hi": 1.645})
    run = SimpleNamespace(label="#1 aci", alpha=0.1)
    closure = [{"values": ["2024-01-12T21:00:00"], "dvalue": 48 * 3_600_000}]  # Friday 21:00 to Sunday 21:00
    assert charts.band_figure(run, frame)["layout"]["xaxis"]["rangebreaks"] == closure
    assert charts.coverage_figure([(run, frame)], window=50)["layout"]["xaxis"]["rangebreaks"] == closure
    numbered = frame.drop(columns="timestamp")  # no times: point numbers, nothing to hide
    assert "rangebreaks" not in charts.band_figure(run, numbered)["layout"].get("xaxis", {})
