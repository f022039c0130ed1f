"""Optimizer quality at equal budgets on real H1 series, with the forecast strategy (momentum baseline forecasts).

    OMP_NUM_THREADS=1 .venv/bin/python bench/optimizer_quality.py \
        [--series EURUSD_H1_2014-2024 USDCHF_H1_2012-2020] [--budgets 300 600 2000] [--seeds 5] \
        [--methods hybrid nsga2 grid optuna_nsga2 optuna_tpe optuna_random] [--tpe-max-budget 2000] \
        [--tpe-seeds 5] [--hybrid local_share=0.15 eta=null ...] [--out bench/results] [--reuse] [--extras]

1. Every method at equal budgets (default 300, 600, 2,000 distinct evaluations) and seeds 0..N-1 on
   each series (all its bars; 1 pip spread), the standard 5-parameter space, constraint
   min_trades >= 30, objectives return (max), drawdown (min), Sharpe (max); hypervolume against the
   project's REFERENCE_POINT. Methods: the hybrid, this project's pure NSGA-II and pure grid, and
   Optuna's NSGAIISampler (constraints_func), TPESampler (multi-objective, constraints_func) and
   RandomSampler. The pure grid is the finest full grid within the budget (3^5 = 243 points at 300
   and 600, 4^5 = 1,024 at 2,000), so it spends less.
   Budget: every method evaluates through the same memoized SearchState and stops when it holds
   `budget` distinct parameter sets. An Optuna trial that proposes a set already evaluated (after
   snapping onto the space's steps, which Optuna's stepped distributions already respect) is told
   the stored objectives and constraints: it costs no evaluation and counts nothing against the
   budget. A sampler that keeps proposing known sets is stopped after 20 x budget trials (reported
   as `trials`; it then holds fewer than `budget` sets).
   Per series: bench/results/optimizer-quality-<series>.json with every run and, per budget, mean and
   min hypervolume per method, the hybrid's wins by seed against each method, and the hybrid's worst
   shortfall against the best method of a seed.
2. --extras (bench/results/optimizer-extras-<series>.json; with `--budgets` and no value, only these):
   on a small 3-parameter space (10 x 10 x 10 = 1,000 points) where exhaustive search is possible,
   the hybrid's share of the exhaustive front's hypervolume with a fifth of the evaluations; and
   speed against backtesting's own Backtest.optimize on the same grid.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TQDM_DISABLE", "1")

from backtesting_app.engine import ForecastStrategy, FxCosts, align_forecasts, momentum_forecasts, ohlc_frame  # noqa: E402
from backtesting_app.engine._runner import _backtest  # noqa: E402
from backtesting_app.engine.optimize import (  # noqa: E402
    REFERENCE_POINT,
    BacktestProblem,
    HybridOptimizer,
    InProcessEvaluator,
    Parameter,
    ParameterSpace,
    PoolEvaluator,
    SearchState,
    default_space,
    optimize_grid,
    optimize_nsga2,
    parse_constraints,
)
from marketdata.engine import pip_size  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
OBJECTIVES = ["return", "drawdown", "sharpe"]
CONSTRAINTS = {"min_trades": 30}
METHODS = ("hybrid", "nsga2", "grid", "optuna_nsga2", "optuna_tpe", "optuna_random")
MAX_TRIALS_PER_EVALUATION = 20  # an Optuna run that keeps re-proposing known points stops after 20 x budget trials


class BenchStrategy(ForecastStrategy):
    """ForecastStrategy with the forecasts bound as class attributes, so backtesting's optimize can fork it."""


def load_problem(series: str, bars: int | None = None):
    frame = pd.read_csv(DATA / f"{series}.csv").rename(columns={"timestamp": "ts"})
    ohlc = ohlc_frame(frame if bars is None else frame.tail(bars))
    pred, conf = align_forecasts(ohlc, momentum_forecasts(ohlc))
    costs = FxCosts(spread_pips=1.0, pip=pip_size(series.split("_")[0]))  # a yen pair's pip is 0.01
    problem = BacktestProblem(ohlc, "forecast", costs, pred_return=pred, confidence=conf)
    problem.evaluate(default_space().middle())  # compile the engine outside every timing
    return problem


