"""Validation refuses bad files whole with line numbers; anomalies are reported, and dropped on request."""

import pandas as pd
import pytest

from marketdata.engine import (
    ImportRejected,
    drop_anomalies,
    normalize_timeframe,
    read_candles,
    read_text,
    scan_anomalies,
    validate,
)

H1 = normalize_timeframe("1h")


def _mt4(lines):
    return read_text("\n".join(lines) + "\n")


def test_each_bad_row_is_named_with_its_line():
    parsed = _mt4(
        [
            "2020.01.06,10:00,1.1,1.2,1.0,1.1,5",
            "2020.01.06,11:00,1.1,1.05,1.0,1.1,5",  # high below open/close
            "2020.01.06,12:00,1.1,1.2,1.15,1.1,5",  # low above open/close
            "2020.01.06,13:00,-1.1,1.2,1.0,1.1,5",  # negative price
            "2020.01.06,14:00,abc,1.2,1.0,1.1,5",  # not a number
            "2020.13.06,15:00,1.1,1.2,1.0,1.1,5",  # impossible date
            "2020.01.06,10:00,1.1,1.2,1.0,1.1,5",  # duplicate of line 1
            "2020.01.06,16:00,1.1,1.2,1.3,1.1,5",  # high below low
        ]
    )
    with pytest.raises(ImportRejected) as info:
        validate(parsed)
    reasons = {e.line: e.reason for e in info.value.errors}
    assert reasons == {
        2: "high 1.05 is below open/close 1.1",
        3: "low 1.15 is above open/close 1.1",
        4: "non-positive price in open, high, low, close -1.1, 1.2, 1, 1.1",
        5: "open 'abc' is not a number",
        6: "timestamp '2020.13.06 15:00' is not a valid date/time",
        7: "duplicate timestamp 2020-01-06T10:00:00+00:00 (also on line 1)",
        8: "high 1.2 is below low 1.3",
    }
    assert "7 bad row(s) in 8; nothing was imported" in str(info.value)
    assert info.value.as_dict()["error_count"] == 7


def test_a_line_with_several_faults_is_one_bad_row_with_every_reason():
    parsed = read_text(
        "timestamp,open,high,low,close,volume\n"
        "2023-01-02T00:00:00Z,1.1,1.2,1.0,1.15,5\n"
        "2023-01-02T01:00:00Z,1.1\n"  # a file cut in the middle of its last line
    )
    with pytest.raises(ImportRejected) as info:
        validate(parsed)
    assert [(e.line, e.reason) for e in info.value.errors] == [(3, "high is missing; low is missing; close is missing")]
    assert str(info.value).startswith("1 bad row(s) in 2; nothing was imported: line 3: high is missing")
    assert info.value.as_dict()["error_count"] == 1


@pytest.mark.parametrize("stamp", ["2023-xx-01", "garbled line with no commas"])
def test_a_garbled_timestamp_among_utc_offsets_is_named_as_such_not_as_a_local_time(stamp):
    rows = "".join(f"2023-01-02T{h:02d}:00:00Z,1.1,1.2,1.0,1.15,5\n" for h in range(4))
    with pytest.raises(ImportRejected) as info:
        validate(read_text(f"timestamp,open,high,low,close,volume\n{rows}{stamp},1.1,1.2,1.0,1.15,5\n"))
    assert info.value.errors[0].line == 6
    assert info.value.errors[0].reason.startswith(f"timestamp {stamp!r} is not a valid date/time")
    with pytest.raises(ImportRejected, match=r"timestamps mix UTC offsets and local times \(line 6\)"):
        read_text(f"timestamp,open,high,low,close,volume\n{rows}2023-01-02T07:00:00,1.1,1.2,1.0,1.15,5\n")


def test_only_the_first_ten_errors_are_spelled_out():
    parsed = _mt4([f"2020.01.06,{h:02d}:00,1.1,1.0,1.0,1.1,5" for h in range(15)])
    with pytest.raises(ImportRejected) as info:
        validate(parsed)
    assert len(info.value.errors) == 15
    assert str(info.value).endswith("; and 5 more")


