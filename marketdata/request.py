"""What a candle import is asked to do: one request object that owns the defaults, the choices and
the checks; the form, the serializer, the command, the stored run and its worker all come from it.
What needs the file (its format detected, its rows valid, its size) is the service's and the engine's."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import ClassVar

from forexgpt_site.errors import DomainError, domain_errors
from forexgpt_site.parsing import request_values
from marketdata.engine import (
    CONFLICT_POLICIES,
    DEFAULT_CONFLICT_POLICY,
    DROPPABLE,
    DUKASCOPY_TZ_REFUSAL,
    FORMATS,
    normalize_symbol,
    normalize_timeframe,
    zone,
)


def _drop_kinds(value) -> tuple[str, ...]:
    """Anomaly kinds to drop: a list, or text with commas (a command's flag); each named once."""
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, (list, tuple)):
        raise DomainError(f"drop must be a list of anomaly kinds ({', '.join(DROPPABLE)}), not {str(value)[:40]!r}")
    kinds = tuple(dict.fromkeys(str(kind).strip() for kind in value if str(kind).strip()))
    unknown = set(kinds) - set(DROPPABLE)
    if unknown:
        raise DomainError(f"cannot drop {', '.join(sorted(unknown))}; droppable: {', '.join(DROPPABLE)}")
    return kinds


@dataclass(frozen=True, kw_only=True)
class ImportRequest:
    """An import of an export file's bars as the `symbol` `timeframe` series: the file read as `format`
    (auto = detected from its contents), its timestamps in time zone `tz` (an IANA name; blank = the
    format's default), the anomaly kinds to `drop`, and what to do with bars already stored with other
    values (`on_conflict`). The file travels beside the request."""

    symbol: str
    timeframe: str
    tz: str = ""
    format: str = "auto"
    drop: tuple[str, ...] = ()
    on_conflict: str = DEFAULT_CONFLICT_POLICY

    DROPPABLE: ClassVar[tuple] = DROPPABLE
    CONFLICT_POLICIES: ClassVar[dict] = CONFLICT_POLICIES
    TZ_LENGTH: ClassVar[int] = 64  # the run row's column

    @staticmethod
    def formats() -> tuple[str, ...]:
        """`auto` and the registered import formats (read when asked: a format registered later is offered)."""
        return ("auto", *FORMATS)

    @classmethod
    @domain_errors()  # what the engines refuse (a symbol, a timeframe, parameters) is a refusal of the request
    def from_dict(cls, data: Mapping) -> ImportRequest:
        """Parse and check a plain mapping (form data, JSON, command options, a stored run's fields);
        ValueError names the field. Blank values take the defaults; EUR/USD and H1 are EURUSD and 1h."""
        given = request_values(cls, data, "import option", required=("symbol", "timeframe"))
        symbol = normalize_symbol(given["symbol"])
        timeframe = normalize_timeframe(given["timeframe"]).code  # at most four weeks: the engine's limit
        tz = str(given.get("tz", cls.tz)).strip()
        if tz:
            zone(tz)  # the engine's reading of a zone name, and its message
        format = given.get("format", cls.format)
        if format not in cls.formats():
            raise DomainError(f"unknown format {format!r}; choose auto or one of {', '.join(FORMATS)}")
        if format == "dukascopy" and tz:  # known before the file is read: said now, not by the job
            raise DomainError(DUKASCOPY_TZ_REFUSAL)
        drop = _drop_kinds(given.get("drop", cls.drop))
        on_conflict = given.get("on_conflict", cls.on_conflict)
        if on_conflict not in tuple(CONFLICT_POLICIES):
            raise DomainError(f"unknown conflict policy {on_conflict!r}; choose one of {', '.join(CONFLICT_POLICIES)}")
        return cls(symbol=symbol, timeframe=timeframe, tz=tz, format=format, drop=drop, on_conflict=on_conflict)

    def to_dict(self) -> dict:
        """The request as plain values, as the run row stores them (its field names)."""
        return {**asdict(self), "drop": list(self.drop)}
