import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.job_commands import assert_queued
from training.models import TrainingRun

pytestmark = pytest.mark.django_db
ARGS = ("--symbol", "EURUSD", "--timeframe", "1h", "--patch_len", "32", "--epochs", "1", "--num_gpus", "0")


@pytest.fixture
def bars(fixture_path):
    from marketdata.request import ImportRequest
    from marketdata.services import candles_import_file

    candles_import_file(source=fixture_path("eurusd_h1.csv"), request=ImportRequest(symbol="EURUSD", timeframe="1h"))


def test_train_queue_stores_a_queued_run_and_enqueues_it(bars, monkeypatch, django_capture_on_commit_callbacks, capsys):
    assert_queued(
        monkeypatch,
        django_capture_on_commit_callbacks,
        capsys,
        TrainingRun,
        "train",
        *ARGS,
        page="/training/runs/{pk}/",
        api="/api/training-runs/{pk}/",
    )


def test_train_foreground_runs_the_task_here(bars, monkeypatch, capsys):
    """Through the task entry point (`job_execute`: claimed, run, finished); the training itself (a
    child process with torch) is the platform tests' business."""

    def work(run, ctx):
        ctx.progress(0.5, "half way", force=True)
        return "trained (stand-in)"

    monkeypatch.setattr("training.tasks.training_run_work", work)
    call_command("train", *ARGS, "--json")  # foreground is the default
    out = json.loads(capsys.readouterr().out)
    run = TrainingRun.objects.get()
    assert (out["id"], out["status"], out["message"]) == (run.pk, "succeeded", "trained (stand-in)") and run.started_at
    monkeypatch.setattr("training.tasks.training_run_work", lambda run, ctx: 1 / 0)
    with pytest.raises(CommandError, match="training failed: failed: division by zero"):
        call_command("train", *ARGS, "--foreground")
