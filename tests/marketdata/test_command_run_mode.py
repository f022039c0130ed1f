import json

import pytest
from django.core.management import call_command

from marketdata.models import Candle, CandleImport
from tests.job_commands import assert_queued

pytestmark = pytest.mark.django_db


def test_import_queue_stores_the_file_with_a_queued_run(
    fixture_path, monkeypatch, django_capture_on_commit_callbacks, capsys
):
    from marketdata.tasks import candle_import_execute

    run = assert_queued(
        monkeypatch,
        django_capture_on_commit_callbacks,
        capsys,
        CandleImport,
        "import_candles",
        str(fixture_path("mt5_eurusd_h1.csv")),
        "--symbol",
        "EURUSD",
        "--timeframe",
        "1h",
        page="/data/imports/{pk}/",
        api="/api/candle-imports/{pk}/",
    )
    assert run.origin == "command" and run.file and not Candle.objects.exists()
    assert candle_import_execute(run.pk) == "succeeded"  # what the worker does with it
    assert Candle.objects.filter(candle_import=run).count() == CandleImport.objects.get().report["inserted"] > 0


def test_import_foreground_runs_the_job_here(fixture_path, capsys):
    call_command(
        "import_candles",
        str(fixture_path("mt5_eurusd_h1.csv")),
        "--symbol",
        "EURUSD",
        "--timeframe",
        "1h",
        "--foreground",
        "--json",
    )
    report = json.loads(capsys.readouterr().out)
    run = CandleImport.objects.get()
    assert (run.status, run.origin, run.file.name, run.report) == ("succeeded", "command", "", report)
    assert run.started_at and run.heartbeat_at and Candle.objects.count() == report["inserted"] > 0
