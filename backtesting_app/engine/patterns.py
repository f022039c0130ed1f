"""Candlestick and chart patterns as causal signals: +1 bullish, -1 bearish, 0 none.

A pattern's signal sits on the bar where it is *confirmed* - the last candle of a candlestick
pattern, the neckline break of a chart pattern - using bars up to that one only, so appending
future bars never changes a past signal. Each function takes numpy arrays and is usable as a
`backtesting` indicator: `self.I(engulfing, self.data.Open, self.data.High, ...)`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CANDLESTICK = ("engulfing", "hammer", "shooting_star", "doji", "morning_star", "evening_star")
CHART = ("double_top", "double_bottom", "head_and_shoulders", "inverse_head_and_shoulders")
PATTERNS = CANDLESTICK + CHART
DIRECTIONAL = tuple(p for p in PATTERNS if p != "doji")


def _shift(a: np.ndarray, k: int) -> np.ndarray:
    out = np.full_like(a, np.nan, dtype=float)
    out[k:] = a[:-k]
    return out


def _parts(o, h, l, c):
    o, h, l, c = (np.asarray(x, float) for x in (o, h, l, c))
    body = np.abs(c - o)
    return o, h, l, c, body, h - np.maximum(o, c), np.minimum(o, c) - l, h - l


def engulfing(o, h, l, c):
    """The body engulfs the previous opposite body: +1 bullish, -1 bearish."""
    o, h, l, c, *_ = _parts(o, h, l, c)
    o1, c1 = _shift(o, 1), _shift(c, 1)
    bull = (c1 < o1) & (c > o) & (o <= c1) & (c >= o1) & ((c - o) > (o1 - c1))
    bear = (c1 > o1) & (c < o) & (o >= c1) & (c <= o1) & ((o - c) > (c1 - o1))
    return bull.astype(np.int8) - bear.astype(np.int8)


def _trend(c, lookback=5):
    """Sign of the move over the `lookback` bars before this one."""
    prev = _shift(c, 1)
    base = _shift(c, lookback + 1)
    return np.sign(np.nan_to_num(prev - base))


def hammer(o, h, l, c):
    """After a decline: a small body at the top, lower shadow >= 2x body, little upper shadow: +1."""
    o, h, l, c, body, upper, lower, rng = _parts(o, h, l, c)
    shape = (rng > 0) & (body > 0) & (lower >= 2 * body) & (upper <= 0.25 * body + 0.05 * rng)
    return (shape & (_trend(c) < 0)).astype(np.int8)


def shooting_star(o, h, l, c):
    """After an advance: a small body at the bottom, upper shadow >= 2x body, little lower shadow: -1."""
    o, h, l, c, body, upper, lower, rng = _parts(o, h, l, c)
    shape = (rng > 0) & (body > 0) & (upper >= 2 * body) & (lower <= 0.25 * body + 0.05 * rng)
    return -(shape & (_trend(c) > 0)).astype(np.int8)


def doji(o, h, l, c):
    """Open ~ close (body <= 10% of the range): indecision, marked 1 but not a direction."""
    o, h, l, c, body, _, _, rng = _parts(o, h, l, c)
    return ((rng > 0) & (body <= 0.1 * rng)).astype(np.int8)


def _star(o, h, l, c, direction):
    o, h, l, c, body, *_ = _parts(o, h, l, c)
    o2, c2, b2, b1 = _shift(o, 2), _shift(c, 2), _shift(body, 2), _shift(body, 1)
    avg = pd.Series(body).rolling(20, min_periods=5).mean().shift(1).to_numpy()
    first_long = b2 >= avg
    middle_small = b1 <= 0.3 * b2
    mid2 = (o2 + c2) / 2
    if direction > 0:  # morning star: long bearish, small, bullish closing above the first body's middle
        ok = first_long & (c2 < o2) & middle_small & (c > o) & (c > mid2)
    else:
        ok = first_long & (c2 > o2) & middle_small & (c < o) & (c < mid2)
    return (direction * np.nan_to_num(ok.astype(float))).astype(np.int8)


def morning_star(o, h, l, c):
    return _star(o, h, l, c, +1)


def evening_star(o, h, l, c):
    return _star(o, h, l, c, -1)


def _pivots(values: np.ndarray, order: int, highs: bool) -> np.ndarray:
    """Bars p holding the extreme of [p - order, p + order] - the first such bar when prices tie -
    known only at bar p + order."""
    n = len(values)
    window = 2 * order + 1
    if n < window:
        return np.empty(0, dtype=np.int64)
    view = np.lib.stride_tricks.sliding_window_view(values, window)
    first = view.argmax(axis=1) if highs else view.argmin(axis=1)
    return np.flatnonzero(first == order) + order


def _chart(h, l, c, *, kind: str, order: int, tolerance: float, max_wait: int) -> np.ndarray:
    h, l, c = (np.asarray(x, float) for x in (h, l, c))
    n = len(c)
    out = np.zeros(n, dtype=np.int8)
    tops = kind in ("double_top", "head_and_shoulders")
    direction = -1 if tops else 1
    pivots = _pivots(h if tops else l, order, highs=tops)
    extreme = h if tops else l
    armed = []  # (neck_a_bar, neck_a, neck_b_bar, neck_b, expires, invalid_level)
    known = 0  # pivots[:known] are confirmed by the current bar
    for t in range(n):
        while known < len(pivots) and pivots[known] + order <= t:
            known += 1
            p = pivots[known - 1]
            if kind in ("double_top", "double_bottom") and known >= 2:
                p1 = pivots[known - 2]
                a, b = extreme[p1], extreme[p]
                if abs(a - b) <= tolerance * max(a, b) and p - p1 >= 2 * order:
                    neck = l[p1 : p + 1].min() if tops else h[p1 : p + 1].max()
                    depth = (max(a, b) - neck) / max(a, b) if tops else (neck - min(a, b)) / neck
                    if depth >= 2 * tolerance:
                        armed.append(
                            (
                                0,
                                neck,
                                1,
                                neck,
                                p + max_wait,
                                max(a, b) * (1 + tolerance) if tops else min(a, b) * (1 - tolerance),
                            )
                        )
            elif kind in ("head_and_shoulders", "inverse_head_and_shoulders") and known >= 3:
                ls, hd, rs = pivots[known - 3], pivots[known - 2], p
                a, b, z = extreme[ls], extreme[hd], extreme[rs]
                higher = (
                    (b > a * (1 + tolerance)) and (b > z * (1 + tolerance))
                    if tops
                    else (b < a * (1 - tolerance)) and (b < z * (1 - tolerance))
                )
                if higher and abs(a - z) <= 2 * tolerance * max(a, z):
                    if tops:
                        t1 = ls + int(np.argmin(l[ls : hd + 1]))
                        t2 = hd + int(np.argmin(l[hd : rs + 1]))
                        n1, n2 = l[t1], l[t2]
                    else:
                        t1 = ls + int(np.argmax(h[ls : hd + 1]))
                        t2 = hd + int(np.argmax(h[hd : rs + 1]))
                        n1, n2 = h[t1], h[t2]
                    if t2 > t1:
                        armed.append((t1, n1, t2, n2, rs + max_wait, b))
        still = []
        for a_bar, a_val, b_bar, b_val, expires, invalid in armed:
            neck = a_val + (b_val - a_val) * (t - a_bar) / (b_bar - a_bar)  # the neckline, extended to t
            broke = c[t] < neck if tops else c[t] > neck
            invalidated = (h[t] > invalid) if tops else (l[t] < invalid)
            if broke:
                out[t] = direction
            elif t < expires and not invalidated:
                still.append((a_bar, a_val, b_bar, b_val, expires, invalid))
        armed = still
    return out


def double_top(o, h, l, c, order=5, tolerance=0.002, max_wait=48):
    """Two similar highs with a trough between; -1 when a close breaks below the trough."""
    return _chart(h, l, c, kind="double_top", order=order, tolerance=tolerance, max_wait=max_wait)


def double_bottom(o, h, l, c, order=5, tolerance=0.002, max_wait=48):
    return _chart(h, l, c, kind="double_bottom", order=order, tolerance=tolerance, max_wait=max_wait)


def head_and_shoulders(o, h, l, c, order=5, tolerance=0.002, max_wait=48):
    """Three highs, the middle highest, shoulders alike; -1 when a close breaks the sloped neckline."""
    return _chart(h, l, c, kind="head_and_shoulders", order=order, tolerance=tolerance, max_wait=max_wait)


def inverse_head_and_shoulders(o, h, l, c, order=5, tolerance=0.002, max_wait=48):
    return _chart(h, l, c, kind="inverse_head_and_shoulders", order=order, tolerance=tolerance, max_wait=max_wait)


FUNCTIONS = {name: globals()[name] for name in PATTERNS}


def check_patterns(names) -> tuple[str, ...]:
    names = tuple(names or DIRECTIONAL)
    unknown = [n for n in names if n not in PATTERNS]
    if unknown:
        raise ValueError(f"unknown pattern(s) {', '.join(unknown)}; known: {', '.join(PATTERNS)}")
    return names


def pattern_signals(ohlc: pd.DataFrame, names=None) -> dict[str, np.ndarray]:
    args = (
        ohlc["Open"].to_numpy(float),
        ohlc["High"].to_numpy(float),
        ohlc["Low"].to_numpy(float),
        ohlc["Close"].to_numpy(float),
    )
    return {name: FUNCTIONS[name](*args) for name in check_patterns(names)}


def pattern_events(ohlc: pd.DataFrame, names=None, *, forward_bars: int = 12) -> pd.DataFrame:
    """Every detected pattern with the log return over the next `forward_bars` bars (NaN when the
    data ends sooner) and whether it went the pattern's way."""
    if forward_bars < 1:
        raise ValueError("forward_bars must be at least 1")
    close = ohlc["Close"].to_numpy(float)
    forward = np.full(len(close), np.nan)
    forward[:-forward_bars] = np.log(close[forward_bars:] / close[:-forward_bars])
    rows = []
    for name, signal in pattern_signals(ohlc, names).items():
        for bar in np.flatnonzero(signal):
            direction = 0 if name == "doji" else int(signal[bar])
            fwd = forward[bar]
            rows.append(
                {
                    "ts": ohlc.index[bar],
                    "bar": int(bar),
                    "pattern": name,
                    "direction": direction,
                    "close": close[bar],
                    "forward_return": fwd,
                    "hit": (bool(direction * fwd > 0) if direction and np.isfinite(fwd) else None),
                }
            )
    return (
        pd.DataFrame(rows, columns=["ts", "bar", "pattern", "direction", "close", "forward_return", "hit"])
        .sort_values(["bar", "pattern"])
        .reset_index(drop=True)
    )


def pattern_summary(events: pd.DataFrame) -> pd.DataFrame:
    """Per pattern: count, hit rate (share moving the pattern's way), mean direction-adjusted return."""
    rows = []
    for name, group in events.groupby("pattern", sort=True):
        judged = group[group["hit"].notna()]
        adjusted = (judged["direction"] * judged["forward_return"]) if len(judged) else pd.Series(dtype=float)
        rows.append(
            {
                "pattern": name,
                "count": len(group),
                "judged": len(judged),
                "hit_rate": float(judged["hit"].astype(bool).mean()) if len(judged) else None,
                "mean_directional_return": float(adjusted.mean()) if len(judged) else None,
            }
        )
    return pd.DataFrame(rows, columns=["pattern", "count", "judged", "hit_rate", "mean_directional_return"])
