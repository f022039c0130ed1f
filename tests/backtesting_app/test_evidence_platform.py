"""Honest evidence through the platform: an optimization keeps a tail of its range from the search, re-runs
the front on it, judges its chosen point (DSR, PBO, SPA, model value), and a backtest opened from a front
point says it is in-sample and links back."""

import re

import numpy as np
import pandas as pd
import pytest

from backtesting_app import services
from backtesting_app.engine import FxCosts, align_forecasts, momentum_forecasts, run_backtest
from backtesting_app.models import BacktestRun, OptimizationResult, OptimizationRun
from backtesting_app.request import OptimizationRequest
from backtesting_app.tasks import backtest_run_execute, optimization_run_execute
from tests.backtesting_app.test_optimization_platform import FIXED, SPACE

pytestmark = pytest.mark.django_db


@pytest.fixture
def bars(fixture_path):
    from marketdata.request import ImportRequest
    from marketdata.services import candles_import_file

    candles_import_file(source=fixture_path("eurusd_h1.csv"), request=ImportRequest(symbol="EURUSD", timeframe="1h"))
    return services.load_bars(symbol="EURUSD", timeframe="1h")


def _optimize(user, **kw) -> OptimizationRun:
    request = OptimizationRequest.from_dict(
        {
            "symbol": "EURUSD",
            "timeframe": "1h",
            "space": SPACE,
            "fixed_params": FIXED,
            "budget": 60,
            "seed": 3,
            "constraints": {"min_trades": 5},
            "spread_pips": 0.5,
            **kw,
        }
    )
    run = services.optimization_run_start(user=user, enqueue=False, request=request)
    assert optimization_run_execute(run.pk) == "succeeded", OptimizationRun.objects.get(pk=run.pk).error
    run.refresh_from_db()
    return run


def test_the_search_never_sees_the_held_out_tail_and_every_front_point_is_re_run_on_it(
    bars, user, api_client, logged_in_client
):
    run = _optimize(user)
    evidence = run.evidence
    n = len(bars)
    assert run.request["holdout"] == OptimizationRequest.holdout == 0.25
    assert evidence["holdout"]["bars"] == round(n * 0.25) and evidence["search"]["bars"] == n - round(n * 0.25)
    assert evidence["search"]["last"] < evidence["holdout"]["first"]
    assert pd.Timestamp(evidence["holdout"]["last"]) == bars.index[-1]
    # the held-out figures of each front point, against kernc's backtesting on the tail alone
    pred, conf = align_forecasts(bars, momentum_forecasts(bars))
    cut = n - evidence["holdout"]["bars"]
    front = list(OptimizationResult.objects.filter(run=run, front_entry__isnull=False))
    assert front and all(r.holdout_metrics for r in front)
    for row in front[:3]:
        ref = run_backtest(
            bars.iloc[cut:],
            "forecast",
            {**FIXED, **row.params},
            FxCosts(spread_pips=0.5, pip=0.0001),
            pred_return=pred[cut:],
            confidence=conf[cut:],
            engine="reference",
        ).stats
        assert row.holdout_metrics["return_pct"] == pytest.approx(ref["Return [%]"], rel=1e-6, abs=1e-9)
        assert row.holdout_metrics["n_trades"] == ref["# Trades"]
    # the chosen point (best in-sample Sharpe) and the statistics of choosing it among every tried set
    chosen = evidence["chosen"]
    assert chosen["rule"] == "max_sharpe"
    best = max((r for r in front if r.metrics["sharpe"] is not None), key=lambda r: r.metrics["sharpe"])
    assert chosen["result_id"] == best.pk and chosen["holdout"] == best.holdout_metrics
    selection = evidence["selection"]
    assert selection["sets_tried"] == run.results.count()
    assert 0 <= selection["dsr"]["dsr"] <= 1 and selection["dsr"]["n_trials"] == run.results.count()
    assert 0 <= selection["pbo"]["pbo"] <= 1
    histogram = selection["pbo"]["logit_histogram"]  # the logits' distribution, small enough to store
    assert sum(histogram["counts"]) == histogram["total"] == selection["pbo"]["n_combinations"]
    assert histogram["at_or_below_zero"] / histogram["total"] == pytest.approx(selection["pbo"]["pbo"])
    assert 0 <= selection["spa"]["p_values"]["consistent"] <= 1
    value = evidence["model_value"]
    assert value["part"] == "holdout" and value["bars"] == evidence["holdout"]
    assert "baseline" not in value  # the baseline's forecasts are not compared with themselves
    assert value["metrics"] == chosen["holdout"]

    detail = api_client.get(f"/api/optimizations/{run.pk}/").json()
    assert detail["holdout"] == 0.25 and detail["evidence"]["selection"]["dsr"]["dsr"] == selection["dsr"]["dsr"]
    assert detail["forecasts_in_sample"] is False
    points = api_client.get(f"/api/optimizations/{run.pk}/front/").json()
    assert {p["id"]: p["holdout"] for p in points} == {r.pk: r.holdout_metrics for r in front}
    schema = api_client.get("/api/schema/?format=json").content.decode()
    assert "probability of backtest overfitting" in schema and "holdout_metrics" in schema

    page = logged_in_client.get(f"/optimizations/runs/{run.pk}/").content.decode()
    for marker in (
        'id="holdout-note"',
        'id="chosen-holdout"',
        'id="dsr"',
        'id="pbo"',
        'id="spa"',
        "Held-out return %",
        'id="model-value"',
        "pbo-logits-figure",
    ):
        assert marker in page, marker
    assert "No held-out tail" not in page
    assert "reference point return -100%, drawdown 100%, sharpe -10" in page  # in the objectives' own units
    assert re.search(r"hypervolume \d{1,3}(,\d{3})*;", run.message), run.message

    # a front point opened as a backtest says it was chosen in-sample, shows both figures and links back
    response = logged_in_client.post(f"/optimizations/runs/{run.pk}/results/{best.pk}/backtest/")
    backtest = BacktestRun.objects.get()
    assert response.status_code == 302 and backtest.origin_result == best and backtest.in_sample is True
    assert backtest_run_execute(backtest.pk) == "succeeded"
    page = logged_in_client.get(f"/backtests/runs/{backtest.pk}/").content.decode()
    assert "held out from here" in page  # the equity chart marks where the held-out tail begins
    assert (
        'id="in-sample-note"' in page
        and f'href="/optimizations/runs/{run.pk}/"' in page
        and 'id="origin-holdout"' in page
    )
    assert api_client.get(f"/api/backtests/{backtest.pk}/").json()["in_sample"] is True


