"""Strategies for kernc's `backtesting` - the reference engine.

ForecastStrategy's rules are the platform's definition (README: "The forecast strategy").
"""

from __future__ import annotations

import math

import numpy as np
from backtesting import Strategy

from ._names import one_of

EXIT_PARAMS = ("stop_loss_pct", "take_profit_pct", "max_hold_bars")
FORECAST_PARAMS = ("entry_threshold", "confidence_threshold", *EXIT_PARAMS)
MAX_HOLD_BARS = 1_000_000  # longer than any stored series; a bound keeps bar arithmetic in range


def check_exit_params(params: dict) -> dict:
    out = dict(params)
    for name in ("stop_loss_pct", "take_profit_pct"):
        value = out.get(name)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value < 1:
            raise ValueError(f"{name} must be a fraction strictly between 0 and 1 (0.01 = 1%), not {value!r}")
    hold = out.get("max_hold_bars")
    if isinstance(hold, float) and hold.is_integer():
        hold = int(hold)
    if not isinstance(hold, int) or isinstance(hold, bool) or not 1 <= hold <= MAX_HOLD_BARS:
        raise ValueError(f"max_hold_bars must be a whole number from 1 to {MAX_HOLD_BARS:,}, not {out.get('max_hold_bars')!r}")
    out["max_hold_bars"] = hold
    return out


def check_forecast_params(params: dict) -> dict:
    unknown = set(params) - set(FORECAST_PARAMS)
    if unknown:
        raise ValueError(f"unknown parameter(s) {', '.join(sorted(unknown))}; known: {', '.join(FORECAST_PARAMS)}")
    missing = [p for p in FORECAST_PARAMS if p not in params]
    if missing:
        raise ValueError(f"missing parameter(s): {', '.join(missing)}")
    out = check_exit_params(params)
    if (not isinstance(out["entry_threshold"], (int, float)) or isinstance(out["entry_threshold"], bool)
            or not 0 <= out["entry_threshold"] < math.inf):
        raise ValueError(f"entry_threshold must be >= 0, not {out['entry_threshold']!r}")
    if (not isinstance(out["confidence_threshold"], (int, float)) or isinstance(out["confidence_threshold"], bool)
            or not 0 <= out["confidence_threshold"] <= 1):
        raise ValueError(f"confidence_threshold must lie in [0, 1], not {out['confidence_threshold']!r}")
    return out


class _ExitRules(Strategy):
    """Shared exits: stop loss and take profit as bracket orders, and a maximum holding time."""

    PARAMS = EXIT_PARAMS  # the numeric parameters a search may vary
    stop_loss_pct = 0.01
    take_profit_pct = 0.02
    max_hold_bars = 24
    size = 0.95

    def _manage_open_trade(self) -> bool:
        """Close a trade held for max_hold_bars; True when a trade is open (no new entry then)."""
        if not self.trades:
            return False
        trade = self.trades[0]
        if len(self.data) - 1 - trade.entry_bar >= self.max_hold_bars:
            trade.close()
        return True

    def _enter(self, direction: int) -> None:
        close = self.data.Close[-1]
        if direction > 0:
            self.buy(size=self.size, sl=close * (1 - self.stop_loss_pct), tp=close * (1 + self.take_profit_pct))
        elif direction < 0:
            self.sell(size=self.size, sl=close * (1 + self.stop_loss_pct), tp=close * (1 - self.take_profit_pct))


class ForecastStrategy(_ExitRules):
    """Enter when the forecast of the horizon's cumulative log return clears a threshold.

    At bar t: (1) an open trade held t - entry_bar >= max_hold_bars bars is closed; (2) otherwise,
    with no trade open and confidence[t] >= confidence_threshold, buy if pred_return[t] >
    entry_threshold, sell if pred_return[t] < -entry_threshold, with stop loss / take profit at
    close[t] * (1 -+ stop_loss_pct) / (1 +- take_profit_pct). Orders fill at the next bar's open.
    """

    PARAMS = FORECAST_PARAMS
    entry_threshold = 0.0005
    confidence_threshold = 0.0
    pred_return = None  # per-bar arrays, passed as Backtest.run(pred_return=..., confidence=...)
    confidence = None

    def init(self):
        self.pred = self.I(lambda: np.asarray(self.pred_return, float), name="pred_return", overlay=False)
        self.conf = self.I(lambda: np.asarray(self.confidence, float), name="confidence", overlay=False)

    def forecast_direction(self) -> int:
        if self.conf[-1] < self.confidence_threshold:
            return 0
        if self.pred[-1] > self.entry_threshold:
            return 1
        if self.pred[-1] < -self.entry_threshold:
            return -1
        return 0

    def next(self):
        if self._manage_open_trade():
            return
        self._enter(self.forecast_direction())


