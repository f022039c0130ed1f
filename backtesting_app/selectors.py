from __future__ import annotations

import pandas as pd
from django.conf import settings

from backtesting_app.engine.optimize import objective_vector
from backtesting_app.engine.patterns import pattern_events, pattern_summary
from backtesting_app.models import BacktestRun, OptimizationResult, OptimizationRun
from backtesting_app.services import load_bars
from marketdata.selectors import candles_queryset


def backtest_equity(run: BacktestRun) -> pd.DataFrame:
    if not run.equity:
        raise ValueError(f"backtest {run.pk} has no results yet (status {run.status})")
    with run.equity.open("rb") as fh:
        frame = pd.read_csv(fh)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame


def pattern_scan(*, symbol: str, timeframe: str, start=None, end=None, forward_bars: int = 12, patterns=None) -> dict:
    """Detected patterns in a range with forward returns after `forward_bars` bars and hit rates.
    ValueError for a range of more than FOREXGPT_PATTERN_SCAN_MAX_BARS bars (counted before any is read)."""
    limit = settings.FOREXGPT_PATTERN_SCAN_MAX_BARS
    bars = candles_queryset(symbol=symbol, timeframe=timeframe, start=start, end=end).count()
    if bars > limit:
        raise ValueError(f"that range holds {bars:,} {symbol} {timeframe} bars; a pattern scan reads at most {limit:,} "
                         f"(FOREXGPT_PATTERN_SCAN_MAX_BARS): choose a shorter range or a coarser timeframe")
    ohlc = load_bars(symbol=symbol, timeframe=timeframe, start=start, end=end)
    events = pattern_events(ohlc, patterns, forward_bars=forward_bars)
    return {"bars": len(ohlc), "forward_bars": forward_bars, "events": events, "summary": pattern_summary(events), "ohlc": ohlc}


def pareto_front_for_run(run: OptimizationRun):
    return OptimizationResult.objects.filter(run=run, front_entry__isnull=False).select_related("front_entry").order_by("id")


def optimization_summary(run: OptimizationRun) -> dict:
    """What scripts and the command print: counts per phase, hypervolume, the front with its stats.
    Each front point is one objective vector; `equivalent` lists the other parameter sets reaching it."""
    same = {}
    for r in OptimizationResult.objects.filter(run=run, rank=0, feasible=True).order_by("id"):
        same.setdefault(objective_vector(r.metrics, run.objectives), []).append(r)
    front = []
    for r in pareto_front_for_run(run):
        others = [o.params for o in same.get(objective_vector(r.metrics, run.objectives), []) if o.pk != r.pk]
        front.append({"id": r.pk, "params": r.params, "metrics": r.metrics, "phase": r.phase,
                      "crowding_distance": r.front_entry.crowding_distance, "parameter_sets": 1 + len(others), "equivalent": others,
                      "rerun": r.stats is not None, "holdout": r.holdout_metrics,
                      "reference": {k: (r.stats or {}).get(k) for k in ("Return [%]", "Max. Drawdown [%]", "Sharpe Ratio", "# Trades")}})
    return {
        "id": run.pk, "status": run.status, "message": run.message, "method": run.method, "budget": run.budget,
        "objectives": run.objectives, "constraints": run.constraints, "evaluations": run.results.count(),
        "phase_counts": run.phase_counts, "hypervolume": run.hv_history[-1][1] if run.hv_history else None,
        "reference_point": run.reference_point, "front": front, "walk_forward": run.walk_forward_result,
        "front_reruns": sum(p["rerun"] for p in front), "front_rerun_limit": settings.FOREXGPT_FRONT_RERUNS,
        "holdout": run.holdout, "evidence": run.evidence,
    }