def test_a_run_without_a_held_out_tail_says_every_figure_is_in_sample(bars, user, logged_in_client):
    run = _optimize(user, holdout=0)
    assert run.evidence["holdout"] is None and run.evidence["search"]["bars"] == len(bars)
    assert run.evidence["model_value"]["part"] == "search"
    assert not any(r.holdout_metrics for r in OptimizationResult.objects.filter(run=run))
    page = logged_in_client.get(f"/optimizations/runs/{run.pk}/").content.decode()
    assert "No held-out tail" in page and "Held-out return %" not in page


@pytest.mark.parametrize("holdout, message", [(0.6, "between 0 and 0.5"), (0.03, "held-out tail 20")])
def test_a_held_out_share_out_of_range_or_too_short_is_refused_before_anything_is_stored(bars, user, holdout, message):
    with pytest.raises(ValueError, match=message):
        _optimize(user, holdout=holdout)
    assert OptimizationRun.objects.count() == 0


def test_a_backtest_on_forecasts_reports_the_baseline_and_random_entries(bars, user, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from backtesting_app.request import BacktestRequest

    close = bars["Close"].to_numpy(float)  # forecasts that know the next 6 bars: value no baseline or shuffle matches
    oracle = np.log(np.r_[close[6:], np.full(6, close[-1])] / close)
    csv = pd.DataFrame({"timestamp": bars.index.tz_localize("UTC"), "pred_return": oracle, "confidence": 1.0}).to_csv(
        index=False
    )
    params = {
        "entry_threshold": 0.0002,
        "confidence_threshold": 0.0,
        "stop_loss_pct": 0.004,
        "take_profit_pct": 0.004,
        "max_hold_bars": 6,
    }
    request = BacktestRequest.from_dict(
        {
            "symbol": "EURUSD",
            "timeframe": "1h",
            "strategy": "forecast",
            "params": params,
            "forecasts_source": "csv",
            "engine": "fast",
        }
    )
    run = services.backtest_run_start(user=user, request=request, upload=SimpleUploadedFile("f.csv", csv.encode()))
    assert backtest_run_execute(run.pk) == "succeeded"
    run.refresh_from_db()
    value = run.model_value
    assert value["metrics"]["return_pct"] == pytest.approx(run.stats["Return [%]"])
    assert value["random"]["p_value_return"] < 0.01 and value["baseline"]["p_value"] < 0.05
    assert value["baseline"]["return_difference_pct"] > 0
    assert run.in_sample is None  # a CSV's provenance is unknown

    baseline = services.backtest_run_start(
        user=user,
        request=BacktestRequest.from_dict(
            {
                "symbol": "EURUSD",
                "timeframe": "1h",
                "strategy": "pattern",
                "params": {"stop_loss_pct": 0.01, "take_profit_pct": 0.01, "max_hold_bars": 5},
            }
        ),
    )
    assert backtest_run_execute(baseline.pk) == "succeeded"
    baseline.refresh_from_db()
    assert baseline.model_value is None  # no forecasts, nothing to judge
