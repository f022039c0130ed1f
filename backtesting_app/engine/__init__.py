"""Backtesting engine: FX costs, strategies for kernc's `backtesting` (each declared once, as a
`StrategySpec` in the registry), a compiled engine with exact parity for the forecast strategy, and
pattern detection. No Django here."""

from ._costs import FxCommission, FxCosts
from ._data import align_forecasts, momentum_forecasts, ohlc_frame
from ._names import one_of
from ._runner import ENGINES, BacktestResult, run_backtest, run_fast_forecast, run_reference, strategy_inputs
from ._spec import (
    STRATEGIES,
    STRATEGY_CHOICES,
    STRATEGY_NAME_LENGTH,
    StrategyParameter,
    StrategySpec,
    check_params,
    register_strategy,
    strategy_choices,
    strategy_spec,
    strategy_specs,
    unregister_strategy,
)
from ._strategies import (
    EXIT_PARAMETERS,
    EXIT_SPACE,
    FORECAST_PARAMS,
    CombinedStrategy,
    ExitRules,
    ForecastStrategy,
    PatternStrategy,
    check_forecast_params,
)

__all__ = [
    "ENGINES",
    "FORECAST_PARAMS",
    "STRATEGIES",
    "STRATEGY_CHOICES",
    "BacktestResult",
    "CombinedStrategy",
    "ForecastStrategy",
    "FxCommission",
    "FxCosts",
    "PatternStrategy",
    "align_forecasts",
    "check_forecast_params",
    "check_params",
    "momentum_forecasts",
    "ohlc_frame",
    "one_of",
    "run_backtest",
    "run_fast_forecast",
    "run_reference",
    "strategy_inputs",
    "STRATEGY_NAME_LENGTH",
    "StrategyParameter",
    "StrategySpec",
    "register_strategy",
    "strategy_choices",
    "strategy_spec",
    "strategy_specs",
    "unregister_strategy",
    "EXIT_PARAMETERS",
    "EXIT_SPACE",
    "ExitRules",
]
