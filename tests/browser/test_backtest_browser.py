"""Start a backtest from the page; a real worker runs it; the page shows the equity chart."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_start_a_backtest_from_the_page_and_see_the_equity_chart(logged_in_page, live_server, qcluster, fixture_path):
    from marketdata.request import ImportRequest
    from marketdata.services import candles_import_file

    candles_import_file(source=fixture_path("eurusd_h1.csv"), request=ImportRequest(symbol="EURUSD", timeframe="1h"))
    page = logged_in_page
    page.goto(f"{live_server.url}/backtests/")
    page.select_option("select[name=strategy]", "forecast")
    page.select_option("select[name=forecasts_source]", "baseline")
    page.select_option("select[name=engine]", "fast")
    page.click("#backtest-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/backtests/runs/\d+/$"))
    expect(page.locator("#job-status")).to_have_text("succeeded", timeout=60_000)
    expect(page.locator("#equity .main-svg").first).to_be_visible()
    expect(page.locator("#trades-chart .main-svg").first).to_be_visible()
    expect(page.locator("#stats-table")).to_contain_text("Sharpe Ratio")
