"""Run a strategy on bars with FX costs, on the reference engine (`backtesting`) or the fast one."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

os.environ.setdefault("TQDM_DISABLE", "1")  # backtesting prints a progress bar per run otherwise

from backtesting import Backtest  # noqa: E402
from backtesting._stats import compute_stats  # noqa: E402

from ._costs import FxCosts  # noqa: E402
from ._fast import simulate_forecast  # noqa: E402
from ._names import one_of  # noqa: E402
from ._spec import strategy_spec  # noqa: E402
from ._strategies import check_forecast_params  # noqa: E402

# The engines by name, with the label pages show: the one list the models, forms, serializers and commands offer.
ENGINES = {"reference": "reference (backtesting)", "fast": "fast (compiled)"}
TRADE_COLUMNS = [
    "Size",
    "EntryBar",
    "ExitBar",
    "EntryPrice",
    "ExitPrice",
    "SL",
    "TP",
    "PnL",
    "ReturnPct",
    "EntryTime",
    "ExitTime",
    "Duration",
]


@dataclass
class BacktestResult:
    stats: pd.Series  # backtesting's full stats (drawdown made positive by `summary`)
    equity: pd.DataFrame  # Equity, DrawdownPct (positive fraction), DrawdownDuration
    trades: pd.DataFrame  # TRADE_COLUMNS

    @property
    def final_equity(self) -> float:
        return float(self.equity["Equity"].iloc[-1])


def _backtest(ohlc: pd.DataFrame, strategy, costs: FxCosts) -> Backtest:
    return Backtest(
        ohlc,
        strategy,
        cash=costs.cash,
        spread=0.0,
        commission=costs.commission_fn(),
        margin=costs.margin,
        trade_on_close=False,
        hedging=False,
        exclusive_orders=False,
        finalize_trades=True,
    )


def run_reference(ohlc: pd.DataFrame, strategy, params: dict, costs: FxCosts, **arrays) -> BacktestResult:
    """kernc's backtesting, unmodified: the reference every other engine must match."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # per-order margin warnings; results carry the outcome
        stats = _backtest(ohlc, strategy, costs).run(size=costs.size, **params, **arrays)
    trades = stats["_trades"][TRADE_COLUMNS].copy()
    return BacktestResult(stats=stats, equity=stats["_equity_curve"], trades=trades)


def _trades_frame(raw: np.ndarray, index: pd.DatetimeIndex) -> pd.DataFrame:
    size, entry_bar, exit_bar = raw[:, 0], raw[:, 1].astype(int), raw[:, 2].astype(int)
    entry, exit_, commission = raw[:, 3], raw[:, 4], raw[:, 7]
    frame = pd.DataFrame(
        {
            "Size": size.astype(int),
            "EntryBar": entry_bar,
            "ExitBar": exit_bar,
            "EntryPrice": entry,
            "ExitPrice": exit_,
            "SL": raw[:, 5],
            "TP": raw[:, 6],
            "PnL": size * (exit_ - entry) - commission,
            "ReturnPct": np.sign(size) * (exit_ / entry - 1) - commission / (np.abs(size) * entry),
            "EntryTime": index[entry_bar],
            "ExitTime": index[exit_bar],
        }
    )
    frame["Duration"] = frame["ExitTime"] - frame["EntryTime"]
    return frame


def run_fast_forecast(
    ohlc: pd.DataFrame, params: dict, costs: FxCosts, *, pred_return, confidence, with_stats: bool = True
):
    """ForecastStrategy on the compiled engine. With `with_stats`, the same stats as the reference
    (backtesting's own compute_stats on our trades and equity); without, just (trades, equity)."""
    p = check_forecast_params(params)
    raw, equity = simulate_forecast(
        ohlc["Open"].to_numpy(float),
        ohlc["High"].to_numpy(float),
        ohlc["Low"].to_numpy(float),
        ohlc["Close"].to_numpy(float),
        np.asarray(pred_return, float),
        np.asarray(confidence, float),
        float(p["entry_threshold"]),
        float(p["confidence_threshold"]),
        float(p["stop_loss_pct"]),
        float(p["take_profit_pct"]),
        int(p["max_hold_bars"]),
        float(costs.cash),
        1.0 / costs.margin,
        float(costs.size),
        float(costs.half_spread),
        float(costs.commission),
    )
    if not with_stats:
        return raw, equity
    trades = _trades_frame(raw, ohlc.index)
    stats = compute_stats(trades=trades, equity=equity, ohlc_data=ohlc, strategy_instance=None, risk_free_rate=0.0)
    return BacktestResult(stats=stats, equity=stats["_equity_curve"], trades=trades)


def strategy_inputs(
    ohlc: pd.DataFrame, strategy: str, params: dict, *, pred_return=None, confidence=None, signals=None
):
    """A strategy as ForecastStrategy inputs (its spec's `fast_inputs`), so one compiled engine runs
    them all: (forecast parameters, pred_return, confidence). `signals`: the spec's `prepare` of these
    bars, when a caller evaluating many parameter sets made it once."""
    spec = strategy_spec(strategy)
    if signals is None and spec.prepare is not None:
        signals = spec.prepare(ohlc, params)
    return spec.fast_inputs(ohlc, params, pred_return=pred_return, confidence=confidence, prepared=signals)


def run_backtest(
    ohlc: pd.DataFrame,
    strategy: str,
    params: dict,
    costs: FxCosts,
    *,
    pred_return=None,
    confidence=None,
    engine: str = "reference",
) -> BacktestResult:
    """Run a registered `strategy` on `engine` (reference = kernc's backtesting, fast = the compiled one)."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose {one_of(ENGINES)}")
    spec = strategy_spec(strategy)
    params = spec.check_params(params)
    if spec.needs_forecasts and pred_return is None:
        raise ValueError(f"the {strategy} strategy needs forecasts")
    if engine == "fast":
        fast_params, pred, conf = strategy_inputs(
            ohlc, strategy, params, pred_return=pred_return, confidence=confidence
        )
        return run_fast_forecast(ohlc, fast_params, costs, pred_return=pred, confidence=conf)
    arrays = {"pred_return": pred_return, "confidence": confidence} if spec.needs_forecasts else {}
    return run_reference(ohlc, spec.strategy, params, costs, **arrays)
