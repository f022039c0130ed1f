"""Backtesting engine: FX costs, strategies for kernc's `backtesting`, a compiled engine with exact
parity for the forecast strategy, and pattern detection. No Django here."""

from ._costs import FxCommission, FxCosts
from ._data import align_forecasts, momentum_forecasts, ohlc_frame
from ._runner import ENGINES, BacktestResult, run_fast_forecast, run_forecast, run_reference
from ._strategies import FORECAST_PARAMS, ForecastStrategy, check_forecast_params

__all__ = [
    "ENGINES", "FORECAST_PARAMS", "BacktestResult", "ForecastStrategy", "FxCommission", "FxCosts", "align_forecasts",
    "check_forecast_params", "momentum_forecasts", "ohlc_frame", "run_fast_forecast", "run_forecast", "run_reference",
]
