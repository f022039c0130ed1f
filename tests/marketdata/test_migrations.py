"""Migration 0002 links the bars stored before it to the imports that wrote them."""

import pytest
from django.db.models import Count

from tests.migrating import migrate, state_at

BEFORE = [("marketdata", "0001_initial")]
AFTER = [("marketdata", "0002_candle_import_provenance")]


@pytest.mark.django_db(transaction=True)
def test_existing_bars_point_at_their_import_after_the_migration():
    with state_at(BEFORE) as old:
        Candle, CandleImport = old.get_model("marketdata", "Candle"), old.get_model("marketdata", "CandleImport")
        upload = CandleImport.objects.create(
            original_name="a.csv", symbol="EURUSD", timeframe="1h", status="succeeded", file="imports/a.csv"
        )
        bar = {"open": 1.1, "high": 1.2, "low": 1.0, "close": 1.1, "volume": 5.0}
        sources = {
            "mt4:a.csv": ("1h", 3),
            "demo:backtesting.test.EURUSD": ("1h", 2),
            "csv:b.csv": ("1h", 1),
            "resampled from 1h": ("4h", 2),
        }
        hour = 0
        for source, (timeframe, count) in sources.items():
            for _ in range(count):
                Candle.objects.create(
                    symbol="EURUSD", timeframe=timeframe, ts=f"2020-01-06T{hour:02d}:00Z", source=source, **bar
                )
                hour += 1

        new = migrate(AFTER)
        Candle, CandleImport = new.get_model("marketdata", "Candle"), new.get_model("marketdata", "CandleImport")
        links = {
            (run.origin, run.original_name, run.format): Candle.objects.filter(candle_import=run).count()
            for run in CandleImport.objects.all()
        }
        assert links == {
            ("upload", "a.csv", "auto"): 3,
            ("demo", "backtesting.test.EURUSD", "demo"): 2,
            ("command", "b.csv", "csv"): 1,
            ("resample", "resampled from 1h", "resample"): 2,
        }
        assert Candle.objects.get(ts="2020-01-06T00:00Z").candle_import_id == upload.pk
        assert (
            CandleImport.objects.get(origin="demo").message == "recorded by migration 0002 from the bars' source label"
        )

        Candle = migrate(BEFORE).get_model("marketdata", "Candle")  # and back: each bar labelled by its import
        assert dict(Candle.objects.values_list("source").annotate(n=Count("id"))) == {
            "auto:a.csv": 3,
            "demo:backtesting.test.EURUSD": 2,
            "csv:b.csv": 1,
            "resampled from 1h": 2,
        }
