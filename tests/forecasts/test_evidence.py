"""Whether a forecast set is in-sample: its overlap with the model's train / validation / test
periods, its label on the pages, in its CSV and API rows, and the form that proposes the test period
and asks before an in-sample range.

The fixture's 399 H1 bars, split as a training run on them splits them (patch 32, horizon 12): the
training part reads bars 0..204, the validation part 206..301, the test part 303..398 (bars 205 and
302 are the gaps between); a set without a range forecasts from bar 31 (the first with context) to
398, and bars 387..398 have no realized return yet."""

import io
import re

import pandas as pd
import pytest

from forecasts import services
from forecasts.models import ForecastSet
from forecasts.request import ForecastRequest
from tests.forecasts.conftest import register_forecaster, stored_set

pytestmark = pytest.mark.django_db


@pytest.fixture
def version(eurusd):
    return register_forecaster(periods=True)


@pytest.fixture
def bars(eurusd):
    from marketdata.selectors import candles_frame

    return candles_frame(symbol="EURUSD", timeframe="1h")["ts"]


def _request(version, **changes) -> ForecastRequest:
    return ForecastRequest.from_dict(
        {"artifact": version.ref, "symbol": "EURUSD", "timeframe": "1h", "samples": 20, **changes}
    )


def test_a_set_inside_the_training_part_is_in_sample_and_one_in_the_test_part_is_not(version, user, bars):
    inside = services.forecast_set_start(
        user=user, request=_request(version, start="2014-06-04", end="2014-06-10T23:59Z"), enqueue=False
    )
    in_range = int(((bars >= "2014-06-04") & (bars <= "2014-06-10 23:59")).sum())
    assert inside.overlap == {"before": 0, "train": in_range, "val": 0, "test": 0, "between": 0, "after": 0}
    assert (inside.in_sample, inside.sample_label) == (True, "in-sample (training)")

    whole = services.forecast_set_start(user=user, request=_request(version), enqueue=False)
    # bars 31..204 training, 205 a gap, 206..301 validation, 302 a gap, 303..398 test
    assert whole.overlap == {
        "before": 0,
        "train": 204 - 31 + 1,
        "val": 301 - 206 + 1,
        "test": 398 - 303 + 1,
        "between": 2,
        "after": 0,
    }
    assert whole.in_sample is True and whole.windows_total == sum(whole.overlap.values())

    late = services.forecast_set_start(user=user, request=_request(version, start="2014-06-19"), enqueue=False)
    assert late.overlap == {
        "before": 0,
        "train": 0,
        "val": 0,
        "test": int((bars >= "2014-06-19").sum()),
        "between": 0,
        "after": 0,
    }
    assert (late.in_sample, late.sample_label) == (False, "out-of-sample (test period)")

    older = register_forecaster()  # a version from before periods were kept
    unknown = services.forecast_set_start(user=user, request=_request(older), enqueue=False)
    assert (unknown.overlap, unknown.in_sample, unknown.sample_label) == (None, None, "periods unknown")


def test_the_child_records_the_overlap_of_the_rows_it_stored(version, user, bars):
    fs = services.forecast_set_start(user=user, request=_request(version, start="2014-06-18", steps=2), enqueue=False)
    ForecastSet.objects.filter(pk=fs.pk).update(status="running", overlap=None)  # as if not known before the run
    assert services.forecast_child_main(fs.pk) == 0
    fs.refresh_from_db()
    # 2014-06-18 00:00 to 04:00 are validation bars, 05:00 the gap, from 06:00 the test part
    day = bars[bars >= "2014-06-18"]
    assert fs.overlap == {
        "before": 0,
        "train": 0,
        "val": int((day <= "2014-06-18 04:00").sum()),
        "test": int((day >= "2014-06-18 06:00").sum()),
        "between": 1,
        "after": 0,
    }
    assert fs.rows == len(day) and fs.sample_label == "in-sample (validation)"


def test_the_pages_label_an_in_sample_set_and_its_scores(version, user, logged_in_client):
    whole = stored_set(user, version)
    late = stored_set(user, version, start="2014-06-19")
    page = logged_in_client.get(f"/forecasts/{whole.pk}/").content.decode()
    assert 'id="in-sample-warning"' in page and re.search(
        r'<h1>Forecast set #\d+ <small>EURUSD 1h</small> <span class="status failed sample-badge"[^>]*>in-sample \(training\)</span>',
        page,
    )
    assert (
        "of its 368 forecasts, 174 were made inside eurusd-1h-h12:1's training part and 96 inside its validation part"
        in page
    )
    # 356 forecasts have their outcome: all 174 training ones and all 96 validation ones among them
    assert (
        "scores measured on 174 windows inside the training part and 96 windows inside the validation part, of 356"
        in page
    )
    assert (
        'data-place="between"' in page
        and "Out-of-sample forecasts start at its test period, 2014-06-18 06:00 UTC" in page
    )
    other = logged_in_client.get(f"/forecasts/{late.pk}/").content.decode()
    assert 'id="in-sample-warning"' not in other and 'id="scores-in-sample"' not in other
    assert "out-of-sample (test period)" in other and 'id="scores-out-of-sample"' in other
    unknown = stored_set(user, register_forecaster())
    assert 'id="periods-unknown"' in logged_in_client.get(f"/forecasts/{unknown.pk}/").content.decode()
    # the model's page lists its sets with their label; the forms that take a set name it in each option
    version_page = logged_in_client.get(f"/registry/versions/{version.pk}/").content.decode()
    assert (
        version_page.count("in-sample (training)</span>") == 1 and "out-of-sample (test period)</span>" in version_page
    )
    options = logged_in_client.get("/conformal/").content.decode()
    assert "(368 bars) - ⚠ in-sample (training)" in options and 'data-in-sample="true"' in options
    assert f"#{late.pk} eurusd-1h-h12:1" in options and "bars) - out-of-sample (test period)" in options


