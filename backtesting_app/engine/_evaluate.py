"""Evaluating parameter sets fast: a picklable problem and evaluator backends behind one call.

An evaluator is any callable `evaluate(list[params dict]) -> list[metrics dict]`: in-process, a local
process pool, or (in the Django layer) chunks spread over django-q2 workers.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd

from ._costs import FxCosts
from ._fast import simulate_forecast
from ._objectives import DailyIndex, daily_returns, fast_metrics
from ._spec import strategy_spec

# The evaluators by name, with the label pages show: in-process and a local pool here; "distributed"
# (chunks spread over django-q2 workers) is the Django layer's (backtesting_app.services).
EVALUATORS = {"inprocess": "in-process", "pool": "local process pool", "distributed": "distributed (django-q2)"}


class BacktestProblem:
    """Bars, forecasts, costs and fixed parameters; `evaluate(params)` runs the compiled engine."""

    def __init__(
        self,
        ohlc: pd.DataFrame,
        strategy: str,
        costs: FxCosts,
        *,
        pred_return=None,
        confidence=None,
        fixed: dict | None = None,
    ):
        self.ohlc = ohlc
        self.strategy = strategy
        self.costs = costs
        self.pred = None if pred_return is None else np.asarray(pred_return, float)
        self.conf = None if confidence is None else np.asarray(confidence, float)
        self.fixed = dict(fixed or {})
        self.arrays = tuple(ohlc[c].to_numpy(float) for c in ("Open", "High", "Low", "Close"))
        self.days = DailyIndex(ohlc.index)
        self.spec = strategy_spec(strategy)
        self.signals = self.spec.prepare(ohlc, self.fixed) if self.spec.prepare else None  # reused by every evaluation
        if self.spec.needs_forecasts and self.pred is None:
            raise ValueError(f"the {strategy} strategy needs forecasts")

    def simulate(self, params: dict, pred=None, conf=None) -> tuple[np.ndarray, np.ndarray]:
        """(trades, equity) of one parameter set on the compiled engine; `pred` / `conf` replace the
        problem's forecasts for this call (a baseline's, or a permutation's)."""
        full = self.spec.check_params({**self.fixed, **params})
        fast_params, pred, conf = self.spec.fast_inputs(
            self.ohlc,
            full,
            pred_return=self.pred if pred is None else pred,
            confidence=self.conf if conf is None else conf,
            prepared=self.signals,
        )
        c = self.costs
        return simulate_forecast(
            *self.arrays,
            np.asarray(pred, float),
            np.asarray(conf, float),
            float(fast_params["entry_threshold"]),
            float(fast_params["confidence_threshold"]),
            float(fast_params["stop_loss_pct"]),
            float(fast_params["take_profit_pct"]),
            int(fast_params["max_hold_bars"]),
            float(c.cash),
            1.0 / c.margin,
            float(c.size),
            float(c.half_spread),
            float(c.commission),
        )

    def evaluate(self, params: dict, pred=None, conf=None) -> dict:
        return fast_metrics(*self.simulate(params, pred, conf), self.days)

    def daily_returns(self, params: dict, pred=None, conf=None) -> np.ndarray:
        """The parameter set's day-over-day returns (the series behind its Sharpe ratio)."""
        return daily_returns(self.simulate(params, pred, conf)[1], self.days)

    def slice(self, start: int, stop: int) -> BacktestProblem:
        """The same problem on bars [start, stop) (walk-forward windows)."""
        sl = slice(start, stop)
        return BacktestProblem(
            self.ohlc.iloc[sl],
            self.strategy,
            self.costs,
            pred_return=None if self.pred is None else self.pred[sl],
            confidence=None if self.conf is None else self.conf[sl],
            fixed=self.fixed,
        )


class InProcessEvaluator:
    def __init__(self, problem: BacktestProblem):
        self.problem = problem

    def __call__(self, batch: list[dict]) -> list[dict]:
        return [self.problem.evaluate(params) for params in batch]


_WORKER_PROBLEM: BacktestProblem | None = None


def _init_worker(problem: BacktestProblem) -> None:
    global _WORKER_PROBLEM
    os.environ.setdefault("TQDM_DISABLE", "1")
    _WORKER_PROBLEM = problem


def _evaluate_chunk(chunk: list[dict]) -> list[dict]:
    return [_WORKER_PROBLEM.evaluate(params) for params in chunk]


class PoolEvaluator:
    """A local process pool (all cores by default); the problem is sent to each worker once."""

    def __init__(self, problem: BacktestProblem, workers: int | None = None):
        self.workers = workers or os.cpu_count() or 1
        self.pool = ProcessPoolExecutor(self.workers, initializer=_init_worker, initargs=(problem,))

    def __call__(self, batch: list[dict]) -> list[dict]:
        if not batch:
            return []
        size = max(1, -(-len(batch) // (self.workers * 2)))
        chunks = [batch[i : i + size] for i in range(0, len(batch), size)]
        return [m for part in self.pool.map(_evaluate_chunk, chunks) for m in part]

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
