"""What a strategy is, declared once: `StrategySpec` and the registry every layer reads.

A strategy is a `backtesting.Strategy` class (the reference engine runs it; its class attributes are
its parameters' defaults) plus a spec: its name and label, the values each parameter accepts,
whether it needs forecasts, the space the optimizer searches by default, and how the compiled
engine runs it (`fast_inputs`: the strategy as ForecastStrategy inputs). Forms, serializers,
commands, services and the optimizer offer and run what is registered here, so a strategy is one
class and one `register_strategy(...)` call.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from forexgpt_site.named import NamedRegistry

from ._names import one_of

KINDS = ("number", "fraction", "whole", "custom")
STRATEGY_NAME_LENGTH = 64  # the longest strategy name a run row stores


@dataclass(frozen=True)
class StrategyParameter:
    """One parameter and the values it accepts: `number` in [low, high] (finite), `fraction` strictly
    between 0 and 1, `whole` a whole number in [low, high], `custom` whatever `check` accepts (and
    cleans). A parameter that is not `required` takes the class's default when a request leaves it
    out. number, fraction and whole parameters are the ones a search may vary."""

    name: str
    kind: str = "number"
    low: float = 0.0
    high: float = math.inf
    required: bool = True
    check_value: Callable[[object], object] | None = None  # for kind custom

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"{self.name}: kind must be {one_of(KINDS)}, not {self.kind!r}")
        if (self.kind == "custom") != (self.check_value is not None):
            raise ValueError(f"{self.name}: a custom parameter (and only one) needs check_value")

    @property
    def searchable(self) -> bool:
        return self.kind != "custom"

    def check(self, value):
        """The value cleaned (a whole float as an int), or ValueError naming the parameter and its limits."""
        if self.kind == "custom":
            return self.check_value(value)
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if self.kind == "fraction":
            if not number or not 0 < value < 1:
                raise ValueError(f"{self.name} must be a fraction strictly between 0 and 1 (0.01 = 1%), not {value!r}")
            return value
        if self.kind == "whole":
            whole = int(value) if isinstance(value, float) and value.is_integer() else value
            if not isinstance(whole, int) or isinstance(whole, bool) or not self.low <= whole <= self.high:
                raise ValueError(
                    f"{self.name} must be a whole number from {self.low:,} to {self.high:,}, not {value!r}"
                )
            return whole
        if not number or not (self.low <= value <= self.high and -math.inf < value < math.inf):  # NaN fails both
            limits = f">= {self.low:g}" if math.isinf(self.high) else f"lie in [{self.low:g}, {self.high:g}]"
            raise ValueError(f"{self.name} must {limits}, not {value!r}")
        return value


@dataclass(frozen=True)
class StrategySpec:
    """Everything the platform needs to offer, check, run and optimize one strategy.

    - `strategy`: the `backtesting.Strategy` subclass; each parameter is one of its class attributes,
      whose value is the parameter's default (`defaults`).
    - `parameters`: the `StrategyParameter`s a request may give, in the order pages show them.
    - `needs_forecasts`: whether it reads `pred_return` / `confidence` (passed to the class as such).
    - `space`: the `Parameter`s (`engine.optimize`) of the optimizer's default space.
    - `fast_inputs(ohlc, params, *, pred_return, confidence, prepared)`: the strategy as the compiled
      engine's ForecastStrategy inputs - (entry_threshold, confidence_threshold, stop_loss_pct,
      take_profit_pct, max_hold_bars), pred_return, confidence - for checked `params`.
    - `prepare(ohlc, params)`: work `fast_inputs` may reuse across parameter sets on the same bars
      (the pattern signals), or None.
    - `no_trade_reason(pred_return, confidence, params)`: why a run made no trade, or None.
    """

    name: str
    label: str
    strategy: type
    parameters: tuple[StrategyParameter, ...]
    needs_forecasts: bool
    space: tuple
    fast_inputs: Callable
    prepare: Callable | None = None
    no_trade_reason: Callable | None = None

    def __post_init__(self):
        names = [p.name for p in self.parameters]
        if len(set(names)) != len(names):
            raise ValueError(f"the {self.name} strategy lists a parameter twice")
        for p in self.parameters:
            if not hasattr(self.strategy, p.name):  # backtesting refuses a parameter its class lacks
                raise ValueError(
                    f"{self.strategy.__name__} has no attribute {p.name!r}: its value is {p.name}'s default"
                )
            p.check(getattr(self.strategy, p.name))  # a default outside its own limits is a bug
        outside = [q.name for q in self.space if q.name not in self.searchable]
        if outside:
            raise ValueError(
                f"the {self.name} strategy's space searches {', '.join(outside)}, not among its parameters"
            )

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters)

    @property
    def searchable(self) -> tuple[str, ...]:
        """The parameters a search may vary (the numeric ones)."""
        return tuple(p.name for p in self.parameters if p.searchable)

    @property
    def defaults(self) -> dict:
        """Each parameter's default: the strategy class's own attribute."""
        return {p.name: getattr(self.strategy, p.name) for p in self.parameters}

    def check_params(self, params: dict) -> dict:
        """Validate parameters: every known one cleaned, the optional ones left out at their default."""
        unknown = set(params) - set(self.names)
        if unknown:
            raise ValueError(
                f"unknown parameter(s) {', '.join(sorted(unknown))} for the {self.name} strategy; "
                f"known: {', '.join(self.names)}"
            )
        missing = [p.name for p in self.parameters if p.required and p.name not in params]
        if missing:
            raise ValueError(f"missing parameter(s): {', '.join(missing)}")
        defaults = self.defaults
        return {p.name: p.check(params[p.name] if p.name in params else defaults[p.name]) for p in self.parameters}


_SPECS = NamedRegistry(
    "a strategy",
    max_length=STRATEGY_NAME_LENGTH,
    unknown=lambda name, names: ValueError(f"unknown strategy {name!r}; choose {one_of(names)}"),
)


def register_strategy(spec: StrategySpec) -> StrategySpec:
    """Offer a strategy everywhere (pages, API, commands, optimizer); refuses a name taken."""
    return _SPECS.register(spec)


def unregister_strategy(name: str) -> None:
    _SPECS.unregister(name)


def strategy_spec(name: str) -> StrategySpec:
    """The registered spec of `name`; ValueError naming the known strategies otherwise."""
    return _SPECS.lookup(name)


def strategy_specs() -> tuple[StrategySpec, ...]:
    """The registered specs, in the order they were registered (pages list them so)."""
    return tuple(_SPECS.values())


def strategy_choices() -> list[tuple[str, str]]:
    """(name, label) of each registered strategy, as Django choices; read at each use."""
    return [(spec.name, spec.label) for spec in _SPECS.values()]


def check_params(strategy: str, params: dict) -> dict:
    """Validate a strategy's parameters; returns them cleaned (patterns as a tuple)."""
    return strategy_spec(strategy).check_params(dict(params))


class _Live(Mapping):
    """A read-only view of the registry, read at each use: a strategy registered later is in it."""

    def __init__(self, value: Callable[[StrategySpec], object]):
        self._value = value

    def __getitem__(self, name):
        return self._value(_SPECS[name])

    def __contains__(self, name) -> bool:
        return isinstance(name, str) and name in _SPECS

    def __iter__(self) -> Iterator[str]:
        return iter(tuple(_SPECS))

    def __len__(self) -> int:
        return len(_SPECS)

    def __repr__(self) -> str:
        return repr(dict(self))


STRATEGIES = _Live(lambda spec: spec.strategy)  # name -> backtesting.Strategy class
STRATEGY_CHOICES = _Live(lambda spec: spec.label)  # name -> label
