"""ImportRequest: the defaults, every check with the field it names, the round trip, and the faces
(form, serializer, command, stored run) that come from it."""

import json
import re
from html import escape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from marketdata.engine import CONFLICT_POLICIES, FORMATS
from marketdata.request import ImportRequest

EURUSD_H1 = {"symbol": "EURUSD", "timeframe": "1h"}


def test_defaults():
    request = ImportRequest.from_dict(EURUSD_H1)
    assert request == ImportRequest(symbol="EURUSD", timeframe="1h")
    assert (request.tz, request.format, request.drop, request.on_conflict) == ("", "auto", (), "refuse")
    assert ImportRequest.formats() == ("auto", "histdata", "mt4", "mt5", "dukascopy", "csv") == ("auto", *FORMATS)
    assert ImportRequest.DROPPABLE == ("weekend", "day_spanning", "flat_filler")
    assert list(ImportRequest.CONFLICT_POLICIES) == ["refuse", "keep", "replace"]


def test_familiar_names_are_read_and_blanks_take_the_defaults():
    request = ImportRequest.from_dict(
        {
            "symbol": "eur/usd",
            "timeframe": "H1",
            "tz": " Europe/Helsinki ",
            "format": "",
            "drop": "weekend, flat_filler,weekend",
            "on_conflict": None,
        }
    )
    assert request == ImportRequest(
        symbol="EURUSD", timeframe="1h", tz="Europe/Helsinki", drop=("weekend", "flat_filler")
    )
    assert ImportRequest.from_dict({**EURUSD_H1, "drop": ["day_spanning", "weekend", "day_spanning"]}).drop == (
        "day_spanning",
        "weekend",
    )
    assert ImportRequest.from_dict(
        {**EURUSD_H1, "timeframe": "W4", "format": "mt4", "on_conflict": "keep"}
    ) == ImportRequest(symbol="EURUSD", timeframe="4w", format="mt4", on_conflict="keep")


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"symbol": "??"}, "symbol '??' is not a currency pair such as EURUSD or EUR/USD"),
        ({"symbol": " "}, "symbol is required"),
        ({"timeframe": None}, "timeframe is required"),
        (
            {"timeframe": "yearly"},
            "timeframe 'yearly' is not understood; use e.g. 1m, 5m, 15m, 1h, 4h, 1d (or M1, H1, D1)",
        ),
        ({"timeframe": "7m"}, "timeframe '7m' does not divide a day evenly"),
        ({"timeframe": "5w"}, "timeframe '5w' is longer than the longest supported, 4w (four weeks)"),
        ({"tz": "Atlantis/Deep"}, "unknown time zone 'Atlantis/Deep'; use an IANA name such as Europe/Helsinki"),
        (
            {"tz": "Europe/" + "x" * 300},
            "unknown time zone 'Europe/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'... (307 characters); "
            "use an IANA name such as Europe/Helsinki",
        ),  # too long for a file name: no OSError
        ({"format": "xlsx"}, "unknown format 'xlsx'; choose auto or one of histdata, mt4, mt5, dukascopy, csv"),
        (
            {"format": "dukascopy", "tz": "Europe/Zurich"},
            "Dukascopy rows carry their own UTC offset (e.g. GMT+0100); a time zone (tz) does not apply",
        ),  # said by the form, before the file is queued
        ({"drop": ["gaps"]}, "cannot drop gaps; droppable: weekend, day_spanning, flat_filler"),
        ({"drop": "weekend,long_gap"}, "cannot drop long_gap; droppable: weekend, day_spanning, flat_filler"),
        ({"drop": 3}, "drop must be a list of anomaly kinds (weekend, day_spanning, flat_filler), not '3'"),
        ({"on_conflict": "merge"}, "unknown conflict policy 'merge'; choose one of refuse, keep, replace"),
        ({"on_conflict": ["keep"]}, "unknown conflict policy ['keep']; choose one of refuse, keep, replace"),
        (
            {"resample_to": "1d"},
            "unknown import option(s) resample_to; known: drop, format, on_conflict, symbol, timeframe, tz",
        ),
    ],
)
def test_each_check_names_its_field(changes, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        ImportRequest.from_dict({**EURUSD_H1, **changes})


def test_round_trip():
    request = ImportRequest(
        symbol="GBPJPY", timeframe="15m", tz="Europe/Helsinki", format="mt5", drop=("weekend",), on_conflict="replace"
    )
    assert request.to_dict() == {
        "symbol": "GBPJPY",
        "timeframe": "15m",
        "tz": "Europe/Helsinki",
        "format": "mt5",
        "drop": ["weekend"],
        "on_conflict": "replace",
    }
    assert ImportRequest.from_dict(request.to_dict()) == request
    assert ImportRequest.from_dict(ImportRequest(**EURUSD_H1).to_dict()) == ImportRequest(**EURUSD_H1)


def test_the_form_serializer_and_command_take_the_requests_defaults_and_choices():
    from marketdata.forms import CandleImportForm, ImportRetryForm
    from marketdata.management.commands.import_candles import Command
    from marketdata.serializers import CandleImportCreateSerializer

    form = CandleImportForm()
    assert (form.fields["format"].initial, form.fields["on_conflict"].initial) == ("auto", "refuse")
    assert [value for value, _ in form.fields["format"].choices] == list(ImportRequest.formats())
    assert [value for value, _ in form.fields["drop"].choices] == list(ImportRequest.DROPPABLE)
    assert list(form.fields["on_conflict"].choices) == list(CONFLICT_POLICIES.items())
    assert form.fields["tz"].max_length == ImportRequest.TZ_LENGTH == 64
    assert [value for value, _ in ImportRetryForm().fields["on_conflict"].choices] == ["keep", "replace"]
    fields = CandleImportCreateSerializer().fields
    assert (fields["tz"].default, fields["format"].default, fields["on_conflict"].default) == ("", "auto", "refuse")
    assert list(fields["format"].choices) == list(ImportRequest.formats())
    assert list(fields["on_conflict"].choices) == ["refuse", "keep", "replace"]
    parser = Command().create_parser("manage.py", "import_candles")
    options = parser.parse_args(["f.csv", "--symbol", "EUR/USD", "--timeframe", "H1"])
    assert (options.tz, options.format, options.drop, options.on_conflict) == ("", "auto", "", "refuse")
    with pytest.raises(
        CommandError,
        match=r"--format: invalid choice: 'xlsx' \(choose from 'auto', 'histdata', 'mt4', 'mt5', "
        r"'dukascopy', 'csv'\)",
    ):
        parser.parse_args(["f.csv", "--symbol", "EURUSD", "--timeframe", "1h", "--format", "xlsx"])


@pytest.mark.django_db
def test_the_command_builds_its_request_from_its_flags(fixture_path, capsys):
    from marketdata.models import CandleImport

    call_command(
        "import_candles",
        str(fixture_path("mt5_eurusd_h1.csv")),
        "--symbol",
        "EUR/USD",
        "--timeframe",
        "H1",
        "--drop",
        "weekend",
        "--on-conflict",
        "keep",
        "--json",
    )
    report = json.loads(capsys.readouterr().out)
    run = CandleImport.objects.get()
    assert (report["symbol"], report["timeframe"], report["dropped"], report["inserted"]) == (
        "EURUSD",
        "1h",
        {"weekend": 2},
        297,
    )
    assert (run.symbol, run.timeframe, run.drop, run.on_conflict, run.origin) == (
        "EURUSD",
        "1h",
        ["weekend"],
        "keep",
        "command",
    )
    with pytest.raises(
        CommandError, match="^rejected: unknown time zone 'Atlantis/Deep'; use an IANA name such as Europe/Helsinki$"
    ):
        call_command(
            "import_candles",
            str(fixture_path("mt5_eurusd_h1.csv")),
            "--symbol",
            "EURUSD",
            "--timeframe",
            "1h",
            "--tz",
            "Atlantis/Deep",
            "--json",
        )
    refused = json.loads(capsys.readouterr().out)
    assert (refused["inserted"], refused["error"]) == (
        0,
        "unknown time zone 'Atlantis/Deep'; use an IANA name such as Europe/Helsinki",
    )
    with pytest.raises(
        CommandError, match="^rejected: cannot drop gaps; droppable: weekend, day_spanning, flat_filler$"
    ):
        call_command("import_candles", "no-such-file.csv", "--symbol", "EURUSD", "--timeframe", "1h", "--drop", "gaps")
    assert CandleImport.objects.count() == 1  # refused before anything was read or stored


@pytest.mark.django_db
def test_the_worker_rebuilds_the_request_from_the_run(fixture_path, user, django_capture_on_commit_callbacks):
    from forexgpt_site.jobs import request_of
    from marketdata.models import Candle, CandleImport
    from marketdata.services import candle_import_start
    from marketdata.tasks import candle_import_execute

    request = ImportRequest(symbol="EURUSD", timeframe="1h", format="mt5", drop=("weekend",), on_conflict="keep")
    with django_capture_on_commit_callbacks(execute=False):
        upload = SimpleUploadedFile("mt5.csv", fixture_path("mt5_eurusd_h1.csv").read_bytes())
        run = candle_import_start(user=user, request=request, upload=upload)
    run = CandleImport.objects.get(pk=run.pk)
    assert (run.symbol, run.timeframe, run.tz, run.format, run.drop, run.on_conflict) == (
        "EURUSD",
        "1h",
        "",
        "mt5",
        ["weekend"],
        "keep",
    )
    assert request_of(run) == request
    assert candle_import_execute(run.pk) == "succeeded"
    assert CandleImport.objects.get(pk=run.pk).report["dropped"] == {"weekend": 2} and Candle.objects.count() == 297

    # The worker trusts the request stored at the start (not the columns): one edited behind the
    # service's back is refused by the engine when the worker runs it, with the request's message.
    with django_capture_on_commit_callbacks(execute=False):
        again = candle_import_start(user=user, request=request, upload=SimpleUploadedFile("mt5.csv", b"irrelevant"))
    CandleImport.objects.filter(pk=again.pk).update(request={**again.request, "format": "xlsx"})
    assert request_of(CandleImport.objects.get(pk=again.pk)).format == "xlsx"
    assert candle_import_execute(again.pk) == "failed"
    failed = CandleImport.objects.get(pk=again.pk)
    assert failed.message == "failed: unknown format 'xlsx'; choose auto or one of histdata, mt4, mt5, dukascopy, csv"
    assert Candle.objects.count() == 297


@pytest.mark.django_db
def test_a_refused_request_is_a_400_on_the_api_and_a_form_error_on_the_page(api_client, logged_in_client):
    from forexgpt_site.api import exception_handler
    from marketdata.models import CandleImport

    def post(**data):
        return api_client.post(
            "/api/candles/import/", {"file": SimpleUploadedFile("x.csv", b"x"), **EURUSD_H1, **data}, format="multipart"
        )

    bad_drop = post(drop=["gaps"])
    assert (bad_drop.status_code, bad_drop.json()) == (
        400,
        {"detail": "cannot drop gaps; droppable: weekend, day_spanning, flat_filler"},
    )
    bad_timeframe = post(timeframe="5w")
    assert (bad_timeframe.status_code, bad_timeframe.json()) == (
        400,
        {"detail": "timeframe '5w' is longer than the longest supported, 4w (four weeks)"},
    )
    bad_format = post(format="xlsx")
    assert bad_format.status_code == 400 and "format" in bad_format.json()  # the serializer's choices, from the request
    page = logged_in_client.post(
        "/data/", {"file": SimpleUploadedFile("x.csv", b"x"), "symbol": "EURUSD", "timeframe": "7m", "format": "auto"}
    )
    assert page.status_code == 200 and escape("timeframe '7m' does not divide a day evenly") in page.content.decode()
    assert CandleImport.objects.count() == 0
    with pytest.raises(ValueError) as refused:
        ImportRequest.from_dict({**EURUSD_H1, "tz": "Atlantis/Deep"})
    response = exception_handler(refused.value, {})  # a request module's ValueError, wherever a view calls it
    assert (response.status_code, response.data) == (
        400,
        {"detail": "unknown time zone 'Atlantis/Deep'; use an IANA name such as Europe/Helsinki"},
    )


@pytest.mark.django_db
def test_the_page_and_the_api_accept_eur_slash_usd(
    api_client, logged_in_client, fixture_path, django_capture_on_commit_callbacks
):
    from marketdata.models import CandleImport

    with django_capture_on_commit_callbacks(execute=False):
        api = api_client.post(
            "/api/candles/import/",
            {
                "file": SimpleUploadedFile("a.csv", b"x"),
                "symbol": "EUR/USD",
                "timeframe": "H4",
                "drop": ["weekend", "flat_filler"],
            },
            format="multipart",
        )
        page = logged_in_client.post(
            "/data/",
            {
                "file": SimpleUploadedFile("b.csv", b"x"),
                "symbol": "eur/usd",
                "timeframe": "60m",
                "format": "auto",
                "tz": "Europe/Helsinki",
                "drop": ["day_spanning"],
            },
        )
    assert api.status_code == 202 and (api.json()["symbol"], api.json()["timeframe"], api.json()["drop"]) == (
        "EURUSD",
        "4h",
        ["weekend", "flat_filler"],
    )
    run = CandleImport.objects.get(original_name="b.csv")
    assert page.status_code == 302 and (run.symbol, run.timeframe, run.tz, run.drop, run.on_conflict) == (
        "EURUSD",
        "1h",
        "Europe/Helsinki",
        ["day_spanning"],
        "refuse",
    )
