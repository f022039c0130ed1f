"""Strategies for kernc's `backtesting` - the reference engine.

ForecastStrategy's rules are the platform's definition (README: "The forecast strategy").
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from backtesting import Strategy

from ._space import Parameter
from ._spec import StrategyParameter, StrategySpec, register_strategy
from .patterns import check_patterns, pattern_signals

MAX_HOLD_BARS = 1_000_000  # longer than any stored series; a bound keeps bar arithmetic in range

ENTRY_PARAMETERS = (
    StrategyParameter("entry_threshold", "number", 0.0),
    StrategyParameter("confidence_threshold", "number", 0.0, 1.0),
)
EXIT_PARAMETERS = (
    StrategyParameter("stop_loss_pct", "fraction"),
    StrategyParameter("take_profit_pct", "fraction"),
    StrategyParameter("max_hold_bars", "whole", 1, MAX_HOLD_BARS),
)
PATTERN_PARAMETERS = (StrategyParameter("patterns", "custom", required=False, check_value=check_patterns),)
EXIT_PARAMS = tuple(p.name for p in EXIT_PARAMETERS)
FORECAST_PARAMS = tuple(p.name for p in ENTRY_PARAMETERS + EXIT_PARAMETERS)

# The optimizer's default ranges (README: "optimize").
ENTRY_SPACE = (
    Parameter("entry_threshold", "float", 0.0, 0.003, 0.0001),
    Parameter("confidence_threshold", "float", 0.0, 0.9, 0.05),
)
EXIT_SPACE = (
    Parameter("stop_loss_pct", "float", 0.001, 0.02, 0.0005),
    Parameter("take_profit_pct", "float", 0.001, 0.04, 0.0005),
    Parameter("max_hold_bars", "int", 1, 96, 1),
)


class ExitRules(Strategy):
    """Shared exits: stop loss and take profit as bracket orders, and a maximum holding time; a
    strategy built on them calls `_manage_open_trade()` then `_enter(direction)` in `next()`, and its
    spec lists EXIT_PARAMETERS (searched over EXIT_SPACE)."""

    stop_loss_pct = 0.005  # the parameters' defaults (StrategySpec.defaults reads them)
    take_profit_pct = 0.01
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


class ForecastStrategy(ExitRules):
    """Enter when the forecast of the horizon's cumulative log return clears a threshold.

    At bar t: (1) an open trade held t - entry_bar >= max_hold_bars bars is closed; (2) otherwise,
    with no trade open and confidence[t] >= confidence_threshold, buy if pred_return[t] >
    entry_threshold, sell if pred_return[t] < -entry_threshold, with stop loss / take profit at
    close[t] * (1 -+ stop_loss_pct) / (1 +- take_profit_pct). Orders fill at the next bar's open.
    """

    entry_threshold = 0.0005
    confidence_threshold = 0.5
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
        setattr(
            strategy,
            f"pattern_{name}",
            strategy.I(FUNCTIONS[name], d.Open, d.High, d.Low, d.Close, name=name, overlay=False),
        )
        attrs.append(f"pattern_{name}")
    return attrs


class PatternStrategy(ExitRules):
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
        if direction and any(
            (np.asarray(getattr(self, attr)[-w:]) * direction > 0).any() for attr in self.pattern_attrs
        ):
            self._enter(direction)


def _forecast_inputs(ohlc, params, *, pred_return, confidence, prepared=None):
    return {k: params[k] for k in FORECAST_PARAMS}, pred_return, confidence


def _prepare_patterns(ohlc, params):
    return pattern_signals(ohlc, params.get("patterns"))


def _pattern_stack(ohlc, params, prepared) -> np.ndarray:
    """The directional patterns' signals, one row each (+1 bullish, -1 bearish, 0 none)."""
    signals = prepared if prepared is not None else _prepare_patterns(ohlc, params)
    directional = [v for k, v in signals.items() if k != "doji"]
    return np.vstack(directional).astype(int) if directional else np.zeros((1, len(ohlc)), int)


