"""Training runs end to end: a real child process, checkpoints, resume, the registry, forecasts."""

import json

import numpy as np
import pandas as pd
import pytest
from django.core.management import call_command

from forecasts.models import ForecastSet
from forexgpt_site.jobs import CHILD_CANCELLED, job_requeue
from training import services
from training.models import TrainingRun
from training.request import TrainingRequest
from training.tasks import training_run_execute

pytestmark = pytest.mark.slow


@pytest.fixture
def child_env(transactional_db, monkeypatch, settings, tmp_path, fixture_path):
    """The trainer child process sees the test database, media and checkpoint folders."""
    from django.db import connection

    from marketdata.request import ImportRequest
    from marketdata.services import candles_import_file
    from tests.conftest import _database_url

    monkeypatch.setenv("DATABASE_URL", _database_url(connection.settings_dict))
    monkeypatch.setenv("MEDIA_ROOT", str(settings.MEDIA_ROOT))
    settings.FOREXGPT_CHECKPOINT_DIR = tmp_path / "checkpoints"
    monkeypatch.setenv("FOREXGPT_CHECKPOINT_DIR", str(settings.FOREXGPT_CHECKPOINT_DIR))
    monkeypatch.setenv("FOREXGPT_EVAL_WINDOWS", "20")
    candles_import_file(source=fixture_path("eurusd_h1.csv"), request=ImportRequest(symbol="EURUSD", timeframe="1h"))


def _run(user=None, **kw):
    options = {
        "symbol": "EURUSD",
        "timeframe": "1h",
        "patch_len": 32,
        "horizon": 12,
        "epochs": 1,
        "batch_size": 32,
        **kw,
    }
    return services.training_run_start(user=user, request=TrainingRequest.from_dict(options), enqueue=False)


def test_a_run_trains_registers_a_version_that_forecasts_and_a_dead_run_resumes_from_its_checkpoint(
    child_env, user, tmp_path
):
    """One trained run serves both stories (each training child costs seconds of imports): what a
    finished run registers, then the same run as if its worker had died after epoch 1 of 2. It is an
    ensemble of 2 networks, so the ensemble goes the whole way (one network: the other runs here)."""
    run = _run(user, epochs=1, members=2)
    assert training_run_execute(run.pk) == "succeeded"
    run.refresh_from_db()
    assert run.artifact_version is not None and run.history and run.history[0]["val_loss"] is not None
    assert {d["name"] for d in run.decisions} >= {"precision", "compile", "optimizer", "flash_attention", "loader"}
    from training.models import HardwareReport  # the busy gpu worker's freshest report, for the Hardware page

    stored = HardwareReport.objects.first()
    assert (
        stored.report["source"] == f"training run #{run.pk} as it started" and stored.report["hardware"] == run.hardware
    )
    version = run.artifact_version
    assert version.training_run_id == run.pk and version.horizon_bars == 12 and version.metrics["crps"] > 0
    # the parts it was trained, validated and tested on, as the trainer split the run's bars
    from marketdata.selectors import candles_frame
    from training.engine.periods import periods_of
    from training.engine.trainer import prepare_data

    assert version.periods == periods_of(
        prepare_data(candles_frame(symbol="EURUSD", timeframe="1h"), patch_len=32, horizon=12)
    )
    assert version.periods["test"]["first_bar"] == "2014-06-18T06:00:00Z"
    for baseline in (
        "random_walk",
        "ewma_gaussian",
        "seasonal_ewma",
        "seasonal_garch_t",
    ):  # all four baselines travel with it
        assert version.metrics[f"crps_{baseline}"] == run.quality[baseline]["crps"]
    assert "x the strongest baseline, " in run.message
    for forecaster in ("model", "random_walk", "ewma_gaussian", "seasonal_ewma", "seasonal_garch_t"):
        assert run.quality[forecaster]["n"] == 20
    from forecasts.services import load_forecaster
    from training.engine import EnsembleForecaster
    from training.engine.trainer import DRIFTS

    model, norm, _ = load_forecaster(version)
    assert isinstance(model, EnsembleForecaster) and "an ensemble of 2" in version.description

    # the spread and drift fitted on the validation part travel with the version into its forecasts
    fitted = run.quality["spread"]
    assert fitted["drift"] in DRIFTS and (norm.spread, norm.drift) == (fitted["spread"], fitted["drift"])
    out = tmp_path / "f.csv"
    call_command(
        "forecast",
        "--artifact",
        version.ref,
        "--symbol",
        "EURUSD",
        "--timeframe",
        "1h",
        "--samples",
        "20",
        "--seed",
        "4",
        "--out",
        str(out),
    )
    frame = pd.read_csv(out)
    assert list(frame.columns) == [
        "timestamp",
        "pred_return",
        "q05",
        "q10",
        "q25",
        "q50",
        "q75",
        "q90",
        "q95",
        "confidence",
        "part",
        "in_sample",
        "y_true",
    ]
    assert frame["in_sample"].sum() == (204 - 31 + 1) + (301 - 206 + 1)  # bars 31..204 training, 206..301 validation
    assert len(frame) == 399 - 31 and (frame["q05"] <= frame["q50"]).all() and (frame["q50"] <= frame["q95"]).all()
    assert frame["confidence"].between(0.5, 1).all() and np.array_equal(frame["pred_return"], frame["q50"])
    assert (
        ForecastSet.objects.get(artifact_version=version).rows == 399 - 31
    )  # the trained model's forecasts are a stored set
    assert ForecastSet.objects.get(artifact_version=version).sample_label == "in-sample (training)"

    steps_one_epoch = run.step
    assert run.epoch == 0  # the last epoch trained, 0-based: the page says "epoch 1 of 1" (it said "2 of 1")
    # As if the worker had died after epoch 1 of 2: the checkpoint exists, the run is marked failed.
    TrainingRun.objects.filter(pk=run.pk).update(
        status="failed", request={**run.request, "epochs": 2}, artifact_version=None
    )
    run.refresh_from_db()
    job_requeue(run=run, user=user, message=TrainingRun.resume_message)  # what POST .../resume/ does
    assert training_run_execute(run.pk) == "succeeded"
    run.refresh_from_db()
    assert [p["epoch"] for p in run.history] == [0, 1]
    assert run.epoch == 1  # the last epoch trained, 0-based: the page says "epoch 2 of 2"
    assert run.step == 2 * steps_one_epoch  # continued, not restarted
    log = (services.checkpoint_dir(run) / "attempt-2.log").read_text()
    assert "Restored all states from the checkpoint" in log or "Restoring states from the checkpoint" in log
    assert run.attempts == 2