def _pattern_indicators(strategy, names) -> list[str]:
    """Declare each directional pattern as an indicator attribute (`backtesting` reveals only
    attributes bar by bar; a list of arrays would be seen whole - a look-ahead)."""
    from .patterns import FUNCTIONS

    d = strategy.data
    attrs = []
    for name in names:
        if name == "doji":
            continue
        setattr(strategy, f"pattern_{name}", strategy.I(FUNCTIONS[name], d.Open, d.High, d.Low, d.Close, name=name, overlay=False))
        attrs.append(f"pattern_{name}")
    return attrs


class PatternStrategy(_ExitRules):
    """Enter on a confirmed pattern: long when the bar's directional patterns are bullish, short when
    bearish (none when they conflict); the same exits as the forecast strategy. Patterns are
    `Strategy.I` indicators, so `backtesting` plots them and they carry no look-ahead."""

    patterns: tuple = ()

    def init(self):
        from .patterns import check_patterns

        self.pattern_attrs = _pattern_indicators(self, check_patterns(self.patterns))

    def pattern_direction(self) -> int:
        now = [getattr(self, attr)[-1] for attr in self.pattern_attrs]
        up, down = any(v > 0 for v in now), any(v < 0 for v in now)
        return int(up and not down) - int(down and not up)

    def next(self):
        if self._manage_open_trade():
            return
        self._enter(self.pattern_direction())


class CombinedStrategy(ForecastStrategy):
    """Forecast entries kept only when a pattern of the same direction was confirmed within the last
    `pattern_window` bars (this one included)."""

    PARAMS = FORECAST_PARAMS + ("pattern_window",)
    patterns: tuple = ()
    pattern_window = 12

    def init(self):
        from .patterns import check_patterns

        super().init()
        self.pattern_attrs = _pattern_indicators(self, check_patterns(self.patterns))

    def next(self):
        if self._manage_open_trade():
            return
        direction = self.forecast_direction()
        w = self.pattern_window
        if direction and any((np.asarray(getattr(self, attr)[-w:]) * direction > 0).any() for attr in self.pattern_attrs):
            self._enter(direction)


# The strategies by name: the one list of names the models, forms, serializers and commands offer.
STRATEGIES = {"forecast": ForecastStrategy, "pattern": PatternStrategy, "combined": CombinedStrategy}
STRATEGY_CHOICES = {name: name for name in STRATEGIES}  # name -> label, as Django choices


def check_params(strategy: str, params: dict) -> dict:
    """Validate a strategy's parameters; returns them cleaned (patterns as a tuple)."""
    from .patterns import check_patterns

    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose {one_of(STRATEGIES)}")
    params = dict(params)
    extra = {}
    if strategy in ("pattern", "combined"):
        extra["patterns"] = check_patterns(params.pop("patterns", None))
    if strategy == "combined":
        window = params.pop("pattern_window", 12)
        if not isinstance(window, int) or isinstance(window, bool) or not 1 <= window <= MAX_HOLD_BARS:
            raise ValueError(f"pattern_window must be a whole number from 1 to {MAX_HOLD_BARS:,}, not {window!r}")
        extra["pattern_window"] = window
    if strategy == "pattern":
        unknown = set(params) - set(EXIT_PARAMS)
        if unknown:
            raise ValueError(f"unknown parameter(s) {', '.join(sorted(unknown))} for the pattern strategy")
        return {**check_exit_params(params), **extra}
    return {**check_forecast_params(params), **extra}
