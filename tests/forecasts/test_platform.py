"""Forecast sets as jobs: refused requests, 202 before any forecast, a real child process, realized
returns from the candles, resume after a killed child equal to an uninterrupted run, consumers."""

import os
import subprocess
import threading

import numpy as np
import pandas as pd
import pytest
from django.core.management import call_command

from forecasts import selectors, services
from forecasts.models import ForecastRow, ForecastSet
from forecasts.request import ForecastRequest
from forecasts.tasks import forecast_set_execute
from forexgpt_site.jobs import job_requeue
from tests.conftest import wait_for

PARAMS = {
    "entry_threshold": 0.0,
    "confidence_threshold": 0.5,
    "stop_loss_pct": 0.005,
    "take_profit_pct": 0.01,
    "max_hold_bars": 24,
}


def _request(**changes) -> ForecastRequest:
    return ForecastRequest.from_dict(
        {"artifact": "eurusd-1h-h12", "symbol": "EURUSD", "timeframe": "1h", "samples": 20, "steps": 5, **changes}
    )


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"symbol": "GBPUSD"}, "records no training and validation periods .* it can forecast only EURUSD"),
        ({"timeframe": "1d"}, "was trained on EURUSD 1h; it cannot forecast EURUSD 1d"),
        (
            {"start": "2014-05-30T20:00Z"},
            "a forecast needs 32 bars of context: only 5 EURUSD 1h bars are stored before 2014-05-30 20:00; "
            "start at 2014-06-02 .* or later",
        ),
        (
            {"start": "2014-05-30T20:00Z", "end": "2014-05-31"},  # the 32nd bar lies after the range: said so
            "start at 2014-06-02 .* or later \\(after this range's end, 2014-05-31 23:59: move the end too\\)",
        ),
        ({"end": "2014-05-30T20:00Z"}, "no EURUSD 1h bar to forecast in that range"),
        ({"artifact": "nothing-here"}, "there is no registered model 'nothing-here'"),
    ],
)
def test_a_range_the_model_cannot_forecast_is_refused_and_nothing_is_queued(forecaster, user, changes, message):
    with pytest.raises(ValueError, match=message):
        services.forecast_set_start(user=user, request=_request(**changes), enqueue=False)
    assert not ForecastSet.objects.exists()


def test_the_api_answers_202_before_any_forecast_exists(forecaster, api_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = api_client.post(
            "/api/forecasts/",
            {"artifact": forecaster.ref, "symbol": "EUR/USD", "timeframe": "1h", "samples": 20},
            format="json",
        )
    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["status"], body["rows"], body["windows_total"], body["artifact"]) == (
        "queued",
        0,
        399 - 31,
        forecaster.ref,
    )
    assert not ForecastRow.objects.exists() and len(queued) == 1  # handed to the queue on commit, computed there
    bad = api_client.post(
        "/api/forecasts/",
        {"artifact": forecaster.ref, "symbol": "EURUSD", "timeframe": "1h", "samples": 1},
        format="json",
    )
    assert bad.status_code == 400 and bad.json() == {"detail": "samples must be a whole number from 2 to 1,000, not 1"}


