"""Symbols and timeframes: the names users type, and the canonical forms we store."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from ._errors import quoted

_SYMBOL_RE = re.compile(r"^[A-Z0-9]{3,12}$")


def normalize_symbol(raw: str) -> str:
    """`EUR/USD`, `eur-usd`, `EURUSD` -> `EURUSD`."""
    symbol = re.sub(r"[\s/_\-.]", "", str(raw or "")).upper()
    if not _SYMBOL_RE.match(symbol):
        raise ValueError(f"symbol {quoted(raw)} is not a currency pair such as EURUSD or EUR/USD")
    return symbol


def pip_size(symbol: str) -> float:
    """Price of one pip: 0.01 when the quote currency is JPY, else 0.0001."""
    symbol = normalize_symbol(symbol)
    return 0.01 if symbol.endswith("JPY") else 0.0001


@dataclass(frozen=True)
class Timeframe:
    code: str  # canonical, as stored: "1m", "1h", "1d"
    minutes: int

    @property
    def offset(self) -> pd.Timedelta:
        return pd.Timedelta(minutes=self.minutes)

    @property
    def label(self) -> str:
        """MetaTrader-style name: M1, H1, D1, W1."""
        if self.minutes % WEEK_MINUTES == 0:
            return f"W{self.minutes // WEEK_MINUTES}"
        if self.minutes % 1440 == 0:
            return f"D{self.minutes // 1440}"
        if self.minutes % 60 == 0:
            return f"H{self.minutes // 60}"
        return f"M{self.minutes}"


WEEK_MINUTES = 7 * 1440
MAX_TIMEFRAME_MINUTES = 4 * WEEK_MINUTES
_UNIT_MINUTES = {"m": 1, "min": 1, "h": 60, "d": 1440, "w": WEEK_MINUTES}
_TF_SUFFIX_RE = re.compile(r"^(\d{1,6})\s*(m|min|h|d|w)$")
_TF_PREFIX_RE = re.compile(r"^(m|h|d|w)(\d{1,6})$")


def normalize_timeframe(raw: str) -> Timeframe:
    """`1h`, `H1`, `60m`, `60min` -> Timeframe("1h", 60); `M1`/`1m`; `D1`/`1d`; `W1`/`1w`/`7d`."""
    text = str(raw or "").strip().lower()
    match = _TF_SUFFIX_RE.match(text)
    if match:
        count, unit = int(match.group(1)), match.group(2)
    else:
        match = _TF_PREFIX_RE.match(text)
        if not match:
            raise ValueError(
                f"timeframe {quoted(raw)} is not understood; use e.g. 1m, 5m, 15m, 1h, 4h, 1d (or M1, H1, D1)"
            )
        unit, count = match.group(1), int(match.group(2))
    minutes = count * _UNIT_MINUTES[unit]
    if minutes <= 0 or (1440 % minutes and minutes % 1440):
        raise ValueError(f"timeframe {raw!r} does not divide a day evenly")
    if minutes > MAX_TIMEFRAME_MINUTES:
        raise ValueError(f"timeframe {raw!r} is longer than the longest supported, 4w (four weeks)")
    if minutes % WEEK_MINUTES == 0:
        code = f"{minutes // WEEK_MINUTES}w"
    elif minutes % 1440 == 0:
        code = f"{minutes // 1440}d"
    elif minutes % 60 == 0:
        code = f"{minutes // 60}h"
    else:
        code = f"{minutes}m"
    return Timeframe(code, minutes)
