import json
import re

import pytest
from django.core.management import call_command

from backtesting_app.models import BacktestRun, OptimizationRun
from tests.job_commands import assert_queued

pytestmark = pytest.mark.django_db
SERIES = ("--symbol", "EURUSD", "--timeframe", "1h")
PATTERN = (
    "--strategy",
    "pattern",
    "--engine",
    "fast",
    "--params",
    json.dumps({"stop_loss_pct": 0.004, "take_profit_pct": 0.006, "max_hold_bars": 12}),
)
OPTIMIZE = ("--strategy", "pattern", "--budget", "12", "--constraints", "{}", "--seed", "1")


@pytest.fixture
def bars(fixture_path):
    from marketdata.request import ImportRequest
    from marketdata.services import candles_import_file

    candles_import_file(source=fixture_path("eurusd_h1.csv"), request=ImportRequest(symbol="EURUSD", timeframe="1h"))


def test_backtest_queue_stores_a_queued_run_and_enqueues_it(
    bars, monkeypatch, django_capture_on_commit_callbacks, capsys
):
    run = assert_queued(
        monkeypatch,
        django_capture_on_commit_callbacks,
        capsys,
        BacktestRun,
        "backtest",
        *SERIES,
        *PATTERN,
        page="/backtests/runs/{pk}/",
        api="/api/backtests/{pk}/",
    )
    assert run.stats is None


def test_backtest_foreground_stores_a_finished_run_and_prints_its_stats(bars, capsys):
    call_command("backtest", *SERIES, *PATTERN, "--foreground", "--json")
    out = json.loads(capsys.readouterr().out)
    run = BacktestRun.objects.get()
    assert (
        run.status == "succeeded"
        and run.task_id == ""
        and out == {"id": run.pk, "stats": run.stats, "trades": run.trades}
    )
    assert out["stats"]["# Trades"] == len(out["trades"])


def test_optimize_queue_keeps_distributed_as_the_evaluator(
    bars, monkeypatch, django_capture_on_commit_callbacks, capsys
):
    run = assert_queued(
        monkeypatch,
        django_capture_on_commit_callbacks,
        capsys,
        OptimizationRun,
        "optimize",
        *SERIES,
        *OPTIMIZE,
        "--distributed",
        page="/optimizations/runs/{pk}/",
        api="/api/optimizations/{pk}/",
    )
    assert run.evaluator == "distributed" and not run.results.exists()


def test_optimize_foreground_runs_the_search_here(bars, capsys):
    call_command("optimize", *SERIES, *OPTIMIZE, "--foreground", "--json")
    out = json.loads(capsys.readouterr().out)
    run = OptimizationRun.objects.get()
    assert (
        out["status"] == run.status == "succeeded"
        and run.evaluator == "inprocess"
        and run.results.count() == out["evaluations"] > 0
    )


def test_optimize_prints_its_front_as_a_person_reads_it(bars, capsys):
    call_command("optimize", *SERIES, *OPTIMIZE, "--foreground")
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("  ") and " -> " in line]
    assert lines, out
    assert "{" not in out and "'" not in out  # no Python dict reprs
    assert all(len(digits) <= 4 for digits in re.findall(r"\.(\d+)", out.split("\n", 1)[1]))  # four digits at most
    assert "Return [%] " in lines[0] and "; held out: " in lines[0]
