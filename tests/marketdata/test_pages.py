"""The data and import pages: the conflict policy, conflicts shown, the demo label, whole-series charts."""

import json
import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from marketdata.models import Candle, CandleImport
from marketdata.request import ImportRequest
from marketdata.services import candle_import_start, candles_import_file, candles_resample, demo_data_load
from marketdata.tasks import candle_import_execute

pytestmark = pytest.mark.django_db
HELSINKI = {"symbol": "EURUSD", "timeframe": "1h", "tz": "Europe/Helsinki"}  # form and API fields
HELSINKI_REQUEST = ImportRequest(**HELSINKI)


def _changed_copy(fixture_path, tmp_path, rows: int = 3) -> Path:
    """The MT4 fixture with the volume of its first `rows` bars changed: another broker's export."""
    lines = fixture_path("mt4_eurusd_h1.csv").read_text().splitlines()
    for i in range(rows):
        *head, volume = lines[i].split(",")
        lines[i] = ",".join([*head, str(int(volume) * 3)])
    path = tmp_path / "other_broker.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_import_form_offers_the_conflict_policy_refuse_by_default(logged_in_client):
    body = logged_in_client.get(reverse("marketdata:data")).content.decode()
    radios = re.findall(r'<input type="radio" name="on_conflict" value="(\w+)"[^>]*?( checked)?>', body)
    assert radios == [("refuse", " checked"), ("keep", ""), ("replace", "")]
    assert "refuse the file and report the conflicts (nothing is written)" in body


def test_the_form_passes_the_policy_to_the_import(logged_in_client, fixture_path, django_capture_on_commit_callbacks):
    with fixture_path("mt4_eurusd_h1.csv").open("rb") as fh, django_capture_on_commit_callbacks(execute=False):
        response = logged_in_client.post(
            reverse("marketdata:data"), {"file": fh, "format": "auto", "on_conflict": "replace", **HELSINKI}
        )
    run = CandleImport.objects.get()
    assert response.status_code == 302 and (run.on_conflict, run.origin) == ("replace", "upload")
    with fixture_path("mt4_eurusd_h1.csv").open("rb") as fh, django_capture_on_commit_callbacks(execute=False):
        logged_in_client.post(
            reverse("marketdata:data"), {"file": fh, "format": "auto", **HELSINKI}
        )  # a post without the field
    assert CandleImport.objects.order_by("pk").last().on_conflict == "refuse"


def test_a_refused_upload_shows_its_conflicts_and_can_be_imported_again_keeping_them(
    logged_in_client, user, fixture_path, tmp_path, django_capture_on_commit_callbacks
):
    first = candles_import_file(source=fixture_path("mt4_eurusd_h1.csv"), request=HELSINKI_REQUEST)
    upload = SimpleUploadedFile("other_broker.csv", _changed_copy(fixture_path, tmp_path).read_bytes())
    with django_capture_on_commit_callbacks(execute=False):
        run = candle_import_start(user=user, upload=upload, request=HELSINKI_REQUEST)
    assert candle_import_execute(run.pk) == "failed"
    body = logged_in_client.get(reverse("marketdata:import-detail", args=[run.pk])).content.decode()
    assert "Refused: 3 bars of this file\n      are already stored with other values; nothing was imported." in body
    assert "The file also holds 0 new bars and 397 identical (duplicate) bars." in body
    assert "format mt4 (detected)" in body and "not recognized" not in body  # read fine, refused for conflicts
    stored = Candle.objects.order_by("ts").first()
    row = re.search(r"<tr><td>2014-05-30T15:00:00\+00:00</td>.*?</tr>", body, re.S).group(0)
    assert (
        "<td>volume</td>" in row
        and f"/ {stored.volume:.0f} <small>" in row
        and f"/ {stored.volume * 3:.0f}</td>" in row
    )
    assert f'href="/data/imports/{first["import_id"]}/">import #{first["import_id"]}</a>' in row
    assert 'id="retry-form"' in body and 'value="keep"' in body and 'value="replace"' in body

    with django_capture_on_commit_callbacks(execute=False):
        response = logged_in_client.post(reverse("marketdata:import-retry", args=[run.pk]), {"on_conflict": "keep"})
    retry = CandleImport.objects.order_by("pk").last()
    assert response.status_code == 302 and response["Location"] == reverse("marketdata:import-detail", args=[retry.pk])
    assert (retry.on_conflict, retry.file.name, retry.original_name) == ("keep", run.file.name, "other_broker.csv")
    assert candle_import_execute(retry.pk) == "succeeded"
    body = logged_in_client.get(reverse("marketdata:import-detail", args=[retry.pk])).content.decode()
    assert '<dd id="conflicts">3 <small>(stored bars kept)</small></dd>' in body
    assert '<dd id="duplicates">397' in body and 'id="import-conflicts"' in body
    assert Candle.objects.order_by("ts").first().volume == stored.volume


