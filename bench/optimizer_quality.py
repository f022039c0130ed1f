"""Optimizer quality and speed on real EURUSD H1 with the forecast strategy (momentum baseline forecasts).

    .venv/bin/python bench/optimizer_quality.py [--bars 65000] [--budget 600] [--seeds 3]

1. Hybrid vs pure grid vs pure NSGA-II at equal budgets on the standard 5-parameter space,
   several seeds: hypervolume (return max, drawdown min, Sharpe max; reference point return -100%,
   drawdown 100%, Sharpe -10), constraint min_trades >= 30.
2. On a small 3-parameter space (stop loss x take profit x max hold, 10 x 10 x 10 = 1,000 points)
   where exhaustive search is possible: the hybrid's hypervolume as a share of the exhaustive
   front's, with at most a fifth of the evaluations.
3. Speed: evaluations/s of the whole optimizer (grid phase on our engine, in-process and a 2-process
   pool) vs backtesting's own Backtest.optimize on the same data and the same grid, in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TQDM_DISABLE", "1")

from backtesting_app.engine import FxCosts, ForecastStrategy, align_forecasts, momentum_forecasts, ohlc_frame  # noqa: E402
from backtesting_app.engine._runner import _backtest  # noqa: E402
from backtesting_app.engine.optimize import (  # noqa: E402
    BacktestProblem, HybridOptimizer, InProcessEvaluator, Parameter, ParameterSpace, PoolEvaluator, SearchState,
    default_space, optimize_grid, optimize_nsga2, parse_constraints,
)

DATA = ROOT.parent / "shared" / "data" / "EURUSD_H1_2014-2024.csv"
OBJECTIVES = ["return", "drawdown", "sharpe"]


class BenchStrategy(ForecastStrategy):
    """ForecastStrategy with the forecasts bound as class attributes, so backtesting's optimize can fork it."""


def _state(problem, space, budget, constraints):
    return SearchState(space, OBJECTIVES, constraints, InProcessEvaluator(problem), budget)


def quality(problem, budget, seeds):
    constraints = parse_constraints({"min_trades": 30})
    rows = []
    space = default_space()
    for seed in range(seeds):
        for method in ("hybrid", "grid", "nsga2"):
            state = _state(problem, space, budget, constraints)
            started = time.perf_counter()
            if method == "hybrid":
                HybridOptimizer(seed=seed).run(state)
            elif method == "nsga2":
                optimize_nsga2(state, seed=seed)
            else:
                divisions = 2
                while len(space.grid(divisions + 1)) <= budget:
                    divisions += 1
                optimize_grid(state, divisions)
            rows.append({"seed": seed, "method": method, "evaluations": len(state.records), "hypervolume": state.hypervolume(),
                         "front": len(state.front()), "seconds": round(time.perf_counter() - started, 2)})
    table = pd.DataFrame(rows)
    summary = table.groupby("method").agg(hv_mean=("hypervolume", "mean"), hv_min=("hypervolume", "min"),
                                          evaluations=("evaluations", "mean")).reset_index()
    return table, summary


def small_space():
    return ParameterSpace([Parameter("stop_loss_pct", "float", 0.001, 0.0145, 0.0015),
                           Parameter("take_profit_pct", "float", 0.001, 0.0145, 0.0015),
                           Parameter("max_hold_bars", "int", 3, 48, 5)])


def exhaustive_vs_hybrid(problem, seeds):
    fixed = {"entry_threshold": 0.0005, "confidence_threshold": 0.5}
    problem.fixed = fixed
    space = small_space()
    constraints = parse_constraints({"min_trades": 30})
    full = _state(problem, space, 10_000, constraints)
    started = time.perf_counter()
    optimize_grid(full, 10)
    exhaustive_s = time.perf_counter() - started
    hv_full = full.hypervolume()
    out = []
    for seed in range(seeds):
        state = _state(problem, space, len(full.records) // 5, constraints)
        HybridOptimizer(seed=seed, divisions=4, pop_size=16).run(state)
        out.append({"seed": seed, "evaluations": len(state.records), "share_of_exhaustive_hv": state.hypervolume() / hv_full})
    problem.fixed = {}
    return {"points": len(full.records), "exhaustive_seconds": round(exhaustive_s, 2), "exhaustive_hv": hv_full, "hybrid": out}


def speed(problem, ohlc, pred, conf, costs):
    grid = {"entry_threshold": [0.0003, 0.001, 0.002], "confidence_threshold": [0.3, 0.6], "stop_loss_pct": [0.003, 0.01],
            "take_profit_pct": [0.005, 0.015], "max_hold_bars": [12, 48]}
    combos = [dict(zip(grid, values)) for values in __import__("itertools").product(*grid.values())]
    BenchStrategy.pred_return, BenchStrategy.confidence = pred, conf
    bt = _backtest(ohlc, BenchStrategy, costs)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt.optimize(**grid, size=[costs.size], maximize="Sharpe Ratio", method="grid")
    reference_s = time.perf_counter() - started
    space = ParameterSpace([Parameter(k, "int" if k == "max_hold_bars" else "float", min(v), max(v)) for k, v in grid.items()])
    points = [space.encode(c) for c in combos]
    state = SearchState(space, OBJECTIVES, [], InProcessEvaluator(problem), len(points))
    started = time.perf_counter()
    state.evaluate_batch(points, phase="grid")
    ours_s = time.perf_counter() - started
    with PoolEvaluator(problem, workers=2) as pool:
        pool([space.decode(points[0])])  # start the workers outside the timing
        state = SearchState(space, OBJECTIVES, [], pool, len(points))
        started = time.perf_counter()
        state.evaluate_batch(points, phase="grid")
        pool_s = time.perf_counter() - started
    n = len(combos)
    return {"grid_points": n, "backtesting_optimize_evals_per_s": round(n / reference_s, 2),
            "ours_in_process_evals_per_s": round(n / ours_s, 1), "ours_pool_2_evals_per_s": round(n / pool_s, 1),
            "speedup_in_process": round(reference_s / ours_s, 1), "speedup_pool": round(reference_s / pool_s, 1)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bars", type=int, default=65_000)
    parser.add_argument("--budget", type=int, default=600)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"{DATA} is absent: the benchmark needs ../shared/data")
    ohlc = ohlc_frame(pd.read_csv(DATA, nrows=args.bars).rename(columns={"timestamp": "ts"}))
    pred, conf = align_forecasts(ohlc, momentum_forecasts(ohlc))
    costs = FxCosts(spread_pips=1.0)
    problem = BacktestProblem(ohlc, "forecast", costs, pred_return=pred, confidence=conf)
    problem.evaluate({"entry_threshold": 0.001, "confidence_threshold": 0.5, "stop_loss_pct": 0.005, "take_profit_pct": 0.01, "max_hold_bars": 5})
    table, summary = quality(problem, args.budget, args.seeds)
    print("== equal budgets (%d evaluations), %d bars" % (args.budget, len(ohlc)))
    print(table.to_string(index=False))
    print(summary.to_string(index=False))
    print("== small space: hybrid vs exhaustive")
    print(json.dumps(exhaustive_vs_hybrid(problem, args.seeds), indent=2))
    print("== speed (same data, same grid, one run)")
    print(json.dumps(speed(problem, ohlc, pred, conf, costs), indent=2))


if __name__ == "__main__":
    main()
