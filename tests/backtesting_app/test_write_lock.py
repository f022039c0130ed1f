"""Long computations (bar loading, reference-engine re-runs) must not hold the database's write lock:
on SQLite there is one, and a writer that waits past its busy timeout fails with "database is locked"."""

import pytest

from backtesting_app import services
from backtesting_app.models import BacktestRun, OptimizationResult, OptimizationRun, ParetoFront
from backtesting_app.request import BacktestRequest, OptimizationRequest
from backtesting_app.services import backtests, optimizations
from backtesting_app.tasks import optimization_run_execute
from tests.backtesting_app.test_optimization_platform import FIXED, SPACE
from tests.conftest import on_another_connection

# real commits on the file database, seen by other connections
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sqlite_only")]


@pytest.fixture
def bars(fixture_path):
    from marketdata.request import ImportRequest
    from marketdata.services import candles_import_file

    candles_import_file(source=fixture_path("eurusd_h1.csv"), request=ImportRequest(symbol="EURUSD", timeframe="1h"))


def write_from_another_connection(username: str):
    """What a web request does meanwhile: create a user on its own connection, waiting at most 0.2 s
    for the write lock. Returns the error, or None when the write succeeded."""
    from django.contrib.auth import get_user_model
    from django.db import connection as own

    def write():
        own.ensure_connection()
        own.connection.execute("PRAGMA busy_timeout = 200")
        get_user_model().objects.create_user(username=username)

    outcome = on_another_connection(write)
    return outcome if isinstance(outcome, BaseException) else None


def _optimization(user, enqueue=False):
    return services.optimization_run_start(
        user=user,
        enqueue=enqueue,
        request=OptimizationRequest.from_dict(
            dict(
                symbol="EURUSD",
                timeframe="1h",
                space=SPACE,
                fixed_params=FIXED,
                budget=60,
                seed=7,
                constraints={"min_trades": 10},
                spread_pips=0.5,
            )
        ),
    )


def test_other_writers_succeed_while_the_front_is_re_run(bars, user, monkeypatch, django_user_model):
    run = _optimization(user)
    errors = []

    def re_run_while_someone_writes(*args, **kwargs):
        errors.append(write_from_another_connection(f"web-{len(errors)}"))
        return run_backtest(*args, **kwargs)

    run_backtest = optimizations.run_backtest
    monkeypatch.setattr(optimizations, "run_backtest", re_run_while_someone_writes)
    assert optimization_run_execute(run.pk) == "succeeded", OptimizationRun.objects.get(pk=run.pk).error
    n_front = ParetoFront.objects.filter(run=run).count()
    assert n_front and errors == [None] * n_front  # one re-run a front point, each beside a successful write
    assert django_user_model.objects.filter(username__startswith="web-").count() == n_front
    assert all(
        p.result.stats for p in ParetoFront.objects.filter(run=run).select_related("result")
    )  # each front point re-run


@pytest.mark.parametrize("start", ["backtest", "optimization"])
def test_other_writers_succeed_while_a_start_loads_the_bars(bars, user, monkeypatch, start):
    import django_q.tasks

    errors, queued = [], []
    monkeypatch.setattr(django_q.tasks, "async_task", lambda func, run_id, **kw: queued.append((func, run_id)))

    def load_while_someone_writes(**kwargs):
        errors.append(write_from_another_connection("web"))
        return load_bars(**kwargs)

    load_bars = backtests.load_bars
    monkeypatch.setattr(backtests, "load_bars", load_while_someone_writes)
    if start == "backtest":
        run = services.backtest_run_start(
            user=user,
            request=BacktestRequest.from_dict(
                dict(
                    symbol="EURUSD",
                    timeframe="1h",
                    strategy="forecast",
                    forecasts_source="baseline",
                    params={
                        "entry_threshold": 0.0003,
                        "confidence_threshold": 0.4,
                        "stop_loss_pct": 0.004,
                        "take_profit_pct": 0.006,
                        "max_hold_bars": 12,
                    },
                )
            ),
        )
    else:
        run = _optimization(user, enqueue=True)
    assert errors == [None]
    assert type(run).objects.filter(pk=run.pk, status="queued").exists()
    assert queued == [(type(run).TASK, run.pk)]  # queued once, after its row was committed


def test_cancelling_during_the_front_re_run_stops_it(bars, user, monkeypatch):
    run = _optimization(user)
    calls = []

    def re_run_then_cancel(*args, **kwargs):
        calls.append(1)
        OptimizationRun.objects.filter(pk=run.pk).update(cancel_requested=True)
        return run_backtest(*args, **kwargs)

    run_backtest = optimizations.run_backtest
    monkeypatch.setattr(optimizations, "run_backtest", re_run_then_cancel)
    assert optimization_run_execute(run.pk) == "cancelled"
    assert len(calls) == 1  # the next front point was not re-run
    assert (
        not ParetoFront.objects.filter(run=run).exists()
        and not OptimizationResult.objects.filter(run=run, rank__isnull=False).exists()
    )
    assert OptimizationResult.objects.filter(run=run).count() == 60  # the evaluations stay, for a resume
    assert BacktestRun.objects.count() == 0