@pytest.mark.slow
def test_a_run_makes_every_forecast_in_a_child_and_carries_realized_returns(
    child_env, forecaster, user, api_client, tmp_path
):
    fs = services.forecast_set_start(user=user, request=_request(seed=3), enqueue=False)
    assert forecast_set_execute(fs.pk) == "succeeded", ForecastSet.objects.get(pk=fs.pk).error
    fs.refresh_from_db()
    assert fs.rows == fs.windows_total == 368 and fs.attempts == 1 and fs.progress == 1.0
    frame = selectors.forecast_frame(fs)
    assert len(frame) == 368 and frame["timestamp"].is_monotonic_increasing
    assert (
        (frame["q05"] <= frame["q50"]).all()
        and (frame["q50"] <= frame["q95"]).all()
        and frame["confidence"].between(0.5, 1).all()
    )
    # y_true = log(close[t+12] / close[t]) from the candles; the last 12 bars have no realized value yet
    from marketdata.selectors import candles_frame

    close = candles_frame(symbol="EURUSD", timeframe="1h")["close"].to_numpy()
    expected = np.log(close[31 + 12 :] / close[31:-12])
    assert np.allclose(frame["y_true"].to_numpy()[:-12], expected) and frame["y_true"].iloc[-12:].isna().all()
    scores = selectors.forecast_scores(fs, frame)
    assert scores["rows"] == 356 and scores["pending"] == 12
    assert set(scores["forecasters"]) == {"model", "ewma_gaussian", "random_walk"}
    page = api_client.get(f"/api/forecasts/{fs.pk}/rows/", {"limit": 100, "offset": 300}).json()
    assert page["count"] == 368 and len(page["results"]) == 68 and page["results"][-1]["y_true"] is None
    assert page["results"][0]["pred_return"] == pytest.approx(frame["pred_return"].iloc[300])
    csv = api_client.get(f"/api/forecasts/{fs.pk}/rows/", {"as": "csv"})
    assert csv.status_code == 200 and len(csv.content.decode().strip().splitlines()) == 369
    # The command runs the same service in the foreground, and the same seed gives the same rows.
    out = tmp_path / "f.csv"
    call_command(
        "forecast",
        "--artifact",
        forecaster.ref,
        "--symbol",
        "EUR/USD",
        "--timeframe",
        "1h",
        "--samples",
        "20",
        "--steps",
        "5",
        "--seed",
        "3",
        "--out",
        str(out),
    )
    again = pd.read_csv(out)
    assert np.allclose(again["pred_return"], frame["pred_return"]) and ForecastSet.objects.count() == 2


@pytest.mark.slow
def test_a_versions_fitted_drift_shrinks_each_median_and_keeps_the_spread(child_env, forecaster, tmp_path):
    from tests.forecasts.conftest import register_forecaster

    drifted = register_forecaster(drift=0.25)  # the same weights, a drift fitted at 0.25
    frames = []
    for version in (forecaster, drifted):
        out = tmp_path / f"{version.pk}.csv"
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
            "--steps",
            "5",
            "--seed",
            "3",
            "--out",
            str(out),
        )
        frames.append(pd.read_csv(out))
    whole, shrunk = frames
    assert np.abs(whole["pred_return"]).max() > 0
    assert np.allclose(shrunk["pred_return"], 0.25 * whole["pred_return"])
    assert np.allclose(shrunk["q95"] - shrunk["q05"], whole["q95"] - whole["q05"])


