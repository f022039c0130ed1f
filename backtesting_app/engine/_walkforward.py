"""Walk-forward analysis: optimize in-sample, pick a front point by a stated rule, test out-of-sample."""

from __future__ import annotations

import numpy as np

from ._evaluate import BacktestProblem, InProcessEvaluator
from ._search import HybridOptimizer, SearchState, pick_point
from ._space import ParameterSpace


def walk_forward(
    problem: BacktestProblem,
    space: ParameterSpace,
    objectives,
    constraints,
    *,
    in_sample: int,
    out_of_sample: int,
    budget: int,
    rule: str = "max_sharpe",
    seed: int = 0,
    evaluator_factory=None,
    on_window=None,
) -> dict:
    """Rolling windows: optimize on `in_sample` bars, evaluate the picked point on the next
    `out_of_sample` bars, step by `out_of_sample`. The out-of-sample returns are compounded into
    one stitched equity curve. Efficiency = annualised out-of-sample return / annualised in-sample
    return of the same parameters (per-bar compounding, so windows of any length compare)."""
    n = len(problem.ohlc)
    if in_sample < 50 or out_of_sample < 10:
        raise ValueError("walk-forward needs at least 50 in-sample and 10 out-of-sample bars")
    if in_sample + out_of_sample > n:
        raise ValueError(f"{n} bars are too few for one {in_sample}+{out_of_sample} window")
    evaluator_factory = evaluator_factory or InProcessEvaluator
    windows, stitched = [], [1.0]
    start = 0
    while start + in_sample + out_of_sample <= n:
        is_problem = problem.slice(start, start + in_sample)
        oos_problem = problem.slice(start + in_sample, start + in_sample + out_of_sample)
        state = SearchState(space, list(objectives), list(constraints), evaluator_factory(is_problem), budget)
        HybridOptimizer(seed=seed).run(state)
        chosen = pick_point(state, rule)
        if chosen is None:
            start += out_of_sample
            continue
        oos = oos_problem.evaluate(chosen.params)
        is_bar = per_bar_return(chosen.metrics["return_pct"], in_sample)
        oos_bar = per_bar_return(oos["return_pct"], out_of_sample)
        windows.append(
            {
                "in_sample": [str(is_problem.ohlc.index[0]), str(is_problem.ohlc.index[-1])],
                "out_of_sample": [str(oos_problem.ohlc.index[0]), str(oos_problem.ohlc.index[-1])],
                "params": chosen.params,
                "in_sample_metrics": chosen.metrics,
                "out_of_sample_metrics": oos,
                "efficiency": oos_bar / is_bar if is_bar else None,
                "evaluations": len(state.records),
            }
        )
        stitched.append(stitched[-1] * (1 + oos["return_pct"] / 100))
        if on_window:
            on_window(len(windows), windows[-1])
        start += out_of_sample
    if not windows:
        raise ValueError("no window produced a feasible point to test")
    is_mean = np.mean([per_bar_return(w["in_sample_metrics"]["return_pct"], in_sample) for w in windows])
    oos_mean = np.mean([per_bar_return(w["out_of_sample_metrics"]["return_pct"], out_of_sample) for w in windows])
    return {
        "rule": rule,
        "budget_per_window": budget,
        "in_sample_bars": in_sample,
        "out_of_sample_bars": out_of_sample,
        "windows": windows,
        "stitched_equity": stitched,
        "out_of_sample_return_pct": (stitched[-1] - 1) * 100,
        "efficiency": float(oos_mean / is_mean) if is_mean else None,
    }


def per_bar_return(return_pct: float, bars: int) -> float:
    r = return_pct / 100
    return (1 + r) ** (1 / bars) - 1 if r > -1 else -1.0
