"""One coverage figure: the forecast set page names the attached calibration and scores calibrated
coverage only on the points after its calibration range, with the same bounds and the same function
as the calibration's own page - the same points give the same number on both. And a calibration of
in-sample forecasts says so."""

import re

import numpy as np
import pandas as pd
import pytest

from conformal.engine import calibrate_series, forecast_columns, with_bounds
from conformal.models import CalibrationRun
from conformal.request import CalibrationRequest
from conformal.selectors import calibration_coverage
from conformal.services import calibration_attach, calibration_run_start
from conformal.tasks import calibration_run_execute
from forecasts import selectors as forecast_selectors
from tests.forecasts.conftest import eurusd, register_forecaster, stored_set  # noqa: F401  (eurusd: the fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def version(eurusd):
    return register_forecaster(periods=True)


def _calibrated(user, staff_user, fs, **request) -> CalibrationRun:
    run = calibration_run_start(user=user, request=CalibrationRequest(forecast_set=fs.pk, **request))
    assert calibration_run_execute(run.pk) == "succeeded"
    return calibration_attach(run=CalibrationRun.objects.get(pk=run.pk), user=staff_user)


def _figure(html: str, element_id: str) -> float:
    paragraph = re.search(rf'<p id="{element_id}">(.*?)</p>', html, re.S).group(1)
    return float(re.search(r"<strong>([0-9.]+)</strong>", paragraph).group(1))


def test_the_set_page_and_the_calibration_page_give_one_figure_for_the_same_points(
    version, user, staff_user, logged_in_client, api_client
):
    fs = stored_set(user, version)
    run = _calibrated(user, staff_user, fs, method="aci", alpha=0.1, cal_size=120)
    # Independently: the engine on the set's 356 rows with an outcome, the first 120 to fit on.
    frame = forecast_selectors.forecast_frame(fs, calibrated=False)
    known = frame[np.isfinite(frame["y_true"])]
    expected = calibrate_series(forecast_columns(known, 0.1), method="aci", alpha=0.1, cal_size=120)
    own = calibration_coverage(run)
    scores = forecast_selectors.forecast_scores(fs, forecast_selectors.forecast_frame(fs))
    on_set = scores["calibration"]
    assert (
        own["coverage"]
        == on_set["coverage"]
        == scores["calibrated_coverage"]
        == expected.metrics["coverage"]
        == run.metrics["coverage"]
    )
    assert own["points"] == on_set["points"] == on_set["sequential"] == 356 - 120 and on_set["unseen"] == 0
    assert on_set["first"] == f"{known['timestamp'].iloc[120]:%Y-%m-%dT%H:%M:%SZ}" == run.ranges["evaluation"]["first"]
    assert on_set["not_scored"] == {"fitted": 120, "seen": 0, "unknown": 0} and on_set["pending"] == 12
    # Scoring the final state on every row (what the page did before) gives another number.
    final = with_bounds(run.state, run.alpha, known)
    assert np.mean((known["y_true"] >= final["lo"]) & (known["y_true"] <= final["hi"])) != pytest.approx(
        own["coverage"], abs=1e-9
    )

    set_page = logged_in_client.get(f"/forecasts/{fs.pk}/").content.decode()
    cal_page = logged_in_client.get(f"/conformal/runs/{run.pk}/").content.decode()
    assert (
        _figure(set_page, "calibrated-coverage")
        == _figure(cal_page, "calibration-coverage")
        == round(expected.metrics["coverage"], 3)
    )
    named = re.sub(r"\s+", " ", re.search(r'<p id="calibration-named">(.*?)</p>', set_page, re.S).group(1))
    cal_range = run.ranges["calibration"]
    assert f"#{run.pk} aci (alpha 0.1)</a>, aci, alpha 0.1 (target coverage" in named and ">0.90</span>" in named
    assert (
        f"calibrated on {cal_range['first'][:10]} {cal_range['first'][11:16]} to {cal_range['last'][:10]} {cal_range['last'][11:16]} UTC (120 points)"
        in named
    )
    assert (
        "the 236 points after its calibration range" in set_page
        and "236 with the calibration's own sequential intervals" in set_page
    )
    assert "120 points inside its calibration range (it was fitted on them)" in set_page
    body = api_client.get(f"/api/forecasts/{fs.pk}/scores/").json()["calibration"]
    assert (body["id"], body["method"], body["alpha"], body["coverage"], body["points"]) == (
        run.pk,
        "aci",
        0.1,
        own["coverage"],
        236,
    )
    # its CSV's lo / hi are the ones scored: the points it scores give the same number from the file
    rows = forecast_selectors.forecast_frame(fs)
    scored = rows[rows["interval_kind"].isin(["sequential", "unseen"]) & np.isfinite(rows["y_true"])]
    assert np.mean((scored["y_true"] >= scored["lo"]) & (scored["y_true"] <= scored["hi"])) == own["coverage"]


