"""Nobody is locked out by a long job (issue #15): on SQLite one write lock serves the whole
database, and a writer that waits past its busy timeout fails ("database is locked", a 500). While a
large candle import and an optimization's front re-run are in progress, a user logs in through the
login page and submits a backtest through the API, and both succeed."""

import json
import threading

import numpy as np
import pandas as pd
import pytest
from django.db import connection
from django.db.backends.signals import connection_created
from django.test import Client
from django.urls import reverse

from backtesting_app.models import BacktestRun, OptimizationRun, ParetoFront
from backtesting_app.services import optimizations
from backtesting_app.tasks import optimization_run_execute
from marketdata.models import Candle, CandleImport
from marketdata.request import ImportRequest
from marketdata.services import candles_import_file
from tests.backtesting_app.test_write_lock import _optimization, bars  # noqa: F401 - `bars` is a fixture
from tests.conftest import SHARED_DATA

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.usefixtures("sqlite_only"),
]  # real commits, other connections
COPIES = 3  # of the real M1 file (186,348 bars): 559,044 bars, seconds of writing in one transaction
WEB_BUSY_TIMEOUT_MS = 2000  # the web's patience for the write lock here (30 s in production)
BACKTEST = {
    "symbol": "EURUSD",
    "timeframe": "1h",
    "strategy": "forecast",
    "forecasts_source": "baseline",
    "params": {
        "entry_threshold": 0.0003,
        "confidence_threshold": 0.4,
        "stop_loss_pct": 0.004,
        "take_profit_pct": 0.006,
        "max_hold_bars": 12,
    },
}


@pytest.fixture
def large_m1_file(tmp_path):
    """EURUSD M1 bars to import: the real first half of 2017 from ../shared/data, COPIES times over
    (each copy 26 weeks after the last, on the same weekdays); without it, as many made-up bars."""
    real = SHARED_DATA / "EURUSD_M1_2017-01_2017-06.csv"
    if real.exists():
        source = pd.read_csv(real)
        start = pd.to_datetime(source.pop("timestamp"), utc=True)
        frame = pd.concat(
            [source.assign(ts=start + pd.Timedelta(weeks=26 * k)) for k in range(COPIES)], ignore_index=True
        )
    else:
        minutes = pd.date_range("2017-01-02 00:00", periods=186_348 * COPIES * 7 // 5 + 10_080, freq="min", tz="UTC")
        ts = minutes[minutes.dayofweek < 5][: 186_348 * COPIES]
        rng = np.random.default_rng(15)
        close = 1.05 + np.cumsum(rng.normal(0.0, 1e-4, len(ts)))
        open_ = np.r_[close[0], close[:-1]]
        spread = np.abs(rng.normal(0.0, 5e-5, len(ts)))
        frame = pd.DataFrame(
            {
                "open": open_,
                "high": np.maximum(open_, close) + spread,
                "low": np.minimum(open_, close) - spread,
                "close": close,
                "volume": 0,
                "ts": ts,
            }
        )
    frame.insert(0, "timestamp", pd.DatetimeIndex(frame.pop("ts")).strftime("%Y-%m-%dT%H:%M:%SZ"))
    path = tmp_path / "EURUSD_M1.csv"
    frame.to_csv(path, index=False, float_format="%.5f")
    return path, len(frame)


def test_login_and_a_backtest_succeed_during_a_large_import_and_a_front_re_run(bars, user, large_m1_file, monkeypatch):  # noqa: F811
    path, n_bars = large_m1_file
    storing, staging, overlapped, web_done = (threading.Event() for _ in range(4))
    outcome = {}

    # The import: from its comparison on, the web side keeps logging in and submitting. At its first
    # staged chunk (bars written, none visible) it waits until a web round has run in that state.
    def import_progress(fraction, message):
        if message.startswith("comparing"):
            storing.set()
        if "unseen until" in message and not staging.is_set():
            outcome["staged_at_pause"] = Candle.all_objects.filter(timeframe="1m").count()
            staging.set()
            assert overlapped.wait(120), "no web round ran while the import was staged"

    def run_import():
        try:
            outcome["import"] = candles_import_file(
                source=path, request=ImportRequest(symbol="EURUSD", timeframe="1m"), on_progress=import_progress
            )
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            outcome["import"] = exc
        finally:
            storing.set()
            connection.close()

    # The optimization: its first front point's re-run on the reference engine lasts until the web side is done.
    run_backtest = optimizations.run_backtest
    re_running = threading.Event()

    def slow_first_re_run(*args, **kwargs):
        if not re_running.is_set():
            re_running.set()
            web_done.wait(180)
        return run_backtest(*args, **kwargs)

    monkeypatch.setattr(optimizations, "run_backtest", slow_first_re_run)
    optimization = _optimization(user)

    def run_optimization():
        try:
            outcome["optimization"] = optimization_run_execute(optimization.pk)
        finally:
            re_running.set()
            connection.close()

    importer, optimizer = threading.Thread(target=run_import), threading.Thread(target=run_optimization)
    optimizer.start()
    assert re_running.wait(120), "the front re-run did not start"
    importer.start()
    assert storing.wait(120)

    # The web: a fresh browser logs in through the login page, then submits a backtest, round after round,
    # on connections that wait WEB_BUSY_TIMEOUT_MS for the lock (django-q's broker opens new ones).
    web, patience = threading.current_thread(), []

    def web_patience(sender, connection, **kwargs):
        if threading.current_thread() is web:
            connection.connection.execute(f"PRAGMA busy_timeout = {WEB_BUSY_TIMEOUT_MS}")
            patience.append(connection.connection.execute("PRAGMA busy_timeout").fetchone()[0])

    connection_created.connect(web_patience)
    connection.close()
    rounds = []
    try:
        while True:
            during_staging = staging.is_set() and importer.is_alive()
            browser = Client(raise_request_exception=False)  # a failure is the 500 a user would get
            login = browser.post("/login/", {"username": "analyst", "password": "analyst-pass-123"})
            submit = browser.post("/api/backtests/", json.dumps(BACKTEST), content_type="application/json")
            rounds.append((login.status_code, login.get("Location"), submit.status_code))
            if during_staging and not CandleImport.objects.get(original_name=path.name).published:
                overlapped.set()
            if not importer.is_alive():
                break
    finally:
        connection_created.disconnect(web_patience)
        web_done.set()
        overlapped.set()
        importer.join(300)
        optimizer.join(300)

    assert patience and set(patience) == {WEB_BUSY_TIMEOUT_MS}
    assert rounds and set(rounds) == {(302, reverse("dashboard"), 202)}, rounds
    assert BacktestRun.objects.count() == len(rounds)
    report = outcome["import"]
    assert not isinstance(report, BaseException), report
    assert report["inserted"] == n_bars and Candle.objects.filter(timeframe="1m").count() == n_bars
    assert 0 < outcome["staged_at_pause"] < n_bars  # the rounds above ran while part of the bars was written
    assert outcome["optimization"] == "succeeded", OptimizationRun.objects.get(pk=optimization.pk).error
    assert ParetoFront.objects.filter(run=optimization).exists()
