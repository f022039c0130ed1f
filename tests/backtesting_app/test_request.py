"""BacktestRequest owns a backtest's defaults, choices and checks; every entry point derives from it."""

from datetime import UTC

import pytest

from backtesting_app.request import COST_FIELDS, BacktestRequest, OptimizationRequest

PARAMS = {
    "entry_threshold": 0.0005,
    "confidence_threshold": 0.5,
    "stop_loss_pct": 0.005,
    "take_profit_pct": 0.01,
    "max_hold_bars": 24,
}


def test_from_dict_normalizes_and_fills_the_defaults():
    request = BacktestRequest.from_dict(
        {
            "symbol": "eur/usd",
            "timeframe": "H1",
            "strategy": "forecast",
            "params": PARAMS,
            "forecasts_source": "baseline",
            "start": "2020-01-01",
            "spread_pips": "0.8",
        }
    )
    assert (request.symbol, request.timeframe, request.engine, request.spread_pips) == (
        "EURUSD",
        "1h",
        "reference",
        0.8,
    )
    assert request.start.isoformat() == "2020-01-01T00:00:00+00:00" and request.end is None
    assert request.costs == {"spread_pips": 0.8, "commission": 0.0, "leverage": 1.0, "size": 0.95, "cash": 100_000.0}
    assert BacktestRequest.from_dict(request.to_dict()) == request  # a round trip through plain values


@pytest.mark.parametrize(
    "change, message",
    [
        ({"strategy": "martingale"}, "unknown strategy 'martingale'"),
        ({"engine": "gpu"}, "unknown engine 'gpu'"),
        ({"forecasts_source": "oracle"}, "unknown forecasts source 'oracle'"),
        ({"forecast_set": "1; drop"}, "forecast_set must be a forecast set's id"),
        ({"leverage": 0.5}, "leverage must be between 1 and 1000"),
        ({"cash": "NaN"}, "cash must be a finite number"),
        ({"size": 10**400}, "size must be a number"),
        ({"start": "2021-01-01", "end": "2020-01-01"}, "start 2021-01-01 00:00 is after end 2020-01-01 23:59"),
        ({"params": {**PARAMS, "max_hold_bars": 0}}, "max_hold_bars must be a whole number from 1 to 1,000,000"),
        ({"lot": 3}, "unknown backtest option(s) lot"),
        ({"symbol": ""}, "symbol is required"),
    ],
)
def test_bad_requests_name_the_field(change, message):
    data = {
        "symbol": "EURUSD",
        "timeframe": "1h",
        "strategy": "forecast",
        "params": PARAMS,
        "forecasts_source": "baseline",
        **change,
    }
    with pytest.raises(ValueError) as info:
        BacktestRequest.from_dict(data)
    assert message in str(info.value)


def test_the_form_the_serializer_and_the_command_take_the_requests_defaults():
    from backtesting_app.forms import BacktestForm
    from backtesting_app.management.commands.backtest import Command
    from backtesting_app.serializers import BacktestCreateSerializer

    form, serializer = BacktestForm(), BacktestCreateSerializer()
    parser = Command().create_parser("manage.py", "backtest")
    command = {a.dest: a.default for a in parser._actions}
    for name in (*COST_FIELDS, "engine"):
        default = getattr(BacktestRequest, name)
        assert form.fields[name].initial == serializer.fields[name].default == command[name] == default, name
    assert list(serializer.fields["strategy"].choices) == list(BacktestRequest.STRATEGIES)


