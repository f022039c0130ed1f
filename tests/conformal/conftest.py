import numpy as np
import pandas as pd
import pytest


@pytest.fixture
def forecasts_csv(fixture_path, tmp_path):
    """Real forecasts on real data: EURUSD M1 next-bar log returns, a zero-mean forecast with EWMA volatility."""
    bars = pd.read_csv(fixture_path("eurusd_m1.csv"))
    ret = np.diff(np.log(bars["close"].to_numpy()))
    sigma = np.sqrt(pd.Series(ret**2).ewm(alpha=0.06).mean().shift(1).bfill().to_numpy())
    frame = pd.DataFrame(
        {
            "timestamp": bars["timestamp"].iloc[1:].to_numpy(),
            "y_true": ret,
            "y_pred": 0.0,
            "q_lo": -1.645 * sigma,
            "q_hi": 1.645 * sigma,
            "scale": sigma,
        }
    )
    path = tmp_path / "forecasts.csv"
    frame.to_csv(path, index=False)
    return path
