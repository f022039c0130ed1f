import pytest
from django.core.files.base import ContentFile


@pytest.fixture
def import_run():
    """Makes a queued candle-import run (the smallest job run) owned by `owner`."""
    from marketdata.models import CandleImport

    def _make(owner):
        run = CandleImport(owner=owner, original_name="x.csv", symbol="EURUSD", timeframe="1h")
        run.file.save("x.csv", ContentFile(b""), save=False)
        run.save()
        return run

    return _make
