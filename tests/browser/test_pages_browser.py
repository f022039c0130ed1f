"""Real Chromium against the live server: log in, visit every page, import a raw MT4 file."""

import re

import pytest
from playwright.sync_api import expect

from forexgpt_site.context_processors import NAVIGATION

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_login_is_required_and_every_page_opens(page, live_server, django_user_model):
    page.goto(f"{live_server.url}/data/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/data/"))
    django_user_model.objects.create_user(username="trader", password="trader-pass-123")
    page.fill("input[name=username]", "trader")
    page.fill("input[name=password]", "trader-pass-123")
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{live_server.url}/data/")
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    for _, label in NAVIGATION:
        page.click(f"header nav >> text={label}")
        expect(page.locator("h1")).to_be_visible()
        expect(page.locator("header nav a.active")).to_have_text(label)
    assert errors == []


def test_upload_a_raw_mt4_file_and_see_the_range_and_chart(logged_in_page, live_server, qcluster, fixture_path):
    page = logged_in_page
    page.goto(f"{live_server.url}/data/")
    page.set_input_files("input[name=file]", str(fixture_path("mt4_eurusd_h1.csv")))
    page.fill("input[name=symbol]", "EUR/USD")
    page.fill("input[name=timeframe]", "H1")
    page.fill("input[name=tz]", "Europe/Helsinki")
    page.click("#import-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/data/imports/\d+/$"))
    # The page polls the job until the worker finishes, then shows the report.
    expect(page.locator("#imported-range")).to_have_text("2014-05-30 15:00 → 2014-06-24 06:00", timeout=60_000)
    expect(page.locator("#inserted")).to_have_text("400")
    expect(page.locator("#candles-chart .main-svg").first).to_be_visible()
    assert page.locator("#candles-chart g.trace.boxes, #candles-chart .trace").count() > 0
    page.goto(f"{live_server.url}/data/")
    expect(page.locator("#series-table")).to_contain_text("EURUSD")
    expect(page.locator("#series-table")).to_contain_text("400")
    expect(page.locator("#candles-chart .main-svg").first).to_be_visible()
