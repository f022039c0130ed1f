"""Staff delete a series or a range of it (page button, admin action, command); nobody else can."""

import json
from datetime import UTC, datetime

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.urls import reverse

from marketdata.models import Candle, CandleImport
from marketdata.request import ImportRequest
from marketdata.services import candles_delete, candles_import_file

pytestmark = pytest.mark.django_db
UTC = UTC


@pytest.fixture
def series(fixture_path):
    """400 EURUSD H1 bars, 2014-05-30 15:00 -> 2014-06-24 06:00 UTC, and 1,200 M1 bars beside them."""
    candles_import_file(
        source=fixture_path("mt4_eurusd_h1.csv"),
        request=ImportRequest(symbol="EURUSD", timeframe="1h", tz="Europe/Helsinki"),
    )
    candles_import_file(source=fixture_path("eurusd_m1.csv"), request=ImportRequest(symbol="EURUSD", timeframe="1m"))


def _h1_count():
    return Candle.objects.filter(timeframe="1h").count()


def test_staff_delete_a_range_inclusive_then_the_whole_series(series, staff_user):
    start, end = datetime(2014, 6, 2, 0, tzinfo=UTC), datetime(2014, 6, 2, 23, tzinfo=UTC)
    result = candles_delete(user=staff_user, symbol="EUR/USD", timeframe="H1", start=start, end=end)
    assert result == {
        "deleted": 24,
        "symbol": "EURUSD",
        "timeframe": "1h",
        "start": start.isoformat(),
        "end": end.isoformat(),
    }
    assert _h1_count() == 376 and not Candle.objects.filter(timeframe="1h", ts__range=(start, end)).exists()
    assert candles_delete(user=staff_user, symbol="EURUSD", timeframe="1h")["deleted"] == 376
    assert _h1_count() == 0 and Candle.objects.filter(timeframe="1m").count() == 1200  # other series untouched
    assert CandleImport.objects.count() == 2  # the record of what was imported stays


def test_non_staff_may_not_delete(series, user):
    with pytest.raises(PermissionDenied, match="only staff may delete market data"):
        candles_delete(user=user, symbol="EURUSD", timeframe="1h")
    assert _h1_count() == 400


def test_the_delete_button_is_for_staff_and_others_get_403(series, client, user, staff_user):
    client.force_login(user)
    page = client.get(reverse("marketdata:data"), {"symbol": "EURUSD", "timeframe": "1h"}).content.decode()
    assert 'id="delete-form"' not in page
    response = client.post(reverse("marketdata:delete"), {"symbol": "EURUSD", "timeframe": "1h"})
    assert response.status_code == 403 and _h1_count() == 400

    client.force_login(staff_user)
    page = client.get(reverse("marketdata:data"), {"symbol": "EURUSD", "timeframe": "1h"}).content.decode()
    assert 'id="delete-form"' in page and f'action="{reverse("marketdata:delete")}"' in page
    response = client.post(
        reverse("marketdata:delete"),
        {"symbol": "EURUSD", "timeframe": "1h", "start": "2014-06-02T00:00", "end": "2014-06-02T23:00"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("marketdata:data") + "?symbol=EURUSD&timeframe=1h"
    assert (
        "Deleted 24 EURUSD 1h bars (2014-06-02T00:00:00+00:00 -&gt; 2014-06-02T23:00:00+00:00)."
        in response.content.decode()
    )
    assert _h1_count() == 376
    assert client.get(reverse("marketdata:delete")).status_code == 405


def test_delete_command(series, capsys):
    hour = Candle.objects.filter(
        timeframe="1m", ts__range=(datetime(2017, 1, 2, 7, tzinfo=UTC), datetime(2017, 1, 2, 7, 59, tzinfo=UTC))
    )
    assert hour.count() == 58  # two minutes of that hour have no bar in the real file
    call_command(
        "delete_candles",
        "--symbol",
        "EURUSD",
        "--timeframe",
        "1m",
        "--start",
        "2017-01-02T07:00",
        "--end",
        "2017-01-02T07:59",
        "--json",
    )
    assert json.loads(capsys.readouterr().out) == {
        "deleted": 58,
        "symbol": "EURUSD",
        "timeframe": "1m",
        "start": "2017-01-02T07:00:00+00:00",
        "end": "2017-01-02T07:59:00+00:00",
    }
    assert not hour.exists() and Candle.objects.filter(timeframe="1m").count() == 1200 - 58
    call_command("delete_candles", "--symbol", "EURUSD", "--timeframe", "1h")
    assert capsys.readouterr().out.strip() == "deleted 400 EURUSD 1h bars"


def test_admin_deletes_the_bars_an_import_wrote_and_then_the_import(series, client, staff_user):
    client.force_login(staff_user)
    h1_import = CandleImport.objects.get(timeframe="1h")
    url = reverse("admin:marketdata_candleimport_delete", args=[h1_import.pk])
    confirm = client.get(url).content.decode()
    assert f"import #{h1_import.pk}: the 400 bars it wrote" in confirm  # counted, not 400 listed bars
    response = client.post(
        reverse("admin:marketdata_candleimport_changelist"),
        {"action": "delete_written_bars", "_selected_action": [h1_import.pk]},
        follow=True,
    )
    assert "Deleted 400 bars written by 1 import(s)." in response.content.decode()
    assert _h1_count() == 0 and Candle.objects.filter(timeframe="1m").count() == 1200
    client.post(url, {"post": "yes"})
    assert not CandleImport.objects.filter(pk=h1_import.pk).exists()