def _state(problem, space, budget, constraints):
    return SearchState(space, OBJECTIVES, constraints, InProcessEvaluator(problem), budget)


def grid_divisions(space, budget: int) -> int:
    """The finest full grid that fits the budget (at least 2 per parameter)."""
    divisions = 2
    while len(space.grid(divisions + 1)) <= budget:
        divisions += 1
    return divisions


def _suggest(trial, p: Parameter):
    if p.kind == "choice":
        return float(p.choices.index(trial.suggest_categorical(p.name, list(p.choices))))
    if p.kind == "int":
        return float(trial.suggest_int(p.name, int(p.low), int(p.high), step=int(p.step or 1)))
    return trial.suggest_float(p.name, p.low, p.high, step=p.step)


def run_optuna(state: SearchState, sampler: str, seed: int) -> int:
    """Optuna ask/tell through the memoized state until it holds `budget` distinct points; the number of trials."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def constraints_func(trial):
        return trial.user_attrs["constraints"]

    samplers = {
        "optuna_nsga2": lambda: optuna.samplers.NSGAIISampler(seed=seed, constraints_func=constraints_func),
        "optuna_tpe": lambda: optuna.samplers.TPESampler(seed=seed, constraints_func=constraints_func),
        "optuna_random": lambda: optuna.samplers.RandomSampler(seed=seed),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # experimental-feature warnings (constraints_func)
        study = optuna.create_study(directions=["minimize"] * len(state.objectives), sampler=samplers[sampler]())
        trials = 0
        while state.remaining > 0 and trials < MAX_TRIALS_PER_EVALUATION * state.budget:
            trial = study.ask()
            x = [_suggest(trial, p) for p in state.space.parameters]
            records = state.evaluate_batch([x], phase=sampler)
            F, G, _ = state.matrices(records)
            trial.set_user_attr("constraints", [float(g) for g in G[0]])
            study.tell(trial, [float(f) for f in F[0]])
            trials += 1
    return trials


def run_method(problem, method: str, budget: int, seed: int, hybrid_options: dict) -> dict:
    space = default_space()
    state = _state(problem, space, budget, parse_constraints(CONSTRAINTS))
    trials = None
    started = time.perf_counter()
    if method == "hybrid":
        HybridOptimizer(seed=seed, **hybrid_options).run(state)
    elif method == "nsga2":
        optimize_nsga2(state, seed=seed)
    elif method == "grid":
        optimize_grid(state, grid_divisions(space, budget))
    else:
        trials = run_optuna(state, method, seed)
    seconds = time.perf_counter() - started
    row = {
        "method": method,
        "budget": budget,
        "seed": seed,
        "evaluations": len(state.records),
        "hypervolume": state.hypervolume(),
        "front": len(state.front()),
        "seconds": round(seconds, 2),
    }
    if trials is not None:
        row["trials"] = trials
    return row


def summarize(rows: list[dict]) -> list[dict]:
    """Per budget: mean / min hypervolume per method, the hybrid's wins by seed, every method's worst seed
    against the best method of that seed, and the hybrid's mean over the best other mean with a 90%
    bootstrap interval (the seeds of each method resampled apart: they are independent runs)."""
    table = pd.DataFrame(rows)
    out = []
    for budget, part in table.groupby("budget"):
        hv = part.pivot(index="seed", columns="method", values="hypervolume")
        methods = {}
        for method in hv.columns:
            col = hv[method].dropna()
            entry = {
                "hv_mean": float(col.mean()),
                "hv_min": float(col.min()),
                "seeds": len(col),
                "seconds_mean": float(part[part.method == method].seconds.mean()),
            }
            if "hybrid" in hv.columns and method != "hybrid":
                both = hv[["hybrid", method]].dropna()
                entry["hybrid_wins"] = int((both.hybrid > both[method]).sum())
                entry["hybrid_ties"] = int((both.hybrid == both[method]).sum())
            methods[method] = entry
        summary = {"budget": int(budget), "methods": methods}
        if "hybrid" in hv.columns:
            means = {m: e["hv_mean"] for m, e in methods.items()}
            summary["best_mean"] = max(means, key=means.get)
            # the hybrid against the best method of each seed (among the methods run on every seed)
            # and the same per-seed rule for every method: what "never more than 5% below" asks of any of them
            full = hv.dropna(axis=1)
            shortfalls = 1 - full.div(full.max(axis=1), axis=0)
            shortfall = shortfalls["hybrid"]
            summary["hybrid_worst_shortfall_pct"] = round(100 * float(shortfall.max()), 2)
            summary["hybrid_shortfall_pct_by_seed"] = {int(s): round(100 * float(v), 2) for s, v in shortfall.items()}
            summary["worst_shortfall_pct"] = {m: round(100 * float(shortfalls[m].max()), 2) for m in full.columns}
            others = [m for m in means if m != "hybrid"]
            if others:
                best = max(others, key=means.get)
                summary["hybrid_ratio"] = means["hybrid"] / means[best]
                summary["hybrid_ratio_interval_90"] = ratio_interval(
                    hv["hybrid"].dropna().to_numpy(), hv[best].dropna().to_numpy()
                )
                # what equal methods would give: the ratio's 5/50/95% points, and the share of those draws
                # below the observed ratio (near 0: the hybrid measurably worse; near 1: measurably better)
                equal = ratio_if_equal(hv)
                summary["hybrid_ratio_if_equal"] = [round(float(v), 4) for v in np.percentile(equal, [5, 50, 95])]
                summary["hybrid_ratio_rank_if_equal"] = round(float(np.mean(equal < summary["hybrid_ratio"])), 4)
        out.append(summary)
    return out


def ratio_interval(a, b, draws: int = 4000, seed: int = 0) -> list[float]:
    """90% bootstrap interval of mean(a) / mean(b), a and b resampled independently."""
    rng = np.random.default_rng(seed)
    ratios = [rng.choice(a, len(a)).mean() / rng.choice(b, len(b)).mean() for _ in range(draws)]
    return [round(float(v), 4) for v in np.percentile(ratios, [5, 95])]


def ratio_if_equal(hv: pd.DataFrame, draws: int = 4000, seed: int = 0) -> np.ndarray:
    """The hybrid's mean over the best other method's if every method were the same search, `draws` times:
    all runs of the budget pooled and dealt out again (each method keeps its number of seeds). The best
    of several equal peers' means beats any one of them, so "best mean" is a biased bar."""
    rng = np.random.default_rng(seed)
    columns = {m: hv[m].dropna().to_numpy() for m in hv.columns}
    pooled = np.concatenate(list(columns.values()))
    sizes = [len(v) for v in columns.values()]
    hybrid = list(columns).index("hybrid")
    ratios = []
    for _ in range(draws):
        parts = np.split(rng.permutation(pooled), np.cumsum(sizes)[:-1])
        means = [part.mean() for part in parts]
        ratios.append(means[hybrid] / max(m for i, m in enumerate(means) if i != hybrid))
    return np.array(ratios)


