"""Training runs: queued on the `gpu` cluster, trained in a child process, scored, registered."""

from __future__ import annotations

import io
import os
from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import transaction
from django.utils.text import slugify

from forexgpt_site.jobs import CHILD_CANCELLED, JobContext, job_enqueue, job_requeue, job_run_child
from marketdata.engine import normalize_symbol, normalize_timeframe
from marketdata.selectors import candles_frame
from training.models import TrainingRun

# Test windows scored per run (evenly spaced), to keep CPU evaluation minutes, not hours.
EVAL_WINDOWS = int(os.environ.get("FOREXGPT_EVAL_WINDOWS", "1000"))


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


def _candles(run) -> pd.DataFrame:
    return candles_frame(symbol=run.symbol, timeframe=run.timeframe, start=run.start, end=run.end)


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
    n = candles_frame(symbol=symbol, timeframe=tf, start=start, end=end).shape[0]
    chronological_split(n, patch_len, horizon)  # raises when the bars are too few
    run = TrainingRun.objects.create(
        owner=user if getattr(user, "is_authenticated", False) else None, name=name[:120], symbol=symbol, timeframe=tf,
        start=start, end=end, horizon=horizon, patch_len=patch_len, epochs=epochs, batch_size=batch_size, denoiser=denoiser,
        choices=choices or {}, fast_dev_run=fast_dev_run, seed=seed, model_name=model_name)
    if enqueue:
        job_enqueue(run)
    return run


def training_run_resume(*, run: TrainingRun, user) -> TrainingRun:
    """A failed or cancelled run (a dead worker included) starts again from its last checkpoint."""
    return job_requeue(run=run, user=user, message="resuming from the last checkpoint")


def checkpoint_dir(run: TrainingRun) -> Path:
    return Path(settings.FOREXGPT_CHECKPOINT_DIR) / f"training-run-{run.pk}"


def training_run_execute(run: TrainingRun, ctx: JobContext) -> str:
    job_run_child(run, ["train_worker", str(run.pk)], checkpoint_dir(run) / f"attempt-{run.attempts + 1}.log")
    run.refresh_from_db()
    return run.message or "trained"


def training_child_main(run_id: int) -> int:
    """The child: train (resuming from last.ckpt), evaluate on the test part, register the artifact."""
    import torch

    from training.engine import build_config, detect_hardware
    from training.engine.trainer import ProgressReporter, evaluate_quality, prepare_data, train

    run = TrainingRun.objects.get(pk=run_id)
    rank = int(os.environ.get("LOCAL_RANK", "0")) + int(os.environ.get("NODE_RANK", "0"))
    data = prepare_data(_candles(run), patch_len=run.patch_len, horizon=run.horizon)
    hw = detect_hardware()
    cfg = build_config(hw, parse_choices(run.choices), denoiser=run.denoiser)
    ctx = JobContext(run)
    if rank == 0:
        TrainingRun.objects.filter(pk=run.pk).update(decisions=cfg.decisions, hardware=hw.as_dict())
    history = list(run.history or [])

    def report(fraction=None, epoch_point=None, **fields_):
        if epoch_point is not None:
            history[:] = [h for h in history if h["epoch"] != epoch_point["epoch"]] + [epoch_point]
            TrainingRun.objects.filter(pk=run.pk).update(history=history, val_loss=epoch_point["val_loss"])
            return
        message = f"epoch {fields_['epoch'] + 1}/{run.epochs}, step {fields_['step']}, loss {fields_['train_loss']:.4f}"
        try:
            ctx.progress(0.9 * fraction, message, **{k: v for k, v in fields_.items()})
        except JobCancelled:
            stop_flag["stop"] = True

    stop_flag = {"stop": False}
    reporter = ProgressReporter(report, should_stop=lambda: stop_flag["stop"], batch_size=run.batch_size)
    ckpt = checkpoint_dir(run)
    module, trainer = train(data, cfg, epochs=run.epochs, batch_size=run.batch_size, checkpoint_dir=ckpt, callbacks=[reporter],
                            seed=run.seed, fast_dev_run=run.fast_dev_run, denoiser=run.denoiser)
    if stop_flag["stop"]:
        return CHILD_CANCELLED
    if trainer.global_rank != 0 or rank != 0:
        return 0
    # The throttled reports may have skipped the last step: record where training ended.
    TrainingRun.objects.filter(pk=run.pk).update(step=trainer.global_step, epoch=trainer.current_epoch)
    ctx.progress(0.92, "scoring the test period against the baselines", force=True)
    # Score where training ran (the GPU when there is one), then keep a CPU copy for the registry.
    device = "cuda" if cfg.accelerator == "gpu" and torch.cuda.is_available() else "cpu"
    model = module.forecaster.float().to(device)
    quality = evaluate_quality(model, data, seed=run.seed, max_windows=EVAL_WINDOWS, device=device)
    model = model.cpu()
    TrainingRun.objects.filter(pk=run.pk).update(quality=quality)
    ctx.progress(0.97, "registering the model version", force=True)
    version = register_model(run, model, data, cfg, history, quality)
    TrainingRun.objects.filter(pk=run.pk).update(artifact_version=version, message=(
        f"registered {version.ref}; test CRPS {quality['model']['crps']:.3g} vs EWMA Gaussian {quality['ewma_gaussian']['crps']:.3g}"))
    return 0


def register_model(run: TrainingRun, model, data, cfg, history, quality):
    import torch

    from registry.services import OPERATOR, artifact_register

    buffer = io.BytesIO()
    torch.save({"state_dict": model.state_dict(), "model_config": model.config}, buffer)
    stats = io.BytesIO()
    np.savez(stats, **data.normalizer.to_npz())
    config = {"model": model.config, "patch_len": data.patch_len, "horizon": data.horizon, "channels": data.channels,
              "epochs": run.epochs, "batch_size": run.batch_size, "seed": run.seed, "optimization": cfg.as_dict()}
    metrics = {"crps": quality["model"]["crps"], "mae_median": quality["model"]["mae_median"],
               "coverage_q05_q95": quality["model"]["coverage_q05_q95"],
               "crps_ewma_gaussian": quality["ewma_gaussian"]["crps"], "crps_random_walk": quality["random_walk"]["crps"]}
    return artifact_register(
        model_name=run.registry_name, files={"checkpoint": buffer.getvalue(), "config": config, "stats": stats.getvalue(),
                                             "history": {"epochs": history}},
        symbol=run.symbol, timeframe=run.timeframe, horizon_bars=run.horizon, channel_order=data.channels, metrics=metrics,
        description=f"diffusion forecaster ({run.denoiser} denoiser) from training run #{run.pk}",
        user=run.owner or OPERATOR, training_run_id=run.pk)
