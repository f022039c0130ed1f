"""API tokens (django-rest-knox): only a hash is stored, tokens expire, logout revokes them; the login
endpoint keeps the password lockout (test_login_throttling.py) and the anonymous rate."""

import hashlib
import io
import json
import subprocess
import sys
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from knox.models import AuthToken
from knox.settings import knox_settings
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    cache.clear()
    yield
    cache.clear()


def _login(data=None, **kwargs):
    return APIClient().post("/api/token/", data or {"username": "analyst", "password": "analyst-pass-123"}, **kwargs)


def _client(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def test_login_answers_a_token_and_its_expiry_30_days_ahead(user):
    before = timezone.now()
    response = _login()
    body = response.json()
    assert response.status_code == 200 and set(body) == {"token", "expiry"}
    expiry = AuthToken.objects.get(user=user).expiry
    assert before + timedelta(hours=720) <= expiry <= timezone.now() + timedelta(hours=720)
    assert body["expiry"] == expiry.isoformat().replace("+00:00", "Z")
    assert _client(body["token"]).get("/api/series/").status_code == 200


def test_login_takes_a_form_or_json_and_each_login_is_a_new_token(user):
    credentials = {"username": "analyst", "password": "analyst-pass-123"}
    tokens = {
        _login().json()["token"],  # multipart
        _login(urlencode(credentials), content_type="application/x-www-form-urlencoded").json()["token"],
        _login(format="json").json()["token"],
    }
    assert len(tokens) == 3 and AuthToken.objects.filter(user=user).count() == 3


def test_the_database_holds_a_hash_of_the_token_never_the_token(user):
    token = _login().json()["token"]
    (row,) = AuthToken.objects.all()
    assert row.digest == hashlib.sha512(token.encode()).hexdigest()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {AuthToken._meta.db_table}")
        stored = " ".join(str(value) for record in cursor.fetchall() for value in record)
    # token_key is the first 15 characters, an index for the lookup; the rest exists nowhere.
    assert token not in stored and token[15:] not in stored and row.token_key == token[:15]


def test_an_expired_token_is_refused_and_removed(user):
    token = _login().json()["token"]
    AuthToken.objects.update(expiry=timezone.now() - timedelta(seconds=1))
    response = _client(token).get("/api/series/")
    assert response.status_code == 401 and response.json() == {"detail": "Invalid token."}
    assert response["WWW-Authenticate"] == "Token"
    assert not AuthToken.objects.exists()


def test_a_wrong_or_malformed_token_is_refused(user):
    token = _login().json()["token"]
    assert _client(token[:-1] + ("0" if token[-1] != "0" else "1")).get("/api/series/").status_code == 401
    assert _client("not-hex!").get("/api/series/").status_code == 401
    assert _client(token).get("/api/series/").status_code == 200


def test_logout_revokes_the_token_used_and_only_that_one(user):
    one, two = _login().json()["token"], _login().json()["token"]
    assert _client(one).post("/api/token/logout/").status_code == 204
    assert _client(one).get("/api/series/").status_code == 401
    assert _client(two).get("/api/series/").status_code == 200


def test_logout_all_revokes_every_token_of_the_caller_only(user, django_user_model):
    django_user_model.objects.create_user(username="quant", password="quant-pass-123")
    one, two = _login().json()["token"], _login().json()["token"]
    theirs = _login({"username": "quant", "password": "quant-pass-123"}).json()["token"]
    assert _client(one).post("/api/token/logout-all/").status_code == 204
    assert [_client(t).get("/api/series/").status_code for t in (one, two, theirs)] == [401, 401, 200]


def test_logout_needs_a_token(logged_in_client):
    assert logged_in_client.post("/api/token/logout/").status_code == 401


def test_an_inactive_users_token_is_refused(user):
    token = _login().json()["token"]
    user.is_active = False
    user.save()
    assert _client(token).get("/api/series/").status_code == 401


def test_login_needs_no_csrf_token_even_beside_a_session(user):
    """The body's password is the only credential: a logged-in browser session is not read."""
    csrf_checking = APIClient(enforce_csrf_checks=True)
    csrf_checking.force_login(user)
    response = csrf_checking.post("/api/token/", {"username": "analyst", "password": "analyst-pass-123"})
    assert response.status_code == 200 and "token" in response.json()


def test_login_is_under_the_anonymous_rate(user, monkeypatch):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"user": "3/minute", "anon": "2/minute"})
    answers = [_login() for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429] and "Retry-After" in answers[2]


