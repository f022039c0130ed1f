"""A file's bars against the stored ones: new, duplicate (identical), conflict (other values), stale."""

import numpy as np
import pandas as pd
import pytest

from marketdata.engine import ImportConflict, compare_bars, conflict_rejection, read_candles, validate


def _bars(stamps, closes, volumes=None):
    closes = np.asarray(closes, float)
    return pd.DataFrame(
        {
            "ts": pd.to_datetime(stamps, utc=True),
            "open": closes,
            "high": closes,
            "low": closes,
            "close": closes,
            "volume": np.asarray(volumes if volumes is not None else [10.0] * len(closes), float),
        }
    )


def test_each_row_is_new_duplicate_or_conflict():
    stored = _bars(["2017-06-01 00:00", "2017-06-01 01:00", "2017-06-01 02:00"], [1.1, 1.12471, 1.2], [5, 653, 7])
    stored["candle_import_id"] = [4, 4, 9]
    rows = _bars(
        ["2017-06-01 00:00", "2017-06-01 01:00", "2017-06-01 02:00", "2017-06-01 03:00"],
        [1.1, 1.12465, 1.2, 1.3],
        [5, 3498, 8, 1],
    )
    rows["line"] = [11, 12, 13, 14]
    result = compare_bars(rows, stored)
    assert result.new.tolist() == [False, False, False, True]
    assert result.duplicate.tolist() == [True, False, False, False]
    assert result.conflict.tolist() == [False, True, True, False]  # a volume alone differing is a conflict
    assert result.counts == {"new": 1, "duplicates": 1, "conflicts": 2}
    first, second = result.examples
    assert first == {
        "ts": "2017-06-01T01:00:00+00:00",
        "fields": ["open", "high", "low", "close", "volume"],
        "stored": {"open": 1.12471, "high": 1.12471, "low": 1.12471, "close": 1.12471, "volume": 653.0},
        "file": {"open": 1.12465, "high": 1.12465, "low": 1.12465, "close": 1.12465, "volume": 3498.0},
        "line": 12,
        "stored_import": 4,
    }
    assert (second["fields"], second["stored_import"]) == (["volume"], 9)


def test_bars_of_a_superseded_import_are_stale_not_conflicts():
    stored = _bars(["2020-01-06 10:00", "2020-01-06 11:00"], [1.0, 2.0])
    stored["candle_import_id"] = [1, 2]
    rows = _bars(["2020-01-06 10:00", "2020-01-06 11:00"], [1.5, 2.5])
    result = compare_bars(rows, stored, superseded=[1])
    assert result.stale.tolist() == [True, False] and result.conflict.tolist() == [False, True]
    assert [e["ts"] for e in result.examples] == ["2020-01-06T11:00:00+00:00"]


def test_nothing_stored_means_every_bar_is_new():
    rows = _bars(["2020-01-06 10:00"], [1.0])
    result = compare_bars(rows, _bars([], []))
    assert result.counts == {"new": 1, "duplicates": 0, "conflicts": 0} and result.examples == []


def test_the_same_file_read_twice_is_all_duplicates(fixture_path):
    rows = validate(read_candles(fixture_path("mt4_eurusd_h1.csv"), tz="Europe/Helsinki"))
    again = validate(read_candles(fixture_path("mt4_eurusd_h1.csv"), tz="Europe/Helsinki"))
    assert compare_bars(again, rows).counts == {"new": 0, "duplicates": 400, "conflicts": 0}


def test_the_refusal_names_the_count_the_first_bar_and_the_way_out():
    stored = _bars(["2017-06-01 01:00"], [1.12471], [653])
    rows = _bars(["2017-06-01 01:00", "2017-06-01 02:00"], [1.12465, 1.2], [3498, 1])
    exc = conflict_rejection(compare_bars(rows, stored), rows=2)
    assert isinstance(exc, ImportConflict)
    assert str(exc).startswith(
        "1 bar(s) are already stored with other values (first: 2017-06-01T01:00:00+00:00, "
        "stored vs file: open 1.12471 vs 1.12465,"
    )
    assert (
        "close 1.12471 vs 1.12465, volume 653 vs 3498); nothing was imported - import again with on_conflict keep"
        in str(exc)
    )
    body = exc.as_dict()
    assert (body["conflicts"], body["new"], body["duplicates"], body["on_conflict"]) == (1, 1, 0, "refuse")


@pytest.mark.parametrize("superseded", [[], (), [7]])
def test_without_a_superseded_writer_a_difference_stays_a_conflict(superseded):
    stored = _bars(["2020-01-06 10:00"], [1.0])
    stored["candle_import_id"] = [1]
    result = compare_bars(_bars(["2020-01-06 10:00"], [2.0]), stored, superseded=superseded)
    assert result.conflict.tolist() == [True] and result.stale.tolist() == [False]
