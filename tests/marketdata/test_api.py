import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from marketdata.models import Candle, CandleImport
from marketdata.request import ImportRequest
from marketdata.services import candles_import_file
from marketdata.tasks import candle_import_execute

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    ["/api/series/", "/api/candles/?symbol=EURUSD&timeframe=1h", "/api/candle-imports/", "/api/schema/", "/api/docs/"],
)
def test_every_endpoint_refuses_anonymous_callers(url):
    assert APIClient().get(url).status_code in (401, 403)


def test_token_is_issued_for_valid_credentials(user):
    response = APIClient().post("/api/token/", {"username": "analyst", "password": "analyst-pass-123"})
    assert response.status_code == 200 and len(response.json()["token"]) == 64
    assert APIClient().post("/api/token/", {"username": "analyst", "password": "nope"}).status_code == 400


def test_candles_by_range(api_client, fixture_path):
    candles_import_file(
        source=fixture_path("mt4_eurusd_h1.csv"),
        request=ImportRequest(symbol="EURUSD", timeframe="1h", tz="Europe/Helsinki"),
    )
    response = api_client.get(
        "/api/candles/",
        {"symbol": "EUR/USD", "timeframe": "H1", "start": "2014-06-02T00:00:00Z", "end": "2014-06-02T05:00:00Z"},
    )
    body = response.json()
    assert response.status_code == 200 and body["count"] == 6
    assert body["results"][0] == {
        "ts": "2014-06-02T00:00:00Z",
        **{
            k: v
            for k, v in Candle.objects.filter(ts="2014-06-02T00:00:00Z")
            .values("open", "high", "low", "close", "volume")
            .get()
            .items()
        },
    }
    day = api_client.get(
        "/api/candles/", {"symbol": "EURUSD", "timeframe": "1h", "start": "2014-06-02", "end": "2014-06-02"}
    )
    assert (
        day.json()["count"] == Candle.objects.filter(ts__date="2014-06-02").count() > 20
    )  # a date alone: the whole day
    bad = api_client.get(
        "/api/candles/", {"symbol": "EURUSD", "timeframe": "1h", "start": "2014-06-03", "end": "2014-06-02"}
    )
    assert bad.status_code == 400 and bad.json()["detail"] == "start 2014-06-03 00:00 is after end 2014-06-02 23:59"
    assert api_client.get("/api/candles/", {"symbol": "EURUSD"}).json() == {"timeframe": ["This field is required."]}
    assert (
        "timeframe 'yearly'"
        in api_client.get("/api/candles/", {"symbol": "EURUSD", "timeframe": "yearly"}).json()["detail"]
    )


def test_series_endpoint(api_client, fixture_path):
    candles_import_file(
        source=fixture_path("mt4_eurusd_h1.csv"),
        request=ImportRequest(symbol="EURUSD", timeframe="1h", tz="Europe/Helsinki"),
    )
    (series,) = api_client.get("/api/series/").json()
    assert series["rows"] == 400 and series["first"] == "2014-05-30T15:00:00Z" and series["long_gaps"] == 0


def test_import_through_the_api(api_client, fixture_path, django_capture_on_commit_callbacks):
    upload = SimpleUploadedFile("mt4.csv", fixture_path("mt4_eurusd_h1.csv").read_bytes())
    with django_capture_on_commit_callbacks(execute=False):
        response = api_client.post(
            "/api/candles/import/",
            {"file": upload, "symbol": "EURUSD", "timeframe": "1h", "tz": "Europe/Helsinki"},
            format="multipart",
        )
    assert response.status_code == 202 and response.json()["status"] == "queued"
    run_id = response.json()["id"]
    candle_import_execute(run_id)
    detail = api_client.get(f"/api/candle-imports/{run_id}/").json()
    assert detail["status"] == "succeeded"
    assert {k: detail["report"][k] for k in ("inserted", "duplicates", "rejected", "first", "last")} == {
        "inserted": 400,
        "duplicates": 0,
        "rejected": 0,
        "first": "2014-05-30T15:00:00+00:00",
        "last": "2014-06-24T06:00:00+00:00",
    }


def test_api_import_with_bad_options_is_a_400_naming_the_problem(api_client):
    upload = SimpleUploadedFile("x.csv", b"whatever")
    response = api_client.post(
        "/api/candles/import/",
        {"file": upload, "symbol": "EURUSD", "timeframe": "1h", "tz": "Atlantis/Deep"},
        format="multipart",
    )
    assert response.status_code == 400 and "unknown time zone 'Atlantis/Deep'" in response.json()["detail"]
    assert CandleImport.objects.count() == 0


def test_schema_lists_the_market_data_endpoints(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    for path in ("/api/candles/", "/api/candles/import/", "/api/series/", "/api/candle-imports/{id}/"):
        assert path in schema["paths"], path
