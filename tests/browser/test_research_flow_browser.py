"""The research loop through the pages alone, with real workers (the default and the gpu cluster):
import a series, train a tiny model, make forecasts, calibrate them, attach the calibration, run a
backtest and an optimization on them, and follow the links between the result pages."""

import re
import time
from datetime import UTC

import pytest
from playwright.sync_api import expect

from tests.conftest import start_qcluster, stop_qcluster

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def clusters(transactional_db, tmp_path, settings):
    """Both queues, as `make run` starts them; children score 20 test windows to keep training short."""
    env = {"FOREXGPT_EVAL_WINDOWS": "20", "FOREXGPT_CHECKPOINT_DIR": str(tmp_path / "checkpoints")}
    logs = [tmp_path / "default.log", tmp_path / "gpu.log"]
    procs = [
        start_qcluster(logs[0], extra_env=env),
        start_qcluster(logs[1], extra_env={**env, "Q_CLUSTER_NAME": "gpu"}),
    ]
    try:
        yield
    finally:
        for proc, log in zip(procs, logs):
            stop_qcluster(proc, log)


def _succeeds(page, timeout_s=90):
    expect(page.locator("#job-status")).to_have_text("succeeded", timeout=timeout_s * 1000)


def test_from_a_csv_to_a_tested_strategy_through_the_pages(staff_page, live_server, clusters, fixture_path):
    page, url, timings = staff_page, live_server.url, {}
    started = time.monotonic()

    def lap(name):
        nonlocal started
        timings[name] = round(time.monotonic() - started, 1)
        started = time.monotonic()

    # 1. Import the series.
    page.goto(f"{url}/data/")
    page.set_input_files("#import-form input[type=file]", str(fixture_path("eurusd_h1.csv")))
    page.fill("#import-form input[name=symbol]", "EUR/USD")
    page.fill("#import-form input[name=timeframe]", "1h")
    page.click("#import-form button[type=submit]")
    expect(page.locator("body")).to_contain_text("399", timeout=60_000)
    lap("import")

    # 2. Train a tiny model (one batch) and open its registered version.
    page.goto(f"{url}/training/")
    page.fill("#training-form input[name=symbol]", "EURUSD")
    page.fill("#training-form input[name=patch_len]", "32")
    page.fill("#training-form input[name=epochs]", "1")
    page.check("#training-form input[name=fast_dev_run]")
    page.click("#training-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/training/runs/\d+/$"))
    _succeeds(page, 120)
    page.click("a[href^='/registry/versions/']")
    expect(page).to_have_url(re.compile(r"/registry/versions/\d+/$"))
    expect(page.locator("h1")).to_contain_text("eurusd-1h-h12-smoke:1")  # a smoke test, kept apart
    version_url = page.url
    lap("train")

    # 3. Make forecasts for one week from the version page. The week lies in the model's training part:
    #    the form says so and asks before making them; the set's page flags them when done.
    expect(page.locator("#periods")).to_contain_text("train")
    page.fill("#forecast-form input[name=start]", "2014-06-04")
    page.fill("#forecast-form input[name=end]", "2014-06-11")
    page.fill("#forecast-form input[name=samples]", "20")
    page.click("#forecast-form button[type=submit]")
    expect(page.locator("#in-sample-warning")).to_contain_text("in-sample")
    page.check("#forecast-form input[name=in_sample_ok]")
    page.click("#forecast-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/forecasts/\d+/$"))
    _succeeds(page, 90)
    expect(page.locator(".sample-badge").first).to_contain_text("in-sample (training)")
    expect(page.locator("#in-sample-warning")).to_be_visible()
    expect(page.locator("#fan .main-svg").first).to_be_visible()
    expect(page.locator("#scores")).to_contain_text("EWMA Gaussian")
    set_url = page.url
    set_id = set_url.rstrip("/").rsplit("/", 1)[-1]
    lap("forecast")

    # 4. Calibrate them (no upload) and attach the calibration to the version.
    page.click("#job a:has-text('calibrate')")
    page.select_option("#calibration-form select[name=forecast_set]", set_id)
    page.select_option("#calibration-form select[name=method]", "split")
    page.click("#calibration-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/conformal/runs/\d+/$"))
    _succeeds(page, 60)
    page.click("#attach-button")
    expect(page.locator("#job")).to_contain_text("(attached)")
    expect(page.locator("#forecast-set-link")).to_have_attribute("href", f"/forecasts/{set_id}/")
    calibration_url = page.url
    lap("calibrate + attach")

    # 5. A backtest on the set (its range, the set preselected by the link).
    page.goto(set_url)
    page.click("#job a:has-text('backtest')")
    expect(page.locator("select[name=forecasts_source]")).to_have_value("forecast_set")
    expect(page.locator("select[name=forecast_set]")).to_have_value(set_id)
    page.fill("#backtest-form input[name=start]", "2014-06-04T00:00")
    page.fill("#backtest-form input[name=end]", "2014-06-11T23:00")
    page.select_option("#backtest-form select[name=engine]", "fast")
    page.click("#backtest-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/backtests/runs/\d+/$"))
    _succeeds(page, 60)
    expect(page.locator("#forecast-set-link")).to_have_attribute("href", f"/forecasts/{set_id}/")
    expect(page.locator("#in-sample-note")).to_contain_text("In-sample forecasts")
    expect(page.locator("#model-value")).to_contain_text("Random entries")
    backtest_url = page.url
    lap("backtest")

    # 6. An optimization on the set.
    page.goto(set_url)
    page.click("#job a:has-text('optimize')")
    page.fill("#optimization-form input[name=start]", "2014-06-04T00:00")
    page.fill("#optimization-form input[name=end]", "2014-06-11T23:00")
    page.fill("#optimization-form input[name=budget]", "20")
    page.fill("#optimization-form input[name=constraints]", "{}")
    page.click("#optimization-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/optimizations/runs/\d+/$"))
    _succeeds(page, 90)
    expect(page.locator("#version-link")).to_have_attribute("href", re.compile(r"/registry/versions/\d+/$"))
    expect(page.locator("#in-sample-forecasts")).to_be_visible()
    expect(page.locator("#holdout-note")).to_contain_text("held out")
    for statistic in ("#dsr", "#pbo", "#spa"):
        expect(page.locator(statistic)).to_be_visible()
    optimization_url = page.url
    lap("optimize")

    # 6b. An optimization of the baseline over the whole series: held-out figures beside the in-sample
    #     ones, the three statistics with numbers, and a front point opened as a backtest says it is in-sample.
    page.goto(f"{url}/optimizations/")
    page.fill("#optimization-form input[name=symbol]", "EURUSD")
    page.select_option("#optimization-form select[name=forecasts_source]", "baseline")
    page.fill("#optimization-form input[name=budget]", "40")
    page.fill("#optimization-form input[name=constraints]", "{}")
    page.click("#optimization-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/optimizations/runs/\d+/$"))
    _succeeds(page, 90)
    baseline_url = page.url
    expect(page.locator("#chosen-holdout")).to_contain_text("Held out")
    expect(page.locator("#front-table")).to_contain_text("Held-out return %")
    for statistic in ("#dsr", "#pbo", "#spa"):
        expect(page.locator(statistic)).to_have_text(re.compile(r"^\d\.\d{3}$"))
    page.locator("#front-table button:has-text('Open as backtest')").first.click()
    expect(page).to_have_url(re.compile(r"/backtests/runs/\d+/$"))
    expect(page.locator("#in-sample-note")).to_contain_text("In-sample.")
    expect(page.locator("#origin-link")).to_have_attribute("href", baseline_url.replace(url, ""))
    expect(page.locator("#origin-holdout")).to_be_visible()
    lap("optimize the baseline + open a point")

    # 7. Every page links to the others: the set lists its users, the version lists the runs.
    page.goto(set_url)
    used = page.locator("#used-by")
    for target in (calibration_url, backtest_url, optimization_url):
        expect(used.locator(f"a[href='{target.replace(url, '')}']")).to_have_count(1)
    page.goto(version_url)
    expect(page.locator("#forecast-sets")).to_contain_text(f"#{set_id}")
    expect(page.locator("#calibrations")).to_contain_text("attached")
    expect(page.locator(f"#backtests a[href='{backtest_url.replace(url, '')}']")).to_have_count(1)
    expect(page.locator(f"#optimizations a[href='{optimization_url.replace(url, '')}']")).to_have_count(1)
    page.goto(set_url)
    expect(page.locator("#scores")).to_contain_text("Calibrated interval")  # the attached calibration gives lo / hi
    expect(page.locator("#calibration-named")).to_contain_text("split")
    expect(page.locator("#calibrated-coverage")).to_be_visible()
    lap("links")
    print("flow timings (s):", timings)


