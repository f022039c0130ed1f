"""One JSON rule for every stored result and API answer."""

import json
import math
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from forexgpt_site.serialization import json_value


def test_one_rule_for_every_value():
    value = {
        "a": np.float64(1.5),
        "b": np.int64(3),
        "nan": float("nan"),
        "np_nan": np.float32("nan"),
        "inf": math.inf,
        "ninf": -np.inf,
        "ts": pd.Timestamp("2024-01-02T03:00Z"),
        "dt": datetime(2024, 1, 2, tzinfo=UTC),
        "td": pd.Timedelta(hours=5),
        "nat": pd.NaT,
        "nested": [(np.bool_(True), None, "x")],
    }
    out = json_value(value)
    assert out == {
        "a": 1.5,
        "b": 3,
        "nan": None,
        "np_nan": None,
        "inf": "inf",
        "ninf": "-inf",
        "ts": "2024-01-02T03:00:00+00:00",
        "dt": "2024-01-02T00:00:00+00:00",
        "td": "0 days 05:00:00",
        "nat": None,
        "nested": [[True, None, "x"]],
    }
    json.dumps(out, allow_nan=False)  # strict JSON


def test_backtest_stats_keep_an_infinite_profit_factor_as_a_result():
    from backtesting_app.services import stats_dict

    stats = stats_dict(
        pd.Series({"Profit Factor": np.inf, "Sharpe Ratio": np.nan, "Max. Drawdown [%]": -3.5, "_trades": "x"})
    )
    assert stats == {"Profit Factor": "inf", "Sharpe Ratio": None, "Max. Drawdown [%]": 3.5}
