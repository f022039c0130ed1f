"""Walk the research loop through the pages at real sizes, as a user would, and time every page.

    .venv/bin/python bench/flow_walk.py [--data ../shared/data/EURUSD_H1_2014-2024.csv] [--out bench/out/walk]

Starts the platform (`run_platform`: gunicorn + both worker clusters) on a fresh data folder, then
drives Debian's Chromium: upload the 65,000-bar EURUSD H1 file, train one epoch, make one month of
forecasts (100 samples), calibrate them and attach the calibration, backtest and optimize (600
evaluations) on them, then a 65,000-bar baseline backtest and 600-evaluation optimization, the version
compare page, and "Detect again" on the Hardware page until the new report is in. `--other-pair FILE`
adds, after the first forecasts, a second pair's import and its forecasts over `--other-range` with the
EURUSD model (its statistics and spread fitted on its own bars first). Each
page's server time (navigation timing: request start to response end) and each job's wall time are
printed as JSON and written to OUT/timings.json with a screenshot of every page.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "EURUSD_H1_2014-2024.csv"))
    parser.add_argument("--out", default=str(ROOT / "bench" / "out" / "walk"))
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--eval-windows", default="200", help="test windows a training run scores (FOREXGPT_EVAL_WINDOWS)"
    )
    parser.add_argument(
        "--until-forecasts", action="store_true", help="stop after the forecast set's page (import, train, forecast)"
    )
    parser.add_argument(
        "--other-pair",
        default=None,
        help="a second pair's H1 file (e.g. ../shared/data/AUDJPY_H1_2015-2023.csv): imported after the first "
        "forecasts, then forecast over --other-range with the EURUSD model from its version page",
    )
    parser.add_argument("--other-range", default="2023-06-01,2023-06-30", help="first,last day of those forecasts")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="forexgpt-walk-"))
    env = {
        **os.environ,
        "FOREXGPT_DATA_DIR": str(data_dir),
        "FOREXGPT_EVAL_WINDOWS": args.eval_windows,
        "TQDM_DISABLE": "1",
    }
    python, manage = sys.executable, str(ROOT / "manage.py")
    subprocess.run([python, manage, "migrate", "-v0"], env=env, check=True, cwd=ROOT)
    subprocess.run([python, manage, "collectstatic", "--noinput", "-v0"], env=env, check=True, cwd=ROOT)
    subprocess.run(
        [
            python,
            manage,
            "shell",
            "-c",
            "from django.contrib.auth import get_user_model; "
            "get_user_model().objects.create_user('walker', password='walker-pass-123', is_staff=True)",
        ],
        env=env,
        check=True,
        cwd=ROOT,
    )
    server = subprocess.Popen(
        [python, manage, "run_platform", "--port", str(args.port)],
        env=env,
        cwd=ROOT,
        stdout=open(out / "platform.log", "w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        timings = walk(
            f"http://127.0.0.1:{args.port}",
            Path(args.data),
            out,
            until_forecasts=args.until_forecasts,
            other_pair=Path(args.other_pair) if args.other_pair else None,
            other_range=args.other_range.split(","),
        )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    (out / "timings.json").write_text(json.dumps(timings, indent=2))
    print(json.dumps(timings, indent=2))


def walk(
    url: str,
    data: Path,
    out: Path,
    *,
    until_forecasts: bool = False,
    other_pair: Path | None = None,
    other_range: tuple[str, str] = ("2023-06-01", "2023-06-30"),
) -> dict:
    from playwright.sync_api import expect, sync_playwright

    timings = {"pages": {}, "jobs": {}}

    def visit(page, name, path=None):
        """Load a page (or read the one just loaded), record its server time, screenshot it."""
        if path:
            page.goto(url + path)
        nav = page.evaluate("JSON.stringify(performance.getEntriesByType('navigation')[0])")
        entry = json.loads(nav)
        timings["pages"][name] = {
            "path": page.url.replace(url, ""),
            "server_ms": round(entry["responseEnd"] - entry["requestStart"]),
            "load_ms": round(entry["loadEventEnd"] - entry["startTime"]),
        }
        page.screenshot(path=str(out / f"{len(timings['pages']):02d}-{name}.png"), full_page=True)

    def job(page, name, timeout_s):
        """Wait for the page's job to end, noting every distinct progress message the page showed."""
        started, seen = time.monotonic(), []
        refused = page.locator(".errorlist").all_inner_texts()
        if refused:  # the form came back with its errors instead of the run's page
            raise RuntimeError(f"{name}: the form refused it: {refused}")
        while time.monotonic() - started < timeout_s:
            message = page.locator("#job-message").inner_text()[:120]
            if message and (not seen or seen[-1] != message):
                seen.append(message)
            if re.search("succeeded|failed|cancelled", page.locator("#job-status").inner_text()):
                break
            time.sleep(1)
        expect(page.locator("#job-status")).to_have_text(re.compile("succeeded|failed|cancelled"), timeout=5000)
        timings["jobs"][name] = {
            "status": page.locator("#job-status").inner_text(),
            "wall_s": round(time.monotonic() - started, 1),
            "message": page.locator("#job-message").inner_text()[:200],
            "messages_seen": [m for m in seen if not re.match(r"epoch \d+/\d+, step", m)][:20],
        }

    for _ in range(60):  # the server starting
        try:
            import urllib.request

            urllib.request.urlopen(url + "/login/", timeout=2)
            break
        except OSError:
            time.sleep(1)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS, headless=True)
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        page.set_default_timeout(120_000)
        page.goto(url + "/login/")
        page.fill("input[name=username]", "walker")
        page.fill("input[name=password]", "walker-pass-123")
        page.click("button[type=submit]")
        page.wait_for_url(url + "/")

        visit(page, "data-empty", "/data/")
        page.set_input_files("#import-form input[type=file]", str(data))
        page.fill("#import-form input[name=symbol]", "EUR/USD")
        page.fill("#import-form input[name=timeframe]", "1h")
        page.click("#import-form button[type=submit]")
        job(page, "import 65,000 bars", 600)
        visit(page, "import-report", page.url.replace(url, ""))
        visit(page, "data", "/data/?symbol=EURUSD&timeframe=1h")

        visit(page, "training-form", "/training/")
        page.fill("#training-form input[name=epochs]", "1")
        page.fill("#training-form input[name=batch_size]", "256")
        started = time.monotonic()
        page.click("#training-form button[type=submit]")
        page.wait_for_url(re.compile(r"/training/runs/\d+/"))
        timings["pages"]["training-submit"] = {
            "path": "/training/ (POST, then the run page)",
            "wall_ms": round(1000 * (time.monotonic() - started)),
        }
        job(page, "train 1 epoch", 1800)
        visit(page, "training-run", page.url.replace(url, ""))
        page.click("a[href^='/registry/versions/']")
        version_path = page.url.replace(url, "")
        visit(page, "version", version_path)

        page.fill("#forecast-form input[name=start]", "2024-01-01")
        page.fill("#forecast-form input[name=end]", "2024-01-31")
        page.click("#forecast-form button[type=submit]")
        job(page, "forecast January 2024 (100 samples)", 1800)
        visit(page, "forecast-set", page.url.replace(url, ""))
        set_path = page.url.replace(url, "")
        reloads = []  # the same page again: its fitted baselines come from the host's cache after the first load
        for _ in range(6):
            page.goto(url + set_path)
            entry = json.loads(page.evaluate("JSON.stringify(performance.getEntriesByType('navigation')[0])"))
            reloads.append(round(entry["responseEnd"] - entry["requestStart"]))
        timings["pages"]["forecast-set-reloads"] = {"path": set_path, "server_ms": reloads}
        if other_pair is not None:  # the EURUSD model on a pair it never saw, from the same version page
            symbol = other_pair.name.split("_")[0]
            page.goto(url + "/data/")
            page.set_input_files("#import-form input[type=file]", str(other_pair))
            page.fill("#import-form input[name=symbol]", f"{symbol[:3]}/{symbol[3:]}")
            page.fill("#import-form input[name=timeframe]", "1h")
            page.click("#import-form button[type=submit]")
            job(page, f"import {symbol}", 600)
            page.goto(url + version_path)
            page.fill("#forecast-form input[name=symbol]", symbol)
            page.fill("#forecast-form input[name=start]", other_range[0])
            page.fill("#forecast-form input[name=end]", other_range[1])
            page.click("#forecast-form button[type=submit]")
            job(
                page,
                f"forecast {symbol} {other_range[0]} to {other_range[1]} with the EURUSD model (100 samples)",
                1800,
            )
            visit(page, "forecast-set-other-pair", page.url.replace(url, ""))
        if until_forecasts:
            browser.close()
            return timings
        set_id = set_path.rstrip("/").rsplit("/", 1)[-1]

        page.click("#job a:has-text('calibrate')")
        page.select_option("#calibration-form select[name=forecast_set]", set_id)
        page.select_option("#calibration-form select[name=method]", "aci")
        page.click("#calibration-form button[type=submit]")
        job(page, "calibrate (aci)", 300)
        page.click("#attach-button")
        visit(page, "calibration", page.url.replace(url, ""))

        page.goto(url + set_path)
        page.click("#job a:has-text('backtest')")  # the link fills in the set, its series and its range
        page.click("#backtest-form button[type=submit]")
        job(page, "backtest on the set (reference engine)", 300)
        visit(page, "backtest-on-set", page.url.replace(url, ""))

        page.goto(url + set_path)
        page.click("#job a:has-text('optimize')")
        page.fill("#optimization-form input[name=constraints]", '{"min_trades": 5}')
        page.click("#optimization-form button[type=submit]")
        job(page, "optimize on the set (600 evaluations)", 1800)
        visit(page, "optimization-on-set", page.url.replace(url, ""))
        visit(page, "forecast-set-used", set_path)

        visit(page, "backtests", "/backtests/")
        page.select_option("#backtest-form select[name=forecasts_source]", "baseline")
        page.click("#backtest-form button[type=submit]")
        job(page, "backtest 65,000 bars (baseline, reference engine)", 600)
        visit(page, "backtest-65k", page.url.replace(url, ""))

        visit(page, "optimizations", "/optimizations/")
        page.select_option("#optimization-form select[name=forecasts_source]", "baseline")
        page.check("#optimization-form input[name=walk_forward_enabled]")  # windows fitted to the range
        page.click("#optimization-form button[type=submit]")
        job(page, "optimize 65,000 bars (baseline, 600 evaluations, 25% held out, walk-forward)", 3600)
        optimization_path = page.url.replace(url, "")
        visit(page, "optimization-65k", optimization_path)
        page.locator("#front-table button:has-text('Open as backtest')").first.click()
        job(page, "a front point opened as a backtest (65,000 bars)", 600)
        visit(page, "backtest-from-front-point", page.url.replace(url, ""))
        for name, path in (
            ("dashboard", "/"),
            ("registry", "/registry/"),
            ("conformal", "/conformal/"),
            ("hardware", "/hardware/"),
        ):
            visit(page, name, path)
        visit(page, "versions-compare", f"/registry/compare/?version={version_path.rstrip('/').rsplit('/', 1)[-1]}")
        page.goto(url + "/hardware/")
        started = time.monotonic()
        page.click("#detect-form button[type=submit]")
        expect(page.locator("#detect-waiting")).to_be_visible()
        expect(page.locator("#detect-form button[type=submit]")).to_be_visible(
            timeout=300_000
        )  # back once the report is in
        timings["jobs"]["hardware detected again"] = {"wall_s": round(time.monotonic() - started, 1)}
        visit(page, "hardware-after-detect", "/hardware/")
        browser.close()
    return timings


if __name__ == "__main__":
    main()
