"""A large import writes its bars a chunk at a time, each chunk its own short transaction, unseen by
every reader until one UPDATE publishes them all; a failed or abandoned one leaves nothing behind.
(CHUNK is made small here so that the 400-bar fixture takes several chunks.)"""

import threading
from dataclasses import replace
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from forexgpt_site.jobs import JobStatus
from marketdata import engine
from marketdata.engine import ImportRejected
from marketdata.models import Candle, CandleImport
from marketdata.request import ImportRequest
from marketdata.selectors import candles_frame, series_list
from marketdata.services import _store, candle_import_start, candles_delete, candles_discard_staged, candles_import_file
from marketdata.tasks import candle_import_execute
from tests.conftest import on_another_connection
from tests.marketdata.test_conflicts import _first_300, _other_broker, _stored

pytestmark = pytest.mark.django_db(transaction=True)  # real commits, seen (or not) by other connections
HELSINKI = ImportRequest(symbol="EURUSD", timeframe="1h", tz="Europe/Helsinki")


@pytest.fixture
def chunk_of_100(monkeypatch):
    monkeypatch.setattr(_store, "CHUNK", 100)
    monkeypatch.setattr(_store, "SQLITE_PAUSE_S", 0.0)
    monkeypatch.setattr(_store, "WAIT_POLL_S", 0.05)


def from_another_connection(read):
    """What a web request reading meanwhile would get: `read()` on a connection of its own."""
    return on_another_connection(read)


def test_an_import_is_unseen_until_all_its_bars_are_stored(fixture_path, chunk_of_100):
    seen = []

    def look(fraction, message):
        if "unseen until" in message:
            seen.append(
                (
                    message,
                    from_another_connection(
                        lambda: (
                            Candle.objects.count(),
                            len(candles_frame(symbol="EURUSD", timeframe="1h")),
                            series_list(),
                            Candle.all_objects.count(),
                        )
                    ),
                )
            )

    report = candles_import_file(source=fixture_path("mt4_eurusd_h1.csv"), request=HELSINKI, on_progress=look)
    # Each chunk is committed (another connection finds it among all bars), and none is visible.
    assert seen == [
        (f"stored {n} of 400 new bars (unseen until all are stored)", (0, 0, [], n)) for n in (100, 200, 300, 400)
    ]
    assert report["inserted"] == 400
    assert from_another_connection(lambda: Candle.objects.count()) == 400
    assert CandleImport.objects.get().published


def test_a_staged_replace_shows_the_stored_bars_until_it_publishes(fixture_path, tmp_path, chunk_of_100):
    first = candles_import_file(source=_first_300(fixture_path, tmp_path), request=HELSINKI)
    before = _stored()
    seen = []

    def look(fraction, message):
        if "unseen until" in message:
            seen.append(from_another_connection(_stored))

    report = candles_import_file(
        source=_other_broker(fixture_path, tmp_path), request=replace(HELSINKI, on_conflict="replace"), on_progress=look
    )
    assert seen == [before]  # neither the 100 new bars nor the 10 replaced values yet
    assert {k: report[k] for k in ("inserted", "duplicates", "replaced")} == {
        "inserted": 100,
        "duplicates": 90,
        "replaced": 10,
    }
    after = {row[0]: row for row in _stored()}
    changed = [row[0] for row in before if after[row[0]] != row]
    assert len(after) == 400 and len(changed) == 10
    assert {after[ts][-1] for ts in changed} == {report["import_id"]} != {first["import_id"]}


def test_a_failed_write_deletes_the_chunks_it_committed(fixture_path, chunk_of_100, monkeypatch):
    real, calls = _store._insert_batch, []

    def third_chunk_refused(batch):
        calls.append(len(batch))
        if len(calls) == 3:
            raise RuntimeError("disk full")
        real(batch)

    monkeypatch.setattr(_store, "_insert_batch", third_chunk_refused)
    with pytest.raises(RuntimeError, match="disk full"):
        candles_import_file(source=fixture_path("mt4_eurusd_h1.csv"), request=HELSINKI)
    assert calls == [100, 100, 100]
    assert Candle.all_objects.count() == 0
    assert CandleImport.objects.get().status == JobStatus.FAILED


def test_a_cancelled_upload_deletes_what_it_staged(fixture_path, user, chunk_of_100, monkeypatch, settings):
    import django_q.tasks
    from django.core.files.uploadedfile import SimpleUploadedFile

    monkeypatch.setattr(django_q.tasks, "async_task", lambda *args, **kwargs: None)  # no queue: run below
    settings.FOREXGPT_JOB_PROGRESS_INTERVAL_S = 0  # every chunk reports, so the cancel is seen after the first
    run = candle_import_start(
        user=user,
        upload=SimpleUploadedFile("mt4.csv", fixture_path("mt4_eurusd_h1.csv").read_bytes()),
        request=HELSINKI,
    )
    real = _store._insert_batch

    def cancel_after_the_first_chunk(batch):
        real(batch)
        CandleImport.objects.filter(pk=run.pk).update(cancel_requested=True)

    monkeypatch.setattr(_store, "_insert_batch", cancel_after_the_first_chunk)
    assert candle_import_execute(run.pk) == JobStatus.CANCELLED
    assert Candle.all_objects.count() == 0
    assert not CandleImport.objects.get(pk=run.pk).published


