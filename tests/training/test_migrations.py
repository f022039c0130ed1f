"""Migration 0006 moves a training run's parameters into its stored request and back; 0007 moves a finished
run's epoch back to the last one trained."""

from datetime import UTC, datetime

import pytest

from forexgpt_site.jobs import request_of
from tests.migrating import migrate, state_at
from training.models import TrainingRun
from training.request import TrainingRequest

BEFORE = [("training", "0005_trainingrun_members")]
AFTER = [("training", "0006_trainingrun_request")]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_run_stored_before_keeps_its_parameters_in_its_request():
    with state_at(BEFORE) as old:
        Run = old.get_model("training", "TrainingRun")
        start = datetime(2014, 1, 1, tzinfo=UTC)
        pk = Run.objects.create(
            symbol="EURUSD",
            timeframe="1h",
            start=start,
            horizon=24,
            patch_len=32,
            epochs=3,
            batch_size=64,
            denoiser="unet",
            members=2,
            choices={"num_gpus": 0},
            fast_dev_run=True,
            seed=7,
            name="old",
            model_name="eur-old",
            status="succeeded",
        ).pk

        migrate(AFTER)
        run = TrainingRun.objects.get(pk=pk)
        assert request_of(run) == TrainingRequest(
            symbol="EURUSD",
            timeframe="1h",
            start=start,
            horizon=24,
            patch_len=32,
            epochs=3,
            batch_size=64,
            denoiser="unet",
            members=2,
            choices={"num_gpus": 0},
            fast_dev_run=True,
            seed=7,
            name="old",
            model_name="eur-old",
        )
        assert run.registry_name == "eur-old-smoke" and (run.horizon, run.denoiser) == (24, "unet")

        Run = migrate(BEFORE).get_model("training", "TrainingRun")  # and back: the columns filled again
        back = Run.objects.get(pk=pk)
        assert (back.epochs, back.patch_len, back.members, back.choices, back.seed, back.model_name) == (
            3,
            32,
            2,
            {"num_gpus": 0},
            7,
            "eur-old",
        )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_run_ended_before_shows_its_last_epoch_trained():
    with state_at(AFTER) as old:
        Run = old.get_model("training", "TrainingRun")
        ended = Run.objects.create(symbol="EURUSD", timeframe="1h", status="succeeded", epoch=1, request={"epochs": 1})
        midway = Run.objects.create(symbol="EURUSD", timeframe="1h", status="failed", epoch=2, request={"epochs": 6})
        migrate([("training", "0007_trainingrun_epoch_last_trained")])
        assert TrainingRun.objects.get(pk=ended.pk).epoch == 0  # "epoch 1 of 1", not "2 of 1"
        assert TrainingRun.objects.get(pk=midway.pk).epoch == 2  # stopped inside epoch 3 of 6: as it was
