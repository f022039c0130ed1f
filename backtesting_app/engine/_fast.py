"""A compiled engine for ForecastStrategy that reproduces `backtesting` 0.6.6's fills exactly.

It follows the reference broker step for step (see backtesting.py `_Broker._process_orders`):
per bar, a pending close order fills first at the open; then the open trade's stop loss is checked
before its take profit (SL at min/max(open, stop), TP at max/min(open, limit)); then a pending entry
fills at the open, sized as int(margin * leverage * size // (open + per-unit cost)), and its SL/TP
are checked again on the same bar. Equity is marked at the close; `finalize_trades` re-runs the
last bar. Arithmetic is written in the same order as the reference so results agree to the bit
in practice (the tests hold them to 1e-6 relative).
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Columns of the trades array
SIZE, ENTRY_BAR, EXIT_BAR, ENTRY_PRICE, EXIT_PRICE, SL, TP, COMMISSION = range(8)


@njit(cache=True)
def _commission(units, price, half_spread, rel):
    units = abs(units)
    return units * half_spread + units * price * rel


@njit(cache=True)
def _close_trade(trades, k, size, entry_bar, exit_bar, entry, price, sl, tp, half_spread, rel):
    """Record closed trade k; return the cash it brings (P&L less the exit commission)."""
    fee = _commission(size, price, half_spread, rel)
    row = trades[k]
    row[SIZE], row[ENTRY_BAR], row[EXIT_BAR], row[ENTRY_PRICE], row[EXIT_PRICE] = (
        size,
        entry_bar,
        exit_bar,
        entry,
        price,
    )
    row[SL], row[TP], row[COMMISSION] = sl, tp, fee + _commission(size, entry, half_spread, rel)
    return size * (price - entry) - fee


@njit(cache=True)
def simulate_forecast(
    open_,
    high,
    low,
    close,
    pred,
    conf,
    entry_threshold,
    confidence_threshold,
    stop_loss_pct,
    take_profit_pct,
    max_hold_bars,
    cash,
    leverage,
    size_frac,
    half_spread,
    rel,
):
    """Returns (trades[n_trades, 8], equity[n]). `leverage` must be 1 / (1 / L), as the reference computes it."""
    n = len(open_)
    trades = np.empty((n + 2, 8))
    n_trades = 0
    equity = np.full(n, np.nan)
    in_trade = False
    t_size = 0.0
    t_entry = 0.0
    t_bar = 0
    t_sl = 0.0
    t_tp = 0.0
    pend_close = False
    pend_dir = 0
    pend_sl = 0.0
    pend_tp = 0.0

    for step in range(1, n + 1):
        final = step == n  # backtesting's finalize_trades: the last bar once more, open trades closed
        i = n - 1 if final else step
        if final and in_trade:
            pend_close = True
        o = open_[i]
        # 1. A close order (max hold, or finalize) fills first, at the open.
        if pend_close:
            pend_close = False
            if in_trade:
                cash += _close_trade(trades, n_trades, t_size, t_bar, i, t_entry, o, t_sl, t_tp, half_spread, rel)
                n_trades += 1
                in_trade = False
        # 2. The open trade's bracket orders; 3. a pending entry, whose brackets are checked on this same bar.
        for phase in range(2):
            if phase == 1:
                if pend_dir == 0:
                    break
                direction = pend_dir
                pend_dir = 0
                signed_frac = size_frac * direction
                per_unit = o + _commission(signed_frac, o, half_spread, rel) / abs(signed_frac)
                margin_available = max(0.0, cash + 0.0)
                units = float(int((margin_available * leverage * abs(signed_frac)) // per_unit))
                if units == 0.0 or units * per_unit > margin_available * leverage:
                    break  # the broker cancels the order
                in_trade = True
                t_size = units * direction
                t_entry = o
                t_bar = i
                t_sl = pend_sl
                t_tp = pend_tp
                cash -= _commission(t_size, o, half_spread, rel)
            if not in_trade:
                continue
            exit_price = np.nan
            if t_size > 0:
                if low[i] <= t_sl:
                    exit_price = min(o, t_sl)
                elif high[i] >= t_tp:
                    exit_price = max(o, t_tp)
            else:
                if high[i] >= t_sl:
                    exit_price = max(o, t_sl)
                elif low[i] <= t_tp:
                    exit_price = min(o, t_tp)
            if not np.isnan(exit_price):
                cash += _close_trade(
                    trades, n_trades, t_size, t_bar, i, t_entry, exit_price, t_sl, t_tp, half_spread, rel
                )
                n_trades += 1
                in_trade = False
        # Mark to market at the close.
        c = close[i]
        eq = cash + ((c * t_size - t_size * t_entry) if in_trade else 0.0)
        equity[i] = eq
        if eq <= 0:
            if in_trade:
                cash += _close_trade(trades, n_trades, t_size, t_bar, i, t_entry, c, t_sl, t_tp, half_spread, rel)
                n_trades += 1
                in_trade = False
            equity[i:] = 0.0
            break
        if final:
            break
        # The strategy at bar i.
        if in_trade:
            if i - t_bar >= max_hold_bars:
                pend_close = True
        elif conf[i] >= confidence_threshold:
            if pred[i] > entry_threshold:
                pend_dir, pend_sl, pend_tp = 1, c * (1 - stop_loss_pct), c * (1 + take_profit_pct)
            elif pred[i] < -entry_threshold:
                pend_dir, pend_sl, pend_tp = -1, c * (1 + stop_loss_pct), c * (1 - take_profit_pct)
    # backtesting back-fills the bars before the first step, then any gap with the last cash
    first = equity[1] if n > 1 else cash
    equity[0] = first
    return trades[:n_trades], equity