def print_summary(series: str, summaries: list[dict]) -> None:
    for s in summaries:
        print(
            f"== {series}, budget {s['budget']}: best mean {s.get('best_mean')}, hybrid worst shortfall "
            f"{s.get('hybrid_worst_shortfall_pct')}%; hybrid / best other mean {s.get('hybrid_ratio', float('nan')):.3f} "
            f"(90% interval {s.get('hybrid_ratio_interval_90')}; if all were equal 5/50/95%: "
            f"{s.get('hybrid_ratio_if_equal')}); each method's worst seed {s.get('worst_shortfall_pct')}"
        )
        for method, e in sorted(s["methods"].items(), key=lambda kv: -kv[1]["hv_mean"]):
            wins = f"{e['hybrid_wins']}/{e['seeds']}" if "hybrid_wins" in e else "-"
            print(
                f"   {method:14s} mean {e['hv_mean']:>10,.0f}  min {e['hv_min']:>10,.0f}  hybrid wins {wins:5s} "
                f"{e['seconds_mean']:8.2f} s"
            )


def small_space():
    return ParameterSpace(
        [
            Parameter("stop_loss_pct", "float", 0.001, 0.0145, 0.0015),
            Parameter("take_profit_pct", "float", 0.001, 0.0145, 0.0015),
            Parameter("max_hold_bars", "int", 3, 48, 5),
        ]
    )


