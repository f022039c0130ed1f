"""Parameter spaces: float / int / choice parameters with bounds and steps."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ._spec import strategy_spec

MAX_STEPS = 10**9  # steps of one parameter's range: finer is not a search, and overflows the arithmetic


@dataclass(frozen=True)
class Parameter:
    name: str
    kind: str = "float"  # float | int | choice
    low: float = 0.0
    high: float = 1.0
    step: float | None = None
    choices: tuple = field(default_factory=tuple)

    @property
    def bounds(self) -> tuple[float, float]:
        """Bounds of the numeric encoding (a choice is its index)."""
        return (0.0, float(len(self.choices) - 1)) if self.kind == "choice" else (float(self.low), float(self.high))

    def snap(self, x: float) -> float:
        """The nearest allowed encoded value."""
        lo, hi = self.bounds
        x = min(max(float(x), lo), hi)
        if self.kind == "choice":
            return float(round(x))
        step = self.step or (1.0 if self.kind == "int" else None)
        if step:
            x = lo + round((x - lo) / step) * step
            x = min(x, hi)
        if self.kind == "int":
            return float(round(x))
        return round(x, 12)

    def decode(self, x: float):
        x = self.snap(x)
        if self.kind == "choice":
            return self.choices[int(x)]
        return int(x) if self.kind == "int" else float(x)

    def divisions(self, n: int) -> list[float]:
        """n evenly spaced allowed values across the range (fewer where the step allows fewer)."""
        lo, hi = self.bounds
        if n <= 1 or hi == lo:
            return [self.snap((lo + hi) / 2)]
        return sorted({self.snap(v) for v in np.linspace(lo, hi, n)})


class ParameterSpace:
    """The searched parameters; fixed ones (not searched) are passed separately."""

    def __init__(self, parameters: list[Parameter], *, strategy: str = "forecast"):
        known = strategy_spec(strategy).searchable  # the parameters a space may search
        if not parameters:
            raise ValueError("the space has no parameters")
        names = [p.name for p in parameters]
        if len(set(names)) != len(names):
            raise ValueError("a parameter is listed twice")
        for p in parameters:
            if p.name not in known:
                raise ValueError(f"unknown parameter {p.name!r} for the {strategy} strategy; known: {', '.join(known)}")
            if p.kind not in ("float", "int", "choice"):
                raise ValueError(f"{p.name}: kind must be float, int or choice, not {p.kind!r}")
            if p.kind == "choice":
                if not p.choices:
                    raise ValueError(f"{p.name}: a choice parameter needs choices")
                continue
            if not (math.isfinite(p.low) and math.isfinite(p.high)) or p.high < p.low:
                raise ValueError(f"{p.name}: empty range [{p.low}, {p.high}]")
            if p.step is not None and (not p.step > 0 or (p.high > p.low and p.step > p.high - p.low)):
                raise ValueError(
                    f"{p.name}: step {p.step} is larger than the range [{p.low}, {p.high}] (or not positive)"
                )
            if p.step is not None and (p.high - p.low) / p.step > MAX_STEPS:
                raise ValueError(
                    f"{p.name}: step {p.step} cuts the range [{p.low}, {p.high}] into more than {MAX_STEPS:,} steps"
                )
            if p.kind == "int" and (p.low != int(p.low) or p.high != int(p.high)):
                raise ValueError(f"{p.name}: an int parameter needs whole-number bounds")
        self.parameters = list(parameters)
        self.strategy = strategy

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.parameters]

    @property
    def xl(self) -> np.ndarray:
        return np.array([p.bounds[0] for p in self.parameters])

    @property
    def xu(self) -> np.ndarray:
        return np.array([p.bounds[1] for p in self.parameters])

    def snap(self, x) -> tuple[float, ...]:
        return tuple(p.snap(v) for p, v in zip(self.parameters, x))

    def decode(self, x) -> dict:
        return {p.name: p.decode(v) for p, v in zip(self.parameters, x)}

    def encode(self, params: dict) -> tuple[float, ...]:
        out = []
        for p in self.parameters:
            value = params[p.name]
            out.append(float(p.choices.index(value)) if p.kind == "choice" else p.snap(value))
        return tuple(out)

    def grid(self, divisions: int) -> list[tuple[float, ...]]:
        axes = [p.divisions(divisions) for p in self.parameters]
        mesh = np.array(np.meshgrid(*axes, indexing="ij")).reshape(len(axes), -1).T
        return [self.snap(row) for row in mesh]

    def middle(self) -> dict:
        """The point halfway along every parameter, snapped: a representative full parameter set."""
        return self.decode([(lo + hi) / 2 for lo, hi in zip(self.xl, self.xu)])

    def corners(self) -> list[dict]:
        """The lowest and the highest value of every parameter, and every choice of a choice parameter
        (the rest at their middle), as full parameter sets: what validation tries."""
        middle = self.middle()
        choices = [{**middle, p.name: c} for p in self.parameters if p.kind == "choice" for c in p.choices]
        return [self.decode(self.xl), self.decode(self.xu), *choices]

    def as_dict(self) -> list[dict]:
        return [
            {"name": p.name, "kind": p.kind, "low": p.low, "high": p.high, "step": p.step, "choices": list(p.choices)}
            for p in self.parameters
        ]

    @classmethod
    def from_dict(cls, spec, *, strategy: str = "forecast") -> ParameterSpace:
        """From a list of parameter dicts, or a mapping name -> {low, high, step, kind|choices}."""
        if isinstance(spec, dict):
            bad = [k for k, v in spec.items() if not isinstance(v, dict)]
            if bad:
                raise ValueError(f'{bad[0]}: give an object such as {{"low": 0.001, "high": 0.02, "step": 0.0005}}')
            spec = [{"name": k, **v} for k, v in spec.items()]
        if not isinstance(spec, list):
            raise ValueError("the space must be an object (name -> {low, high, step}) or a list of parameters")
        params = []
        for item in spec:
            if not isinstance(item, dict) or "name" not in item:
                raise ValueError("each parameter needs a name")
            extra = set(item) - {"name", "kind", "low", "high", "step", "choices"}
            if extra:
                raise ValueError(f"{item['name']}: unknown field(s) {', '.join(sorted(extra))}")
            kind = item.get("kind") or ("choice" if item.get("choices") else "float")
            try:
                low, high = float(item.get("low", 0)), float(item.get("high", 0))
                step = None if item.get("step") is None else float(item["step"])
            except (TypeError, ValueError, OverflowError):
                raise ValueError(f"{item['name']}: low, high and step must be numbers (floats)") from None
            params.append(Parameter(item["name"], kind, low, high, step, tuple(item.get("choices") or ())))
        return cls(params, strategy=strategy)


def default_space(strategy: str = "forecast") -> ParameterSpace:
    """The strategy's standard space (its spec's `space`)."""
    return ParameterSpace(list(strategy_spec(strategy).space), strategy=strategy)
