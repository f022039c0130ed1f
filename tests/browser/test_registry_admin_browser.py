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
    register(
        seed=0,
        label="default model, 6 epochs on EURUSD H1 2014-2024",
        metrics={
            "crps": 0.00146512345678,
            "coverage_q05_q95": 0.8312,
            "mae_median": 0.0010123,
            "ewma_crps": 0.0015281234,
        },
    )
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


def test_staff_compare_two_versions_and_curate_one_from_its_page(staff_page, live_server, artifact_files, tmp_path):
    import json

    from registry.models import ModelVersion
    from registry.services import artifact_register
    from tests.conftest import CHANNELS

    def version(seed, losses):
        files = artifact_files(seed)
        files["history"] = json.dumps(
            {"epochs": [{"epoch": i, "train_loss": t, "val_loss": v} for i, (t, v) in enumerate(losses)]}
        ).encode()
        return artifact_register(
            model_name="eurusd-1h-h12",
            files=files,
            symbol="EURUSD",
            timeframe="1h",
            horizon_bars=12,
            channel_order=CHANNELS,
            metrics={"crps": 0.001 + seed / 1000},
        )

    first, second = version(0, [(0.9, 1.0), (0.7, 0.8)]), version(1, [(0.95, 1.1), (0.8, 0.9), (0.75, 0.85)])
    page = staff_page
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{live_server.url}/registry/")
    page.check(f"input[name=version][value='{first.pk}']")
    page.check(f"input[name=version][value='{second.pk}']")
    page.click("#compare-form button[type=submit]")
    expect(page.locator("#compare-metrics")).to_contain_text(first.ref)
    expect(page.locator("#compare .main-svg").first).to_be_visible()  # the overlaid losses are drawn
    assert page.locator("#compare .scatterlayer .trace").count() == 4  # validation and training, two versions
    page.screenshot(path=str(tmp_path / "compare.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 1440

    page.goto(f"{live_server.url}/registry/versions/{first.pk}/")
    page.fill("#curation input[name=value] >> nth=0", "stage=review")
    page.click("#curation button:text-is('Add tag')")
    expect(page.locator(".messages, .messagelist, body")).to_contain_text("tag stage=review added")
    page.fill("#curation input[name=value] >> nth=1", "champion")
    page.click("#curation button:text-is('Point here')")
    expect(page.locator("#version-aliases")).to_contain_text("champion")
    page.click("button[aria-label='remove tag stage=review']")
    expect(page.locator("#version-tags")).not_to_contain_text("stage=review")
    assert [a.name for a in ModelVersion.objects.get(pk=first.pk).aliases.all()] == ["champion"]
