"""Django admin: optimization runs with their front, every result read-only."""

import pytest

from backtesting_app import services
from backtesting_app.models import OptimizationRun, ParetoFront
from backtesting_app.request import OptimizationRequest
from backtesting_app.tasks import optimization_run_execute

pytestmark = pytest.mark.django_db


@pytest.fixture
def finished_run(fixture_path, user) -> OptimizationRun:
    from marketdata.request import ImportRequest
    from marketdata.services import candles_import_file

    candles_import_file(source=fixture_path("eurusd_h1.csv"), request=ImportRequest(symbol="EURUSD", timeframe="1h"))
    run = services.optimization_run_start(
        user=user,
        enqueue=False,
        request=OptimizationRequest.from_dict(
            dict(
                symbol="EURUSD",
                timeframe="1h",
                budget=30,
                seed=3,
                name="admin check",
                space={
                    "stop_loss_pct": {"low": 0.002, "high": 0.01, "step": 0.002},
                    "max_hold_bars": {"kind": "int", "low": 4, "high": 24, "step": 4},
                },
                fixed_params={"entry_threshold": 0.0005, "confidence_threshold": 0.3, "take_profit_pct": 0.01},
            )
        ),
    )
    assert optimization_run_execute(run.pk) == "succeeded"
    return run


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


def test_the_run_list_counts_evaluations_and_the_front(staff_client, finished_run):
    page = staff_client.get("/admin/backtesting_app/optimizationrun/").content.decode()
    front = ParetoFront.objects.filter(run=finished_run).count()
    assert "admin check" in page and front > 0
    assert f'<td class="field-evaluations">{finished_run.results.count()}</td>' in page
    assert f'<td class="field-front_size">{front}</td>' in page


def test_the_run_page_shows_its_front_and_links_its_results(staff_client, finished_run):
    page = staff_client.get(f"/admin/backtesting_app/optimizationrun/{finished_run.pk}/change/").content.decode()
    for point in ParetoFront.objects.filter(run=finished_run).select_related("result"):
        assert f"{point.result.params['stop_loss_pct']}" in page
    assert f"/admin/backtesting_app/optimizationresult/?run__exact={finished_run.pk}" in page
    assert 'name="space"' not in page  # what the run was started with is not edited by hand


def test_results_are_listed_per_run_and_read_only(staff_client, finished_run):
    other = OptimizationRun.objects.create(symbol="EURUSD", timeframe="1h")
    listing = staff_client.get("/admin/backtesting_app/optimizationresult/", {"run__exact": finished_run.pk})
    assert listing.status_code == 200
    finished_run.refresh_from_db()
    assert listing.context["cl"].result_count == sum(finished_run.phase_counts.values()) > 0
    assert (
        staff_client.get("/admin/backtesting_app/optimizationresult/", {"run__exact": other.pk})
        .context["cl"]
        .result_count
        == 0
    )
    assert staff_client.get("/admin/backtesting_app/optimizationresult/add/").status_code == 403
    result = finished_run.results.first()
    assert (
        staff_client.post(f"/admin/backtesting_app/optimizationresult/{result.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert finished_run.results.filter(pk=result.pk).exists()