@pytest.mark.django_db
def test_a_front_point_of_an_optimization_on_a_forecast_set_opens_as_a_backtest_of_that_set(
    logged_in_client, user, monkeypatch
):
    """The optimization page's "Open as backtest" carries the run's forecast set and costs into the backtest."""
    from datetime import datetime

    from backtesting_app.models import BacktestRun, OptimizationResult, OptimizationRun
    from forecasts.models import ForecastSet

    fs = ForecastSet.objects.create(
        symbol="EURUSD",
        timeframe="1h",
        artifact_ref="m:1",
        status="succeeded",
        first=datetime(2014, 6, 1, tzinfo=UTC),
        last=datetime(2014, 6, 30, tzinfo=UTC),
        rows=1,
    )
    run = OptimizationRun.of_request(
        OptimizationRequest(
            symbol="EURUSD",
            timeframe="1h",
            strategy="forecast",
            space=[],
            fixed_params={"confidence_threshold": 0.5},
            forecasts_source="forecast_set",
            forecast_set=fs.pk,
            spread_pips=0.7,
            budget=10,
        ),
        owner=user,
        forecast_set=fs,
    )
    run.save()
    result = OptimizationResult.objects.create(
        run=run,
        key="k",
        params={k: v for k, v in PARAMS.items() if k != "confidence_threshold"},
        metrics={},
        phase="grid",
    )
    seen = {}

    def start(*, user, request, upload=None, origin_result=None):
        seen["request"], seen["origin"] = request, origin_result
        return BacktestRun.objects.create(
            symbol="EURUSD", timeframe="1h", strategy="forecast", origin_result=origin_result
        )

    monkeypatch.setattr("backtesting_app.services.backtest_run_start", start)
    response = logged_in_client.post(f"/optimizations/runs/{run.pk}/results/{result.pk}/backtest/")
    assert response.status_code == 302 and "/backtests/runs/" in response["Location"]
    request = seen["request"]
    assert (request.forecasts_source, request.forecast_set, request.spread_pips) == ("forecast_set", fs.pk, 0.7)
    assert request.params == PARAMS and request.engine == "reference"
    assert seen["origin"] == result  # the backtest knows it was chosen in-sample, and links back


@pytest.mark.django_db
def test_a_forecast_set_link_sizes_the_entry_threshold_to_the_sets_own_forecasts(logged_in_client):
    """The forecast-set page's backtest / optimize links open forms whose entry threshold the set's
    forecasts can clear: one in five of its moves for the backtest, up to one in a hundred searched."""
    import json
    from datetime import datetime, timedelta

    from forecasts.models import ForecastRow, ForecastSet

    first = datetime(2014, 6, 2, tzinfo=UTC)
    moves = [(-1) ** i * (i + 1) * 1e-6 for i in range(200)]  # |moves| 1e-6 .. 2e-4, signs alternating
    fs = ForecastSet.objects.create(
        symbol="EURUSD",
        timeframe="1h",
        artifact_ref="m:1",
        status="succeeded",
        first=first,
        last=first + timedelta(hours=199),
        rows=200,
    )
    ForecastRow.objects.bulk_create(
        ForecastRow(
            forecast_set=fs,
            ts=first + timedelta(hours=i),
            pred_return=m,
            confidence=0.6,
            **dict.fromkeys(("q05", "q10", "q25", "q50", "q75", "q90", "q95"), m),
        )
        for i, m in enumerate(moves)
    )
    backtest = logged_in_client.get(f"/backtests/?forecast_set={fs.pk}").context["form"]
    params = json.loads(backtest.initial["params"])
    assert params["entry_threshold"] == 1.6e-4  # 40 of the 200 moves (1.61e-4 .. 2e-4) exceed it
    assert sum(abs(m) > params["entry_threshold"] for m in moves) == 40
    optimization = logged_in_client.get(f"/optimizations/?forecast_set={fs.pk}").context["form"]
    space = json.loads(optimization.initial["space"])
    assert space["entry_threshold"] == {"low": 0.0, "high": 0.00020, "step": 6.7e-6}
    assert set(space) == {
        "entry_threshold",
        "confidence_threshold",
        "stop_loss_pct",
        "take_profit_pct",
        "max_hold_bars",
    }
    plain = logged_in_client.get("/backtests/").context["form"]
    assert "params" not in plain.initial  # no set: the standard parameters
