from datetime import UTC, datetime

import pytest

from forecasts.request import ForecastRequest


def test_a_request_takes_familiar_names_and_serializes_back():
    r = ForecastRequest.from_dict(
        {
            "artifact": "m:1",
            "symbol": "EUR/USD",
            "timeframe": "H1",
            "start": "2024-01-02",
            "end": "2024-01-31T12:00Z",
            "samples": "50",
        }
    )
    assert (r.symbol, r.timeframe, r.samples, r.seed, r.steps) == ("EURUSD", "1h", 50, 0, 6)
    assert r.start == datetime(2024, 1, 2, tzinfo=UTC) and r.end == datetime(2024, 1, 31, 12, tzinfo=UTC)
    assert ForecastRequest.from_dict(r.to_dict()) == r


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"samples": 1}, "samples must be a whole number from 2 to 1,000, not 1"),
        ({"samples": 2.5}, "samples must be a whole number from 2 to 1,000, not 2.5"),
        ({"steps": 0}, "steps must be a whole number from 1 to 1,000, not 0"),
        ({"seed": -1}, "seed must be a whole number from 0 to"),
        ({"start": "2024-02-01", "end": "2024-01-01"}, "start 2024-02-01 00:00 is after end 2024-01-01 23:59"),
        ({"start": "01/02/2024x"}, "start '01/02/2024x' is not a date/time"),
        ({"symbol": "E/"}, "symbol 'E/' is not a currency pair"),
        ({"artifact": " "}, "artifact is required"),
        ({"turbo": True}, "unknown forecast option\\(s\\) turbo"),
    ],
)
def test_bad_requests_name_what_is_wrong(changes, message):
    with pytest.raises(ValueError, match=message):
        ForecastRequest.from_dict({"artifact": "m:1", "symbol": "EURUSD", "timeframe": "1h", **changes})


def test_the_sampler_is_part_of_the_request():
    assert (
        ForecastRequest.from_dict({"artifact": "m:1", "symbol": "EURUSD", "timeframe": "1h", "sampler": "ddim"}).sampler
        == "ddim"
    )
    with pytest.raises(ValueError, match="sampler must be one of dpmpp2m, unipc, ddim, not 'euler'"):
        ForecastRequest.from_dict({"artifact": "m:1", "symbol": "EURUSD", "timeframe": "1h", "sampler": "euler"})
