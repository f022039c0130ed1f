"""What the overfitting statistics say about real searches: the platform's optimization (hybrid, the
standard 5-parameter forecast space, min_trades >= 30, the last 25% of bars held out) on real H1 bars with

- noise forecasts (no information at all: any edge found is luck), and
- the momentum baseline's forecasts (a simple causal signal), and
- a planted edge (the next 12 bars' return drowned in five times its spread of noise: a real but small
  edge that no causal forecaster has - the case where the statistics must say yes),

each judged as a run page judges it: the chosen point (best in-sample Sharpe) in-sample and held out, its
deflated Sharpe ratio, the probability of backtest overfitting (CSCV, 16 blocks) and Hansen's SPA p-value
against not trading, and the held-out model value against random entries.

    OMP_NUM_THREADS=1 .venv/bin/python bench/overfitting.py [--data CSV] [--bars 65000] [--budget 600] [--seeds 2] [--out F]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TQDM_DISABLE", "1")

from backtesting_app.engine import FxCosts, align_forecasts, momentum_forecasts, ohlc_frame  # noqa: E402
from backtesting_app.engine.optimize import (  # noqa: E402
    HOLDOUT_SHARE,
    BacktestProblem,
    HybridOptimizer,
    InProcessEvaluator,
    SearchState,
    default_space,
    model_value,
    parse_constraints,
    pick_point,
    selection_statistics,
    split_holdout,
)
from bench.emit import emit  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "EURUSD_H1_2014-2024.csv"
OBJECTIVES = ["return", "drawdown", "sharpe"]
KINDS = ("noise", "momentum", "planted")


def forecasts(ohlc: pd.DataFrame, kind: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    pred, conf = align_forecasts(ohlc, momentum_forecasts(ohlc))
    rng = np.random.default_rng(seed)
    if kind == "noise":  # the baseline's own spread of moves and confidences, with no link to the future
        pred = rng.permutation(pred) * rng.choice([-1.0, 1.0], len(pred))
        conf = rng.permutation(conf)
    elif kind == "planted":  # a real, small edge: the next 12 bars' return, drowned in noise (correlation ~0.2)
        close = ohlc["Close"].to_numpy(float)
        future = np.log(np.r_[close[12:], np.full(12, close[-1])] / close)
        pred = future + rng.normal(0, 5 * future.std(), len(future))
        conf = np.ones(len(pred))
    return pred, conf


def one_search(ohlc, kind: str, seed: int, budget: int) -> dict:
    pred, conf = forecasts(ohlc, kind, seed)
    problem = BacktestProblem(ohlc, "forecast", FxCosts(spread_pips=1.0), pred_return=pred, confidence=conf)
    search, held = split_holdout(problem, HOLDOUT_SHARE)
    started = time.perf_counter()
    state = SearchState(
        default_space(), OBJECTIVES, parse_constraints({"min_trades": 30}), InProcessEvaluator(search), budget
    )
    HybridOptimizer(seed=seed).run(state)
    search_s = time.perf_counter() - started
    chosen = pick_point(state, "max_sharpe")
    row = {"forecasts": kind, "seed": seed, "evaluations": len(state.records), "search_s": round(search_s, 1)}
    if chosen is None:
        return row | {"chosen": None}
    started = time.perf_counter()
    stats = selection_statistics(search, [r.params for r in state.records], state.records.index(chosen), seed=seed)
    stats_s = time.perf_counter() - started
    started = time.perf_counter()
    value = model_value(held, chosen.params, seed=seed)
    value_s = time.perf_counter() - started
    held_metrics = held.evaluate(chosen.params)
    return row | {
        "chosen": chosen.params,
        "in_sample": {k: chosen.metrics[k] for k in ("return_pct", "sharpe", "n_trades")},
        "held_out": {k: held_metrics[k] for k in ("return_pct", "sharpe", "n_trades")},
        "dsr": stats["dsr"]["dsr"],
        "psr": stats["dsr"]["psr"],
        "sharpe_daily": stats["dsr"]["sharpe"],
        "dsr_effective": stats["dsr_effective"]["dsr"],
        "effective_trials": stats["dsr_effective"]["n_trials"],
        "mean_correlation": stats["dsr_effective"].get("mean_correlation"),
        "expected_max_sharpe_daily": stats["dsr"]["expected_max_sharpe"],
        "pbo": stats["pbo"].get("pbo"),
        "spa_p": stats["spa"]["p_values"]["consistent"],
        "reality_check_p": stats["spa"].get("reality_check_p"),
        "held_out_vs_random_p": value["random"]["p_value_return"],
        "held_out_random_return_p05_p95": [value["random"]["return_pct"]["p05"], value["random"]["return_pct"]["p95"]],
        "statistics_s": round(stats_s, 1),
        "model_value_s": round(value_s, 1),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(DATA), help="an H1 CSV: timestamp, open, high, low, close[, volume]")
    parser.add_argument("--bars", type=int, default=65000, help="the last N bars of the file")
    parser.add_argument("--budget", type=int, default=600)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if not Path(args.data).exists():
        sys.exit(f"{args.data} is absent: give --data an H1 CSV (the default lives in ../shared/data)")
    frame = pd.read_csv(args.data).rename(columns={"timestamp": "ts"}).tail(args.bars)
    ohlc = ohlc_frame(frame)
    rows = [one_search(ohlc, kind, seed, args.budget) for seed in range(args.seeds) for kind in KINDS]
    emit(
        {
            "data": Path(args.data).name,
            "bars": len(ohlc),
            "first": str(ohlc.index[0]),
            "last": str(ohlc.index[-1]),
            "budget": args.budget,
            "holdout_share": HOLDOUT_SHARE,
            "spread_pips": 1.0,
            "constraints": {"min_trades": 30},
            "rows": rows,
        },
        args.out,
    )


if __name__ == "__main__":
    main()
