from __future__ import annotations

import pandas as pd

from backtesting_app.engine.patterns import pattern_events, pattern_summary
from backtesting_app.models import BacktestRun
from backtesting_app.services import load_bars


def backtest_equity(run: BacktestRun) -> pd.DataFrame:
    if not run.equity:
        raise ValueError(f"backtest {run.pk} has no results yet (status {run.status})")
    with run.equity.open("rb") as fh:
        frame = pd.read_csv(fh)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame


def pattern_scan(*, symbol: str, timeframe: str, start=None, end=None, forward_bars: int = 12, patterns=None) -> dict:
    """Detected patterns in a range with forward returns after `forward_bars` bars and hit rates."""
    ohlc = load_bars(symbol=symbol, timeframe=timeframe, start=start, end=end)
    events = pattern_events(ohlc, patterns, forward_bars=forward_bars)
    return {"bars": len(ohlc), "forward_bars": forward_bars, "events": events, "summary": pattern_summary(events), "ohlc": ohlc}
