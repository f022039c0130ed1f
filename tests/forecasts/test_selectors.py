"""The one reader of an uploaded forecasts CSV (backtests, optimizations and calibrations use it),
and the quantile score a forecast set's page compares forecasters with."""

import io

import numpy as np
import pandas as pd
import pytest

from forecasts.selectors import read_forecasts_csv


def _csv(text: str) -> io.BytesIO:
    return io.BytesIO(text.encode())


def test_reads_names_stripped_and_timestamps_as_utc():
    frame = read_forecasts_csv(_csv(" timestamp , pred_return\n2024-01-02T10:00+01:00,0.001\n2024-01-02T11:00+01:00,-0.002\n"))
    assert list(frame.columns) == ["timestamp", "pred_return"]
    assert list(frame["timestamp"]) == [pd.Timestamp("2024-01-02 09:00", tz="UTC"), pd.Timestamp("2024-01-02 10:00", tz="UTC")]
    assert list(frame["pred_return"]) == [0.001, -0.002]


def test_a_table_without_timestamps_is_read_as_it_is():
    frame = read_forecasts_csv(_csv("y_true,y_pred\n0.1,0.2\n"))
    assert frame.to_dict(orient="list") == {"y_true": [0.1], "y_pred": [0.2]}


@pytest.mark.parametrize("text, message", [
    (b"\xff\xfe\x00bad", "the forecasts file is not a readable CSV"),
    (b"", "the forecasts file is not a readable CSV"),
    (b"timestamp,pred_return\n", "the forecasts file has no rows"),
    (b"timestamp,pred_return\n2024-01-02 10:00,0.1\nsoon,0.2\n", "timestamp on row 2 is not a date/time"),
])
def test_refuses_with_what_is_wrong(text, message):
    with pytest.raises(ValueError, match=message):
        read_forecasts_csv(io.BytesIO(text))


def test_time_order_is_required_only_when_asked():
    text = "timestamp,y_true,y_pred\n2024-01-02 10:00,0,0\n2024-01-02 12:00,0,0\n2024-01-02 11:00,0,0\n"
    assert len(read_forecasts_csv(_csv(text))) == 3  # a backtest aligns forecasts by their timestamps
    with pytest.raises(ValueError, match=r"timestamps must be ascending \(time-ordered\); row 3 goes back in time"):
        read_forecasts_csv(_csv(text), time_ordered=True)


def test_the_quantile_score_is_twice_the_mean_pinball_loss_over_the_seven_levels():
    from forecasts.selectors import quantile_score

    names = ("q05", "q10", "q25", "q50", "q75", "q90", "q95")
    # every quantile 1 above the outcome: each level's loss is 1 - tau, whose mean over the levels is 0.5
    assert quantile_score({n: np.ones(3) for n in names}, np.zeros(3)) == pytest.approx(1.0)
    # every quantile 1 below: tau each, mean 0.5 again; and a perfect forecast scores 0
    assert quantile_score({n: -np.ones(3) for n in names}, np.zeros(3)) == pytest.approx(1.0)
    assert quantile_score({n: np.full(3, 0.2) for n in names}, np.full(3, 0.2)) == 0
