"""A bar stored with other values is a conflict, settled by the import's policy; every bar knows its import."""

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Count

from marketdata.engine import ImportConflict
from marketdata.models import Candle, CandleImport
from marketdata.request import ImportRequest
from marketdata.selectors import series_list
from marketdata.services import candle_import_start, candles_import_file, candles_resample, demo_data_load
from marketdata.tasks import candle_import_execute

pytestmark = pytest.mark.django_db
HELSINKI = ImportRequest(symbol="EURUSD", timeframe="1h", tz="Europe/Helsinki")


def _first_300(fixture_path, tmp_path) -> Path:
    path = tmp_path / "broker_a.csv"
    path.write_text("\n".join(fixture_path("mt4_eurusd_h1.csv").read_text().splitlines()[:300]) + "\n")
    return path


def _other_broker(fixture_path, tmp_path) -> Path:
    """Lines 201-400 of the fixture, the first 10 with another close (= the open, so OHLC stays valid)
    and volume: 10 conflicts, 90 identical bars, 100 new ones against the first 300 lines."""
    lines = fixture_path("mt4_eurusd_h1.csv").read_text().splitlines()[200:]
    for i in range(10):
        date, time, o, h, lo, c, v = lines[i].split(",")
        assert o != c, lines[i]
        lines[i] = ",".join([date, time, o, h, lo, o, str(int(v) + 1)])
    path = tmp_path / "broker_b.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _bars_by_writer() -> dict[int, int]:
    return dict(Candle.objects.order_by().values_list("candle_import").annotate(n=Count("id")))


def _stored():
    return list(
        Candle.objects.order_by("ts").values_list("ts", "open", "high", "low", "close", "volume", "candle_import_id")
    )


def test_by_default_a_conflicting_file_is_refused_with_a_report_and_nothing_written(fixture_path, tmp_path):
    first = candles_import_file(source=_first_300(fixture_path, tmp_path), request=HELSINKI)
    before = _stored()
    with pytest.raises(ImportConflict) as refused:
        candles_import_file(source=_other_broker(fixture_path, tmp_path), request=HELSINKI)
    assert str(refused.value) == (  # line 201 of the fixture: 2014.06.12,02:00 Helsinki, close 1.35349 -> its open
        "10 bar(s) are already stored with other values (first: 2014-06-11T23:00:00+00:00, stored vs file: "
        "close 1.35349 vs 1.35326, volume 372 vs 373); nothing was imported - import again with on_conflict keep "
        "(keep the stored bars) or replace (write the file's)"
    )
    assert _stored() == before
    failed = CandleImport.objects.exclude(pk=first["import_id"]).get()
    assert (failed.status, failed.origin, failed.on_conflict) == ("failed", "command", "refuse")
    report = failed.report
    assert (report["inserted"], report["new"], report["duplicates"], report["conflicts"], report["rejected"]) == (
        0,
        100,
        90,
        10,
        200,
    )
    example = report["conflict_examples"][0]
    stored_bar = Candle.objects.get(ts=example["ts"])
    assert example["stored"] == {
        "open": stored_bar.open,
        "high": stored_bar.high,
        "low": stored_bar.low,
        "close": stored_bar.close,
        "volume": stored_bar.volume,
    }
    assert example["file"]["close"] == stored_bar.open and example["file"]["volume"] == stored_bar.volume + 1
    assert (example["line"], example["stored_import"], example["fields"]) == (
        1,
        first["import_id"],
        ["close", "volume"],
    )
    assert len(report["conflict_examples"]) == 10


def test_keep_imports_the_new_bars_and_leaves_the_conflicting_ones(fixture_path, tmp_path):
    first = candles_import_file(source=_first_300(fixture_path, tmp_path), request=HELSINKI)
    before = {row[0]: row for row in _stored()}
    report = candles_import_file(
        source=_other_broker(fixture_path, tmp_path), request=replace(HELSINKI, on_conflict="keep")
    )
    assert {k: report[k] for k in ("inserted", "duplicates", "conflicts", "kept", "replaced")} == {
        "inserted": 100,
        "duplicates": 90,
        "conflicts": 10,
        "kept": 10,
        "replaced": 0,
    }
    after = {row[0]: row for row in _stored()}
    assert len(after) == 400 and all(after[ts] == row for ts, row in before.items())  # stored bars untouched
    assert Candle.objects.filter(candle_import_id=report["import_id"]).count() == 100
    assert CandleImport.objects.get(pk=report["import_id"]).message == (
        "inserted 100 bars, skipped 90 duplicates, 10 conflicts (kept the stored bars)"
    )
    assert first["import_id"] != report["import_id"]


