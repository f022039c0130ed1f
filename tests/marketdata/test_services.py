"""Imports through the ORM: all-or-nothing, idempotent, and the reference files exactly."""

from datetime import UTC

import pandas as pd
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from marketdata.engine import ImportRejected
from marketdata.models import Candle, CandleImport
from marketdata.request import ImportRequest
from marketdata.selectors import candles_frame, series_list
from marketdata.services import candle_import_start, candles_import_file, candles_resample, demo_data_load
from marketdata.tasks import candle_import_execute

pytestmark = pytest.mark.django_db
HELSINKI = ImportRequest(symbol="EURUSD", timeframe="1h", tz="Europe/Helsinki")


def test_import_then_reimport_inserts_nothing_new(fixture_path):
    first = candles_import_file(
        source=fixture_path("mt4_eurusd_h1.csv"),
        request=ImportRequest.from_dict({"symbol": "EUR/USD", "timeframe": "H1", "tz": "Europe/Helsinki"}),
    )
    assert (first["inserted"], first["duplicates"], first["rejected"]) == (400, 0, 0)
    assert first["first"] == "2014-05-30T15:00:00+00:00"
    again = candles_import_file(source=fixture_path("mt4_eurusd_h1.csv"), request=HELSINKI)
    assert (again["inserted"], again["duplicates"]) == (0, 400)
    assert Candle.objects.filter(symbol="EURUSD", timeframe="1h").count() == 400


def test_a_bad_row_rejects_the_whole_file_and_keeps_what_was_there(fixture_path, tmp_path):
    candles_import_file(source=fixture_path("mt4_eurusd_h1.csv"), request=HELSINKI)
    before = list(Candle.objects.order_by("ts").values_list("ts", "close"))
    lines = fixture_path("mt4_eurusd_h1.csv").read_text().splitlines()
    lines.append("2014.07.01,10:00,1.3,1.2,1.31,1.3,5")  # high below low, line 401
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(ImportRejected, match=r"line 401: high 1.2 is below low 1.31"):
        candles_import_file(source=bad, request=HELSINKI)
    assert list(Candle.objects.order_by("ts").values_list("ts", "close")) == before


def _scaled(source, tmp_path, factor, name, shift=None):
    """The fixture's bars with prices times `factor` (another pair's level), moved by `shift` if given."""
    frame = pd.read_csv(source)
    frame[["open", "high", "low", "close"]] *= factor
    if shift is not None:
        frame["timestamp"] = (pd.to_datetime(frame["timestamp"]) + shift).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("policy", ["keep", "replace"])
def test_another_pairs_prices_are_refused_whatever_the_conflict_policy(fixture_path, tmp_path, policy):
    """AUDJPY's closes (~80) under the name EURUSD (~1.36): 'keep' stored its new bars beside EURUSD's."""
    request = ImportRequest(symbol="EURUSD", timeframe="1h", on_conflict=policy)
    candles_import_file(source=fixture_path("eurusd_h1.csv"), request=request)
    before = list(Candle.objects.order_by("ts").values_list("ts", "close"))
    longer = _scaled(fixture_path("eurusd_h1.csv"), tmp_path, 60.0, "overlap.csv", shift=pd.Timedelta(days=2))
    with pytest.raises(
        ImportRejected, match=r"the file's prices are 60x the stored EURUSD 1h bars' on the [\d,]+ bars both hold"
    ):
        candles_import_file(source=longer, request=request)
    after_it = _scaled(fixture_path("eurusd_h1.csv"), tmp_path, 60.0, "next.csv", shift=pd.Timedelta(days=25))
    with pytest.raises(ImportRejected, match="on the stored bars next to the file's first and last .* another pair"):
        candles_import_file(source=after_it, request=request)  # no bar in common: its neighbours tell
    assert list(Candle.objects.order_by("ts").values_list("ts", "close")) == before
    revised = _scaled(fixture_path("eurusd_h1.csv"), tmp_path, 1.0001, "revised.csv")  # a vendor's pips
    assert candles_import_file(source=revised, request=request)["conflicts"] > 0


