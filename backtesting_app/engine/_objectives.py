"""Objectives with explicit directions, constraints, and fast metrics from the compiled engine."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

# objective name -> (metric, direction). Directions are explicit: drawdown is minimized, never rewarded.
OBJECTIVES = {
    "return": ("return_pct", "max"),
    "drawdown": ("max_drawdown_pct", "min"),
    "sharpe": ("sharpe", "max"),
    "win_rate": ("win_rate_pct", "max"),
    "profit_factor": ("profit_factor", "max"),
    "trades": ("n_trades", "max"),
}
METRICS = ("return_pct", "max_drawdown_pct", "sharpe", "win_rate_pct", "profit_factor", "n_trades")
_ALIASES = {
    "trades": "n_trades",
    "drawdown_pct": "max_drawdown_pct",
    "return": "return_pct",
    "win_rate": "win_rate_pct",
}


def check_objectives(names) -> list[str]:
    names = [n.strip() for n in (names.split(",") if isinstance(names, str) else names) if n.strip()]
    if not names:
        raise ValueError("choose at least one objective")
    unknown = [n for n in names if n not in OBJECTIVES]
    if unknown:
        raise ValueError(f"unknown objective(s) {', '.join(unknown)}; known: {', '.join(OBJECTIVES)}")
    return names


@dataclass(frozen=True)
class Constraint:
    metric: str
    bound: str  # "min" or "max"
    value: float

    def violation(self, metrics: dict) -> float:
        """<= 0 when satisfied (pymoo's convention); a missing metric violates by 1e9."""
        x = metrics.get(self.metric)
        if x is None or not math.isfinite(x):
            return 1e9
        return self.value - x if self.bound == "min" else x - self.value

    def __str__(self) -> str:
        return f"{self.metric} {'>=' if self.bound == 'min' else '<='} {self.value:g}"


def parse_constraints(spec: dict | None) -> list[Constraint]:
    """{"min_trades": 30, "max_drawdown_pct": 25} -> [n_trades >= 30, max_drawdown_pct <= 25]."""
    if spec is not None and not isinstance(spec, dict):
        raise ValueError('constraints must be an object such as {"min_trades": 30, "max_drawdown_pct": 25}')
    out = []
    for key, value in (spec or {}).items():
        bound, _, metric = key.partition("_")
        metric = _ALIASES.get(metric, metric)
        if bound not in ("min", "max") or metric not in METRICS:
            raise ValueError(
                f"unknown constraint {key!r}; use min_<metric> or max_<metric> with metric in {', '.join(METRICS)} (or trades)"
            )
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ValueError(f"constraint {key} needs a number")
        out.append(Constraint(metric, bound, float(value)))
    return out


def objective_matrix(metrics: list[dict], objectives: list[str]) -> np.ndarray:
    """Metrics -> F to minimize (maximized objectives negated); NaN counts as the worst value."""
    F = np.empty((len(metrics), len(objectives)))
    for j, name in enumerate(objectives):
        key, direction = OBJECTIVES[name]
        values = np.array([m.get(key, np.nan) for m in metrics], dtype=float)
        values = -values if direction == "max" else values
        F[:, j] = np.where(np.isfinite(values), values, 1e12)
    return F


def objective_vector(metrics: dict, objectives) -> tuple:
    """A result's objective values, rounded so that float noise never splits equal points: parameter
    sets with the same vector are one front point."""
    values = (metrics.get(OBJECTIVES[name][0]) for name in objectives)
    return tuple(None if v is None else round(float(v), 10) for v in values)


def constraint_matrix(metrics: list[dict], constraints: list[Constraint]) -> np.ndarray:
    return np.array([[c.violation(m) for c in constraints] for m in metrics], dtype=float).reshape(
        len(metrics), len(constraints)
    )


class DailyIndex:
    """Precomputed day boundaries so the Sharpe ratio matches backtesting's compute_stats exactly."""

    def __init__(self, index: pd.DatetimeIndex):
        days = index.normalize()
        self.last_of_day = np.flatnonzero(np.r_[days[1:] != days[:-1], True])
        have_weekends = index.day_of_week.to_series().between(5, 6).mean() > 2 / 7 * 0.6
        self.annual_days = 365 if have_weekends else 252


def _geometric_mean(returns: np.ndarray) -> float:
    r = np.nan_to_num(returns) + 1
    if len(r) == 0 or np.any(r <= 0):
        return 0.0
    return float(np.exp(np.log(r).sum() / len(r)) - 1)


def daily_returns(equity: np.ndarray, days: DailyIndex) -> np.ndarray:
    """Day-over-day simple returns of the equity at each day's last bar (the series backtesting's
    Sharpe is computed from); a day after ruin (equity 0) returns 0."""
    daily = equity[days.last_of_day]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = daily[1:] / daily[:-1] - 1
    return np.where(np.isfinite(out), out, 0.0)


def fast_metrics(trades: np.ndarray, equity: np.ndarray, days: DailyIndex) -> dict:
    """Return, positive max drawdown, backtesting's Sharpe, win rate, profit factor, trades."""
    peak = np.maximum.accumulate(equity)
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = 1 - equity / peak
        daily = equity[days.last_of_day]
        day_returns = daily[1:] / daily[:-1] - 1
    day_returns = day_returns[np.isfinite(day_returns)]
    g = _geometric_mean(day_returns)
    n = days.annual_days
    ann_return = (1 + g) ** n - 1
    var = day_returns.var(ddof=1) if len(day_returns) > 1 else np.nan
    vol = np.sqrt((var + (1 + g) ** 2) ** n - (1 + g) ** (2 * n)) if np.isfinite(var) else np.nan
    sharpe = ann_return / vol if vol and np.isfinite(vol) else np.nan
    size, entry, exit_, fee = trades[:, 0], trades[:, 3], trades[:, 4], trades[:, 7]
    pnl = size * (exit_ - entry) - fee
    with np.errstate(divide="ignore", invalid="ignore"):
        ret = np.sign(size) * (exit_ / entry - 1) - fee / (np.abs(size) * entry)
    losses = abs(ret[ret < 0].sum())
    return {
        "return_pct": float((equity[-1] - equity[0]) / equity[0] * 100),
        "max_drawdown_pct": float(np.nan_to_num(dd.max()) * 100),
        "sharpe": float(sharpe) if np.isfinite(sharpe) else None,
        "win_rate_pct": float((pnl > 0).mean() * 100) if len(pnl) else None,
        "profit_factor": float(ret[ret > 0].sum() / losses) if losses else None,
        "n_trades": int(len(trades)),
    }