def test_replace_overwrites_the_conflicting_bars_which_then_point_at_the_new_import(fixture_path, tmp_path):
    first = candles_import_file(source=_first_300(fixture_path, tmp_path), request=HELSINKI)
    report = candles_import_file(
        source=_other_broker(fixture_path, tmp_path), request=replace(HELSINKI, on_conflict="replace")
    )
    assert (report["inserted"], report["duplicates"], report["conflicts"], report["replaced"]) == (100, 90, 10, 10)
    conflicting = pd.Timestamp(report["conflict_examples"][0]["ts"])
    bar = Candle.objects.get(ts=conflicting)
    assert (bar.close, bar.volume) == (
        report["conflict_examples"][0]["file"]["close"],
        report["conflict_examples"][0]["file"]["volume"],
    )
    assert bar.candle_import_id == report["import_id"]
    assert _bars_by_writer() == {first["import_id"]: 290, report["import_id"]: 110}  # identical bars keep their writer


@pytest.mark.parametrize("policy", ["refuse", "keep", "replace"])
def test_the_same_file_again_is_all_duplicates_whatever_the_policy(fixture_path, policy):
    candles_import_file(source=fixture_path("mt4_eurusd_h1.csv"), request=HELSINKI)
    again = candles_import_file(source=fixture_path("mt4_eurusd_h1.csv"), request=replace(HELSINKI, on_conflict=policy))
    assert (again["inserted"], again["duplicates"], again["conflicts"]) == (0, 400, 0)


def test_an_unknown_policy_is_refused_before_anything_is_saved(fixture_path, logged_in_client):
    with pytest.raises(ValueError, match="unknown conflict policy 'merge'; choose one of refuse, keep, replace"):
        ImportRequest.from_dict({**HELSINKI.to_dict(), "on_conflict": "merge"})
    with fixture_path("mt4_eurusd_h1.csv").open("rb") as fh:
        page = logged_in_client.post("/data/", {**HELSINKI.to_dict(), "file": fh, "on_conflict": "merge"})
    assert (
        page.status_code == 200
        and "Select a valid choice. merge is not one of the available choices." in page.content.decode()
    )
    assert CandleImport.objects.count() == 0


def test_every_bar_points_at_the_import_that_wrote_it(fixture_path, tmp_path, user, django_capture_on_commit_callbacks):
    command = candles_import_file(source=_first_300(fixture_path, tmp_path), request=HELSINKI)
    upload = SimpleUploadedFile("broker_b.csv", _other_broker(fixture_path, tmp_path).read_bytes())
    with django_capture_on_commit_callbacks(execute=False):
        run = candle_import_start(user=user, upload=upload, request=replace(HELSINKI, on_conflict="keep"))
    assert candle_import_execute(run.pk) == "succeeded"
    run.refresh_from_db()
    assert (run.report["inserted"], run.report["conflicts"], run.report["kept"]) == (100, 10, 10)
    assert run.message == "inserted 100 bars, skipped 90 duplicates, 10 conflicts (kept the stored bars)"
    assert _bars_by_writer() == {command["import_id"]: 300, run.pk: 100}
    recorded = CandleImport.objects.get(pk=command["import_id"])
    assert (recorded.origin, recorded.status, recorded.original_name, recorded.report["inserted"]) == (
        "command",
        "succeeded",
        "broker_a.csv",
        300,
    )


def test_an_upload_refused_for_conflicts_fails_with_the_report(
    fixture_path, tmp_path, user, django_capture_on_commit_callbacks
):
    candles_import_file(source=_first_300(fixture_path, tmp_path), request=HELSINKI)
    upload = SimpleUploadedFile("broker_b.csv", _other_broker(fixture_path, tmp_path).read_bytes())
    with django_capture_on_commit_callbacks(execute=False):
        run = candle_import_start(user=user, upload=upload, request=HELSINKI)
    assert run.on_conflict == "refuse"
    assert candle_import_execute(run.pk) == "failed"
    run.refresh_from_db()
    assert run.message.startswith("failed: 10 bar(s) are already stored with other values")
    assert (run.report["conflicts"], run.report["new"], len(run.report["conflict_examples"])) == (10, 100, 10)
    assert Candle.objects.count() == 300