def test_an_import_of_bars_another_is_staging_waits_for_it_then_finds_duplicates(fixture_path, chunk_of_100):
    data = fixture_path("mt4_eurusd_h1.csv")
    second, waiting = {}, threading.Event()

    def second_import():
        try:
            second["report"] = candles_import_file(
                source=data,
                request=HELSINKI,
                on_progress=lambda f, message: message.startswith("waiting for import") and waiting.set(),
            )
        except Exception as exc:  # noqa: BLE001 - reported below
            second["report"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=second_import)

    def start_the_second_after_our_first_chunk(fraction, message):
        if message.startswith("stored 100 of"):
            thread.start()
            # It finds nothing stored, writes, collides with our staged chunk and waits for us.
            assert waiting.wait(30), "the second import did not wait for the first"

    first = candles_import_file(source=data, request=HELSINKI, on_progress=start_the_second_after_our_first_chunk)
    thread.join(60)
    assert (first["inserted"], first["duplicates"]) == (400, 0)
    assert not isinstance(second["report"], Exception), second["report"]
    assert (second["report"]["inserted"], second["report"]["duplicates"]) == (0, 400)
    assert Candle.objects.count() == Candle.all_objects.count() == 400


@pytest.mark.parametrize("staged", [True, False], ids=["staged", "one-transaction"])
def test_bars_a_dead_import_left_staged_are_discarded(fixture_path, monkeypatch, staged):
    if staged:
        monkeypatch.setattr(_store, "CHUNK", 100)
    data = fixture_path("mt4_eurusd_h1.csv")
    # A worker died after staging 100 bars: its import still says running, silent for an hour.
    dead = CandleImport.objects.create(
        symbol="EURUSD",
        timeframe="1h",
        original_name="died.csv",
        status=JobStatus.RUNNING,
        heartbeat_at=timezone.now() - timedelta(hours=1),
    )
    rows = engine.validate(engine.read_candles(data, tz="Europe/Helsinki"))
    _store._insert_batch(next(_store._bar_batches(rows.iloc[:100], dead)))
    assert (Candle.objects.count(), Candle.all_objects.count()) == (0, 100)

    report = candles_import_file(source=data, request=HELSINKI)
    assert report["inserted"] == 400
    assert not Candle.all_objects.filter(candle_import=dead).exists()
    assert Candle.objects.count() == 400


def test_an_import_taken_for_dead_publishes_nothing(fixture_path, chunk_of_100):
    def discarded_meanwhile(fraction, message):
        if message.startswith("stored 200 of"):  # as another import does with a dead import's bars
            candles_discard_staged(import_id=CandleImport.objects.get().pk)

    with pytest.raises(ImportRejected, match="was taken for dead; nothing was imported"):
        candles_import_file(source=fixture_path("mt4_eurusd_h1.csv"), request=HELSINKI, on_progress=discarded_meanwhile)
    assert Candle.all_objects.count() == 0
    assert not CandleImport.objects.get().published


def test_discarding_never_touches_a_published_import(fixture_path):
    report = candles_import_file(source=fixture_path("mt4_eurusd_h1.csv"), request=HELSINKI)
    assert candles_discard_staged(import_id=report["import_id"]) == 0
    assert Candle.objects.count() == 400


def test_a_bar_to_replace_deleted_after_the_comparison_is_inserted_instead(fixture_path, tmp_path, monkeypatch):
    candles_import_file(source=_first_300(fixture_path, tmp_path), request=HELSINKI)
    compare, deleted = _store.engine.compare_bars, []

    def compare_then_someone_deletes_the_conflicts(rows, stored, **kwargs):
        comparison = compare(rows, stored, **kwargs)
        if not deleted:
            at = rows["ts"][comparison.conflict]
            deleted.append(
                candles_delete(user=None, symbol="EURUSD", timeframe="1h", start=at.min(), end=at.max())["deleted"]
            )
        return comparison

    monkeypatch.setattr(_store.engine, "compare_bars", compare_then_someone_deletes_the_conflicts)
    report = candles_import_file(
        source=_other_broker(fixture_path, tmp_path), request=replace(HELSINKI, on_conflict="replace")
    )
    assert deleted == [10]
    # The replacing UPDATE found 10 bars gone: compared again, they are new.
    assert {k: report[k] for k in ("inserted", "duplicates", "conflicts", "replaced")} == {
        "inserted": 110,
        "duplicates": 90,
        "conflicts": 0,
        "replaced": 0,
    }
    assert Candle.objects.count() == 400
