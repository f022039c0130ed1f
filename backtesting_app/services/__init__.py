"""Backtesting writes: backtests and optimizations. Import from here."""

from .backtests import (
    COST_FIELDS,
    DRAWDOWN_KEYS,
    FORECAST_SOURCES,
    backtest_compute,
    backtest_prepare,
    backtest_run_execute,
    backtest_run_start,
    request_forecasts,
    equity_frame,
    load_bars,
    stats_dict,
    trades_records,
)
from .optimizations import (
    DistributedEvaluator,
    build_problem,
    optimization_chunk_execute,
    optimization_run_execute,
    optimization_run_start,
    optimization_search,
    run_space,
    search_problem,
)

__all__ = [
    "COST_FIELDS", "DRAWDOWN_KEYS", "FORECAST_SOURCES", "DistributedEvaluator",
    "backtest_compute", "backtest_prepare", "backtest_run_execute", "backtest_run_start", "build_problem", "equity_frame",
    "load_bars", "optimization_chunk_execute", "optimization_run_execute",
    "optimization_run_start", "optimization_search", "request_forecasts",
    "run_space", "search_problem", "stats_dict", "trades_records",
]
