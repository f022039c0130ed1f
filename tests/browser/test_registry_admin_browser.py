"""An admin tags two versions in bulk from the admin list and the tag filter narrows the list."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_admin_bulk_tags_two_versions_and_filters_by_tag(page, live_server, django_user_model, register):
    versions = [register(seed=i) for i in range(3)]
    django_user_model.objects.create_user(username="boss", password="boss-pass-123", is_staff=True, is_superuser=True)
    page.goto(f"{live_server.url}/admin/login/?next=/admin/registry/modelversion/")
    page.fill("input[name=username]", "boss")
    page.fill("input[name=password]", "boss-pass-123")
    page.click("input[type=submit]")
    expect(page.locator("#result_list tbody tr")).to_have_count(3)
    for version in (versions[0], versions[2]):
        page.check(f"input[name=_selected_action][value='{version.pk}']")
    page.select_option("select[name=action]", "add_tag")
    page.click("button[name=index]")
    expect(page.locator("h1")).to_have_text("Add a tag")
    page.fill("input[name=tag]", "reviewed")
    page.click("input[name=apply]")
    expect(page.locator(".messagelist")).to_contain_text("Tagged 2 version(s) reviewed")
    page.click("#changelist-filter a:text-is('reviewed')")
    expect(page).to_have_url(re.compile(r"tag=reviewed"))
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("#result_list")).to_contain_text("eurusd-1h-h12:1")
    expect(page.locator("#result_list")).to_contain_text("eurusd-1h-h12:3")
    expect(page.locator("#result_list")).not_to_contain_text("eurusd-1h-h12:2")


def test_the_version_list_stays_beside_the_filter_panel(page, live_server, django_user_model, register, tmp_path):
    """At a laptop's width the list scrolls inside its own box; it never runs under the filter panel."""
    register(seed=0, label="default model, 6 epochs on EURUSD H1 2014-2024", metrics={
        "crps": 0.00146512345678, "coverage_q05_q95": 0.8312, "mae_median": 0.0010123, "ewma_crps": 0.0015281234})
    django_user_model.objects.create_user(username="boss", password="boss-pass-123", is_staff=True, is_superuser=True)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{live_server.url}/admin/login/?next=/admin/registry/modelversion/")
    page.fill("input[name=username]", "boss")
    page.fill("input[name=password]", "boss-pass-123")
    page.click("input[type=submit]")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    page.screenshot(path=str(tmp_path / "admin-versions.png"), full_page=True)
    table = page.locator("#result_list").bounding_box()
    results = page.locator(".results").bounding_box()
    panel = page.locator("#changelist-filter").bounding_box()
    # the visible part of the list (its scroll box) ends before the filter panel begins
    assert results["x"] + results["width"] <= panel["x"] + 1, (results, panel, table)
