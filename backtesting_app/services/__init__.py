"""Backtesting writes: backtests and optimizations. Import from here."""

from .backtests import (
    COST_FIELDS,
    DRAWDOWN_KEYS,
    FORECAST_SOURCES,
    backtest_compute,
    backtest_prepare,
    backtest_run_start,
    backtest_run_work,
    equity_frame,
    load_bars,
    request_forecasts,
    stats_dict,
    trades_records,
)
from .optimizations import (
    DistributedEvaluator,
    build_problem,
    optimization_chunk_evaluate,
    optimization_run_start,
    optimization_run_work,
    optimization_search,
    run_space,
    search_problem,
)

__all__ = [
    "COST_FIELDS",
    "DRAWDOWN_KEYS",
    "FORECAST_SOURCES",
    "DistributedEvaluator",
    "backtest_compute",
    "backtest_prepare",
    "backtest_run_start",
    "backtest_run_work",
    "build_problem",
    "equity_frame",
    "load_bars",
    "optimization_chunk_evaluate",
    "optimization_run_work",
    "optimization_run_start",
    "optimization_search",
    "request_forecasts",
    "run_space",
    "search_problem",
    "stats_dict",
    "trades_records",
]
