"""The optimization page of a 3,000-evaluation run in Chromium: it loads with its light charts drawn and
the heavy ones waiting, draws a heavy one when opened, and its trials table sorts, filters and pages in
place. The load time is printed (`-s`), not asserted: a machine shared with others times nothing reliably."""

import re

import pytest
from playwright.sync_api import expect

from tests.backtesting_app.test_trials import make_run

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# the navigation's timings, read after the load event: milliseconds from the request's start
TIMING = """() => { const t = performance.getEntriesByType("navigation")[0];
  return {response: t.responseEnd, domContentLoaded: t.domContentLoadedEventEnd, load: t.loadEventEnd}; }"""


@pytest.mark.parametrize("evaluations", [600, 3000])
def test_the_run_page_loads_with_its_charts_and_a_table_that_sorts_filters_and_pages(
    logged_in_page, live_server, django_user_model, evaluations
):
    run = make_run(django_user_model.objects.get(username="trader"), n=evaluations)
    page = logged_in_page
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    for visit in ("first visit", "again"):  # the second with plotly.js in the browser's cache
        page.goto(f"{live_server.url}/optimizations/runs/{run.pk}/", wait_until="load")
        timing = page.evaluate(TIMING)
        print(
            f"\n{evaluations:,} evaluations, {visit}: response {timing['response']:.0f} ms, DOMContentLoaded "
            f"{timing['domContentLoaded']:.0f} ms, load {timing['load']:.0f} ms"
        )
        assert timing["load"] > 0  # the load event fired
    for light in ("#hv-chart", "#importance-chart"):  # drawn at load
        expect(page.locator(f"{light} .main-svg").first).to_be_attached()
    for heavy in ("#projections", "#scatter3d", "#parallel", "#slices"):  # waiting for their <details> to open
        expect(page.locator(heavy)).not_to_have_attribute("data-plotted", "true")
    started = page.evaluate("performance.now()")
    page.click("#scatter3d-card > summary")
    expect(page.locator("#scatter3d .gl-container, #scatter3d canvas").first).to_be_attached()
    print(
        f"{evaluations:,} evaluations: 3-D chart drawn {page.evaluate('performance.now()') - started:.0f} ms after the click"
    )
    expect(page.locator("#scatter3d")).to_have_attribute("data-plotted", "true")

    table = page.locator("#trials-table")
    expect(table.locator("tbody tr")).to_have_count(50)
    first_ids = list(run.results.order_by("id").values_list("id", flat=True)[:50])
    expect(table.locator("tbody tr").first).to_have_attribute("data-id", str(first_ids[0]))

    # sort by Sharpe, best first: the table is swapped in place (the 3-D chart stays drawn) and the URL follows
    best = run.results.exclude(metrics__sharpe=None).order_by("-metrics__sharpe", "id").first()
    table.locator("a[data-sort='sharpe']").click()
    expect(page).to_have_url(re.compile(r"\?sort=-sharpe#trials$"))
    expect(page.locator("#trials-table tbody tr").first).to_have_attribute("data-id", str(best.pk))
    expect(page.locator("#scatter3d")).to_have_attribute("data-plotted", "true")

    # filter: the feasible grid points with a Sharpe ratio of at least 2
    kept = run.results.filter(phase="grid", feasible=True, metrics__sharpe__gte=2).count()
    page.select_option("#trials-filter select[name=phase]", "grid")
    page.select_option("#trials-filter select[name=feasible]", "yes")
    page.fill("input[name=min_sharpe]", "2")
    page.press("input[name=min_sharpe]", "Enter")
    expect(page.locator("#trials-count")).to_contain_text(f"of {kept:,} (filtered from {evaluations:,})")
    expect(page).to_have_url(re.compile(r"phase=grid.*feasible=yes.*min_sharpe=2"))

    # page on, then back through the history
    page.locator("#trials-filter a#trials-clear").click()
    expect(page.locator("#trials-count")).to_contain_text(f"Rows 1-50 of {evaluations:,}")
    page.locator("#trials-pager a[rel=next]").click()
    expect(page.locator("#trials-count")).to_contain_text("Rows 51-100")
    expect(page.locator("#trials-table tbody tr").first).to_have_attribute(
        "data-id", str(run.results.order_by("id")[50].pk)
    )
    page.go_back()
    expect(page.locator("#trials-count")).to_contain_text("Rows 1-50")
    assert errors == []