def _pids(pattern: str) -> list[int]:
    """This test process's children matching `pattern` (a parallel test worker's child of the same run id is not ours)."""
    out = subprocess.run(["pgrep", "-P", str(os.getpid()), "-f", pattern], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


@pytest.mark.slow
def test_a_killed_run_resumes_and_ends_equal_to_an_uninterrupted_one(child_env, forecaster, user, monkeypatch):
    monkeypatch.setenv(
        "FOREXGPT_FORECAST_CHUNK", "16"
    )  # 23 chunks of ~0.1 s: killed after the first, long before the last
    slow = _request(samples=50, steps=30, seed=7)
    fs = services.forecast_set_start(user=user, request=slow, enqueue=False)
    result = {}
    worker = threading.Thread(target=lambda: result.setdefault("status", forecast_set_execute(fs.pk)))
    worker.start()
    assert wait_for(lambda: ForecastRow.objects.filter(forecast_set=fs).count() >= 16, timeout=120, interval=0.05)
    for pid in _pids(f"forecast_worker {fs.pk}$"):
        subprocess.run(["kill", "-9", str(pid)])
    worker.join(timeout=60)
    fs.refresh_from_db()
    stored = ForecastRow.objects.filter(forecast_set=fs).count()
    assert (
        result["status"] == "failed" and "was killed (SIGKILL)" in fs.error and 16 <= stored < 368 and stored % 16 == 0
    )
    job_requeue(run=fs, user=user, message=ForecastSet.resume_message)  # what POST .../resume/ does
    assert forecast_set_execute(fs.pk) == "succeeded"
    fs.refresh_from_db()
    assert fs.rows == 368 and fs.attempts == 2
    whole = services.forecast_set_start(user=user, request=slow, enqueue=False)
    assert forecast_set_execute(whole.pk) == "succeeded"
    resumed = selectors.forecast_frame(fs, truth=False).drop(columns="timestamp")
    uninterrupted = selectors.forecast_frame(whole, truth=False).drop(columns="timestamp")
    pd.testing.assert_frame_equal(resumed, uninterrupted)  # row for row


@pytest.mark.slow
def test_cancel_stops_the_child(child_env, forecaster, user):
    from forexgpt_site.jobs import job_cancel

    fs = services.forecast_set_start(user=user, request=_request(samples=50, steps=60), enqueue=False)
    result = {}
    worker = threading.Thread(target=lambda: result.setdefault("status", forecast_set_execute(fs.pk)))
    worker.start()
    assert wait_for(lambda: ForecastSet.objects.get(pk=fs.pk).status == "running", timeout=30)
    job_cancel(run=ForecastSet.objects.get(pk=fs.pk), user=user)
    worker.join(timeout=90)
    assert result["status"] == "cancelled" and not _pids(f"forecast_worker {fs.pk}$")
    assert ForecastSet.objects.get(pk=fs.pk).rows < 368


def _finished_set(forecaster, user, **changes) -> ForecastSet:
    """A finished set made in this process (the child's code, without the process) for consumer tests."""
    fs = services.forecast_set_start(user=user, request=_request(**changes), enqueue=False)
    ForecastSet.objects.filter(pk=fs.pk).update(status="running")
    assert services.forecast_child_main(fs.pk) == 0
    ForecastSet.objects.filter(pk=fs.pk).update(status="succeeded", progress=1.0)
    fs.refresh_from_db()
    return fs


def test_the_set_pages_backtest_and_optimize_links_preselect_the_set_its_series_and_its_range(
    forecaster, user, logged_in_client
):
    """The forms list only the sets covering their range: the links fill in the set's own range, so
    the set stays listed (a blank start would have been the first bar, a range the set does not cover)."""
    fs = _finished_set(forecaster, user)
    for path in ("/backtests/", "/optimizations/"):
        html = logged_in_client.get(path, {"forecast_set": fs.pk}).content.decode()
        assert (
            f'name="start" value="{fs.first:%Y-%m-%dT%H:%M}"' in html
            and f'name="end" value="{fs.last:%Y-%m-%dT%H:%M}"' in html
        )
        assert f'<option value="{fs.pk}" selected' in html


def test_every_consumer_takes_a_stored_set_and_records_it(
    forecaster, user, api_client, django_capture_on_commit_callbacks
):
    from backtesting_app.models import BacktestRun, OptimizationRun
    from conformal.models import CalibrationRun

    fs = _finished_set(forecaster, user)
    with django_capture_on_commit_callbacks(execute=False):
        cal = api_client.post(
            "/api/calibrations/", {"forecast_set": fs.pk, "method": "split", "alpha": 0.1}, format="json"
        )
        bt = api_client.post(
            "/api/backtests/",
            {
                "symbol": "EURUSD",
                "timeframe": "1h",
                "strategy": "forecast",
                "start": "2014-06-05T00:00Z",
                "params": PARAMS,
                "forecasts_source": "forecast_set",
                "forecast_set": fs.pk,
            },
            format="json",
        )
        opt = api_client.post(
            "/api/optimizations/",
            {
                "symbol": "EURUSD",
                "timeframe": "1h",
                "start": "2014-06-05T00:00Z",
                "artifact": forecaster.ref,
                "budget": 20,
            },
            format="json",
        )
    assert (cal.status_code, bt.status_code, opt.status_code) == (202, 202, 202), bt.content.decode()[:800]
    calibration = CalibrationRun.objects.get(pk=cal.json()["id"])
    backtest = BacktestRun.objects.get(pk=bt.json()["id"])
    optimization = OptimizationRun.objects.get(pk=opt.json()["id"])
    assert calibration.forecast_set == backtest.forecast_set == optimization.forecast_set == fs
    assert calibration.artifact_version == backtest.artifact_version == optimization.artifact_version == forecaster
    assert optimization.forecasts_source == "forecast_set"
    used = selectors.runs_using(fs)
    assert [r.pk for r in used["calibrations"]] == [calibration.pk] and [r.pk for r in used["backtests"]] == [
        backtest.pk
    ]
    # The calibration's input: the set's rows whose horizon has passed, with y_true from the candles.
    with calibration.forecasts.open("rb") as fh:
        cal_input = pd.read_csv(fh)
    assert len(cal_input) == 368 - 12 and cal_input["y_true"].notna().all()
    # A range the set does not cover is refused with the first missing bar named.
    early = api_client.post(
        "/api/backtests/",
        {
            "symbol": "EURUSD",
            "timeframe": "1h",
            "strategy": "forecast",
            "params": PARAMS,
            "forecasts_source": "forecast_set",
            "forecast_set": fs.pk,
        },
        format="json",
    )
    assert early.status_code == 400 and "2014-05-30" in early.json()["detail"]
    pending = services.forecast_set_start(user=user, request=_request(), enqueue=False)
    refused = api_client.post("/api/calibrations/", {"forecast_set": pending.pk, "method": "split"}, format="json")
    assert refused.status_code == 400 and f"forecast set {pending.pk} is queued" in refused.json()["detail"]


def test_a_deleted_version_leaves_its_runs_readable(forecaster, user, logged_in_client):
    fs = _finished_set(forecaster, user)
    forecaster.delete()
    fs.refresh_from_db()
    assert fs.artifact_version is None and fs.artifact_ref == "eurusd-1h-h12:1"
    page = logged_in_client.get(f"/forecasts/{fs.pk}/")
    assert page.status_code == 200 and "this version was deleted" in page.content.decode()
    with pytest.raises(ValueError, match="model version eurusd-1h-h12:1 was deleted"):
        services.forecast_child_main(fs.pk)


def test_pages_make_forecasts_and_show_them(forecaster, user, logged_in_client, django_capture_on_commit_callbacks):
    version_page = logged_in_client.get(f"/registry/versions/{forecaster.pk}/").content.decode()
    assert 'id="forecast-form"' in version_page and 'value="eurusd-1h-h12:1"' in version_page
    with django_capture_on_commit_callbacks(execute=False):
        bad = logged_in_client.post(
            "/forecasts/new/",
            {"artifact": forecaster.ref, "symbol": "GBPUSD", "timeframe": "1h", "samples": 20, "seed": 0},
        )
        assert "it can forecast only EURUSD" in bad.content.decode() and not ForecastSet.objects.exists()
        made = logged_in_client.post(
            "/forecasts/new/",
            {
                "artifact": forecaster.ref,
                "symbol": "EURUSD",
                "timeframe": "1h",
                "start": "2014-06-04",
                "end": "2014-06-10",
                "samples": 20,
                "seed": 0,
            },
        )
    fs = ForecastSet.objects.get()
    assert made.status_code == 302 and made["Location"] == f"/forecasts/{fs.pk}/"
    assert (fs.first.isoformat(), fs.last.isoformat()) == ("2014-06-04T00:00:00+00:00", "2014-06-10T23:00:00+00:00")
    done = _finished_set(forecaster, user)
    page = logged_in_client.get(f"/forecasts/{done.pk}/").content.decode()
    assert 'id="fan-figure"' in page and "EWMA Gaussian" in page and f"/api/forecasts/{done.pk}/rows/?as=csv" in page
    assert f"#{fs.pk}" in logged_in_client.get(f"/registry/versions/{forecaster.pk}/").content.decode()


def test_the_last_day_there_is_as_end_is_read_as_its_last_second(
    forecaster, logged_in_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        response = logged_in_client.post(
            "/forecasts/new/",
            {
                "artifact": forecaster.ref,
                "symbol": "EURUSD",
                "timeframe": "1h",
                "start": "2014-06-20",
                "end": "9999-12-31",
                "samples": 20,
                "seed": 0,
            },
        )
    assert response.status_code == 302  # the day after 9999-12-31 does not exist: it once raised OverflowError (a 500)
    fs = ForecastSet.objects.get()
    assert fs.end.isoformat() == "9999-12-31T23:59:59+00:00"


def _import_as(symbol: str, fixture_path, tmp_path, *, factor: float, rows: slice = slice(None)):
    """The fixture's bars stored as another pair: prices times `factor`, each return 1.5 times as large."""
    from marketdata.request import ImportRequest
    from marketdata.services import candles_import_file

    frame = pd.read_csv(fixture_path("eurusd_h1.csv")).iloc[rows]
    base = frame["close"].iloc[0]
    for column in ("open", "high", "low", "close"):
        frame[column] = factor * base * (frame[column] / base) ** 1.5
    path = tmp_path / f"{symbol}.csv"
    frame.to_csv(path, index=False)
    candles_import_file(source=str(path), request=ImportRequest(symbol=symbol, timeframe="1h"))


@pytest.mark.slow
def test_another_pair_is_forecast_in_the_models_units_fitted_on_its_own_bars(
    child_env, eurusd, user, fixture_path, tmp_path, logged_in_client
):
    from tests.forecasts.conftest import register_forecaster

    version = register_forecaster(periods=True)
    _import_as("GBPUSD", fixture_path, tmp_path, factor=1.2)
    _import_as("USDJPY", fixture_path, tmp_path, factor=80, rows=slice(250, None))  # nothing in the training period
    with pytest.raises(
        ValueError,
        match="fits USDJPY's statistics on its bars of the model's training period .* 0 USDJPY 1h windows are stored there: at least",
    ):
        services.forecast_set_start(user=user, request=_request(artifact=version.ref, symbol="USDJPY"), enqueue=False)
    with pytest.raises(services.InSampleRange, match="EURUSD's bars of those dates \\(and its GBPUSD statistics to"):
        services.forecast_set_start(
            user=user, request=_request(artifact=version.ref, symbol="GBPUSD"), enqueue=False, in_sample_ok=False
        )
    test_start = version.periods["test"]["first_origin"]
    fs = services.forecast_set_start(
        user=user, request=_request(artifact=version.ref, symbol="GBP/USD", start=test_start, seed=5), enqueue=False
    )
    assert fs.adaptation is None and fs.overlap["test"] == fs.windows_total  # out of sample: the model's test dates
    assert forecast_set_execute(fs.pk) == "succeeded", ForecastSet.objects.get(pk=fs.pk).error
    fs.refresh_from_db()
    adaptation = fs.adaptation
    assert adaptation["trained_on"] == "EURUSD" and fs.rows == fs.windows_total
    assert (adaptation["train_windows"], adaptation["val_windows"]) == (
        version.periods["train"]["windows"],
        version.periods["val"]["windows"],
    )  # the same hours stored: the model's own windows, by date
    assert adaptation["spread"] > 0 and adaptation["drift"] in (0.25, 0.5, 0.75, 1.0)
    lo, hi = adaptation["band_levels"]  # the levels its 90% band is read at, fitted on GBPUSD's windows
    assert adaptation["levels_scale"] == "predictive"  # of its forecast distribution, for any number of samples
    assert 0 <= lo < 0.5 < hi <= 1
    gbp = selectors.forecast_frame(fs)
    eur = services.forecast_set_start(
        user=user, request=_request(artifact=version.ref, start=test_start, seed=5), enqueue=False
    )
    assert forecast_set_execute(eur.pk) == "succeeded"
    eur_frame = selectors.forecast_frame(eur)
    width = (gbp["q95"] - gbp["q05"]).median() / (eur_frame["q95"] - eur_frame["q05"]).median()
    assert width == pytest.approx(1.5 * adaptation["spread"] / version_spread(version), rel=0.25)  # its own volatility
    page = logged_in_client.get(f"/forecasts/{fs.pk}/").content.decode()
    assert (
        'id="adaptation"' in page
        and "was trained on EURUSD" in page
        and "GBPUSD's own bars from 2014-05-30 15:00" in page
        and f"with its 90% band read at the {lo:.3f} and {hi:.3f} levels of its forecast distribution, on" in page
    )
    api = logged_in_client.get(f"/api/forecasts/{fs.pk}/").json()
    assert api["adaptation"]["spread"] == adaptation["spread"]


def version_spread(version) -> float:
    from registry.selectors import version_stats

    return float(version_stats(version)["spread"])
