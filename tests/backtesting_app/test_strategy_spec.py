"""A strategy is one class and one spec: a toy strategy registered here (and nowhere else) is offered
by the form, the API, the commands and the optimizer, and runs on both engines alike."""

import json

import numpy as np
import pandas as pd
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from backtesting_app.engine import (
    EXIT_PARAMETERS,
    EXIT_SPACE,
    ExitRules,
    FxCosts,
    StrategyParameter,
    StrategySpec,
    ohlc_frame,
    register_strategy,
    run_backtest,
    strategy_inputs,
    strategy_spec,
    unregister_strategy,
)
from backtesting_app.engine.optimize import (
    BacktestProblem,
    InProcessEvaluator,
    Parameter,
    SearchState,
    default_space,
    optimize_grid,
    parse_constraints,
)

NAME = "channel_breakout"  # longer than the 12 characters the run rows used to allow
EXITS = {"stop_loss_pct": 0.003, "take_profit_pct": 0.006, "max_hold_bars": 12}
UNKNOWN = "unknown strategy 'martingale'; choose forecast, pattern or combined"


def breakout_direction(high, low, close, lookback):
    """+1 where the close clears the highest high of the `lookback` bars before it, -1 where it falls
    below their lowest low, 0 elsewhere (and before `lookback` bars exist)."""
    high, low, close = (np.asarray(a, float) for a in (high, low, close))
    prior_high = pd.Series(high).rolling(int(lookback)).max().shift(1).to_numpy()
    prior_low = pd.Series(low).rolling(int(lookback)).min().shift(1).to_numpy()
    return np.where(close > prior_high, 1.0, np.where(close < prior_low, -1.0, 0.0))


class BreakoutStrategy(ExitRules):
    lookback = 20

    def init(self):
        d = self.data
        self.direction = self.I(
            breakout_direction, d.High, d.Low, d.Close, self.lookback, name="breakout", overlay=False
        )

    def next(self):
        if self._manage_open_trade():
            return
        self._enter(int(self.direction[-1]))


def breakout_inputs(ohlc, params, *, pred_return, confidence, prepared=None):
    pred = breakout_direction(ohlc["High"], ohlc["Low"], ohlc["Close"], params["lookback"])
    exits = {p.name: params[p.name] for p in EXIT_PARAMETERS}
    return {"entry_threshold": 0.0, "confidence_threshold": 0.0, **exits}, pred, np.ones(len(ohlc))


BREAKOUT = StrategySpec(
    name=NAME,
    label="Channel breakout (toy)",
    strategy=BreakoutStrategy,
    parameters=(*EXIT_PARAMETERS, StrategyParameter("lookback", "whole", 2, 500)),
    needs_forecasts=False,
    space=(*EXIT_SPACE, Parameter("lookback", "int", 5, 60, 5)),
    fast_inputs=breakout_inputs,
)


@pytest.fixture
def breakout():
    register_strategy(BREAKOUT)
    yield BREAKOUT
    unregister_strategy(NAME)


@pytest.fixture
def bars(fixture_path):
    from marketdata.request import ImportRequest
    from marketdata.services import candles_import_file

    candles_import_file(source=fixture_path("eurusd_h1.csv"), request=ImportRequest(symbol="EURUSD", timeframe="1h"))


@pytest.fixture
def ohlc(fixture_path):
    return ohlc_frame(pd.read_csv(fixture_path("eurusd_h1.csv")).rename(columns={"timestamp": "ts"}))


def test_the_builtin_specs_hold_the_defaults_their_classes_and_the_form_use():
    """One source: the page's standard parameters are the forecast strategy class's own."""
    from backtesting_app.forms import BacktestForm

    forecast = strategy_spec("forecast")
    assert forecast.defaults == {
        "entry_threshold": 0.0005,
        "confidence_threshold": 0.5,
        "stop_loss_pct": 0.005,
        "take_profit_pct": 0.01,
        "max_hold_bars": 24,
    }
    assert {name: getattr(forecast.strategy, name) for name in forecast.names} == forecast.defaults
    assert (
        json.loads(BacktestForm().get_initial_for_field(BacktestForm.base_fields["params"], "params"))
        == forecast.defaults
    )
    assert strategy_spec("combined").check_params({**forecast.defaults, "patterns": ["hammer"]})["pattern_window"] == 12


