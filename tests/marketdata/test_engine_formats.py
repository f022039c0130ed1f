"""Reading real export formats: detection, parsing, and UTC conversion across DST."""

import pandas as pd
import pytest

from marketdata.engine import ImportRejected, detect_format, read_candles, read_text, validate


@pytest.mark.parametrize(
    "name, expected",
    [
        ("histdata_eurusd_m1.csv", "histdata"),
        ("mt4_eurusd_h1.csv", "mt4"),
        ("mt5_eurusd_h1.csv", "mt5"),
        ("dukascopy_eurusd_h1.csv", "dukascopy"),
        ("eurusd_h1.csv", "csv"),
    ],
)
def test_detects_each_real_format(fixture_path, name, expected):
    assert detect_format(fixture_path(name)) == expected


def test_unrecognised_first_line_names_what_it_saw():
    with pytest.raises(ImportRejected, match=r"could not recognise the file format from its first line 'hello;world'"):
        read_text("hello;world\n1;2\n")


def test_histdata_is_new_york_time_with_dst():
    winter = read_text("20170102 020000;1.05155;1.05197;1.05155;1.05190;0\n")
    summer = read_text("20170703 020000;1.1;1.2;1.0;1.1;0\n")
    assert winter.timezone == "America/New_York"
    assert winter.frame["ts"].iloc[0] == pd.Timestamp("2017-01-02 07:00", tz="UTC")  # EST = UTC-5
    assert summer.frame["ts"].iloc[0] == pd.Timestamp("2017-07-03 06:00", tz="UTC")  # EDT = UTC-4


def test_mt4_uses_given_zone_and_notes_the_default():
    text = "2014.05.30,18:00,1.36454,1.36496,1.36366,1.36383,2446\n"
    helsinki = read_text(text, tz="Europe/Helsinki")
    assert helsinki.frame["ts"].iloc[0] == pd.Timestamp("2014-05-30 15:00", tz="UTC")  # EEST = UTC+3
    default = read_text(text)
    assert default.timezone == "UTC" and default.frame["ts"].iloc[0] == pd.Timestamp("2014-05-30 18:00", tz="UTC")
    assert "give its time zone, tz" in default.notes[0]


def test_dst_spring_gap_is_an_error_with_its_line():
    # 2017-03-26 03:30 does not exist in Helsinki (clocks jump 03:00 -> 04:00).
    text = "2017.03.26,02:30,1.1,1.2,1.0,1.1,5\n2017.03.26,03:30,1.1,1.2,1.0,1.1,5\n"
    parsed = read_text(text, tz="Europe/Helsinki")
    with pytest.raises(ImportRejected, match=r"line 2: 2017-03-26 03:30:00 does not exist in Europe/Helsinki"):
        validate(parsed)


def test_dst_autumn_repeated_hour_resolved_by_order():
    # 03:00-04:00 happens twice in Helsinki on 2017-10-29: first EEST (UTC+3), then EET (UTC+2).
    text = "\n".join(f"2017.10.29,{hh},1.1,1.2,1.0,1.1,5" for hh in ("02:00", "03:00", "03:00", "04:00")) + "\n"
    rows = validate(read_text(text, tz="Europe/Helsinki"))
    assert list(rows["ts"].dt.strftime("%H:%M")) == ["23:00", "00:00", "01:00", "02:00"]


def test_dukascopy_offsets_per_row(fixture_path):
    parsed = read_candles(fixture_path("dukascopy_eurusd_h1.csv"))
    assert parsed.frame["ts"].iloc[0] == pd.Timestamp("2023-12-31 23:00", tz="UTC")  # 00:00 GMT+0100
    with pytest.raises(ImportRejected, match="carry their own UTC offset"):
        read_candles(fixture_path("dukascopy_eurusd_h1.csv"), tz="Europe/Berlin")


def test_mt5_header_and_tick_volume(fixture_path):
    parsed = read_candles(fixture_path("mt5_eurusd_h1.csv"))
    first = parsed.frame.iloc[0]
    assert first["ts"] == pd.Timestamp("2019-01-02 00:00", tz="UTC")
    assert (first["open"], first["close"], first["volume"]) == (1.14609, 1.13123, 65151.0)
    assert parsed.frame["line"].iloc[0] == 2  # the header is line 1


def test_csv_with_offsets_and_with_local_times():
    aware = read_text("timestamp,open,high,low,close,volume\n2017-01-02T07:00:00+01:00,1,1.2,0.9,1.1,3\n")
    assert aware.frame["ts"].iloc[0] == pd.Timestamp("2017-01-02 06:00", tz="UTC")
    local = read_text("timestamp,open,high,low,close\n2017-07-02 07:00,1,1.2,0.9,1.1\n", tz="Europe/London")
    assert local.frame["ts"].iloc[0] == pd.Timestamp("2017-07-02 06:00", tz="UTC")
    assert local.frame["volume"].iloc[0] == 0.0


def test_unknown_zone_and_format_are_named():
    with pytest.raises(ImportRejected, match="unknown time zone 'Mars/Olympus'"):
        read_text("2014.05.30,18:00,1.1,1.2,1.0,1.1,5\n", tz="Mars/Olympus")
    with pytest.raises(ImportRejected, match="unknown format 'xlsx'"):
        read_text("2014.05.30,18:00,1.1,1.2,1.0,1.1,5\n", format="xlsx")


def test_malformed_line_is_named_by_the_parser():
    text = "2014.05.30,18:00,1.1,1.2,1.0,1.1,5\n2014.05.30,19:00,1.1,1.2,1.0,1.1,5,9,9\n"
    with pytest.raises(ImportRejected, match=r"line 2"):
        read_text(text)


def test_artem_mt4_in_helsinki_equals_the_normalised_h1_file(shared_file):
    rows = validate(read_candles(shared_file("raw/Artem_EURUSD60.csv"), tz="Europe/Helsinki"))
    ref = pd.read_csv(shared_file("EURUSD_H1_2014-2024.csv"))
    assert len(rows) == len(ref) == 65000
    assert (rows["ts"] == pd.to_datetime(ref["timestamp"], utc=True)).all()
    for col in ("open", "high", "low", "close", "volume"):
        assert (rows[col].to_numpy() == ref[col].to_numpy()).all(), col


def test_histdata_default_zone_equals_january_of_the_m1_file(shared_file):
    rows = validate(read_candles(shared_file("raw/DAT_ASCII_EURUSD_M1_201701.csv")))
    ref = pd.read_csv(shared_file("EURUSD_M1_2017-01_2017-06.csv"))
    ref["ts"] = pd.to_datetime(ref["timestamp"], utc=True)
    # HistData's January is New York's January: it ends at 2017-02-01 04:59 UTC.
    january = ref[ref["ts"] <= rows["ts"].iloc[-1]].reset_index(drop=True)
    assert len(rows) == len(january) == 31500
    assert (rows["ts"] == january["ts"]).all()
    for col in ("open", "high", "low", "close"):
        assert (rows[col].to_numpy() == january[col].to_numpy()).all(), col


def test_csv_without_a_time_column_and_with_split_date_time():
    with pytest.raises(ImportRejected, match="CSV has no timestamp column"):
        read_text("when,open,high,low,close\n2020-01-01,1,1,1,1\n", format="csv")
    parsed = read_text(
        "date,time,open,high,low,close\n2020-01-06,10:00,1,1.2,0.9,1.1\n2020-01-06,11:00,1,1.2,0.9,1.1\n"
    )
    assert [t.hour for t in parsed.frame["ts"]] == [10, 11]
