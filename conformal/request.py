"""What a calibration run is asked to do: one request object that owns the defaults, the choices and
the checks; the form, the serializer, the command, the stored run and its worker all come from it."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import ClassVar

from conformal.engine import METHODS, SCORES, calibration_method, check_params
from forexgpt_site.errors import DomainError, domain_errors
from forexgpt_site.parsing import parse_row_id, request_values

PARAM_NAMES = ("cal_size", "window", "gamma", "lr", "score")  # the engine's parameters; None = the method's default
WHOLE_PARAMS = ("cal_size", "window")
STEP_PARAMS = ("gamma", "lr")


def _whole(value, name: str):
    """Text of digits or a whole float as an int; `check_params` refuses the rest by name."""
    if isinstance(value, str):
        text = value.strip()
        if not text.isdecimal() or len(text) > 18:
            raise DomainError(f"{name} must be a positive whole number, not {value[:40]!r}")
        return int(text)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _step(value, name: str):
    """A positive finite step size (text of a number accepted); `check_params` refuses the rest."""
    number = value
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = None
    if isinstance(value, bool) or not isinstance(number, (int, float)) or not math.isfinite(number):
        raise DomainError(f"{name} must be a positive step size, not {str(value)[:40]!r}")
    return number


@dataclass(frozen=True, kw_only=True)
class CalibrationRequest:
    """A conformal calibration with `method` at miss rate `alpha` of forecasts that come from a
    stored forecast set (`forecast_set`, an id: no upload, the realized returns come from the
    candles) or an uploaded CSV (the file travels beside the request); the engine's parameters
    (`cal_size`, `window`, `gamma`, `lr`, `score`: None = the method's default); `artifact`, the
    REF of the model version the forecasts came from (a forecast set names its own); a `name`."""

    method: str = "aci"
    alpha: float = 0.1  # 0.1 = 90% intervals
    cal_size: int | None = None  # calibration rows (default: the first third)
    window: int | None = None
    gamma: float | None = None
    lr: float | None = None
    score: str | None = None
    forecast_set: int | None = None
    artifact: str = ""
    name: str = ""

    METHODS: ClassVar = METHODS  # the registry's names, read at each use
    SCORES: ClassVar[tuple] = tuple(SCORES)
    NAME_LENGTH: ClassVar[int] = 120
    MIN_ROWS: ClassVar[int] = 1  # the least cal_size / window the engine takes

    @classmethod
    @domain_errors()  # what the engines refuse (a symbol, a timeframe, parameters) is a refusal of the request
    def from_dict(cls, data: Mapping) -> CalibrationRequest:
        """Parse and check a plain mapping (form data, JSON, command options, a stored run's fields);
        ValueError names the field. Blank values take the defaults."""
        given = request_values(cls, data, "calibration option")
        method = calibration_method(given.get("method", cls.method)).name  # ValueError naming the known ones
        alpha = given.get("alpha", cls.alpha)
        try:
            alpha = float(alpha)
        except (TypeError, ValueError, OverflowError):
            raise DomainError(f"alpha must be a number strictly between 0 and 1, not {str(alpha)[:40]!r}") from None
        params = {name: _whole(given[name], name) for name in WHOLE_PARAMS if name in given}
        params |= {name: _step(given[name], name) for name in STEP_PARAMS if name in given}
        if "score" in given:
            params["score"] = given["score"]
        check_params(method, alpha, **params)  # the engine's own checks and messages
        forecast_set = parse_row_id(given.get("forecast_set"), "forecast_set")
        return cls(
            method=method,
            alpha=alpha,
            forecast_set=forecast_set,
            artifact=str(given.get("artifact", "")).strip(),
            name=str(given.get("name", ""))[: cls.NAME_LENGTH],
            **params,
        )

    @property
    def params(self) -> dict:
        """The engine parameters given (the rest take the method's defaults), as a run stores them."""
        return {name: getattr(self, name) for name in PARAM_NAMES if getattr(self, name) is not None}

    def to_dict(self) -> dict:
        return asdict(self)
