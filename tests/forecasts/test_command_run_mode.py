import json

import pytest
from django.core.management import call_command

from forecasts.models import ForecastSet
from tests.job_commands import assert_queued

pytestmark = pytest.mark.django_db


def _args(version):
    return ("--artifact", version.ref, "--symbol", "EURUSD", "--timeframe", "1h", "--samples", "20")


def test_forecast_queue_stores_a_queued_set_and_enqueues_it(
    forecaster, monkeypatch, django_capture_on_commit_callbacks, capsys
):
    assert_queued(
        monkeypatch,
        django_capture_on_commit_callbacks,
        capsys,
        ForecastSet,
        "forecast",
        *_args(forecaster),
        page="/forecasts/{pk}/",
        api="/api/forecasts/{pk}/",
    )


def test_forecast_foreground_runs_the_task_here(forecaster, monkeypatch, capsys):
    monkeypatch.setattr("forecasts.tasks.forecast_set_work", lambda fs, ctx: "forecast (stand-in)")
    call_command("forecast", *_args(forecaster), "--foreground", "--json")
    out = json.loads(capsys.readouterr().out)
    fs = ForecastSet.objects.get()
    assert (out["forecast_set"], out["status"], out["message"]) == (
        fs.pk,
        "succeeded",
        "forecast (stand-in)",
    ) and fs.started_at