def test_another_set_is_scored_only_after_every_point_an_online_calibration_saw(
    version, user, staff_user, logged_in_client
):
    early = stored_set(user, version, end="2014-06-16T23:59Z")
    run = _calibrated(user, staff_user, early, method="aci", alpha=0.1, cal_size=80)
    whole = stored_set(user, version)
    rows = forecast_selectors.forecast_frame(whole)
    seen_through = pd.Timestamp(run.ranges["evaluation"]["last"])
    known = rows[np.isfinite(rows["y_true"])]
    after = known[known["timestamp"] > seen_through]
    # Independently: the calibration's final state on this set's points after everything it saw.
    final = with_bounds(run.state, run.alpha, after)
    expected = float(np.mean((after["y_true"] >= final["lo"]) & (after["y_true"] <= final["hi"])))
    scores = forecast_selectors.forecast_scores(whole, rows)["calibration"]
    assert (scores["coverage"], scores["points"], scores["unseen"], scores["sequential"]) == (
        expected,
        len(after),
        len(after),
        0,
    )
    fitted = int((known["timestamp"] <= pd.Timestamp(run.ranges["calibration"]["last"])).sum())
    assert scores["not_scored"] == {"fitted": fitted, "seen": len(known) - len(after) - fitted, "unknown": 0}
    page = logged_in_client.get(f"/forecasts/{whole.pk}/").content.decode()
    assert _figure(page, "calibrated-coverage") == round(expected, 3)
    assert f"{len(after)} after every point it saw, with its final state" in page
    assert f'of <a href="/forecasts/{early.pk}/">forecast set #{early.pk}</a>' in page


def test_a_calibration_of_in_sample_forecasts_says_so_on_its_page_and_in_the_api(
    version, user, staff_user, logged_in_client, api_client
):
    inside = _calibrated(
        user, staff_user, stored_set(user, version, end="2014-06-11T23:59Z"), method="split", cal_size=50
    )
    page = logged_in_client.get(f"/conformal/runs/{inside.pk}/").content.decode()
    assert 'id="calibration-in-sample"' in page and "<strong>In-sample forecasts.</strong>" in page
    assert "This calibration was fitted and evaluated on forecasts of bars the model was fitted to" in page
    assert "training 50</small>" in page  # its 50 calibration points, all in the training part
    body = api_client.get(f"/api/calibrations/{inside.pk}/").json()
    assert body["in_sample"] is True and body["sample_label"] == "in-sample (training)" and body["overlap"]["train"] > 0
    assert body["ranges"]["calibration"]["points"] == 50 and body["ranges"]["evaluation"]["overlap"]["train"] > 0
    later = _calibrated(user, staff_user, stored_set(user, version, start="2014-06-19"), method="split", cal_size=20)
    assert 'id="calibration-in-sample"' not in logged_in_client.get(f"/conformal/runs/{later.pk}/").content.decode()
    assert api_client.get(f"/api/calibrations/{later.pk}/").json()["in_sample"] is False
    # the attached in-sample calibration is flagged on the set pages it gives intervals to
    calibration_attach(run=inside, user=staff_user)
    assert (
        'id="calibration-in-sample"' in logged_in_client.get(f"/forecasts/{inside.forecast_set_id}/").content.decode()
    )


def test_the_migration_gives_runs_finished_before_it_their_ranges(version, user, staff_user):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("conformal.migrations.0003_calibration_ranges_and_overlap")
    run = _calibrated(user, staff_user, stored_set(user, version, end="2014-06-11T23:59Z"), method="split", cal_size=50)
    expected = {name: {k: v for k, v in part.items() if k != "overlap"} for name, part in run.ranges.items()}
    assert expected["calibration"]["points"] == 50 and expected["evaluation"]["points"] > 0
    CalibrationRun.objects.filter(pk=run.pk).update(ranges=None)  # as a run finished before ranges were kept
    migration.ranges_of_finished_runs(apps, None)
    run.refresh_from_db()
    assert run.ranges == expected
