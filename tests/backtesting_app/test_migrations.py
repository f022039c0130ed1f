"""Migration 0007 moves a backtest's and an optimization's parameters into their stored requests and back."""

from datetime import UTC, datetime

import pytest

from backtesting_app.models import BacktestRun, OptimizationRun
from backtesting_app.request import BacktestRequest, OptimizationRequest
from forexgpt_site.jobs import request_of
from tests.migrating import migrate, state_at

BEFORE = [("backtesting_app", "0006_strategy_names")]
AFTER = [("backtesting_app", "0007_runs_store_their_request")]
SPACE = [{"name": "stop_loss_pct", "kind": "float", "low": 0.002, "high": 0.01, "step": 0.001, "choices": []}]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_runs_stored_before_keep_their_parameters_in_their_requests():
    with state_at(BEFORE) as old:
        Backtest, Optimization = (
            old.get_model("backtesting_app", "BacktestRun"),
            old.get_model("backtesting_app", "OptimizationRun"),
        )
        end = datetime(2014, 6, 30, 23, tzinfo=UTC)
        backtest = Backtest.objects.create(
            symbol="EURUSD",
            timeframe="1h",
            end=end,
            strategy="pattern",
            params={"patterns": ["engulfing"]},
            costs={"spread_pips": 0.7, "cash": 5000},
            engine="fast",
            forecasts_source="none",
            name="bt",
        ).pk
        # a run from before the held-out tail existed: holdout 0, and a walk-forward sized when it started
        walk = {"in_sample": 500, "out_of_sample": 100, "rule": "max_sharpe"}
        optimization = Optimization.objects.create(
            symbol="EURUSD",
            timeframe="1h",
            strategy="forecast",
            fixed_params={"confidence_threshold": 0.3},
            space=SPACE,
            objectives=["return", "sharpe"],
            constraints={"min_trades": 5},
            method="nsga2",
            budget=50,
            seed=4,
            evaluator="pool",
            workers=2,
            costs={"commission": 0.0001},
            forecasts_source="baseline",
            walk_forward=walk,
            holdout=0.0,
        ).pk

        migrate(AFTER)
        assert request_of(BacktestRun.objects.get(pk=backtest)) == BacktestRequest(
            symbol="EURUSD",
            timeframe="1h",
            end=end,
            strategy="pattern",
            params={"patterns": ["engulfing"]},
            spread_pips=0.7,
            cash=5000,
            engine="fast",
            forecasts_source="none",
            name="bt",
        )
        run = OptimizationRun.objects.get(pk=optimization)
        assert request_of(run) == OptimizationRequest(
            symbol="EURUSD",
            timeframe="1h",
            strategy="forecast",
            fixed_params={"confidence_threshold": 0.3},
            space=SPACE,
            objectives=("return", "sharpe"),
            constraints={"min_trades": 5},
            method="nsga2",
            budget=50,
            seed=4,
            evaluator="pool",
            workers=2,
            commission=0.0001,
            forecasts_source="baseline",
            walk_forward=walk,
            holdout=0.0,
        )
        assert request_of(run).parameter_space.names == ["stop_loss_pct"]

        old = migrate(BEFORE)  # and back: the columns filled again
        back = old.get_model("backtesting_app", "BacktestRun").objects.get(pk=backtest)
        assert (back.params, back.costs) == ({"patterns": ["engulfing"]}, {"spread_pips": 0.7, "cash": 5000})
        back = old.get_model("backtesting_app", "OptimizationRun").objects.get(pk=optimization)
        assert (back.space, back.budget, back.workers, back.walk_forward, back.holdout, back.costs) == (
            SPACE,
            50,
            2,
            walk,
            0.0,
            {"commission": 0.0001},
        )
