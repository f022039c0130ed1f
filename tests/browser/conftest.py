import os
import shutil

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import expect

    # Playwright's `expect` waits 5 s by default, apart from the page's 30 s for actions: on this 2-core
    # machine under the suite's 3 workers a page after a click took longer once (the registry's compare
    # page, CI 2026-12-07). These tests say what a page shows, not how fast (bench/ measures that).
    expect.set_options(timeout=30_000)
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}: `make test` installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def log_in(page, live_server, username: str, password: str):
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    return page


@pytest.fixture
def logged_in_page(page, live_server, django_user_model):
    django_user_model.objects.create_user(username="trader", password="trader-pass-123")
    return log_in(page, live_server, "trader", "trader-pass-123")


@pytest.fixture
def staff_page(page, live_server, django_user_model):
    django_user_model.objects.create_user(username="curator", password="curator-pass-123", is_staff=True)
    return log_in(page, live_server, "curator", "curator-pass-123")