def test_bars_closer_together_than_the_declared_timeframe_are_refused(fixture_path):
    with pytest.raises(
        ImportRejected,
        match=r"the file's bars are 1 hour\(s\) apart \(median\), closer than one 1d bar: its timeframe is not 1d "
        r"\(is it 1h\?\); nothing was imported",
    ):
        candles_import_file(
            source=fixture_path("eurusd_h1.csv"), request=ImportRequest(symbol="EURUSD", timeframe="1d")
        )
    assert not Candle.objects.exists()
    half_hours = candles_import_file(
        source=fixture_path("eurusd_h1.csv"), request=ImportRequest(symbol="EURUSD", timeframe="30m")
    )
    assert half_hours["inserted"] == 399  # wider than declared: holes, not refused


def _csv_of(tmp_path, name, stamps, closes):
    path = tmp_path / name
    frame = pd.DataFrame({"timestamp": [pd.Timestamp(t).strftime("%Y-%m-%dT%H:%M:%SZ") for t in stamps]})
    frame = frame.assign(open=closes, high=[c * 1.001 for c in closes], low=[c * 0.999 for c in closes], close=closes)
    frame.to_csv(path, index=False)
    return path


def test_real_files_the_checks_must_not_refuse(tmp_path):
    """Weekly bars across a DST change, 5-minute bars stamped at their first tick, and a market that
    really moved a fifth between two files (EURCHF, 15 January 2015) are all imported."""
    weekly = _csv_of(
        tmp_path, "w.csv", ["2020-10-17 22:00", "2020-10-24 22:00", "2020-10-31 21:00", "2020-11-07 22:00"], [1.1] * 4
    )
    assert candles_import_file(source=weekly, request=ImportRequest(symbol="EURUSD", timeframe="1w"))["inserted"] == 4
    jitter = pd.date_range("2020-01-06 10:00", periods=12, freq="5min") + pd.to_timedelta([7, 3, 11] * 4, unit="s")
    five = _csv_of(tmp_path, "m5.csv", jitter, [1.1] * 12)
    assert candles_import_file(source=five, request=ImportRequest(symbol="EURUSD", timeframe="5m"))["inserted"] == 12
    before = _csv_of(tmp_path, "chf1.csv", pd.date_range("2015-01-15 06:00", periods=4, freq="h"), [1.2010] * 4)
    after = _csv_of(tmp_path, "chf2.csv", pd.date_range("2015-01-15 10:00", periods=4, freq="h"), [0.97] * 4)
    chf = ImportRequest(symbol="EURCHF", timeframe="1h")
    candles_import_file(source=before, request=chf)
    assert candles_import_file(source=after, request=chf)["inserted"] == 4  # 0.81x its neighbour: a real move


def test_a_derived_series_is_rebuilt_after_its_source_is_mended(tmp_path):
    """Resampling again replaces its earlier result whatever it held (a source imported at the wrong
    scale, since deleted and imported right): the scale check does not compare it with what it replaces."""
    from marketdata.services import candles_delete

    hours = pd.date_range("2020-01-06 00:00", periods=48, freq="h")
    wrong = candles_import_file(
        source=_csv_of(tmp_path, "wrong.csv", hours, [80.0] * 48),
        request=ImportRequest(symbol="EURUSD", timeframe="1h"),
    )
    assert wrong["inserted"] == 48  # a series' first import has nothing to compare with
    candles_resample(symbol="EURUSD", source_timeframe="1h", target_timeframe="4h")
    candles_delete(symbol="EURUSD", timeframe="1h", user=None)
    candles_import_file(
        source=_csv_of(tmp_path, "right.csv", hours, [1.1] * 48), request=ImportRequest(symbol="EURUSD", timeframe="1h")
    )
    candles_resample(symbol="EURUSD", source_timeframe="1h", target_timeframe="4h")
    assert set(Candle.objects.filter(timeframe="4h").values_list("close", flat=True)) == {1.1}


def test_failed_store_leaves_no_partial_rows(fixture_path, monkeypatch):
    """A crash midway through a staged write (here: the database refuses chunk 2) deletes chunk 1."""
    from marketdata.services import _store

    monkeypatch.setattr(_store, "CHUNK", 100)
    real = _store._insert_batch
    calls = []

    def failing_second_chunk(batch):
        calls.append(len(batch))
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(batch)

    monkeypatch.setattr(_store, "_insert_batch", failing_second_chunk)
    with pytest.raises(RuntimeError, match="disk full"):
        candles_import_file(source=fixture_path("mt4_eurusd_h1.csv"), request=HELSINKI)
    assert calls == [100, 100]
    assert Candle.all_objects.count() == 0  # the staged chunk 1 too
    run = CandleImport.objects.get()
    assert (run.status, run.published) == ("failed", False)  # the command's import row records the failure


