"""An import format is declared once (`ImportFormat`): a toy format registered in one place is detected,
read, offered by the form, the API and the command, and imported."""

import io

import pandas as pd
import pytest
from django.core.management import call_command

from marketdata.engine import (
    ImportFormat,
    ImportRejected,
    ParsedFile,
    detect_format,
    import_format,
    read_text,
    register_format,
    unregister_format,
)

LINES = "1704067200;1.1;1.2;1.0;1.15;10\n1704070800;1.15;1.25;1.1;1.2;11\n1704074400;1.2;1.3;1.15;1.25;12\n"


def _read_epochs(source, tz):
    """Unix seconds, then open, high, low, close, volume, separated by semicolons."""
    text = source.read() if hasattr(source, "read") else open(source).read()
    text = text.decode() if isinstance(text, bytes) else text
    rows = [line.split(";") for line in text.splitlines() if line.strip()]
    frame = pd.DataFrame(
        {
            "ts": pd.to_datetime([int(r[0]) for r in rows], unit="s", utc=True),
            **{c: [float(r[i]) for r in rows] for i, c in enumerate(("open", "high", "low", "close", "volume"), 1)},
            "line": range(1, len(rows) + 1),
        }
    )
    return ParsedFile(format="epochs", timezone="UTC (unix seconds)", frame=frame, errors=[], notes=[])


@pytest.fixture
def epochs_format():
    spec = register_format(
        ImportFormat(
            "epochs",
            "Unix-second rows",
            lambda first: first[:11].rstrip(";").isdigit() and first[10:11] == ";",
            _read_epochs,
            "UTC",
        )
    )
    yield spec
    unregister_format("epochs")


def test_a_registered_format_is_detected_read_and_offered_everywhere(epochs_format, db, logged_in_client, tmp_path):
    from marketdata.forms import CandleImportForm
    from marketdata.models import Candle
    from marketdata.request import ImportRequest
    from marketdata.serializers import CandleImportCreateSerializer

    assert detect_format(io.StringIO(LINES)) == "epochs" and import_format("epochs").label == "Unix-second rows"
    assert len(read_text(LINES).frame) == 3
    assert ImportRequest.from_dict({"symbol": "EURUSD", "timeframe": "1h", "format": "epochs"}).format == "epochs"
    assert ("epochs", "Unix-second rows") in CandleImportForm().fields["format"].choices
    assert "epochs" in CandleImportCreateSerializer().fields["format"].choices
    assert "Unix-second rows" in logged_in_client.get("/data/").content.decode()
    path = tmp_path / "epochs.txt"
    path.write_text(LINES)
    call_command(
        "import_candles",
        str(path),
        "--symbol",
        "EURUSD",
        "--timeframe",
        "1h",
        "--format",
        "epochs",
        stdout=io.StringIO(),
    )
    assert Candle.objects.filter(symbol="EURUSD", timeframe="1h").count() == 3


def test_an_unknown_format_names_the_known_ones(db):
    from forexgpt_site.errors import DomainError
    from marketdata.request import ImportRequest

    with pytest.raises(
        ImportRejected, match="unknown format 'xlsx'; choose auto or one of histdata, mt4, mt5, dukascopy, csv"
    ):
        import_format("xlsx")
    with pytest.raises(DomainError, match="unknown format 'xlsx'"):
        ImportRequest.from_dict({"symbol": "EURUSD", "timeframe": "1h", "format": "xlsx"})
    with pytest.raises(ValueError, match="already registered"):
        register_format(import_format("csv"))