def test_a_missing_password_is_a_400_naming_the_fields(user):
    response = _login({"username": "analyst"})
    assert response.status_code == 400 and response.json() == {"password": ["This field is required."]}


def test_tokens_live_30_days_by_default():
    assert settings.REST_KNOX["TOKEN_TTL"] == timedelta(days=30) and knox_settings.TOKEN_TTL == timedelta(days=30)


def _token_lifetime_in_a_fresh_process(hours: str, tmp_path) -> subprocess.CompletedProcess:
    code = "from forexgpt_site import settings; print(repr(settings.REST_KNOX['TOKEN_TTL']))"
    environ = {
        "PATH": "/usr/bin:/bin",
        "SECRET_KEY": "x",
        "FOREXGPT_DATA_DIR": str(tmp_path),
        "FOREXGPT_API_TOKEN_TTL_HOURS": hours,
    }
    return subprocess.run(
        [sys.executable, "-c", code], env=environ, cwd=settings.BASE_DIR, capture_output=True, text=True
    )


def test_the_token_lifetime_comes_from_the_environment(tmp_path):
    assert _token_lifetime_in_a_fresh_process("1.5", tmp_path).stdout.strip() == "datetime.timedelta(seconds=5400)"
    assert _token_lifetime_in_a_fresh_process("0", tmp_path).stdout.strip() == "None"  # never expires
    refused = _token_lifetime_in_a_fresh_process("-1", tmp_path)
    assert refused.returncode != 0 and "FOREXGPT_API_TOKEN_TTL_HOURS must be 0" in refused.stderr


@pytest.mark.parametrize("hours, lifetime", [(None, timedelta(days=30)), (2.0, timedelta(hours=2)), (0.0, None)])
def test_the_api_token_command_prints_a_working_token(user, capsys, hours, lifetime):
    before = timezone.now()
    call_command("api_token", "analyst", *(["--hours", str(hours)] if hours is not None else []))
    token = capsys.readouterr().out.strip()
    row = AuthToken.objects.get(user=user)
    if lifetime is None:
        assert row.expiry is None
    else:
        assert before + lifetime <= row.expiry <= timezone.now() + lifetime
    assert len(token) == 64 and _client(token).get("/api/series/").status_code == 200


def test_the_api_token_command_json_and_refusals(user, capsys):
    call_command("api_token", "analyst", "--json")
    printed = json.loads(capsys.readouterr().out)
    assert printed["username"] == "analyst" and printed["expiry"] == AuthToken.objects.get().expiry.isoformat()
    assert _client(printed["token"]).get("/api/series/").status_code == 200
    with pytest.raises(CommandError, match="no user named 'nobody'"):
        call_command("api_token", "nobody")
    with pytest.raises(CommandError, match="--hours must be 0"):
        call_command("api_token", "analyst", "--hours", "-1")
    user.is_active = False
    user.save()
    with pytest.raises(CommandError, match="user 'analyst' is inactive"):
        call_command("api_token", "analyst")
    assert AuthToken.objects.count() == 1


def test_a_user_holds_at_most_the_cap_of_tokens_the_oldest_revoked_first(user, settings):
    """A script that logs in on every run and never logs out leaves at most FOREXGPT_API_TOKENS_PER_USER
    working tokens: each login beyond them revokes the oldest; nobody is refused a new token."""
    settings.FOREXGPT_API_TOKENS_PER_USER = 3
    tokens = [_login().json()["token"] for _ in range(4)]
    assert AuthToken.objects.filter(user=user).count() == 3
    assert _client(tokens[0]).get("/api/series/").status_code == 401  # the oldest, revoked
    assert all(_client(t).get("/api/series/").status_code == 200 for t in tokens[1:])
    call_command("api_token", "analyst", stdout=(out := io.StringIO()), stderr=io.StringIO())
    assert AuthToken.objects.filter(user=user).count() == 3
    assert _client(tokens[1]).get("/api/series/").status_code == 401
    assert _client(out.getvalue().strip()).get("/api/series/").status_code == 200


def test_options_on_the_token_endpoint_describe_it_without_its_internals(client):
    response = client.options("/api/token/")
    assert response.status_code == 200
    description = response.json()["description"]
    assert "username and password" in description and "axes" not in description and "knox" not in description
