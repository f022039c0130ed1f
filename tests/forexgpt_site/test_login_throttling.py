"""Guessing passwords: logins lock after a few failures (page and token), and the API has rates."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

pytestmark = pytest.mark.django_db

LIMIT = 5  # FOREXGPT_LOGIN_FAILURE_LIMIT's default


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    """DRF counts requests in the cache; no count may leak into another test."""
    cache.clear()
    yield
    cache.clear()


def _page_login(client, password):
    return client.post("/login/", {"username": "analyst", "password": password})


def _token(password, username="analyst"):
    return APIClient().post("/api/token/", {"username": username, "password": password})


def test_the_page_login_refuses_the_right_password_after_repeated_wrong_ones(client, user):
    for _ in range(LIMIT - 1):
        assert _page_login(client, "guess").status_code == 200  # the form again, with its error
    locked = _page_login(client, "guess")
    assert locked.status_code == 429 and b"Too many failed logins" in locked.content
    right = _page_login(client, "analyst-pass-123")
    assert right.status_code == 429 and "_auth_user_id" not in client.session
    assert client.get("/").status_code == 302  # still sent to the login page


def test_the_token_endpoint_refuses_the_right_password_after_repeated_wrong_ones(user):
    for _ in range(LIMIT - 1):
        assert _token("guess").status_code == 400
    assert _token("guess").status_code == 429
    right = _token("analyst-pass-123")
    assert right.status_code == 429 and "token" not in right.json()
    assert "too many login attempts" in right.json()["detail"].lower()
    assert int(right["Retry-After"]) == 15 * 60


def test_a_lockout_on_the_page_also_holds_for_the_token_endpoint(client, user):
    for _ in range(LIMIT):
        _page_login(client, "guess")
    assert _token("analyst-pass-123").status_code == 429


def test_normal_use_is_unaffected(client, user, django_user_model):
    for _ in range(LIMIT - 1):
        _page_login(client, "typo")
    assert _page_login(client, "analyst-pass-123").status_code == 302  # one short of the limit: logged in
    client.logout()
    for _ in range(LIMIT - 1):  # the success reset the count
        assert _page_login(client, "typo").status_code == 200
    assert "token" in _token("analyst-pass-123").json()
    # Another user at the same address is not locked out by the analyst's failures.
    django_user_model.objects.create_user(username="quant", password="quant-pass-123")
    for _ in range(LIMIT):
        _token("guess")
    assert "token" in _token("quant-pass-123", username="quant").json()


def test_the_lock_lifts_after_the_cool_off(client, user):
    from axes.models import AccessAttempt

    for _ in range(LIMIT):
        _page_login(client, "guess")
    assert _page_login(client, "analyst-pass-123").status_code == 429
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16))
    assert _page_login(client, "analyst-pass-123").status_code == 302


def test_api_requests_are_rate_limited_per_user(api_client, monkeypatch):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"user": "3/minute", "anon": "2/minute"})
    assert [api_client.get("/api/series/").status_code for _ in range(4)] == [200, 200, 200, 429]


def test_the_configured_rates_and_limits_come_from_the_environment():
    from django.conf import settings

    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    assert rates == {"anon": "60/minute", "user": "600/minute"} and settings.REST_FRAMEWORK["NUM_PROXIES"] == 0
    assert (settings.AXES_FAILURE_LIMIT, settings.AXES_COOLOFF_TIME) == (LIMIT, timedelta(minutes=15))


def test_one_address_spraying_passwords_over_many_usernames_is_paused(client, user, settings):
    settings.FOREXGPT_LOGIN_ADDRESS_FAILURE_LIMIT = 12
    for k in range(12):  # one wrong password each for twelve usernames: under django-axes' per-username limit
        assert client.post("/login/", {"username": f"someone-{k}", "password": "Summer2026!"}).status_code == 200
    refused = client.post("/login/", {"username": "analyst", "password": "analyst-pass-123"})  # even the right one
    assert refused.status_code == 429 and b"too many failed logins from this address" in refused.content
    assert int(refused["Retry-After"]) == int(settings.AXES_COOLOFF_TIME.total_seconds())
    api = APIClient().post("/api/token/", {"username": "analyst", "password": "analyst-pass-123"})
    assert api.status_code == 429 and "too many failed logins from this address" in api.json()["detail"]
    elsewhere = APIClient(REMOTE_ADDR="203.0.113.9").post(
        "/api/token/", {"username": "analyst", "password": "analyst-pass-123"}
    )
    assert elsewhere.status_code == 200  # another address is not paused
