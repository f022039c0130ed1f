"""Training runs: check a request, store it, queue it on the `gpu` cluster, and (the task) watch the
child process that trains it. A failed or cancelled run resumes from its last checkpoint through
`forexgpt_site.jobs.job_requeue` (what `POST /api/training-runs/<id>/resume/` calls)."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils.text import slugify

from forexgpt_site.jobs import JobContext, job_enqueue, job_run_child
from marketdata.engine import normalize_symbol, normalize_timeframe
from marketdata.selectors import candles_queryset
from training.models import TrainingRun


def parse_choices(choices: dict | None):
    from training.engine import UserChoices

    if choices is not None and not isinstance(choices, dict):
        raise ValueError("choices must be an object such as {\"precision\": \"bf16-mixed\"}")
    names = {f.name for f in fields(UserChoices)}
    unknown = set(choices or {}) - names
    if unknown:
        raise ValueError(f"unknown training option(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(names))}")
    parsed = UserChoices(**(choices or {}))
    if parsed.precision is not None and parsed.precision not in ("32-true", "16-mixed", "bf16-mixed"):
        raise ValueError(f"precision must be 32-true, 16-mixed or bf16-mixed, not {parsed.precision!r}")
    from training.engine.optimization import COMPILE_MODES

    if parsed.compile_mode not in COMPILE_MODES:
        raise ValueError(f"compile_mode must be one of {', '.join(COMPILE_MODES)}, not {parsed.compile_mode!r}")
    return parsed


@transaction.atomic
def training_run_start(*, user, symbol: str, timeframe: str, horizon: int = 12, patch_len: int = 64, epochs: int = 30,
                       batch_size: int = 64, denoiser: str = "transformer", choices: dict | None = None, start=None, end=None,
                       fast_dev_run: bool = False, seed: int = 0, name: str = "", model_name: str = "",
                       enqueue: bool = True) -> TrainingRun:
    """Check the request (data enough for a split, options known), store the run, queue it on `gpu`."""
    from training.engine import chronological_split

    parse_choices(choices)
    if len(model_name) > 100 or (model_name and slugify(model_name) != model_name):
        raise ValueError(f"model_name {model_name!r} must be a slug of at most 100 characters")
    if denoiser not in ("transformer", "unet"):
        raise ValueError(f"unknown denoiser {denoiser!r}; choose transformer or unet")
    for label, value, low in (("horizon", horizon, 1), ("patch_len", patch_len, 8), ("epochs", epochs, 1), ("batch_size", batch_size, 2)):
        if not isinstance(value, int) or value < low:
            raise ValueError(f"{label} must be a whole number >= {low}, not {value!r}")
    symbol, tf = normalize_symbol(symbol), normalize_timeframe(timeframe).code
    n = candles_queryset(symbol=symbol, timeframe=tf, start=start, end=end).count()
    chronological_split(n, patch_len, horizon)  # raises when the bars are too few
    run = TrainingRun.objects.create(
        owner=user if getattr(user, "is_authenticated", False) else None, name=name[:120], symbol=symbol, timeframe=tf,
        start=start, end=end, horizon=horizon, patch_len=patch_len, epochs=epochs, batch_size=batch_size, denoiser=denoiser,
        choices=choices or {}, fast_dev_run=fast_dev_run, seed=seed, model_name=model_name)
    if enqueue:
        job_enqueue(run)
    return run


def checkpoint_dir(run: TrainingRun) -> Path:
    return Path(settings.FOREXGPT_CHECKPOINT_DIR) / f"training-run-{run.pk}"


def training_run_execute(run: TrainingRun, ctx: JobContext) -> str:
    job_run_child(run, ["train_worker", str(run.pk)], checkpoint_dir(run) / f"attempt-{run.attempts + 1}.log")
    run.refresh_from_db()
    return run.message or "trained"
