import json

import pandas as pd
import pytest
from django.core.management import call_command

from conformal.models import CalibrationRun
from tests.job_commands import assert_queued

pytestmark = pytest.mark.django_db


def test_calibrate_queue_stores_a_queued_run_and_enqueues_it(
    forecasts_csv, monkeypatch, django_capture_on_commit_callbacks, capsys
):
    run = assert_queued(
        monkeypatch,
        django_capture_on_commit_callbacks,
        capsys,
        CalibrationRun,
        "calibrate",
        "--forecasts",
        str(forecasts_csv),
        "--method",
        "split",
        page="/conformal/runs/{pk}/",
        api="/api/calibrations/{pk}/",
    )
    assert run.metrics is None and run.forecasts


def test_calibrate_foreground_stores_a_finished_run(forecasts_csv, tmp_path, capsys):
    out = tmp_path / "intervals.csv"
    call_command(
        "calibrate", "--forecasts", str(forecasts_csv), "--method", "split", "--foreground", "--json", "--out", str(out)
    )
    report = json.loads(capsys.readouterr().out)
    run = CalibrationRun.objects.get()
    assert run.status == "succeeded" and report["id"] == run.pk and report["metrics"] == run.metrics
    rows = len(pd.read_csv(forecasts_csv))
    assert report["n_calibration"] == rows // 3 and len(pd.read_csv(out)) == rows - rows // 3