def exhaustive_vs_hybrid(problem, seeds):
    fixed = {"entry_threshold": 0.0005, "confidence_threshold": 0.5}
    problem.fixed = fixed
    space = small_space()
    constraints = parse_constraints(CONSTRAINTS)
    full = _state(problem, space, 10_000, constraints)
    started = time.perf_counter()
    optimize_grid(full, 10)
    exhaustive_s = time.perf_counter() - started
    hv_full = full.hypervolume()
    out = []
    for seed in range(seeds):
        state = _state(problem, space, len(full.records) // 5, constraints)
        HybridOptimizer(seed=seed).run(state)
        out.append(
            {"seed": seed, "evaluations": len(state.records), "share_of_exhaustive_hv": state.hypervolume() / hv_full}
        )
    problem.fixed = {}
    return {
        "points": len(full.records),
        "exhaustive_seconds": round(exhaustive_s, 2),
        "exhaustive_hv": hv_full,
        "hybrid": out,
    }


def speed(problem):
    ohlc, pred, conf, costs = problem.ohlc, problem.pred, problem.conf, problem.costs
    grid = {
        "entry_threshold": [0.0003, 0.001, 0.002],
        "confidence_threshold": [0.3, 0.6],
        "stop_loss_pct": [0.003, 0.01],
        "take_profit_pct": [0.005, 0.015],
        "max_hold_bars": [12, 48],
    }
    combos = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    BenchStrategy.pred_return, BenchStrategy.confidence = pred, conf
    bt = _backtest(ohlc, BenchStrategy, costs)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt.optimize(**grid, size=[costs.size], maximize="Sharpe Ratio", method="grid")
    reference_s = time.perf_counter() - started
    space = ParameterSpace(
        [Parameter(k, "int" if k == "max_hold_bars" else "float", min(v), max(v)) for k, v in grid.items()]
    )
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
    return {
        "grid_points": n,
        "backtesting_optimize_evals_per_s": round(n / reference_s, 2),
        "ours_in_process_evals_per_s": round(n / ours_s, 1),
        "ours_pool_2_evals_per_s": round(n / pool_s, 1),
        "speedup_in_process": round(reference_s / ours_s, 1),
        "speedup_pool": round(reference_s / pool_s, 1),
    }


def result_path(out: str, kind: str, series: str) -> Path:
    """Where a series' results of `kind` (quality, extras) are kept: optimizer-<kind>-<pair>.json in `out`."""
    return Path(out) / f"optimizer-{kind}-{series.split('_')[0].lower()}.json"


def _option(text: str) -> tuple[str, object]:
    key, _, value = text.partition("=")
    return key, json.loads(value)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--series",
        nargs="+",
        default=["EURUSD_H1_2014-2024", "USDCHF_H1_2012-2020"],
        help="CSV names (without .csv) in ../shared/data",
    )
    parser.add_argument("--bars", type=int, default=None, help="the last N bars of each series (default: all)")
    parser.add_argument("--budgets", type=int, nargs="*", default=[300, 600, 2000], help="none: only --extras")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument(
        "--tpe-max-budget", type=int, default=2000, help="skip TPE above this budget (it is ~100x slower)"
    )
    parser.add_argument("--tpe-seeds", type=int, default=None, help="seeds for TPE (default: --seeds)")
    parser.add_argument(
        "--hybrid", nargs="*", default=[], type=_option, help="HybridOptimizer options, e.g. grid_share=0.1"
    )
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"), help="folder for the JSON ('-': none)")
    parser.add_argument(
        "--extras", action="store_true", help="also the exhaustive small-space check and the speed check"
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="rerun only the hybrid: take the other methods' rows from the series' existing JSON in --out",
    )
    parser.add_argument(
        "--summarize",
        action="store_true",
        help="run nothing: recompute the summaries of the series' stored JSON in --out from its runs",
    )
    parser.add_argument(
        "--against",
        default=None,
        help="with --summarize: a folder whose series JSON gives the peers' rows (of --methods) to a hybrid variant's",
    )
    args = parser.parse_args()
    hybrid_options = dict(args.hybrid)
    if args.summarize:
        for series in args.series:
            path = result_path(args.out, "quality", series)
            stored = json.loads(path.read_text())
            rows = stored["rows"]
            if args.against:  # a hybrid variant's rows against the peers' stored runs
                peers = json.loads(result_path(args.against, "quality", series).read_text())["rows"]
                rows = [r for r in rows if r["method"] == "hybrid"]
                budgets = {r["budget"] for r in rows}
                rows += [
                    r
                    for r in peers
                    if r["method"] != "hybrid" and r["method"] in args.methods and r["budget"] in budgets
                ]
            stored["summary"] = summarize(rows)
            print_summary(series, stored["summary"])
            path.write_text(json.dumps(stored, indent=1) + "\n")
        return
    for series in args.series:
        if not (DATA / f"{series}.csv").exists():
            sys.exit(f"{DATA / series}.csv is absent: the benchmark needs ../shared/data")
        problem = load_problem(series, args.bars)
        path = result_path(args.out, "quality", series)
        # --reuse: the other methods do not depend on the hybrid, so their stored rows stand (deterministic per seed)
        stored = (
            {(r["method"], r["budget"], r["seed"]): r for r in json.loads(path.read_text())["rows"]}
            if args.reuse and path.exists() and json.loads(path.read_text()).get("bars") == len(problem.ohlc)
            else {}
        )
        rows = []
        for budget in args.budgets:
            for seed in range(args.seeds):
                for method in args.methods:
                    if method == "optuna_tpe" and (
                        budget > args.tpe_max_budget or seed >= (args.tpe_seeds or args.seeds)
                    ):
                        continue
                    row = stored.get((method, budget, seed)) if method != "hybrid" else None
                    row = row or run_method(problem, method, budget, seed, hybrid_options)
                    rows.append(row)
                    print(json.dumps(row), flush=True)
        about = {
            "series": series,
            "bars": len(problem.ohlc),
            "first": str(problem.ohlc.index[0]),
            "last": str(problem.ohlc.index[-1]),
            "spread_pips": 1.0,
            "constraints": CONSTRAINTS,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        }
        outputs = {}
        if rows:
            summaries = summarize(rows)
            print_summary(series, summaries)
            outputs["quality"] = {
                **about,
                "objectives": OBJECTIVES,
                "reference_point": {o: REFERENCE_POINT[o] for o in OBJECTIVES},
                "hybrid_options": hybrid_options,
                "summary": summaries,
                "rows": rows,
            }
        if args.extras:
            outputs["extras"] = {
                **about,
                "small_space": exhaustive_vs_hybrid(problem, args.seeds),
                "speed": speed(problem),
            }
            print(json.dumps(outputs["extras"], indent=2))
        for kind, result in outputs.items() if args.out != "-" else ():
            target = result_path(args.out, kind, series)
            target.write_text(json.dumps(result, indent=1) + "\n")
            print(f"wrote {target}")


if __name__ == "__main__":
    main()
