"""Real Chromium: the demo label, staff deleting a series, a ten-year chart drawn whole, and a
conflicting upload refused, shown, and imported again keeping the stored bars."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_demo_label_staff_delete_and_a_ten_year_chart_drawn_whole(staff_page, live_server, shared_file):
    from marketdata.models import Candle
    from marketdata.request import ImportRequest
    from marketdata.services import candles_import_file, demo_data_load

    page = staff_page
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    demo_data_load()
    page.goto(f"{live_server.url}/data/")
    expect(page.locator("#series-table .series-source")).to_contain_text("demo data")
    expect(page.locator("#series-table .series-source")).to_contain_text("backtesting.test.EURUSD")

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#delete-form button[type=submit]").click()
    expect(page.locator(".flash")).to_contain_text("Deleted 5,000 EURUSD 1h bars (the whole series).")
    assert Candle.objects.count() == 0

    candles_import_file(
        source=shared_file("EURUSD_H1_2014-2024.csv"), request=ImportRequest(symbol="EURUSD", timeframe="1h")
    )
    page.goto(f"{live_server.url}/data/?symbol=EURUSD&timeframe=1h")
    expect(page.locator("#candles-chart .gtitle")).to_have_text("EURUSD W1 - 65,000 H1 bars aggregated to 547 W1 bars")
    expect(page.locator("#candles-chart")).to_have_attribute("data-drawn", "547")
    expect(page.locator("#chart-caption")).to_contain_text(
        "2014-05-30 15:00 → 2024-11-15 21:00 UTC, drawn whole as 547 W1 candles"
    )
    page.locator("#chart-form input[name=start]").fill("2020-01-01T00:00")
    page.locator("#chart-form input[name=end]").fill("2020-06-30T00:00")
    page.locator("#chart-form button[type=submit]").click()
    expect(page.locator("#candles-chart .gtitle")).to_have_text("EURUSD H4 - 3,067 H1 bars aggregated to 794 H4 bars")
    assert errors == []


def test_a_conflicting_upload_is_refused_then_imported_again_keeping_the_stored_bars(
    logged_in_page, live_server, qcluster, fixture_path, tmp_path
):
    from marketdata.models import Candle
    from marketdata.request import ImportRequest
    from marketdata.services import candles_import_file

    candles_import_file(
        source=fixture_path("mt4_eurusd_h1.csv"),
        request=ImportRequest(symbol="EURUSD", timeframe="1h", tz="Europe/Helsinki"),
    )
    stored = list(Candle.objects.order_by("ts").values_list("ts", "volume"))
    lines = fixture_path("mt4_eurusd_h1.csv").read_text().splitlines()
    for i in range(3):  # another broker's export: the same hours, other tick volumes for the first three
        *head, volume = lines[i].split(",")
        lines[i] = ",".join([*head, str(int(volume) * 3)])
    other = tmp_path / "other_broker.csv"
    other.write_text("\n".join(lines) + "\n")

    page = logged_in_page
    page.goto(f"{live_server.url}/data/")
    expect(page.locator("input[name=on_conflict][value=refuse]")).to_be_checked()
    page.set_input_files("input[name=file]", str(other))
    page.fill("input[name=symbol]", "EURUSD")
    page.fill("input[name=timeframe]", "1h")
    page.fill("input[name=tz]", "Europe/Helsinki")
    page.click("#import-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/data/imports/\d+/$"))
    expect(page.locator("#import-errors")).to_contain_text(
        "Refused: 3 bars of this file are already stored with other values", timeout=60_000
    )
    expect(page.locator("#import-conflicts tbody tr")).to_have_count(3)
    expect(page.locator("#import-conflicts tbody tr").first).to_contain_text("2014-05-30T15:00:00+00:00")
    assert list(Candle.objects.order_by("ts").values_list("ts", "volume")) == stored

    page.click("#retry-form >> text=Import again, keeping the stored bars")
    expect(page.locator("#on-conflict")).to_have_text("keep")
    expect(page.locator("#conflicts")).to_have_text("3 (stored bars kept)", timeout=60_000)
    expect(page.locator("#duplicates")).to_contain_text("397")
    assert list(Candle.objects.order_by("ts").values_list("ts", "volume")) == stored
