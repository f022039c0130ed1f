"""No request reads without bound or turns an out-of-range number into a 500 (the audit's probes)."""

import pytest

from backtesting_app.models import BacktestRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def bars(fixture_path):
    from marketdata.request import ImportRequest
    from marketdata.services import candles_import_file

    candles_import_file(source=fixture_path("eurusd_h1.csv"), request=ImportRequest(symbol="EURUSD", timeframe="1h"))


def test_a_huge_limit_gets_the_largest_page_not_the_whole_table(api_client, bars, settings):
    from forexgpt_site.pagination import Pagination

    Pagination.max_limit = 50  # the class reads the setting once, at import
    try:
        body = api_client.get("/api/candles/", {"symbol": "EURUSD", "timeframe": "1h", "limit": 2_000_000}).json()
        assert len(body["results"]) == 50 and body["count"] > 50
        assert (
            api_client.get("/api/candles/", {"symbol": "EURUSD", "timeframe": "1h", "limit": 10**30}).status_code == 200
        )
        beyond = api_client.get("/api/candles/", {"symbol": "EURUSD", "timeframe": "1h", "offset": 10**30})
        assert beyond.status_code == 200 and beyond.json()["results"] == []
    finally:
        Pagination.max_limit = settings.FOREXGPT_API_MAX_PAGE


@pytest.mark.parametrize(
    "url",
    [
        "/api/backtests/99999999999999999999999/",
        "/api/forecasts/99999999999999999999/rows/",
        "/api/optimizations/123456789012345678901/front/",
        "/api/backtests/1.json",
        "/api/backtests.json",
        "/api/optimizations/1/resume.json/",
    ],
)
def test_ids_beyond_64_bits_and_format_suffixes_are_404s(api_client, url):
    assert api_client.get(url).status_code == 404
    assert api_client.post(url, {}, format="json").status_code in (404, 405)


@pytest.mark.parametrize(
    "url",
    [
        "/backtests/runs/99999999999999999999999/",
        "/registry/versions/10000000000000000000/",
        "/forecasts/99999999999999999999/",
    ],
)
def test_pages_with_ids_beyond_64_bits_are_404s(logged_in_client, url):
    assert logged_in_client.get(url).status_code == 404


def test_a_pattern_scan_refuses_too_many_bars_before_reading_them(api_client, bars, settings):
    settings.FOREXGPT_PATTERN_SCAN_MAX_BARS = 100
    response = api_client.get("/api/patterns/", {"symbol": "EURUSD", "timeframe": "1h"})
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "a pattern scan reads at most 100 (FOREXGPT_PATTERN_SCAN_MAX_BARS)" in detail and "bars" in detail
    assert BacktestRun.objects.count() == 0


def test_a_pattern_scan_lists_the_newest_events_and_counts_them_all(api_client, bars):
    body = api_client.get("/api/patterns/", {"symbol": "EURUSD", "timeframe": "1h", "max_events": 5}).json()
    assert body["events_total"] > 5 and body["events_returned"] == len(body["events"]) == 5
    assert sum(row["count"] for row in body["summary"]) == body["events_total"]
    assert body["events"] == sorted(body["events"], key=lambda e: e["ts"])
    assert (
        api_client.get("/api/patterns/", {"symbol": "EURUSD", "timeframe": "1h", "max_events": 10**6}).status_code
        == 400
    )