def test_a_spec_that_contradicts_its_class_is_refused():
    with pytest.raises(ValueError, match="lookback must be a whole number from 100 to 500, not 20"):
        StrategySpec(
            name="bad",
            label="bad",
            strategy=BreakoutStrategy,
            parameters=(StrategyParameter("lookback", "whole", 100, 500),),
            needs_forecasts=False,
            space=(),
            fast_inputs=breakout_inputs,
        )
    with pytest.raises(ValueError, match="BreakoutStrategy has no attribute 'channel'"):
        StrategySpec(
            name="bad",
            label="bad",
            strategy=BreakoutStrategy,
            parameters=(StrategyParameter("channel", "whole", 1, 5),),
            needs_forecasts=False,
            space=(),
            fast_inputs=breakout_inputs,
        )
    with pytest.raises(ValueError, match="a strategy named 'forecast' is already registered"):
        register_strategy(StrategySpec(**{**BREAKOUT.__dict__, "name": "forecast"}))


@pytest.mark.django_db
def test_the_backtest_and_optimization_forms_offer_a_registered_strategy(breakout):
    from backtesting_app.forms import BacktestForm, OptimizationForm

    for form in (BacktestForm(), OptimizationForm()):
        assert (NAME, "Channel breakout (toy)") in list(form.fields["strategy"].choices)
    assert (
        f"{NAME}: stop_loss_pct, take_profit_pct, max_hold_bars, lookback" in BacktestForm().fields["params"].help_text
    )
    form = BacktestForm(
        {
            "symbol": "EURUSD",
            "timeframe": "1h",
            "strategy": NAME,
            "params": json.dumps({**EXITS, "lookback": 10.0}),
            "forecasts_source": "none",
            "engine": "fast",
            "spread_pips": 0.5,
            "commission": 0,
            "leverage": 1,
            "size": 0.95,
            "cash": 100000,
        }
    )
    assert form.is_valid(), form.errors
    assert form.request_object.strategy == NAME and form.request_object.params == {**EXITS, "lookback": 10}


@pytest.mark.django_db
def test_forms_made_without_it_do_not_offer_it():
    from backtesting_app.forms import BacktestForm

    assert [value for value, _ in BacktestForm().fields["strategy"].choices] == ["forecast", "pattern", "combined"]


def test_the_api_serializers_and_schema_offer_it(breakout, api_client):
    from backtesting_app.serializers import BacktestCreateSerializer, OptimizationCreateSerializer

    for serializer in (BacktestCreateSerializer(), OptimizationCreateSerializer()):
        assert list(serializer.fields["strategy"].choices) == ["forecast", "pattern", "combined", NAME]
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    enums = [s["enum"] for s in schema["components"]["schemas"].values() if "forecast" in s.get("enum", [])]
    assert enums and all(NAME in enum for enum in enums)


@pytest.mark.django_db
def test_a_backtest_of_it_runs_through_the_api(breakout, api_client, bars, django_capture_on_commit_callbacks):
    from backtesting_app.models import BacktestRun
    from backtesting_app.tasks import backtest_run_execute

    with django_capture_on_commit_callbacks(execute=False):
        response = api_client.post(
            "/api/backtests/",
            {
                "symbol": "EURUSD",
                "timeframe": "1h",
                "strategy": NAME,
                "engine": "reference",
                "params": {**EXITS, "lookback": 10},
                "forecasts_source": "none",
            },
            format="json",
        )
    assert response.status_code == 202, response.json()
    assert backtest_run_execute(response.json()["id"]) == "succeeded"
    run = BacktestRun.objects.get()
    assert (
        run.strategy == NAME and run.stats["# Trades"] > 0 and run.model_value is None
    )  # no forecasts: no model value


