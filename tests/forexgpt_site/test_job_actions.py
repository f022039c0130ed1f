"""A run page's Cancel and Resume buttons: what the API's cancel and resume do, from the page, for the
run's owner or staff."""

import pytest

from backtesting_app.models import BacktestRun, OptimizationRun
from backtesting_app.request import BacktestRequest, OptimizationRequest

pytestmark = pytest.mark.django_db
SERIES = {"symbol": "EURUSD", "timeframe": "1h", "forecasts_source": "baseline"}


def _run(model, owner, status):
    if model is BacktestRun:
        request = BacktestRequest.from_dict(
            {
                **SERIES,
                "strategy": "pattern",
                "params": {"stop_loss_pct": 0.01, "take_profit_pct": 0.01, "max_hold_bars": 5},
            }
        )
    else:
        request = OptimizationRequest.from_dict({**SERIES, "strategy": "pattern", "budget": 20})
    run = model.of_request(request, owner=owner)
    run.status = status
    run.save()
    return run


def test_the_owner_cancels_a_queued_run_from_its_page(logged_in_client, user, django_capture_on_commit_callbacks):
    run = _run(BacktestRun, user, "queued")
    page = logged_in_client.get(run.get_absolute_url()).content.decode()
    assert 'id="cancel-form"' in page and 'id="resume-form"' not in page
    response = logged_in_client.post(f"/jobs/backtests/{run.pk}/cancel/")
    assert response.status_code == 302 and response["Location"] == run.get_absolute_url()
    run.refresh_from_db()
    assert run.status == "cancelled"
    page = logged_in_client.get(run.get_absolute_url()).content.decode()
    assert 'id="cancel-form"' not in page and 'id="resume-form"' not in page  # a backtest does not resume
    again = logged_in_client.post(f"/jobs/backtests/{run.pk}/cancel/", follow=True).content.decode()
    assert "only a queued or running run can be cancelled (this one is cancelled)" in again


def test_a_failed_optimization_resumes_from_its_page(logged_in_client, user, django_capture_on_commit_callbacks):
    run = _run(OptimizationRun, user, "failed")
    page = logged_in_client.get(run.get_absolute_url()).content.decode()
    assert 'id="resume-form"' in page and "resuming from the stored results: nothing stored is done again" in page
    with django_capture_on_commit_callbacks(execute=False) as queued:
        logged_in_client.post(f"/jobs/optimizations/{run.pk}/resume/")
    run.refresh_from_db()
    assert (run.status, run.message, len(queued)) == ("queued", "resuming from the stored results", 1)


def test_someone_elses_run_shows_no_buttons_and_refuses_them(client, user, django_user_model):
    run = _run(BacktestRun, user, "queued")
    other = django_user_model.objects.create_user(username="other", password="other-pass-123")
    client.force_login(other)
    assert 'id="cancel-form"' not in client.get(run.get_absolute_url()).content.decode()
    refused = client.post(f"/jobs/backtests/{run.pk}/cancel/", follow=True).content.decode()
    assert "only the run&#x27;s owner or staff may cancel it" in refused
    run.refresh_from_db()
    assert run.status == "queued"
    assert client.post(f"/jobs/backtests/{run.pk}/resume/").status_code == 404  # a kind that does not resume
    assert client.post(f"/jobs/nothing/{run.pk}/cancel/").status_code == 404
    assert client.get(f"/jobs/backtests/{run.pk}/cancel/").status_code == 405


def test_the_buttons_post_needs_a_login_and_the_forms_csrf_token(user):
    from django.test import Client

    run = _run(BacktestRun, user, "queued")
    anonymous = Client().post(f"/jobs/backtests/{run.pk}/cancel/")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    assert strict.post(f"/jobs/backtests/{run.pk}/cancel/").status_code == 403  # no token: a forged post
    run.refresh_from_db()
    assert run.status == "queued"