@pytest.mark.slow
def test_the_walkthrough_full_mt4_file_over_the_demo_series(shared_file):
    """The newcomer's case: the demo series, then the whole MT4 export of the same pair and timeframe."""
    demo_data_load()
    source = shared_file("raw/Artem_EURUSD60.csv")
    with pytest.raises(ImportConflict) as refused:
        candles_import_file(source=source, request=HELSINKI)
    assert {k: refused.value.report[k] for k in ("new", "duplicates", "conflicts")} == {
        "new": 60024,
        "duplicates": 0,
        "conflicts": 4976,
    }
    assert Candle.objects.count() == 5000
    bar = Candle.objects.get(ts="2017-06-01T01:00:00Z")
    assert (bar.close, bar.volume, bar.candle_import.origin) == (1.12471, 653.0, "demo")

    kept = candles_import_file(source=source, request=replace(HELSINKI, on_conflict="keep"))
    assert (kept["inserted"], kept["duplicates"], kept["conflicts"], kept["kept"]) == (60024, 0, 4976, 4976)
    (series,) = series_list()
    assert series["rows"] == 65024 and series["mixed"] and not series["is_demo"]
    assert [(s["origin"], s["bars"]) for s in series["sources"]] == [("command", 60024), ("demo", 5000)]

    replaced = candles_import_file(source=source, request=replace(HELSINKI, on_conflict="replace"))
    assert (replaced["inserted"], replaced["duplicates"], replaced["conflicts"], replaced["replaced"]) == (
        0,
        60024,
        4976,
        4976,
    )
    bar.refresh_from_db()
    assert (bar.close, bar.volume, bar.candle_import_id) == (1.12465, 3498.0, replaced["import_id"])
    assert Candle.objects.filter(candle_import__origin="demo").count() == 24  # demo hours the file does not have


def test_the_demo_series_is_labelled_and_never_mixed_into_imported_bars(fixture_path):
    assert demo_data_load()["inserted"] == 5000
    assert demo_data_load()["inserted"] == 0
    assert CandleImport.objects.filter(origin="demo").count() == 1  # one demo import, however often loaded
    (series,) = series_list()
    assert series["is_demo"] and series["sources"] == [
        {
            "import_id": CandleImport.objects.get().pk,
            "label": "demo data (backtesting.test.EURUSD)",
            "original_name": "backtesting.test.EURUSD",
            "origin": "demo",
            "bars": 5000,
        }
    ]
    Candle.objects.all().delete()
    candles_import_file(source=fixture_path("mt4_eurusd_h1.csv"), request=HELSINKI)
    skipped = demo_data_load()
    assert (
        skipped["inserted"] == 0
        and skipped["skipped"] == "EURUSD 1h holds imported bars; the demo series is not mixed into them"
    )
    assert Candle.objects.count() == 400 and not series_list()[0]["is_demo"]


def test_a_resample_recomputes_its_own_bars_but_not_an_imported_series(fixture_path):
    candles_import_file(source=fixture_path("eurusd_m1.csv"), request=ImportRequest(symbol="EURUSD", timeframe="1m"))
    candles_import_file(
        source=fixture_path("eurusd_h1_2017-01-02.csv"),  # another broker's H1
        request=ImportRequest(symbol="EURUSD", timeframe="1h"),
    )
    h1_before = list(Candle.objects.filter(timeframe="1h").values_list("ts", "close", "candle_import_id"))
    with pytest.raises(ImportConflict, match="already stored with other values"):
        candles_resample(symbol="EURUSD", source_timeframe="1m", target_timeframe="1h")
    assert list(Candle.objects.filter(timeframe="1h").values_list("ts", "close", "candle_import_id")) == h1_before
    kept = candles_resample(symbol="EURUSD", source_timeframe="1m", target_timeframe="1h", on_conflict="keep")
    assert kept["inserted"] + kept["duplicates"] + kept["conflicts"] == kept["bars"] and kept["conflicts"] > 0
