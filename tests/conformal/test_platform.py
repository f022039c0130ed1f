import json

import numpy as np
import pandas as pd
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError

from conformal.engine import calibrate_series, forecast_columns
from conformal.models import CalibrationRun
from conformal.selectors import apply_calibration, calibration_for_version, calibration_intervals
from conformal.tasks import calibration_run_execute
from forexgpt_site.jobs import request_of

pytestmark = pytest.mark.django_db


def test_command_prints_the_metrics_and_writes_intervals(forecasts_csv, tmp_path, capsys):
    out = tmp_path / "intervals.csv"
    call_command(
        "calibrate",
        "--forecasts",
        str(forecasts_csv),
        "--method",
        "aci",
        "--alpha",
        "0.1",
        "--cal-size",
        "300",
        "--gamma",
        "0.01",
        "--window",
        "200",
        "--json",
        "--out",
        str(out),
    )
    report = json.loads(capsys.readouterr().out)
    frame = pd.read_csv(forecasts_csv)
    expected = calibrate_series(
        forecast_columns(frame, 0.1), method="aci", alpha=0.1, cal_size=300, gamma=0.01, window=200
    )
    assert report["metrics"]["coverage"] == pytest.approx(expected.metrics["coverage"])
    assert report["n_calibration"] == 300 and report["params"] == {"gamma": 0.01, "window": 200}
    for key in (
        "mean_width",
        "median_width",
        "winkler",
        "rolling_min",
        "coverage_by_volatility",
        "misses_above",
        "n_infinite",
    ):
        assert key in report["metrics"]
    intervals = pd.read_csv(out)
    assert len(intervals) == len(frame) - 300 and list(intervals.columns) == [
        "timestamp",
        "y_true",
        "y_pred",
        "lo",
        "hi",
    ]
    assert np.allclose(intervals["hi"], expected.hi)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--method", "split", "--alpha", "1.2"], "alpha must be strictly between 0 and 1"),
        (["--method", "window", "--window", "0"], "window must be a positive whole number"),
        (["--method", "split", "--cal-size", "5000"], "leaves no rows to evaluate"),
        (["--method", "aci", "--gamma", "-1"], "gamma must be a positive step size"),
    ],
)
def test_command_refuses_bad_requests(forecasts_csv, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("calibrate", "--forecasts", str(forecasts_csv), *args)


def test_bad_files(tmp_path):
    missing = tmp_path / "m.csv"
    missing.write_text("timestamp,y_pred\n2020-01-01,0.1\n")
    with pytest.raises(CommandError, match="need a y_true column"):
        call_command("calibrate", "--forecasts", str(missing), "--method", "split")
    nan = tmp_path / "n.csv"
    nan.write_text("y_true,y_pred\n0.1,0.0\n,0.0\n0.2,0.1\n")
    with pytest.raises(CommandError, match="column y_true has a missing or non-numeric value at row 2"):
        call_command("calibrate", "--forecasts", str(nan), "--method", "split")
    nan.write_text("y_true,y_pred\n" + "".join(f"0.{i},0.0\n" for i in range(9)))
    with pytest.raises(CommandError, match="this method needs q_lo from the forecast"):
        call_command("calibrate", "--forecasts", str(missing).replace("m.csv", "n.csv"), "--method", "cqr")
    backwards = tmp_path / "b.csv"
    backwards.write_text("timestamp,y_true,y_pred\n2020-01-02,0.1,0\n2020-01-01,0.1,0\n")
    with pytest.raises(CommandError, match="timestamps must be ascending .* row 2 goes back in time"):
        call_command("calibrate", "--forecasts", str(backwards), "--method", "split")


def test_api_run_then_attach_to_a_version_gives_forecasts_intervals(
    api_client, forecasts_csv, register, staff_user, django_capture_on_commit_callbacks, logged_in_client
):
    from knox.models import AuthToken
    from rest_framework.test import APIClient

    version = register()
    with django_capture_on_commit_callbacks(execute=False):
        response = api_client.post(
            "/api/calibrations/",
            {
                "forecasts": SimpleUploadedFile("f.csv", forecasts_csv.read_bytes()),
                "method": "normalized",
                "alpha": 0.1,
                "cal_size": 400,
                "artifact": version.ref,
            },
            format="multipart",
        )
    assert response.status_code == 202, response.json()
    run_id = response.json()["id"]
    assert calibration_run_execute(run_id) == "succeeded"
    detail = api_client.get(f"/api/calibrations/{run_id}/").json()
    assert (
        detail["status"] == "succeeded"
        and detail["artifact"] == version.ref
        and 0.8 < detail["metrics"]["coverage"] < 1
    )
    series = api_client.get(f"/api/calibrations/{run_id}/intervals/").json()
    assert len(series["lo"]) == 1199 - 400
    csv = api_client.get(f"/api/calibrations/{run_id}/intervals/?as=csv")
    assert csv["Content-Type"] == "text/csv" and csv.content.startswith(b"timestamp,y_true,y_pred,lo,hi")

    assert api_client.post(f"/api/calibrations/{run_id}/attach/").status_code == 403
    page = logged_in_client.get(
        f"/conformal/runs/{run_id}/"
    ).content.decode()  # a non-staff user's page: no button, a hint
    assert 'id="attach-button"' not in page and 'id="attach-needs-staff"' in page
    staff = APIClient()
    _, token = AuthToken.objects.create(user=staff_user)  # (row, token): only the hash is stored
    staff.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert staff.post(f"/api/calibrations/{run_id}/attach/").json()["attached"] is True
    run = calibration_for_version(version)
    assert run.pk == run_id
    new = pd.DataFrame({"pred_return": [0.0, 0.001], "q25": [-0.0001, 0.0008], "q75": [0.0001, 0.0012]})
    with_bounds = apply_calibration(run, new)
    q = run.state["q"]
    assert np.allclose(with_bounds["hi"], [0.0002 * q, 0.001 + 0.0004 * q]) and np.allclose(
        with_bounds["lo"], [-0.0002 * q, 0.001 - 0.0004 * q]
    )


def test_api_refuses_bad_input_without_creating_a_run(api_client, forecasts_csv):
    bad = api_client.post(
        "/api/calibrations/",
        {
            "forecasts": SimpleUploadedFile("f.csv", forecasts_csv.read_bytes()),
            "method": "split",
            "alpha": 0.1,
            "cal_size": 99999,
        },
        format="multipart",
    )
    assert bad.status_code == 400 and "leaves no rows to evaluate" in bad.json()["detail"]
    unknown = api_client.post(
        "/api/calibrations/",
        {"forecasts": SimpleUploadedFile("f.csv", b"y_true,y_pred\n1,2\n"), "method": "split", "artifact": "nope:1"},
        format="multipart",
    )
    assert unknown.status_code == 400 and "registered model 'nope' has no version '1'" in unknown.json()["detail"]
    tiny = api_client.post(  # a third of 2 rows is none: said now, not as the job's "cal_size ... not 0"
        "/api/calibrations/",
        {"forecasts": SimpleUploadedFile("f.csv", b"y_true,y_pred\n1,2\n3,4\n"), "method": "split"},
        format="multipart",
    )
    assert tiny.status_code == 400 and tiny.json()["detail"].startswith("2 row(s) are too few to calibrate: at least 3")
    both = api_client.post(
        "/api/calibrations/",
        {"forecasts": SimpleUploadedFile("f.csv", forecasts_csv.read_bytes()), "forecast_set": 1, "method": "split"},
        format="multipart",
    )
    assert (
        both.status_code == 400
        and "a stored forecast set or an uploaded forecasts CSV, not both" in both.json()["detail"]
    )
    assert CalibrationRun.objects.count() == 0


def test_a_failed_recalibration_keeps_the_earlier_results(forecasts_csv, user, django_capture_on_commit_callbacks):
    from conformal.request import CalibrationRequest
    from conformal.services import calibration_run_start

    with django_capture_on_commit_callbacks(execute=False):
        run = calibration_run_start(
            user=user,
            request=CalibrationRequest(method="split", alpha=0.1, cal_size=300),
            upload=SimpleUploadedFile("f.csv", forecasts_csv.read_bytes()),
        )
    calibration_run_execute(run.pk)
    run.refresh_from_db()
    saved = (run.metrics, run.intervals.name)
    # The stored input disappears; running again (a redelivery after a requeue) fails and keeps the results.
    run.forecasts.storage.delete(run.forecasts.name)
    CalibrationRun.objects.filter(pk=run.pk).update(status="queued")
    assert calibration_run_execute(run.pk) == "failed"
    run.refresh_from_db()
    assert (run.metrics, run.intervals.name) == saved and len(calibration_intervals(run)) == 1199 - 300


def test_pages(logged_in_client, forecasts_csv, django_capture_on_commit_callbacks):
    assert b"No calibrations yet" in logged_in_client.get("/conformal/").content
    ids = []
    for method in ("split", "aci"):
        with forecasts_csv.open("rb") as fh, django_capture_on_commit_callbacks(execute=False):
            response = logged_in_client.post(
                "/conformal/", {"forecasts": fh, "method": method, "alpha": "0.1", "cal_size": "300"}
            )
        run = CalibrationRun.objects.latest("pk")
        assert response.status_code == 302 and response["Location"] == f"/conformal/runs/{run.pk}/"
        calibration_run_execute(run.pk)
        ids.append(run.pk)
    page = logged_in_client.get(f"/conformal/runs/{ids[1]}/").content.decode()
    assert 'id="coverage-figure"' in page and 'id="band-0-figure"' in page and "Winkler score" in page
    both = logged_in_client.get("/conformal/compare/", {"run": ids})
    assert [r.pk for r in both.context["runs"]] == ids
    assert both.content.decode().count('<th class="num">#') == 2


def test_compare_page_ignores_odd_digits(logged_in_client):
    assert logged_in_client.get("/conformal/compare/", {"run": ["²", "1"]}).status_code == 200


def test_the_page_form_takes_the_score_of_an_online_method(
    logged_in_client, forecasts_csv, django_capture_on_commit_callbacks
):
    """The score the API and the command take (`absolute`, `normalized`, `cqr`) is on the page too."""
    with forecasts_csv.open("rb") as fh, django_capture_on_commit_callbacks(execute=False):
        response = logged_in_client.post(
            "/conformal/", {"forecasts": fh, "method": "aci", "alpha": "0.1", "score": "normalized"}
        )
    run = CalibrationRun.objects.latest("pk")
    assert response.status_code == 302 and request_of(run).params == {"score": "normalized"}
    with forecasts_csv.open("rb") as fh:
        refused = logged_in_client.post(
            "/conformal/", {"forecasts": fh, "method": "aci", "alpha": "0.1", "score": "squared"}
        )
    assert refused.status_code == 200 and "squared" in refused.content.decode()
