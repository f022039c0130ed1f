"""What a forecast run is asked to do: one request object that owns the defaults, the limits and
the checks; the form, the serializer, the command and the stored run all come from it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from forexgpt_site.errors import DomainError, domain_errors
from forexgpt_site.parsing import parse_utc_range, parse_whole, request_dict, request_values
from marketdata.engine import normalize_symbol, normalize_timeframe
from training.engine.sampling import DEFAULT_SAMPLER, DEFAULT_STEPS, SAMPLERS


@dataclass(frozen=True)
class ForecastRequest:
    """Forecasts of model version `artifact` (a registry reference: name, name:N, name@alias) for
    every bar of `symbol` `timeframe` from `start` to `end` (UTC; None = as far as the data goes)."""

    artifact: str
    symbol: str
    timeframe: str
    start: datetime | None = None
    end: datetime | None = None
    samples: int = 100
    seed: int = 0
    steps: int = DEFAULT_STEPS  # model evaluations per sample path
    sampler: str = DEFAULT_SAMPLER

    LIMITS: ClassVar[dict] = {"samples": (2, 1000), "seed": (0, 2**31 - 1), "steps": (1, 1000)}

    @classmethod
    @domain_errors()  # what the engines refuse (a symbol, a timeframe, parameters) is a refusal of the request
    def from_dict(cls, data: Mapping) -> ForecastRequest:
        """Parse and check a plain mapping (form data, JSON, command options); ValueError names the field."""
        data = request_values(cls, data, "forecast option", required=("artifact", "symbol", "timeframe"))
        start, end = parse_utc_range(data)
        numbers = {
            name: parse_whole(data[name], name, *cls.LIMITS[name])
            for name in cls.LIMITS
            if data.get(name) not in (None, "")
        }
        sampler = str(data.get("sampler") or DEFAULT_SAMPLER)
        if sampler not in SAMPLERS:
            raise DomainError(f"sampler must be one of {', '.join(SAMPLERS)}, not {sampler!r}")
        return cls(
            artifact=str(data["artifact"]).strip(),
            symbol=normalize_symbol(str(data["symbol"])),
            timeframe=normalize_timeframe(str(data["timeframe"])).code,
            start=start,
            end=end,
            sampler=sampler,
            **numbers,
        )

    def to_dict(self) -> dict:
        return request_dict(self)