def test_a_cancel_the_child_notices_stops_training_as_cancelled(child_env, user):
    """The child's own progress report sees the cancel (the parent's poll may come later): it stops
    training and exits as cancelled, registering nothing."""
    run = _run(user, epochs=3)
    TrainingRun.objects.filter(pk=run.pk).update(status="running", cancel_requested=True)
    assert services.training_child_main(run.pk) == CHILD_CANCELLED
    run.refresh_from_db()
    assert run.artifact_version is None and len(run.history or []) < 3


def test_ddp_over_two_cpu_processes(child_env, user):
    run = _run(user, choices={"cpu_processes": 2})
    assert training_run_execute(run.pk) == "succeeded", TrainingRun.objects.get(pk=run.pk).error
    run.refresh_from_db()
    decided = {d["name"]: d["value"] for d in run.decisions}
    assert (decided["devices"], decided["strategy"]) == (2, "ddp")
    log = (services.checkpoint_dir(run) / "attempt-1.log").read_text()
    assert "GLOBAL_RANK: 1" in log or "Initializing distributed: GLOBAL_RANK: 1" in log
    assert (services.checkpoint_dir(run) / "last.ckpt").exists()
    assert run.artifact_version is not None


def test_estimate_speedup_measures_here(child_env, capsys):
    call_command(
        "train",
        "--symbol",
        "EURUSD",
        "--timeframe",
        "1h",
        "--patch_len",
        "32",
        "--estimate_speedup",
        "--precision",
        "bf16-mixed",
        "--gradient_checkpointing",
        "--speedup_steps",
        "3",
        "--batch_size",
        "16",
        "--json",
    )
    report = json.loads(capsys.readouterr().out)
    names = [r["config"] for r in report["rows"]]
    assert names == ["fp32 eager (baseline)", "bf16-mixed", "gradient checkpointing", "all chosen together"]
    assert report["rows"][0]["speedup"] == 1.0 and all(r["step_ms"] > 0 for r in report["rows"])


def test_api(child_env, api_client):
    from training.tasks import hardware_detect_execute

    first = api_client.get("/api/hardware/")
    assert first.status_code == 202 and "the gpu worker is detecting" in first.json()["detail"]
    assert hardware_detect_execute().startswith("hardware detected on ")  # what the gpu worker runs
    hw = api_client.get("/api/hardware/").json()
    assert (
        hw["hardware"]["cpu_cores"] >= 1
        and any(d["name"] == "precision" for d in hw["optimizations"])
        and hw["detected_at"]
    )
    bad = api_client.post(
        "/api/training-runs/", {"symbol": "EURUSD", "timeframe": "1h", "choices": {"turbo": True}}, format="json"
    )
    assert bad.status_code == 400 and "unknown training option(s) turbo" in bad.json()["detail"]
    few = api_client.post(
        "/api/training-runs/", {"symbol": "EURUSD", "timeframe": "1h", "patch_len": 200}, format="json"
    )
    assert few.status_code == 400 and few.json()["detail"] == (
        "399 bars are too few for a train / validation / test split of windows of 200 bars and a 12-bar horizon "
        "(gaps of 212 bars between the parts): at least 843 are needed"
    )
    ok = api_client.post(
        "/api/training-runs/", {"symbol": "EURUSD", "timeframe": "1h", "patch_len": 32, "epochs": 1}, format="json"
    )
    assert ok.status_code == 202
    run = TrainingRun.objects.get(pk=ok.json()["id"])
    TrainingRun.objects.filter(pk=run.pk).update(history=[{"epoch": 0, "val_loss": 1.0}, {"epoch": 1, "val_loss": 0.9}])
    assert [
        p["epoch"] for p in api_client.get(f"/api/training-runs/{run.pk}/history/", {"after": 0}).json()["points"]
    ] == [1]