def test_drop_option_removes_the_flagged_bars(fixture_path):
    report = candles_import_file(
        source=fixture_path("mt5_eurusd_h1.csv"),
        request=ImportRequest(symbol="EURUSD", timeframe="1h", drop=("weekend",)),
    )
    assert report["dropped"] == {"weekend": 2}
    assert report["inserted"] == 299 - 2
    sundays = [t for t in Candle.objects.values_list("ts", flat=True) if t.weekday() == 6 and t.hour < 20]
    assert sundays == []


def test_candles_frame_reads_what_the_orm_reads_without_its_per_row_converters(fixture_path):
    """The frame comes from the driver's raw rows; Django's own conversion of the same query is the
    reference: UTC timestamps, floats, a range, published bars only, and the import of each bar."""
    from datetime import datetime

    candles_import_file(source=fixture_path("mt4_eurusd_h1.csv"), request=HELSINKI)
    candles_import_file(source=fixture_path("eurusd_m1.csv"), request=ImportRequest(symbol="EURUSD", timeframe="1m"))
    unpublished = CandleImport.objects.create(original_name="writing.csv", symbol="EURUSD", timeframe="1h")
    Candle.all_objects.create(
        symbol="EURUSD",
        timeframe="1h",
        ts=datetime(2030, 1, 1, tzinfo=UTC),
        open=1,
        high=1,
        low=1,
        close=1,
        candle_import=unpublished,
    )
    start, end = datetime(2014, 6, 2, 3, tzinfo=UTC), datetime(2014, 6, 5, 21, tzinfo=UTC)
    for kwargs in ({}, {"start": start, "end": end}):
        frame = candles_frame(symbol="EUR/USD", timeframe="H1", with_import=True, **kwargs)
        qs = Candle.objects.filter(
            symbol="EURUSD", timeframe="1h", **({"ts__gte": start, "ts__lte": end} if kwargs else {})
        )
        rows = list(qs.order_by("ts").values_list("ts", "open", "high", "low", "close", "volume", "candle_import_id"))
        assert len(frame) == len(rows) == (400 if not kwargs else 91)
        assert list(frame["ts"]) == [pd.Timestamp(r[0]) for r in rows] and str(frame["ts"].dtype).endswith("UTC]")
        for i, col in enumerate(("open", "high", "low", "close", "volume", "candle_import_id"), start=1):
            assert frame[col].tolist() == [r[i] for r in rows], col
    assert len(candles_frame(symbol="EURUSD", timeframe="1m")) == Candle.objects.filter(timeframe="1m").count() > 0
    # the long-gap count reads the timestamps the same way: 36 weekday hours taken out are one gap
    Candle.objects.filter(
        timeframe="1h", ts__gte=datetime(2014, 6, 3, tzinfo=UTC), ts__lt=datetime(2014, 6, 4, 12, tzinfo=UTC)
    ).delete()
    assert [(s["timeframe"], s["long_gaps"]) for s in series_list()] == [("1h", 1), ("1m", 0)]


def test_resample_service_stores_the_coarser_series(fixture_path):
    candles_import_file(source=fixture_path("eurusd_m1.csv"), request=ImportRequest(symbol="EURUSD", timeframe="1m"))
    report = candles_resample(symbol="EURUSD", source_timeframe="1m", target_timeframe="1h")
    h1 = candles_frame(symbol="EURUSD", timeframe="1h")
    m1 = candles_frame(symbol="EURUSD", timeframe="1m")
    assert report["inserted"] == len(h1) == m1["ts"].dt.floor("h").nunique()
    first_hour = m1[m1["ts"] < h1["ts"].iloc[0] + pd.Timedelta(hours=1)]
    assert h1.iloc[0]["high"] == first_hour["high"].max() and h1.iloc[0]["close"] == first_hour["close"].iloc[-1]
    assert candles_resample(symbol="EURUSD", source_timeframe="1m", target_timeframe="1h")["inserted"] == 0


def test_series_list_counts_and_ranges(fixture_path):
    demo = demo_data_load()
    assert demo["inserted"] == 5000
    assert demo_data_load()["inserted"] == 0
    (series,) = series_list()
    assert (series["symbol"], series["timeframe"], series["rows"]) == ("EURUSD", "1h", 5000)
    assert series["first"].isoformat() == "2017-04-19T09:00:00+00:00"