def _pattern_inputs(ohlc, params, *, pred_return, confidence, prepared=None):
    """pred = the bar's pattern direction (+-1, 0 when they conflict), threshold 0, confidence 1."""
    stacked = _pattern_stack(ohlc, params, prepared)
    up, down = (stacked > 0).any(axis=0), (stacked < 0).any(axis=0)
    pred = (up & ~down).astype(float) - (down & ~up).astype(float)
    return (
        {"entry_threshold": 0.0, "confidence_threshold": 0.0, **{k: params[k] for k in EXIT_PARAMS}},
        pred,
        np.ones(len(ohlc)),
    )


def _combined_inputs(ohlc, params, *, pred_return, confidence, prepared=None):
    """The forecast kept only where a same-direction pattern was confirmed in the last `pattern_window` bars."""
    stacked = _pattern_stack(ohlc, params, prepared)
    w = params["pattern_window"]
    recent_up = pd.Series((stacked > 0).any(axis=0).astype(float)).rolling(w, min_periods=1).max().to_numpy() > 0
    recent_down = pd.Series((stacked < 0).any(axis=0).astype(float)).rolling(w, min_periods=1).max().to_numpy() > 0
    thr = params["entry_threshold"]
    pred = np.asarray(pred_return, float)
    keep = ((pred > thr) & recent_up) | ((pred < -thr) & recent_down)
    return {k: params[k] for k in FORECAST_PARAMS}, np.where(keep, pred, 0.0), confidence


def forecast_no_trade_reason(pred_return: np.ndarray, confidence: np.ndarray, params: dict) -> str:
    """Why the forecast strategy never entered, from the per-bar forecasts it saw: how close they came
    to its thresholds (a forecast whose median barely moves - a model without directional skill, its
    drift shrunk - clears no entry threshold)."""
    moves = np.abs(pred_return[confidence >= params["confidence_threshold"]])
    if not moves.size:
        return (
            f"no forecast in the range has confidence >= {params['confidence_threshold']:g} "
            f"(the highest is {confidence.max():.3f})"
        )
    return (
        f"no forecast in the range with confidence >= {params['confidence_threshold']:g} moves more than "
        f"entry_threshold {params['entry_threshold']:g} (the largest |pred_return| is {moves.max():.2g}); "
        "lower entry_threshold or optimize it"
    )


FORECAST = register_strategy(
    StrategySpec(
        name="forecast",
        label="forecast",
        strategy=ForecastStrategy,
        parameters=ENTRY_PARAMETERS + EXIT_PARAMETERS,
        needs_forecasts=True,
        space=ENTRY_SPACE + EXIT_SPACE,
        fast_inputs=_forecast_inputs,
        no_trade_reason=forecast_no_trade_reason,
    )
)
PATTERN = register_strategy(
    StrategySpec(
        name="pattern",
        label="pattern",
        strategy=PatternStrategy,
        parameters=EXIT_PARAMETERS + PATTERN_PARAMETERS,
        needs_forecasts=False,
        space=EXIT_SPACE,
        fast_inputs=_pattern_inputs,
        prepare=_prepare_patterns,
    )
)
COMBINED = register_strategy(
    StrategySpec(
        name="combined",
        label="combined",
        strategy=CombinedStrategy,
        parameters=(
            *ENTRY_PARAMETERS,
            *EXIT_PARAMETERS,
            *PATTERN_PARAMETERS,
            StrategyParameter("pattern_window", "whole", 1, MAX_HOLD_BARS, required=False),
        ),
        needs_forecasts=True,
        space=(*ENTRY_SPACE, *EXIT_SPACE, Parameter("pattern_window", "int", 1, 24, 1)),
        fast_inputs=_combined_inputs,
        prepare=_prepare_patterns,
    )
)


def check_forecast_params(params: dict) -> dict:
    """The forecast strategy's parameters checked: what the compiled engine takes."""
    return FORECAST.check_params(params)
