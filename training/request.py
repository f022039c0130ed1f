"""What a training run is asked to do: one request object that owns the defaults, the choices, the
limits and the checks; the form, the serializer, the command, the stored run and its child process
all come from it. Only the check that needs the stored bars (enough for a chronological split) is
the service's."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import ClassVar

from django.utils.text import slugify

from forexgpt_site.errors import DomainError, domain_errors
from forexgpt_site.parsing import parse_utc_range, parse_whole, request_dict, request_values
from marketdata.engine import normalize_symbol, normalize_timeframe

# optimization.py and the hardware module it imports load no torch: the web process stays light
from training.engine.optimization import COMPILE_MODES, PRECISIONS, UserChoices

DENOISERS = ("transformer", "unet")
COLUMN_MAX = 2**31 - 1  # the largest whole number the run row's integer columns hold
# The lowest value of each whole-number option of `UserChoices` (None there = decide from the hardware).
CHOICE_LOWS = {"num_gpus": 0, "num_nodes": 1, "cpu_processes": 1, "gradient_accumulation": 1, "num_workers": 0}
CHOICE_DEFAULTS = {f.name: f.default for f in fields(UserChoices)}
_CHOICE_KINDS = {f.name: str(f.type) for f in fields(UserChoices)}  # "bool | None", "int", "str", ...


def _choice_value(name: str, value):
    """One option of `choices` checked against its `UserChoices` annotation; ValueError names it."""
    kind = _CHOICE_KINDS[name]
    if value is None and kind.endswith("| None"):
        return None
    if kind.startswith("bool"):
        if not isinstance(value, bool):
            raise DomainError(
                f"{name} must be {'true, false or null' if kind.endswith('| None') else 'true or false'}, not {value!r}"
            )
        return value
    if kind.startswith("int"):
        return parse_whole(value, name, CHOICE_LOWS.get(name, 0), COLUMN_MAX)
    return value


def parse_choices(choices) -> dict:
    """The training options (`UserChoices`' fields) checked; unknown names, a precision or compile mode
    that does not exist, a flag that is not true/false, a count below its minimum are refused."""
    if choices is None or choices == "":
        return {}
    if not isinstance(choices, Mapping):
        raise DomainError('choices must be an object such as {"precision": "bf16-mixed"}')
    unknown = set(choices) - set(CHOICE_DEFAULTS)
    if unknown:
        raise DomainError(
            f"unknown training option(s) {', '.join(sorted(map(str, unknown)))}; known: {', '.join(sorted(CHOICE_DEFAULTS))}"
        )
    parsed = {name: _choice_value(name, value) for name, value in choices.items()}
    precision = parsed.get("precision")
    if precision is not None and precision not in PRECISIONS:
        raise DomainError(f"precision must be {', '.join(PRECISIONS[:-1])} or {PRECISIONS[-1]}, not {precision!r}")
    compile_mode = parsed.get("compile_mode", CHOICE_DEFAULTS["compile_mode"])
    if compile_mode not in COMPILE_MODES:
        raise DomainError(f"compile_mode must be one of {', '.join(COMPILE_MODES)}, not {compile_mode!r}")
    return parsed


@dataclass(frozen=True, kw_only=True)
class TrainingRequest:
    """Training of a diffusion forecaster on `symbol` `timeframe` bars from `start` to `end` (UTC; None =
    as far as the data goes): windows of `patch_len` bars forecasting `horizon` bars, `epochs` passes
    in batches of `batch_size`, a `denoiser`, `members` networks (more than one: an ensemble), the
    user's optimization `choices` (`UserChoices`' fields; the rest is decided from the hardware), a
    `seed`, a `fast_dev_run` smoke test; the trained version goes to the registry as `model_name`
    (blank: <symbol>-<timeframe>-h<horizon>)."""

    symbol: str
    timeframe: str
    start: datetime | None = None
    end: datetime | None = None
    horizon: int = 12
    patch_len: int = 64
    # The configuration bench/forecast_quality.py measures as "the default model" (it reads these), so
    # that a run started with the defaults is the model the protocol table in docs/FORECASTER.md scores; before,
    # 30 epochs of 64 were the default and were never measured (on the CPU they took 20x the steps).
    epochs: int = 6
    batch_size: int = 256
    denoiser: str = "transformer"
    # Networks trained side by side from different initial weights and sampled as one mixture
    # (`EnsembleForecaster`). 2 beat either network alone on the validation part but not on the
    # protocol's test part (two seeds; docs/FORECASTER.md, Forecast quality), for twice the training time: one
    # network stays the default.
    members: int = 1
    choices: dict = field(default_factory=dict)
    fast_dev_run: bool = False
    seed: int = 0
    name: str = ""
    model_name: str = ""

    DENOISERS: ClassVar[tuple] = DENOISERS
    PRECISIONS: ClassVar[tuple] = PRECISIONS
    COMPILE_MODES: ClassVar[tuple] = COMPILE_MODES
    CHOICE_DEFAULTS: ClassVar[dict] = CHOICE_DEFAULTS
    CHOICE_LOWS: ClassVar[dict] = CHOICE_LOWS
    LIMITS: ClassVar[dict] = {
        "horizon": (1, 10_000),
        "patch_len": (8, 10_000),
        "epochs": (1, 100_000),
        # a batch of 45,000 windows took 22 GB: beyond this no machine the platform targets holds one
        "batch_size": (2, 8_192),
        "seed": (0, COLUMN_MAX),
        "members": (1, 8),
    }

    @classmethod
    @domain_errors()  # what the engines refuse (a symbol, a timeframe, parameters) is a refusal of the request
    def from_dict(cls, data: Mapping) -> TrainingRequest:
        """Parse and check a plain mapping (form data, JSON, command options, a stored run's fields);
        ValueError names the field. Blank values take the defaults."""
        given = request_values(cls, data, "training request field", required=("symbol", "timeframe"))
        start, end = parse_utc_range(given)
        numbers = {name: parse_whole(given[name], name, *cls.LIMITS[name]) for name in cls.LIMITS if name in given}
        denoiser = given.get("denoiser", cls.denoiser)
        if denoiser not in DENOISERS:
            raise DomainError(f"unknown denoiser {denoiser!r}; choose {' or '.join(DENOISERS)}")
        fast_dev_run = given.get("fast_dev_run", cls.fast_dev_run)
        if not isinstance(fast_dev_run, bool):
            raise DomainError(f"fast_dev_run must be true or false, not {fast_dev_run!r}")
        model_name = given.get("model_name", "")
        if (
            not isinstance(model_name, str)
            or len(model_name) > 100
            or (model_name and slugify(model_name) != model_name)
        ):
            raise DomainError(f"model_name {model_name!r} must be a slug of at most 100 characters")
        return cls(
            symbol=normalize_symbol(str(given["symbol"])),
            timeframe=normalize_timeframe(str(given["timeframe"])).code,
            start=start,
            end=end,
            denoiser=denoiser,
            choices=parse_choices(data.get("choices")),
            fast_dev_run=fast_dev_run,
            name=str(given.get("name", ""))[:120],
            model_name=model_name,
            **numbers,
        )

    @staticmethod
    def choices_from(values: Mapping) -> dict:
        """The `choices` that flat option values mean (a form's fields, a command's flags): those given
        that differ from `UserChoices`' defaults, so that an untouched option stays the hardware's call."""
        return {name: value for name, value in values.items() if value is not None and value != CHOICE_DEFAULTS[name]}

    def user_choices(self) -> UserChoices:
        """The choices as the engine's `build_config` takes them."""
        return UserChoices(**self.choices)

    def to_dict(self) -> dict:
        return request_dict(self)