def test_a_huge_bad_value_is_named_not_echoed():
    # a 5 MB "price" (a real audit's 50 MB file of 10 bad lines made every import listing 55 MB)
    parsed = _mt4(
        [
            "2020.01.06,10:00,1.1,1.2,1.0,1.1,5",
            "2020.01.06,11:00," + "x" * 5_000_000 + ",1.2,1.0,1.1,5",
            "2020.01.06," + "9" * 1_000_000 + ",1.1,1.2,1.0,1.1,5",
        ]
    )
    with pytest.raises(ImportRejected) as info:
        validate(parsed)
    reasons = {e.line: e.reason for e in info.value.errors}
    assert reasons[2] == "open 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'... (5,000,000 characters) is not a number"
    assert reasons[3].startswith("timestamp '2020.01.06 9999") and len(reasons[3]) < 120
    assert len(str(info.value)) < 400 and len(str(info.value.as_dict())) < 600


def test_validate_sorts_by_time():
    rows = validate(_mt4(["2020.01.06,11:00,1.1,1.2,1.0,1.1,5", "2020.01.06,10:00,1.1,1.2,1.0,1.1,5"]))
    assert list(rows["line"]) == [2, 1]


def test_mt5_sample_weekend_and_day_spanning_bars(fixture_path):
    rows = validate(read_candles(fixture_path("mt5_eurusd_h1.csv")))
    scan = scan_anomalies(rows, H1)
    assert scan.report["day_spanning"]["examples"][0] == "2019-01-02T00:00:00+00:00"
    weekend = scan.report["weekend"]
    assert weekend["count"] == 2  # the spurious Sunday 00:00 bars among the first 299 rows
    assert all(pd.Timestamp(t).day_name() == "Sunday" and pd.Timestamp(t).hour == 0 for t in weekend["examples"])
    kept, dropped = drop_anomalies(rows, scan, ["weekend", "day_spanning"])
    assert dropped == {"weekend": 2, "day_spanning": scan.report["day_spanning"]["count"]}
    assert len(kept) == len(rows) - 2 - dropped["day_spanning"]
    assert not scan_anomalies(kept, H1).report["weekend"]["count"]


def test_dukascopy_holiday_fillers(fixture_path):
    rows = validate(read_candles(fixture_path("dukascopy_eurusd_h1.csv")))
    filler = scan_anomalies(rows, H1).report["flat_filler"]
    flat = rows[(rows.open == rows.high) & (rows.high == rows.low) & (rows.low == rows.close) & (rows.volume == 0)]
    assert filler["count"] == len(flat) > 0
    assert filler["examples"][0] == "2023-12-31T23:00:00+00:00"


def test_no_fillers_flagged_when_the_file_records_no_volume(fixture_path):
    rows = validate(read_candles(fixture_path("histdata_eurusd_m1.csv")))
    assert (rows["volume"] == 0).all()
    assert scan_anomalies(rows, normalize_timeframe("1m")).report["flat_filler"]["count"] == 0


def test_long_gaps_exclude_weekends():
    text = "\n".join(
        [
            "2020.01.03,20:00,1.1,1.2,1.0,1.1,5",  # Friday
            "2020.01.05,22:00,1.1,1.2,1.0,1.1,5",  # Sunday open: a normal weekend
            "2020.01.07,12:00,1.1,1.2,1.0,1.1,5",  # Tuesday: 37 trading hours missing
        ]
    )
    report = scan_anomalies(validate(read_text(text + "\n")), H1).report["long_gap"]
    assert report["count"] == 1
    assert report["examples"][0] == {
        "from": "2020-01-05T22:00:00+00:00",
        "to": "2020-01-07T12:00:00+00:00",
        "trading_hours": 37.0,
    }


def test_dropping_an_unknown_kind_is_refused(fixture_path):
    rows = validate(read_candles(fixture_path("mt4_eurusd_h1.csv")))
    with pytest.raises(ImportRejected, match="cannot drop long_gap"):
        drop_anomalies(rows, scan_anomalies(rows, H1), ["long_gap"])