def test_upload_job_records_report_and_rejections(fixture_path, user, django_capture_on_commit_callbacks):
    upload = SimpleUploadedFile("mt4.csv", fixture_path("mt4_eurusd_h1.csv").read_bytes())
    with django_capture_on_commit_callbacks(execute=False):
        run = candle_import_start(
            user=user,
            upload=upload,
            request=ImportRequest.from_dict({"symbol": "EUR/USD", "timeframe": "1h", "tz": "Europe/Helsinki"}),
        )
    assert run.status == "queued" and run.symbol == "EURUSD"
    assert candle_import_execute(run.pk) == "succeeded"
    run.refresh_from_db()
    assert run.report["inserted"] == 400 and run.progress == 1.0
    assert candle_import_execute(run.pk) == "succeeded"  # delivered twice: runs once
    assert Candle.objects.count() == 400

    bad = SimpleUploadedFile("bad.csv", b"2014.05.30,18:00,1.1,1.0,1.0,1.1,5\n")
    with django_capture_on_commit_callbacks(execute=False):
        failed = candle_import_start(user=user, upload=bad, request=ImportRequest(symbol="EURUSD", timeframe="1h"))
    assert candle_import_execute(failed.pk) == "failed"
    failed.refresh_from_db()
    assert failed.report["errors"] == [{"line": 1, "reason": "high 1.0 is below open/close 1.1"}]
    assert "nothing was imported" in failed.message
    assert Candle.objects.count() == 400


@pytest.mark.parametrize(
    "options, message",
    [
        ({"symbol": "??", "timeframe": "1h"}, "is not a currency pair"),
        ({"symbol": "EURUSD", "timeframe": "7m"}, "timeframe '7m'"),
        ({"symbol": "EURUSD", "timeframe": "1h", "tz": "Nowhere/City"}, "unknown time zone"),
        ({"symbol": "EURUSD", "timeframe": "1h", "drop": ["gaps"]}, "cannot drop gaps"),
    ],
)
def test_bad_upload_options_are_refused_before_anything_is_saved(api_client, options, message):
    upload = SimpleUploadedFile("x.csv", b"irrelevant")
    response = api_client.post("/api/candles/import/", {"file": upload, **options}, format="multipart")
    assert response.status_code == 400 and message in response.json()["detail"]
    assert CandleImport.objects.count() == 0


def test_full_artem_import_equals_the_h1_file_in_the_database(shared_file):
    report = candles_import_file(source=shared_file("raw/Artem_EURUSD60.csv"), request=HELSINKI)
    assert report["inserted"] == 65000
    stored = candles_frame(symbol="EURUSD", timeframe="1h")
    ref = pd.read_csv(shared_file("EURUSD_H1_2014-2024.csv"))
    assert (stored["ts"] == pd.to_datetime(ref["timestamp"], utc=True)).all()
    for col in ("open", "high", "low", "close", "volume"):
        assert (stored[col].to_numpy() == ref[col].to_numpy()).all(), col


def test_resampling_again_corrects_a_bar_first_built_from_part_of_its_hour(fixture_path, tmp_path):
    from datetime import timedelta

    lines = fixture_path("eurusd_m1.csv").read_text().splitlines()
    first_half = tmp_path / "a.csv"
    first_half.write_text("\n".join(lines[:31]) + "\n")  # header + 07:00-07:29
    candles_import_file(source=first_half, request=ImportRequest(symbol="EURUSD", timeframe="1m"))
    candles_resample(symbol="EURUSD", source_timeframe="1m", target_timeframe="1h")
    candles_import_file(source=fixture_path("eurusd_m1.csv"), request=ImportRequest(symbol="EURUSD", timeframe="1m"))
    report = candles_resample(symbol="EURUSD", source_timeframe="1m", target_timeframe="1h")
    assert report["updated"] == 1
    m1 = candles_frame(symbol="EURUSD", timeframe="1m")
    hour = m1[m1["ts"] < m1["ts"].iloc[0] + timedelta(hours=1)]
    bar = candles_frame(symbol="EURUSD", timeframe="1h").iloc[0]
    assert (bar["high"], bar["close"]) == (hour["high"].max(), hour["close"].iloc[-1])
