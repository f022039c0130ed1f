"""Every page needs a login; each renders for a user; admin is staff-only."""

import pytest
from django.urls import reverse

from forexgpt_site.context_processors import NAVIGATION

pytestmark = pytest.mark.django_db
PAGES = [reverse(name) if ":" not in name else reverse(name) for name, _ in NAVIGATION]


@pytest.mark.parametrize("url", PAGES)
def test_pages_redirect_anonymous_users_to_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("url", PAGES)
def test_pages_render_for_a_logged_in_user(logged_in_client, url):
    response = logged_in_client.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    for _, label in NAVIGATION:
        assert f">{label}</a>" in body


def test_login_page_logs_in(client, user):
    assert client.get(reverse("login")).status_code == 200
    response = client.post(reverse("login"), {"username": "analyst", "password": "analyst-pass-123"})
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")
    assert client.get(reverse("dashboard")).status_code == 200


def test_admin_is_for_staff_only(client, user, staff_user):
    client.force_login(user)
    assert client.get("/admin/").status_code == 302  # to the admin login
    client.force_login(staff_user)
    for url in ("/admin/", "/admin/marketdata/candle/", "/admin/marketdata/candleimport/"):
        assert client.get(url).status_code == 200, url


def test_data_page_lists_series_and_renders_a_chart(logged_in_client, fixture_path):
    from marketdata.request import ImportRequest
    from marketdata.services import candles_import_file

    candles_import_file(
        source=fixture_path("mt4_eurusd_h1.csv"),
        request=ImportRequest(symbol="EURUSD", timeframe="1h", tz="Europe/Helsinki"),
    )
    body = logged_in_client.get(reverse("marketdata:data")).content.decode()
    assert '<td>EURUSD</td><td>H1</td><td class="num">400</td>' in body
    assert 'id="chart-figure"' in body and '"type": "candlestick"' in body
    assert "/static/plotly/plotly.min.js" in body
    narrowed = logged_in_client.get(
        reverse("marketdata:data"),
        {"symbol": "EURUSD", "timeframe": "1h", "start": "2014-06-02 00:00", "end": "2014-06-02 23:00"},
    )
    assert narrowed.context["chart"]["bars"] == 24


def test_data_page_upload_queues_an_import(logged_in_client, fixture_path, django_capture_on_commit_callbacks):
    from marketdata.models import CandleImport

    with fixture_path("mt4_eurusd_h1.csv").open("rb") as fh, django_capture_on_commit_callbacks(execute=False):
        response = logged_in_client.post(
            reverse("marketdata:data"),
            {"file": fh, "symbol": "EUR/USD", "timeframe": "1h", "format": "auto", "tz": "Europe/Helsinki"},
        )
    run = CandleImport.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("marketdata:import-detail", args=[run.pk])
    assert (run.symbol, run.tz, run.status) == ("EURUSD", "Europe/Helsinki", "queued")


def test_the_favicon_is_served_to_anyone_where_browsers_look_for_it(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("favicon.svg")


def test_an_anonymous_upload_is_refused_before_its_body_is_read(client, monkeypatch):
    from django.http import multipartparser

    parsed = []
    real = multipartparser.MultiPartParser.parse
    monkeypatch.setattr(multipartparser.MultiPartParser, "parse", lambda self: parsed.append(1) or real(self))
    body = b"x" * (2 * 2**20)
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(
        "/data/", {"file": SimpleUploadedFile("big.csv", body), "symbol": "EURUSD", "timeframe": "1h"}
    )
    assert response.status_code == 302 and "/login/" in response["Location"]  # not a CSRF 403 after reading it
    assert not parsed
