"""The same file imported twice at once ends as it would one import after the other: one inserts the
bars, the other reports them as duplicates (on SQLite and on PostgreSQL alike)."""

import threading

import pytest
from django.db import connection

from marketdata.models import Candle, CandleImport
from marketdata.request import ImportRequest
from marketdata.services import _store, candles_import_file


@pytest.mark.django_db(transaction=True)
def test_bars_written_between_the_read_and_the_write_become_duplicates(fixture_path, monkeypatch):
    """Deterministic: another import (its own connection, committed) stores the same bars just
    before ours writes them."""
    raced = {"done": False}

    def rival_import(rows):
        try:
            rival = CandleImport.objects.create(symbol="EURUSD", timeframe="1h", original_name="rival.csv")
            _store.candles_store(rows=rows, candle_import=rival)
        finally:
            connection.close()

    compare = _store.engine.compare_bars

    def compare_then_a_rival_writes(rows, stored, **kwargs):
        comparison = compare(rows, stored, **kwargs)
        if not raced["done"]:
            raced["done"] = True
            rival = threading.Thread(target=rival_import, args=(rows,))
            rival.start()
            rival.join(30)
        return comparison

    monkeypatch.setattr(_store.engine, "compare_bars", compare_then_a_rival_writes)
    report = candles_import_file(
        source=fixture_path("mt4_eurusd_h1.csv"),
        request=ImportRequest(symbol="EURUSD", timeframe="1h", tz="Europe/Helsinki"),
    )
    assert raced["done"]
    assert (report["inserted"], report["duplicates"], report["conflicts"]) == (0, 400, 0)
    assert Candle.objects.count() == 400


@pytest.mark.django_db(transaction=True)
def test_two_imports_of_one_file_at_once_both_succeed(fixture_path):
    data = fixture_path("mt4_eurusd_h1.csv")
    outcomes = []
    for _pair in range(3):
        Candle.objects.all().delete()
        barrier, results = threading.Barrier(2), []

        def one():
            try:
                barrier.wait()
                results.append(
                    candles_import_file(
                        source=data, request=ImportRequest(symbol="EURUSD", timeframe="1h", tz="Europe/Helsinki")
                    )
                )
            except Exception as exc:  # noqa: BLE001 - reported below
                results.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=one) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        outcomes.append(results)
        errors = [r for r in results if isinstance(r, Exception)]
        assert not errors, errors
        assert sorted((r["inserted"], r["duplicates"]) for r in results) == [(0, 400), (400, 0)]
        assert Candle.objects.count() == 400