def test_csv_and_api_rows_carry_each_forecasts_part_and_in_sample(version, user, api_client):
    whole = stored_set(user, version)
    csv = pd.read_csv(io.BytesIO(api_client.get(f"/api/forecasts/{whole.pk}/rows/", {"as": "csv"}).content))
    assert len(csv) == 368 and csv["in_sample"].sum() == 174 + 96
    assert csv.groupby("part").size().to_dict() == {"between": 2, "test": 96, "train": 174, "val": 96}
    assert csv.loc[csv["part"] == "test", "timestamp"].iloc[0] == "2014-06-18 06:00:00+00:00"
    page = api_client.get(f"/api/forecasts/{whole.pk}/rows/", {"limit": 3, "offset": 173}).json()["results"]
    assert [(r["timestamp"], r["part"], r["in_sample"]) for r in page] == [
        ("2014-06-12T03:00:00Z", "train", True),
        ("2014-06-12T04:00:00Z", "between", False),
        ("2014-06-12T05:00:00Z", "val", True),
    ]
    body = api_client.get(f"/api/forecasts/{whole.pk}/").json()
    assert body["in_sample"] is True and body["sample_label"] == "in-sample (training)"
    assert body["overlap"] == {"before": 0, "train": 174, "val": 96, "test": 96, "between": 2, "after": 0}
    assert body["periods"]["test"]["first_bar"] == "2014-06-18T06:00:00Z"
    scores = api_client.get(f"/api/forecasts/{whole.pk}/scores/").json()
    assert scores["in_sample"] is True and scores["overlap"]["train"] == 174 and scores["overlap"]["test"] == 96 - 12
    unknown = stored_set(user, register_forecaster())
    rows = api_client.get(f"/api/forecasts/{unknown.pk}/rows/", {"limit": 1}).json()["results"]
    assert rows[0]["in_sample"] is None and rows[0]["part"] is None
    body = api_client.get(f"/api/forecasts/{unknown.pk}/").json()
    assert (body["in_sample"], body["overlap"], body["periods"], body["sample_label"]) == (
        None,
        None,
        None,
        "periods unknown",
    )


def test_the_form_proposes_the_test_period_and_asks_before_an_in_sample_range(
    version, logged_in_client, api_client, django_capture_on_commit_callbacks
):
    page = logged_in_client.get("/forecasts/new/", {"artifact": version.ref}).content.decode()
    assert 'name="start" value="2014-06-19"' in page and "Proposed start: 2014-06-19, the first whole day of" in page
    assert 'name="symbol" value="EURUSD"' in page
    asked = {
        "artifact": version.ref,
        "symbol": "EURUSD",
        "timeframe": "1h",
        "start": "2014-06-04",
        "end": "2014-06-10",
        "samples": 20,
        "seed": 0,
    }
    with django_capture_on_commit_callbacks(execute=False):
        warned = logged_in_client.post("/forecasts/new/", asked)
        assert warned.status_code == 200 and not ForecastSet.objects.exists()
        html = warned.content.decode()
        assert 'id="in-sample-warning"' in html and 'name="in_sample_ok"' in html and 'value="2014-06-04"' in html
        assert (
            "In-sample: of these 120 forecasts, 120 inside its training part (2014-05-30 15:00 to 2014-06-12 03:00 UTC)"
            in html
        )
        made = logged_in_client.post("/forecasts/new/", {**asked, "in_sample_ok": "on"})
        fs = ForecastSet.objects.get()
        assert made.status_code == 302 and fs.in_sample is True
        clean = logged_in_client.post("/forecasts/new/", {**asked, "start": "2014-06-19", "end": ""})
        assert clean.status_code == 302 and ForecastSet.objects.latest("pk").in_sample is False
        # the API makes what it is asked for, and says what it is
        response = api_client.post(
            "/api/forecasts/",
            {
                "artifact": version.ref,
                "symbol": "EURUSD",
                "timeframe": "1h",
                "start": "2014-06-04T00:00Z",
                "end": "2014-06-10T23:00Z",
            },
            format="json",
        )
    assert response.status_code == 202 and response.json()["in_sample"] is True
    assert response.json()["sample_label"] == "in-sample (training)" and response.json()["overlap"]["train"] == 120


def test_rows_with_infinite_bounds_render_by_the_one_json_rule():
    import numpy as np
    import pandas as pd
    from rest_framework.renderers import JSONRenderer

    from forecasts.api import _records

    frame = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(["2024-01-02T00:00:00Z", "2024-01-02T01:00:00Z"]),
            "pred_return": [0.001, np.nan],
            "lo": [-np.inf, -0.01],
            "hi": [np.inf, 0.01],
        }
    )
    records = _records(frame)
    assert records[0]["lo"] == "-inf" and records[0]["hi"] == "inf" and records[1]["pred_return"] is None
    assert b'"-inf"' in JSONRenderer().render(records)  # DRF's strict renderer refused a bare infinity
