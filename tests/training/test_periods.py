"""The train / validation / test periods a trained version records, and where forecast origins fall
among them (no database: the engine alone)."""

import numpy as np
import pandas as pd
import pytest

from training.engine.periods import in_sample_of, origin_parts, period_overlap, periods_of, sample_label_of


@pytest.fixture
def candles(fixture_path):
    frame = pd.read_csv(fixture_path("eurusd_h1.csv"))  # 399 real EURUSD H1 bars from 2014-05-30 15:00
    return frame.rename(columns={"timestamp": "ts"})


def test_the_trainers_periods_are_the_bars_each_part_reads(candles):
    from training.engine.trainer import prepare_data

    data = prepare_data(candles, patch_len=32, horizon=12)
    # Worked by hand from chronological_split: window ends 31..386 (356 windows), 15% each for test
    # and validation (53), gaps of horizon + patch_len = 44 ends: test ends 334..386, validation ends
    # 237..289, training ends 31..192. A part reads from its first end - 31 to its last end + 12.
    ts = candles["ts"]
    expected = {
        "train": {
            "first_bar": ts[0],
            "last_bar": ts[192 + 12],
            "first_origin": ts[31],
            "last_origin": ts[192],
            "windows": 162,
        },
        "val": {
            "first_bar": ts[237 - 31],
            "last_bar": ts[289 + 12],
            "first_origin": ts[237],
            "last_origin": ts[289],
            "windows": 53,
        },
        "test": {
            "first_bar": ts[334 - 31],
            "last_bar": ts[386 + 12],
            "first_origin": ts[334],
            "last_origin": ts[386],
            "windows": 53,
        },
    }
    assert periods_of(data) == expected
    assert expected["test"] == {
        "first_bar": "2014-06-18T06:00:00Z",
        "last_bar": "2014-06-24T05:00:00Z",
        "first_origin": "2014-06-19T13:00:00Z",
        "last_origin": "2014-06-23T17:00:00Z",
        "windows": 53,
    }


PERIODS = {  # three parts with one-bar gaps, as chronological_split leaves them
    "train": {
        "first_bar": "2024-01-01T00:00:00Z",
        "last_bar": "2024-01-10T00:00:00Z",
        "first_origin": "2024-01-03T00:00:00Z",
        "last_origin": "2024-01-09T12:00:00Z",
        "windows": 100,
    },
    "val": {
        "first_bar": "2024-01-10T02:00:00Z",
        "last_bar": "2024-01-12T00:00:00Z",
        "first_origin": "2024-01-11T00:00:00Z",
        "last_origin": "2024-01-11T12:00:00Z",
        "windows": 13,
    },
    "test": {
        "first_bar": "2024-01-12T02:00:00Z",
        "last_bar": "2024-01-14T00:00:00Z",
        "first_origin": "2024-01-13T00:00:00Z",
        "last_origin": "2024-01-13T12:00:00Z",
        "windows": 13,
    },
}


def test_each_origin_falls_in_one_place_with_the_parts_bounds_inclusive():
    origins = pd.to_datetime(
        [
            "2023-12-31 23:00",
            "2024-01-01 00:00",
            "2024-01-10 00:00",
            "2024-01-10 01:00",
            "2024-01-10 02:00",
            "2024-01-12 00:00",
            "2024-01-12 01:00",
            "2024-01-12 02:00",
            "2024-01-14 00:00",
            "2024-01-14 01:00",
        ],
        utc=True,
    )
    assert list(origin_parts(PERIODS, origins)) == [
        "before",
        "train",
        "train",
        "between",
        "val",
        "val",
        "between",
        "test",
        "test",
        "after",
    ]
    assert period_overlap(PERIODS, origins) == {"before": 1, "train": 2, "val": 2, "test": 2, "between": 2, "after": 1}
    # naive times are UTC, and other zones are converted: 2024-01-10 03:00+02:00 is 01:00 UTC, the gap
    assert list(origin_parts(PERIODS, ["2024-01-10 01:00", pd.Timestamp("2024-01-10 03:00", tz="Europe/Athens")])) == [
        "between",
        "between",
    ]


@pytest.mark.parametrize(
    "overlap, in_sample, label",
    [
        ({"before": 0, "train": 3, "val": 1, "test": 9, "between": 0, "after": 0}, True, "in-sample (training)"),
        ({"before": 0, "train": 0, "val": 1, "test": 9, "between": 1, "after": 0}, True, "in-sample (validation)"),
        (
            {"before": 0, "train": 0, "val": 0, "test": 9, "between": 0, "after": 4},
            False,
            "out-of-sample (test period)",
        ),
        (
            {"before": 0, "train": 0, "val": 0, "test": 0, "between": 0, "after": 4},
            False,
            "out-of-sample (after the model's data)",
        ),
        (
            {"before": 2, "train": 0, "val": 0, "test": 0, "between": 0, "after": 0},
            False,
            "out-of-sample (before the model's data)",
        ),
        (None, None, "periods unknown"),
    ],
)
def test_in_sample_means_any_origin_in_the_training_or_validation_part(overlap, in_sample, label):
    assert in_sample_of(overlap) is in_sample and sample_label_of(overlap) == label


def test_unknown_periods_place_nothing():
    origins = pd.to_datetime(["2024-01-05"], utc=True)
    assert origin_parts({}, origins) is None and period_overlap(None, origins) is None
    assert period_overlap(PERIODS, pd.DatetimeIndex([], tz="UTC")) == dict.fromkeys(
        ("before", "train", "val", "test", "between", "after"), 0
    )
    assert isinstance(origin_parts(PERIODS, np.array([], dtype="datetime64[ns]")), np.ndarray)


@pytest.mark.django_db
def test_the_run_page_shows_its_versions_periods(logged_in_client, register):
    from tests.registry.test_periods import PERIODS
    from training.models import TrainingRun

    run = TrainingRun.objects.create(
        symbol="EURUSD", timeframe="1h", status="succeeded", artifact_version=register(periods=PERIODS)
    )
    page = logged_in_client.get(f"/training/runs/{run.pk}/").content.decode()
    assert 'id="periods-table"' in page and "Train / validation / test periods of eurusd-1h-h12:1" in page
    assert "2014-06-13 12:00 to 2014-06-17 16:00" in page and "2014-06-18 06:00" in page
    older = TrainingRun.objects.create(
        symbol="EURUSD", timeframe="1h", status="succeeded", artifact_version=register(seed=1)
    )
    assert 'id="periods-unknown"' in logged_in_client.get(f"/training/runs/{older.pk}/").content.decode()