@pytest.mark.django_db
def test_the_commands_accept_it(breakout, bars, capsys):
    from backtesting_app.models import OptimizationRun

    call_command(
        "optimize",
        "--symbol",
        "EURUSD",
        "--timeframe",
        "1h",
        "--strategy",
        NAME,
        "--budget",
        "12",
        "--constraints",
        "{}",
        "--seed",
        "1",
        "--json",
    )
    out = json.loads(capsys.readouterr().out)
    run = OptimizationRun.objects.get()
    assert out["status"] == "succeeded" and (run.strategy, run.forecasts_source) == (NAME, "none")
    assert [p["name"] for p in run.request["space"]] == [
        "stop_loss_pct",
        "take_profit_pct",
        "max_hold_bars",
        "lookback",
    ]
    assert run.results.count() == out["evaluations"] > 0 and all("lookback" in r.params for r in run.results.all())
    call_command(
        "backtest",
        "--symbol",
        "EURUSD",
        "--timeframe",
        "1h",
        "--strategy",
        NAME,
        "--params",
        json.dumps({**EXITS, "lookback": 10}),
        "--json",
    )
    assert json.loads(capsys.readouterr().out)["stats"]["# Trades"] > 0


def test_the_optimizer_searches_its_default_space_on_the_compiled_engine(breakout, ohlc):
    """Its fast-engine inputs are the class's rules: every searched point's fast metrics are the reference engine's."""
    space = default_space(NAME)
    assert space.names == ["stop_loss_pct", "take_profit_pct", "max_hold_bars", "lookback"]
    costs = FxCosts(spread_pips=0.5)
    problem = BacktestProblem(ohlc, NAME, costs)
    state = SearchState(
        space, ["return", "drawdown", "sharpe"], parse_constraints({}), InProcessEvaluator(problem), budget=16
    )
    optimize_grid(state, 2)
    records = state.records
    assert len(records) == 16
    for record in records[::5]:
        reference = run_backtest(ohlc, NAME, record.params, costs, engine="reference").stats
        assert record.metrics["n_trades"] == reference["# Trades"] > 0
        assert record.metrics["return_pct"] == pytest.approx(reference["Return [%]"], abs=1e-9)


def test_both_engines_trade_it_alike(breakout, ohlc):
    params = {**EXITS, "lookback": 15}
    fast, reference = (run_backtest(ohlc, NAME, params, FxCosts(), engine=e) for e in ("fast", "reference"))
    keys = ["Size", "EntryBar", "ExitBar", "EntryPrice", "ExitPrice"]
    assert len(reference.trades) > 5
    assert fast.trades[keys].to_numpy() == pytest.approx(reference.trades[keys].to_numpy())
    assert fast.final_equity == pytest.approx(reference.final_equity, rel=1e-12)


@pytest.mark.parametrize(
    "call",
    [
        lambda ohlc: strategy_spec("martingale"),
        lambda ohlc: strategy_inputs(
            ohlc, "martingale", {**EXITS, "entry_threshold": 0.0, "confidence_threshold": 0.0}
        ),  # was a KeyError
        lambda ohlc: run_backtest(ohlc, "martingale", EXITS, FxCosts(), engine="fast"),
        lambda ohlc: BacktestProblem(ohlc, "martingale", FxCosts()),
        lambda ohlc: default_space("martingale"),
    ],
)
def test_an_unknown_strategy_is_a_clear_error_naming_the_known_ones(ohlc, call):
    with pytest.raises(ValueError) as info:
        call(ohlc)
    assert str(info.value) == UNKNOWN


def test_unknown_strategies_in_requests_and_commands_name_the_known_ones():
    from backtesting_app.request import BacktestRequest, OptimizationRequest

    with pytest.raises(ValueError, match=UNKNOWN):
        BacktestRequest.from_dict({"symbol": "EURUSD", "timeframe": "1h", "strategy": "martingale", "params": EXITS})
    with pytest.raises(ValueError, match=UNKNOWN):
        OptimizationRequest.from_dict({"symbol": "EURUSD", "timeframe": "1h", "strategy": "martingale"})
    with pytest.raises(
        CommandError, match="invalid choice: 'martingale' \\(choose from 'forecast', 'pattern', 'combined'\\)"
    ):
        call_command("optimize", "--symbol", "EURUSD", "--timeframe", "1h", "--strategy", "martingale")
