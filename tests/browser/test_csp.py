"""The Content-Security-Policy: every page runs under it in Chromium with no violation reported."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Collects the violations a document reports, from its first script on.
WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => window.__cspViolations.push(
  `${e.violatedDirective} blocked ${e.blockedURI || "inline"} in ${e.sourceFile || e.documentURI}:${e.lineNumber} ${e.sample}`));
"""


@pytest.fixture
def watched_page(page):
    console = []
    page.add_init_script(WATCH)
    page.on("console", lambda m: console.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda exc: console.append(f"page error: {exc}"))

    def violations() -> list[str]:
        return page.evaluate("window.__cspViolations") + console

    page.violations = violations
    return page


def _log_in(page, live_server, django_user_model):
    django_user_model.objects.create_user(username="boss", password="boss-pass-123", is_staff=True, is_superuser=True)
    response = page.goto(f"{live_server.url}/login/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    page.fill("input[name=username]", "boss")
    page.fill("input[name=password]", "boss-pass-123")
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{live_server.url}/")
    assert page.violations() == []


def test_pages_with_inline_scripts_handlers_and_charts_raise_no_violation(
    watched_page, live_server, django_user_model, register, fixture_path
):
    from marketdata.request import ImportRequest
    from marketdata.services import candles_import_file

    page = watched_page
    candles_import_file(source=fixture_path("eurusd_h1.csv"), request=ImportRequest(symbol="EURUSD", timeframe="1h"))
    version = register()
    _log_in(page, live_server, django_user_model)

    page.goto(f"{live_server.url}/registry/")  # an inline polling script
    expect(page.locator("h1")).to_be_visible()
    page.wait_for_timeout(300)
    assert page.violations() == []

    page.goto(f"{live_server.url}/registry/versions/{version.pk}/")  # a plotly chart
    expect(page.locator("#history .main-svg").first).to_be_visible()
    assert page.violations() == []

    page.goto(f"{live_server.url}/data/")  # a candlestick chart and the delete form's onsubmit handler
    expect(page.locator("#candles-chart .main-svg").first).to_be_visible()
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.click("#delete-form button[type=submit]")
    expect(page.locator("#delete-form")).to_be_visible()
    assert asked and asked[0].startswith("Delete EURUSD 1h bars")  # the handler ran (and the dismissal kept the bars)
    assert page.violations() == []

    for path in ("/admin/", "/api/series/"):  # Django's admin and DRF's browsable API
        page.goto(f"{live_server.url}{path}")
        expect(page.locator("body")).to_be_visible()
        page.wait_for_timeout(300)
        assert page.violations() == [], path


def test_a_backtest_page_with_webgl_charts_raises_no_violation(
    watched_page, live_server, django_user_model, qcluster, fixture_path
):
    from marketdata.request import ImportRequest
    from marketdata.services import candles_import_file

    page = watched_page
    candles_import_file(source=fixture_path("eurusd_h1.csv"), request=ImportRequest(symbol="EURUSD", timeframe="1h"))
    _log_in(page, live_server, django_user_model)
    page.goto(f"{live_server.url}/backtests/")
    page.select_option("select[name=strategy]", "forecast")
    page.select_option("select[name=forecasts_source]", "baseline")
    page.select_option("select[name=engine]", "fast")
    page.click("#backtest-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/backtests/runs/\d+/$"))
    expect(page.locator("#job-status")).to_have_text("succeeded", timeout=60_000)  # polled by an inline script
    expect(page.locator("#equity .main-svg").first).to_be_visible()  # Scattergl: plotly compiles WebGL code
    page.wait_for_timeout(500)
    assert page.violations() == []