def test_retry_is_refused_for_a_bad_policy(logged_in_client, user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        run = candle_import_start(user=user, upload=SimpleUploadedFile("x.csv", b"x"), request=HELSINKI_REQUEST)
    response = logged_in_client.post(
        reverse("marketdata:import-retry", args=[run.pk]), {"on_conflict": "refuse"}, follow=True
    )
    assert "Not imported: * on_conflict" in response.content.decode() and CandleImport.objects.count() == 1


def test_a_bad_chart_range_is_said_and_the_series_asked_for_kept(logged_in_client, fixture_path):
    candles_import_file(source=fixture_path("mt4_eurusd_h1.csv"), request=HELSINKI_REQUEST)
    candles_resample(
        symbol="EURUSD", source_timeframe="1h", target_timeframe="1d"
    )  # two series: the 1d one lists first
    page = logged_in_client.get(reverse("marketdata:data"), {"symbol": "EURUSD", "timeframe": "1h", "start": "garbage"})
    body = page.content.decode()
    assert "Enter a valid date/time." in body and page.context["selected"]["timeframe"] == "1h"
    backwards = {"symbol": "EURUSD", "timeframe": "1h", "start": "2014-06-03T00:00", "end": "2014-06-02T00:00"}
    assert (
        "start 2014-06-03 00:00 is after end 2014-06-02 00:00"
        in logged_in_client.get(reverse("marketdata:data"), backwards).content.decode()
    )


def test_the_data_page_marks_demo_data_and_mixed_sources(logged_in_client, fixture_path):
    demo_data_load()
    body = logged_in_client.get(reverse("marketdata:data")).content.decode()
    assert '<span class="status demo"' in body and "<small>backtesting.test.EURUSD</small>" in body
    assert "demo data (backtesting" not in body  # the badge says demo data once, not again in the source
    candles_import_file(source=fixture_path("mt4_eurusd_h1.csv"), request=HELSINKI_REQUEST)
    body = logged_in_client.get(reverse("marketdata:data")).content.decode()
    run = CandleImport.objects.get(origin="command")
    assert "mixed sources" in body and "demo data (backtesting.test.EURUSD): 5,000 bars" in body
    assert f"mt4_eurusd_h1.csv (mt4, import #{run.pk}): 400 bars" in body


def test_the_data_page_draws_a_ten_year_series_whole_and_rescans_nothing_once_warm(
    logged_in_client, shared_file, monkeypatch
):
    """How fast the page is lives in bench/flow_walk.py (timed in a browser); here, what keeps it fast:
    the series drawn whole as 547 weekly candles, and the long-gap scan of 65,000 timestamps cached."""
    from marketdata import selectors

    candles_import_file(
        source=shared_file("EURUSD_H1_2014-2024.csv"), request=ImportRequest(symbol="EURUSD", timeframe="1h")
    )
    url = reverse("marketdata:data")
    logged_in_client.get(url, {"symbol": "EURUSD", "timeframe": "1h"})  # warm the long-gap cache
    scans = []
    monkeypatch.setattr(selectors, "scan_anomalies", lambda *args, **kwargs: scans.append(args))
    response = logged_in_client.get(url, {"symbol": "EURUSD", "timeframe": "1h"})
    assert scans == [], "the long gaps were scanned again"
    chart = response.context["chart"]
    assert (chart["bars"], chart["drawn"], chart["shown_timeframe"]) == (65000, 547, "W1")
    figure = json.loads(
        re.search(
            r'<script id="chart-figure" type="application/json">(.*?)</script>', response.content.decode(), re.S
        ).group(1)
    )
    assert figure["layout"]["title"]["text"] == "EURUSD W1 - 65,000 H1 bars aggregated to 547 W1 bars"
    assert figure["data"][0]["x"][0].startswith("2014-05-25") and figure["data"][0]["x"][-1].startswith("2024-11-10")
    assert "drawn whole as 547 W1 candles" in response.content.decode()
    picked = logged_in_client.get(
        url, {"symbol": "EURUSD", "timeframe": "1h", "start": "2020-01-01T00:00", "end": "2020-06-30T00:00"}
    )
    assert (picked.context["chart"]["bars"], picked.context["chart"]["shown_timeframe"]) == (3067, "H4")


def test_the_import_report_chart_shows_the_whole_imported_range(
    logged_in_client, user, shared_file, django_capture_on_commit_callbacks
):
    upload = SimpleUploadedFile("EURUSD_H1_2014-2024.csv", shared_file("EURUSD_H1_2014-2024.csv").read_bytes())
    with django_capture_on_commit_callbacks(execute=False):
        run = candle_import_start(user=user, upload=upload, request=ImportRequest(symbol="EURUSD", timeframe="1h"))
    assert candle_import_execute(run.pk) == "succeeded"
    chart = logged_in_client.get(reverse("marketdata:import-detail", args=[run.pk])).context["chart"]
    assert (chart["bars"], chart["drawn"], chart["title"]) == (
        65000,
        547,
        "EURUSD W1 - 65,000 H1 bars aggregated to 547 W1 bars",
    )


def test_the_command_takes_the_policy(fixture_path, tmp_path, capsys):
    call_command(
        "import_candles",
        str(fixture_path("mt4_eurusd_h1.csv")),
        "--symbol",
        "EURUSD",
        "--timeframe",
        "1h",
        "--tz",
        "Europe/Helsinki",
    )
    capsys.readouterr()
    other = str(_changed_copy(fixture_path, tmp_path))
    with pytest.raises(CommandError, match=r"rejected: 3 bar\(s\) are already stored with other values"):
        call_command(
            "import_candles", other, "--symbol", "EURUSD", "--timeframe", "1h", "--tz", "Europe/Helsinki", "--json"
        )
    refused = json.loads(capsys.readouterr().out)
    assert (refused["inserted"], refused["conflicts"], refused["duplicates"], refused["on_conflict"]) == (
        0,
        3,
        397,
        "refuse",
    )
    call_command(
        "import_candles",
        other,
        "--symbol",
        "EURUSD",
        "--timeframe",
        "1h",
        "--tz",
        "Europe/Helsinki",
        "--on_conflict",
        "replace",
        "--json",
    )
    replaced = json.loads(capsys.readouterr().out)
    assert (replaced["inserted"], replaced["conflicts"], replaced["replaced"], replaced["on_conflict"]) == (
        0,
        3,
        3,
        "replace",
    )
    assert Candle.objects.filter(candle_import_id=replaced["import_id"]).count() == 3
    with pytest.raises(CommandError, match="invalid choice: 'merge'"):
        call_command("import_candles", other, "--symbol", "EURUSD", "--timeframe", "1h", "--on_conflict", "merge")


def test_the_api_takes_the_policy(api_client, fixture_path, tmp_path, django_capture_on_commit_callbacks):
    candles_import_file(source=fixture_path("mt4_eurusd_h1.csv"), request=HELSINKI_REQUEST)
    other = _changed_copy(fixture_path, tmp_path).read_bytes()

    def post(**extra):
        with django_capture_on_commit_callbacks(execute=False):
            return api_client.post(
                "/api/candles/import/",
                {"file": SimpleUploadedFile("b.csv", other), **HELSINKI, **extra},
                format="multipart",
            )

    refused = post()
    assert refused.status_code == 202 and refused.json()["on_conflict"] == "refuse"
    candle_import_execute(refused.json()["id"])
    detail = api_client.get(f"/api/candle-imports/{refused.json()['id']}/").json()
    assert detail["status"] == "failed" and detail["report"]["conflicts"] == 3 and detail["origin"] == "upload"
    kept = post(on_conflict="keep")
    candle_import_execute(kept.json()["id"])
    assert api_client.get(f"/api/candle-imports/{kept.json()['id']}/").json()["report"]["kept"] == 3
    bad = post(on_conflict="merge")
    assert bad.status_code == 400 and bad.json() == {"on_conflict": ['"merge" is not a valid choice.']}
    (series,) = api_client.get("/api/series/").json()
    assert series["is_demo"] is False and [s["bars"] for s in series["sources"]] == [400]
