"""The calibration methods, declared once: `CalibrationMethod` and the registry every layer reads.

A method is a calibrator class (scikit-learn habits: `fit`, `predict`, `get_state`, and the
`from_state` classmethod that rebuilds it fitted; `predict_online` when `online`) with the request
parameters it takes and the constructor arguments it pins (normalized = split on the normalized
score). Forms, serializers, commands and the stored calibrations read the registry, so a method is
one class (or none, reusing one) and one `register_method(...)` call.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from forexgpt_site.named import NamedRegistry

from ._adaptive import AdaptiveConformal, QuantileTracking, SlidingWindowConformal
from ._split import AsymmetricConformal, SplitConformal

PARAM_NAMES = ("window", "gamma", "lr", "score")  # the parameters a method may take from a request
METHOD_NAME_LENGTH = 64  # the longest method name a calibration row stores


@dataclass(frozen=True)
class CalibrationMethod:
    """`name` offered to requests; `calibrator`, the class (its `kind` names it in stored states, its
    `from_state` rebuilds it, its `online` says whether it learns after each truth); `params`, the
    request parameters its constructor takes (the others are ignored, as unset ones take the class's
    defaults); `fixed`, the constructor arguments the method pins."""

    name: str
    calibrator: type
    params: tuple[str, ...] = ()
    fixed: Mapping = field(default_factory=dict)
    label: str = ""

    def __post_init__(self):
        for attribute in ("kind", "online", "from_state"):
            if not hasattr(self.calibrator, attribute):
                raise ValueError(f"{self.calibrator.__name__} needs `{attribute}` to be a calibration method's class")
        extra = set(self.params) - set(PARAM_NAMES)
        if extra:
            raise ValueError(f"unknown parameter(s) {', '.join(sorted(extra))}; known: {', '.join(PARAM_NAMES)}")

    @property
    def online(self) -> bool:
        return bool(self.calibrator.online)

    def make(self, alpha: float, **params):
        """An unfitted calibrator at miss rate `alpha` with the given parameters (None = the default)."""
        given = {k: v for k, v in params.items() if k in self.params and v is not None}
        return self.calibrator(alpha, **given, **self.fixed)


_METHODS = NamedRegistry(
    "a calibration method",
    max_length=METHOD_NAME_LENGTH,
    unknown=lambda name, names: ValueError(f"unknown method {name!r}; choose one of {', '.join(names)}"),
)


def register_method(method: CalibrationMethod) -> CalibrationMethod:
    """Offer a calibration method everywhere (pages, API, command); refuses a name taken."""
    return _METHODS.register(method)


def unregister_method(name: str) -> None:
    _METHODS.unregister(name)


def calibration_method(name: str) -> CalibrationMethod:
    """The registered method `name`; ValueError naming the known ones otherwise."""
    return _METHODS.lookup(name)


def calibration_methods() -> tuple[CalibrationMethod, ...]:
    return tuple(_METHODS.values())


def method_choices() -> list[tuple[str, str]]:
    """(name, label) of each registered method, as Django choices; read at each use."""
    return [(m.name, m.label or m.name) for m in _METHODS.values()]


def make_calibrator(
    method: str,
    alpha: float,
    *,
    window: int | None = None,
    gamma: float | None = None,
    lr: float | None = None,
    score: str | None = None,
):
    """The calibrator for a method name, with its parameters (defaults where not given)."""
    return calibration_method(method).make(alpha, window=window, gamma=gamma, lr=lr, score=score)


def calibrator_from_state(state: dict):
    """The fitted calibrator a stored `get_state()` describes (its class's `from_state`)."""
    kind = state.get("method")
    for method in _METHODS.values():
        if method.calibrator.kind == kind:
            return method.calibrator.from_state(state)
    raise ValueError(f"cannot rebuild a calibrator from method {kind!r}")


def state_is_online(state: dict) -> bool:
    """Whether the calibrator a stored state describes kept learning after its calibration part."""
    return any(m.calibrator.kind == state.get("method") and m.online for m in _METHODS.values())


class _Names(Sequence):
    """The registered names (all, or the online ones), read at each use: a method registered later is in it."""

    def __init__(self, online_only: bool = False):
        self._online_only = online_only

    def _names(self) -> tuple[str, ...]:
        return tuple(name for name, m in _METHODS.items() if m.online or not self._online_only)

    def __getitem__(self, index):
        return self._names()[index]

    def __len__(self) -> int:
        return len(self._names())

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __contains__(self, name) -> bool:
        return name in self._names()

    def __eq__(self, other) -> bool:
        return tuple(self) == tuple(other) if isinstance(other, (Sequence, _Names)) else NotImplemented

    def __hash__(self):
        return id(self)

    def __repr__(self) -> str:
        return repr(self._names())


METHODS = _Names()
ONLINE = _Names(online_only=True)

register_method(CalibrationMethod("split", SplitConformal, ("score",)))
register_method(CalibrationMethod("asymmetric", AsymmetricConformal))
register_method(CalibrationMethod("normalized", SplitConformal, fixed={"score": "normalized"}))
register_method(CalibrationMethod("cqr", SplitConformal, fixed={"score": "cqr"}))
register_method(CalibrationMethod("window", SlidingWindowConformal, ("window", "score")))
register_method(CalibrationMethod("aci", AdaptiveConformal, ("gamma", "window", "score")))
register_method(CalibrationMethod("pid", QuantileTracking, ("lr", "score")))