def test_the_forecast_set_list_shows_only_sets_that_cover_the_series_and_range(logged_in_page, live_server, db):
    from datetime import datetime

    from forecasts.models import ForecastSet

    def make(symbol, first, last):
        return ForecastSet.objects.create(
            symbol=symbol,
            timeframe="1h",
            artifact_ref="m:1",
            status="succeeded",
            first=datetime(*first, tzinfo=UTC),
            last=datetime(*last, tzinfo=UTC),
            rows=1,
        )

    june, july, gbp = (
        make("EURUSD", (2014, 6, 1), (2014, 6, 30)),
        make("EURUSD", (2014, 7, 1), (2014, 7, 31)),
        make("GBPUSD", (2014, 6, 1), (2014, 6, 30)),
    )
    page = logged_in_page
    page.goto(f"{live_server.url}/backtests/")
    page.fill("#backtest-form input[name=symbol]", "EUR/USD")
    page.fill("#backtest-form input[name=start]", "2014-06-05T00:00")
    page.fill("#backtest-form input[name=end]", "2014-06-20T00:00")
    visible = page.evaluate(
        "Array.from(document.querySelectorAll('select[name=forecast_set] option')).filter(o => o.value && !o.hidden).map(o => o.value)"
    )
    assert visible == [str(june.pk)] and str(july.pk) != visible[0] and str(gbp.pk) not in visible


def test_long_forecast_set_labels_keep_the_forms_within_a_laptop_screen(logged_in_page, live_server, db):
    from datetime import datetime

    from forecasts.models import ForecastSet

    ForecastSet.objects.create(
        symbol="EURUSD",
        timeframe="1h",
        artifact_ref="a-long-registered-model-name-for-eurusd-hourly-with-volatility-channels-and-ensembles:12",
        status="succeeded",
        rows=8_760,
        first=datetime(2014, 6, 1, tzinfo=UTC),
        last=datetime(2024, 6, 30, tzinfo=UTC),
    )
    page = logged_in_page
    page.set_viewport_size({"width": 1440, "height": 900})
    for path in ("/backtests/", "/optimizations/", "/conformal/"):
        page.goto(f"{live_server.url}{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 1440, f"{path} is {width} px wide"
