"""The audit's hostile inputs: each is a 400 naming what is wrong, and nothing is stored or queued."""

import json

import pytest

from backtesting_app.models import BacktestRun, OptimizationRun

pytestmark = pytest.mark.django_db

PARAMS = {
    "entry_threshold": 0.0005,
    "confidence_threshold": 0.55,
    "take_profit_pct": 0.01,
    "stop_loss_pct": 0.005,
    "max_hold_bars": 24,
}
BASE = {"symbol": "EURUSD", "timeframe": "1h", "strategy": "forecast", "forecasts_source": "baseline"}
FIXED = {k: v for k, v in PARAMS.items() if k not in ("take_profit_pct", "max_hold_bars")}


@pytest.fixture
def bars(fixture_path):
    from marketdata.request import ImportRequest
    from marketdata.services import candles_import_file

    candles_import_file(source=fixture_path("eurusd_h1.csv"), request=ImportRequest(symbol="EURUSD", timeframe="1h"))


@pytest.mark.parametrize(
    "url, body, message",
    [
        ("/api/backtests/", {**BASE, "params": [1, 2]}, "params must be a JSON object, not a list"),
        (
            "/api/backtests/",
            {**BASE, "params": {**PARAMS, "max_hold_bars": 2**63}},
            "max_hold_bars must be a whole number from 1 to 1,000,000, not 9223372036854775808",
        ),
        (
            "/api/optimizations/",
            {
                **BASE,
                "fixed_params": {**FIXED, "max_hold_bars": 24},
                "budget": 20,
                "space": {"take_profit_pct": {"low": 0.001, "high": 0.02, "step": 5e-324}},
            },
            "take_profit_pct: step 5e-324 cuts the range [0.001, 0.02] into more than 1,000,000,000 steps",
        ),
        (
            "/api/optimizations/",
            {
                **BASE,
                "fixed_params": {**FIXED, "max_hold_bars": 24},
                "budget": 20,
                "space": {"take_profit_pct": {"low": int("9" * 401), "high": 0.02}},
            },
            "take_profit_pct: low, high and step must be numbers (floats)",
        ),
        (
            "/api/optimizations/",
            {
                **BASE,
                "fixed_params": {**FIXED, "take_profit_pct": 0.01},
                "budget": 20,
                "space": {"max_hold_bars": {"choices": [1, "x", 2]}},
            },
            "the space reaches invalid parameters: max_hold_bars must be a whole number from 1 to 1,000,000, not 'x'",
        ),
    ],
)
def test_hostile_json_is_refused_before_anything_is_stored(api_client, bars, url, body, message):
    response = api_client.post(url, json.dumps(body), content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    assert message in response.json()["detail"]
    assert BacktestRun.objects.count() == OptimizationRun.objects.count() == 0


def test_a_body_nested_deeper_than_the_stack_is_a_400(api_client):
    response = api_client.post("/api/backtests/", "[" * 100_000 + "]" * 100_000, content_type="application/json")
    assert response.status_code == 400 and response.json() == {"detail": "the JSON body is nested too deeply"}


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"take_profit_pct": NaN}', "params is not valid JSON (NaN is not a number JSON allows)"),
        ("[" * 100_000 + "]" * 100_000, "params is nested too deeply"),
        ("[1, 2]", "params must be a JSON object"),
    ],
)
def test_the_backtest_form_names_bad_params_json(logged_in_client, bars, text, message):
    form = {
        **BASE,
        "params": text,
        "engine": "reference",
        "spread_pips": 0.8,
        "commission": 0,
        "leverage": 30,
        "size": 0.1,
        "cash": 10000,
    }
    response = logged_in_client.post("/backtests/", form)
    assert response.status_code == 200 and message in response.content.decode()
    assert BacktestRun.objects.count() == 0


@pytest.mark.parametrize(
    "url", ["/api/backtests/", "/api/optimizations/", "/api/training-runs/", "/api/forecasts/", "/api/calibrations/"]
)
@pytest.mark.parametrize("field", ["strategy", "name", "choices"])
def test_a_lone_surrogate_anywhere_in_a_job_body_is_a_400(api_client, url, field):
    value = {"precision": "\ud800"} if field == "choices" else "\ud800"
    body = json.dumps({**BASE, field: value})  # json.dumps writes the escape "\ud800", as a hostile client would
    response = api_client.post(url, body, content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    assert "lone surrogate" in response.json()["detail"]
    assert BacktestRun.objects.count() == OptimizationRun.objects.count() == 0


@pytest.mark.parametrize("url", ["/backtests/compare/", "/conformal/compare/"])
def test_compare_pages_skip_ids_no_row_can_have(logged_in_client, url):
    response = logged_in_client.get(url, {"run": [str(2**63), "9" * 40, "1"]})
    assert response.status_code == 200


def test_absurd_costs_are_refused_by_the_api(api_client, bars):
    for costs, message in (
        ({"cash": 1e308}, "cash must be between 1 and 1e12"),
        ({"size": 1e-320}, "size is a fraction"),
    ):
        response = api_client.post("/api/backtests/", {**BASE, "params": PARAMS, **costs}, format="json")
        assert response.status_code == 400 and message in response.json()["detail"]
    assert BacktestRun.objects.count() == 0
