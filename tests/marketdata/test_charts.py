"""Charts draw a whole series: aggregated (exactly) to a coarser timeframe when long, never cut."""

import numpy as np
import pandas as pd
import pytest

from marketdata.charts import MAX_BARS, closure_breaks, display_bars, series_chart
from marketdata.engine import read_candles, validate


def _groupby(rows: pd.DataFrame, key: pd.Series) -> pd.DataFrame:
    return rows.groupby(key).agg(
        open=("open", "first"),
        high=("high", "max"),
        low=("low", "min"),
        close=("close", "last"),
        volume=("volume", "sum"),
    )


@pytest.fixture
def h1_2014_2024(shared_file):
    return validate(read_candles(shared_file("EURUSD_H1_2014-2024.csv")))


def test_a_ten_year_h1_series_is_drawn_whole_as_weekly_bars(h1_2014_2024):
    rows = h1_2014_2024
    bars, shown = display_bars(rows, "1h")
    # Daily bars would be 3,258 (> 3,000), so the chart goes weekly rather than showing the last 3,000 hours.
    assert shown == "1w" and len(bars) == 547 <= MAX_BARS
    assert bars["ts"].iloc[0] <= rows["ts"].iloc[0] and bars["ts"].iloc[-1] + pd.Timedelta(days=7) > rows["ts"].iloc[-1]
    week = rows["ts"].dt.floor("D") - pd.to_timedelta((rows["ts"].dt.day_of_week + 1) % 7, unit="D")
    expected = _groupby(rows, week)
    for col in ("open", "high", "low", "close", "volume"):
        assert np.array_equal(bars[col].to_numpy(), expected[col].to_numpy()), col
    assert bars["high"].max() == rows["high"].max() and bars["low"].min() == rows["low"].min()
    assert bars["volume"].sum() == rows["volume"].sum()


def test_a_picked_range_gets_the_finest_timeframe_that_fits(h1_2014_2024):
    rows = h1_2014_2024
    half_year = rows[(rows["ts"] >= "2020-01-01") & (rows["ts"] <= "2020-06-30")].reset_index(drop=True)
    bars, shown = display_bars(half_year, "1h")
    assert len(half_year) == 3067 and shown == "4h" and len(bars) == 794
    expected = _groupby(half_year, half_year["ts"].dt.floor("4h"))
    assert np.array_equal(bars["close"].to_numpy(), expected["close"].to_numpy())
    month = rows[(rows["ts"] >= "2020-03-01") & (rows["ts"] < "2020-04-01")]
    assert display_bars(month, "1h")[1] == "1h"  # short enough: drawn as stored


def test_the_title_names_the_timeframe_drawn(h1_2014_2024):
    chart = series_chart(h1_2014_2024, symbol="EURUSD", timeframe="1h")
    assert chart["title"] == "EURUSD W1 - 65,000 H1 bars aggregated to 547 W1 bars"
    assert chart["figure"]["layout"]["title"]["text"] == chart["title"]
    assert len(chart["figure"]["data"][0]["x"]) == chart["drawn"] == 547 and chart["bars"] == 65000
    short = series_chart(h1_2014_2024.head(400), symbol="EURUSD", timeframe="1h")
    assert short["title"] == "EURUSD H1" and not short["aggregated"] and short["drawn"] == 400


def test_no_rows_no_chart():
    assert (
        series_chart(pd.DataFrame({"ts": pd.Series([], dtype="datetime64[ns, UTC]")}), symbol="EURUSD", timeframe="1h")
        is None
    )


def test_intraday_candles_hide_each_closure_and_nothing_else():
    # Thursday to Tuesday of hourly bars with the weekend closure (Friday 21:00 to Sunday 21:00 UTC) and a
    # two-hour hole on Monday, which is too short to be a closure and stays visible
    ts = pd.date_range("2024-10-10 00:00", "2024-10-15 23:00", freq="h", tz="UTC")
    weekend = (ts > "2024-10-11 20:00+00:00") & (ts < "2024-10-13 21:00+00:00")
    ts = ts[~weekend & ~ts.isin(pd.DatetimeIndex(["2024-10-14 10:00", "2024-10-14 11:00"], tz="UTC"))]
    # from one bar after Friday's last (20:00) to Sunday's first: 48 hours
    assert closure_breaks(ts) == [{"values": ["2024-10-11T21:00:00"], "dvalue": 48 * 3_600_000}]
    assert closure_breaks(ts[:2]) == []  # two bars: no usual spacing to tell a gap by
    assert closure_breaks(pd.date_range("2024-01-01", periods=30, freq="B")) == []  # daily bars: none
    assert closure_breaks(ts.repeat(2)) == closure_breaks(ts[::-1]) == closure_breaks(ts)  # times, not their order
    many = pd.DatetimeIndex(np.concatenate([ts + pd.Timedelta(weeks=w) for w in range(101)]))
    assert closure_breaks(many) == [{"bounds": ["sat", "sun"]}]  # 101 closures: Saturdays alone, as one rule
