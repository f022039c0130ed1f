"""What a backtest is asked to do: one request object that owns the defaults, the choices and the
checks; the form, the serializer, the command, the stored run and its worker all come from it."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from typing import ClassVar

from backtesting_app.engine import ENGINES, STRATEGIES, FxCosts, check_params, one_of, strategy_spec
from backtesting_app.engine.optimize import EVALUATORS, METHODS
from forexgpt_site.errors import DomainError, domain_errors
from forexgpt_site.parsing import (
    parse_json_object,
    parse_row_id,
    parse_utc_range,
    parse_whole,
    request_dict,
    request_values,
)
from marketdata.engine import normalize_symbol, normalize_timeframe, pip_size

FORECAST_SOURCES = ("forecast_set", "csv", "baseline", "none")
COST_FIELDS = ("spread_pips", "commission", "leverage", "size", "cash")
_COST_DEFAULTS = FxCosts()


def _number(value, name: str) -> float:
    if isinstance(value, bool):
        raise DomainError(f"{name} must be a number, not {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise DomainError(f"{name} must be a number, not {str(value)[:40]!r}") from None
    if not math.isfinite(number):
        raise DomainError(f"{name} must be a finite number, not {value!r}")
    return number


@dataclass(frozen=True, kw_only=True)
class _RunOnData:
    """What a backtest and an optimization share: the series and range, where the forecasts come
    from, the FX costs, a name."""

    symbol: str
    timeframe: str
    start: datetime | None = None
    end: datetime | None = None
    forecasts_source: str = "none"
    forecast_set: int | None = None
    artifact: str = ""
    spread_pips: float = _COST_DEFAULTS.spread_pips
    commission: float = _COST_DEFAULTS.commission
    leverage: float = _COST_DEFAULTS.leverage
    size: float = _COST_DEFAULTS.size
    cash: float = _COST_DEFAULTS.cash
    name: str = ""

    STRATEGIES: ClassVar = STRATEGIES  # the registry's names, read at each use
    FORECAST_SOURCES: ClassVar[tuple] = FORECAST_SOURCES

    @property
    def costs(self) -> dict:
        return {name: getattr(self, name) for name in COST_FIELDS}

    def with_forecast_set(self, forecast_set_id: int):
        """The request with its forecast set resolved (an `artifact` REF becomes the set it chose)."""
        return replace(self, forecasts_source="forecast_set", forecast_set=forecast_set_id, artifact="")

    def to_dict(self) -> dict:
        return request_dict(self)


@dataclass(frozen=True, kw_only=True)
class BacktestRequest(_RunOnData):
    """A backtest of `strategy` with `params` on `symbol` `timeframe` bars from `start` to `end` (UTC;
    None = as far as the data goes), with FX costs, on `engine`. Its forecasts come from
    `forecasts_source`: a stored forecast set (`forecast_set`, an id, or `artifact`, a model version
    REF whose newest finished set covering the range is used), an uploaded CSV (the file travels
    beside the request), the momentum baseline, or none (the pattern strategy)."""

    strategy: str
    params: dict = field(default_factory=dict)
    engine: str = "reference"

    ENGINES: ClassVar[tuple] = tuple(ENGINES)

    @classmethod
    @domain_errors()  # what the engines refuse (a symbol, a timeframe, parameters) is a refusal of the request
    def from_dict(cls, data: Mapping) -> BacktestRequest:
        """Parse and check a plain mapping (form data, JSON, command options, a stored run's fields);
        ValueError names the field. Blank values take the defaults."""
        given = request_values(cls, data, "backtest option", required=("symbol", "timeframe", "strategy"))
        symbol = normalize_symbol(str(given["symbol"]))
        start, end = parse_utc_range(given)
        strategy = strategy_spec(str(given["strategy"])).name  # ValueError naming the known ones
        engine = str(given.get("engine", cls.engine))
        if engine not in ENGINES:
            raise DomainError(f"unknown engine {engine!r}; choose {one_of(ENGINES)}")
        source = str(given.get("forecasts_source", cls.forecasts_source))
        artifact = str(given.get("artifact", "")).strip()
        if artifact:
            source = "forecast_set"
        if source not in FORECAST_SOURCES:
            raise DomainError(f"unknown forecasts source {source!r}; choose {', '.join(FORECAST_SOURCES)}")
        forecast_set = parse_row_id(
            given.get("forecast_set"), "forecast_set"
        )  # none given: the service says what covers the range
        costs = {name: _number(given.get(name, getattr(cls, name)), name) for name in COST_FIELDS}
        FxCosts(**costs, pip=pip_size(symbol))  # the cost checks (ranges), with their messages
        params = check_params(strategy, parse_json_object(given.get("params", {}), "params"))
        return cls(
            symbol=symbol,
            timeframe=normalize_timeframe(str(given["timeframe"])).code,
            strategy=strategy,
            params=params,
            start=start,
            end=end,
            engine=engine,
            forecasts_source=source,
            forecast_set=forecast_set,
            artifact=artifact,
            name=str(given.get("name", ""))[:120],
            **costs,
        )


@dataclass(frozen=True, kw_only=True)
class OptimizationRequest(_RunOnData):
    """A multi-objective search of `strategy`'s parameters over `space` (blank = the strategy's standard
    space; `fixed_params` hold the rest) on the same data, forecasts and costs as a backtest
    (`BacktestRequest`'s fields), with `objectives`, `constraints`, a `budget` of evaluations, a
    `method`, a `seed`, an `evaluator` (with `workers` for the pool) and an optional walk-forward."""

    strategy: str = "forecast"
    space: list = field(default_factory=list)  # the parsed space (ParameterSpace.as_dict())
    fixed_params: dict = field(default_factory=dict)
    objectives: tuple = ("return", "drawdown", "sharpe")
    constraints: dict = field(default_factory=dict)
    budget: int = 600
    method: str = "hybrid"
    seed: int = 0
    evaluator: str = "inprocess"
    workers: int = 0
    walk_forward: dict | None = None
    holdout: float = 0.25  # the share of the range's last bars the search never sees (HOLDOUT_SHARE)
    forecasts_source: str = "baseline"

    METHODS: ClassVar[tuple] = tuple(METHODS)
    EVALUATORS: ClassVar[tuple] = tuple(EVALUATORS)
    LIMITS: ClassVar[dict] = {"budget": (10, 1_000_000), "seed": (0, 2**32 - 1)}

    @classmethod
    @domain_errors()  # what the engines refuse (a symbol, a timeframe, parameters) is a refusal of the request
    def from_dict(cls, data: Mapping) -> OptimizationRequest:
        """Parse and check a plain mapping (form data, JSON, command options); ValueError names the field.
        The data, forecast and cost fields are checked as a backtest's are; the search settings by the
        optimizer's own rules (every point the space reaches must be a valid parameter set)."""
        from backtesting_app.engine.optimize import (
            PICK_RULES,
            ParameterSpace,
            check_objectives,
            default_space,
            parse_constraints,
        )

        given = request_values(cls, data, "optimization option")
        strategy = strategy_spec(str(given.get("strategy", cls.strategy))).name
        fixed = parse_json_object(given.get("fixed_params", {}), "fixed_params")
        method = str(given.get("method", cls.method))
        if method not in METHODS:
            raise DomainError(f"unknown method {method!r}; choose {one_of(METHODS)}")
        evaluator = str(given.get("evaluator", cls.evaluator))
        if evaluator not in EVALUATORS:
            raise DomainError(f"unknown evaluator {evaluator!r}; choose {one_of(EVALUATORS)}")
        numbers = {k: parse_whole(given[k], k, *cls.LIMITS[k]) for k in cls.LIMITS if k in given}
        workers = parse_whole(given.get("workers", 0), "workers", 0, 4096)
        raw_space = given.get("space")
        raw_space = parse_json_object(raw_space, "space") if isinstance(raw_space, (str, bytes)) else raw_space
        space = default_space(strategy) if not raw_space else ParameterSpace.from_dict(raw_space, strategy=strategy)
        objectives = tuple(check_objectives(given.get("objectives", ",".join(cls.objectives))))
        constraints = parse_json_object(given.get("constraints", {}), "constraints")
        parse_constraints(constraints)
        overlap = set(space.names) & set(fixed)
        if overlap:
            raise DomainError(f"parameter(s) both searched and fixed: {', '.join(sorted(overlap))}")
        for point in space.corners():  # every point the space reaches is a valid parameter set
            try:
                check_params(strategy, {**fixed, **point})
            except ValueError as exc:
                raise DomainError(f"the space reaches invalid parameters: {exc}") from None
        walk = given.get("walk_forward")
        if walk is not None:
            walk = parse_json_object(walk, "walk_forward")
            extra = set(walk) - {"in_sample", "out_of_sample", "rule"}
            if extra:
                raise DomainError(f"unknown walk-forward setting(s) {', '.join(sorted(extra))}")
            for key, low in (("in_sample", 50), ("out_of_sample", 10)):
                value = walk.get(key)
                if value is None:  # sized to the range when the run starts (`walk_forward_sizes`)
                    continue
                if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= 10_000_000:
                    raise DomainError(f"walk-forward {key} must be a whole number of bars >= {low}, not {value!r}")
            if (walk.get("in_sample") is None) != (walk.get("out_of_sample") is None):
                raise DomainError(
                    "walk-forward needs both in_sample and out_of_sample, or neither (sized to the range)"
                )
            if walk.get("rule", "max_sharpe") not in PICK_RULES:
                raise DomainError(f"unknown pick rule {walk['rule']!r}; choose {', '.join(PICK_RULES)}")
        holdout = _number(given.get("holdout", cls.holdout), "holdout")
        if not 0 <= holdout <= 0.5:
            raise DomainError(
                f"holdout (the share of the range kept from the search) must be between 0 and 0.5, not {holdout:g}"
            )
        shared = BacktestRequest.from_dict(
            {
                **{
                    k: given[k]
                    for k in ("symbol", "timeframe", "start", "end", "forecast_set", "artifact", "name", *COST_FIELDS)
                    if k in given
                },
                "strategy": strategy,
                "forecasts_source": given.get("forecasts_source", cls.forecasts_source),
                "params": {**fixed, **space.middle()},
            }
        )
        request = cls(
            symbol=shared.symbol,
            timeframe=shared.timeframe,
            strategy=strategy,
            start=shared.start,
            end=shared.end,
            space=space.as_dict(),
            fixed_params=fixed,
            objectives=objectives,
            constraints=constraints,
            method=method,
            evaluator=evaluator,
            workers=workers,
            walk_forward=walk or None,
            holdout=holdout,
            forecasts_source=shared.forecasts_source,
            forecast_set=shared.forecast_set,
            artifact=shared.artifact,
            name=shared.name,
            **shared.costs,
            **numbers,
        )
        request.__dict__["parameter_space"] = space  # parsed here already: `parameter_space` does not parse it again
        return request

    @cached_property
    def parameter_space(self):
        """`space` as the optimizer's `ParameterSpace`, parsed once per request object."""
        from backtesting_app.engine.optimize import ParameterSpace

        return ParameterSpace.from_dict(self.space, strategy=self.strategy)

    def backtest(self, params: dict | None = None) -> BacktestRequest:
        """The backtest of one parameter set (default: the middle of the space) on this request's data."""
        point = self.parameter_space.middle() if params is None else params
        return BacktestRequest(
            symbol=self.symbol,
            timeframe=self.timeframe,
            strategy=self.strategy,
            params={**self.fixed_params, **point},
            start=self.start,
            end=self.end,
            engine="fast",
            forecasts_source=self.forecasts_source,
            forecast_set=self.forecast_set,
            artifact=self.artifact,
            name=self.name,
            **self.costs,
        )

    def to_dict(self) -> dict:
        return super().to_dict() | {"objectives": list(self.objectives)}
