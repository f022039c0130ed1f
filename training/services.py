"""Training runs (queued on the `gpu` cluster, trained in a child process), artifacts and forecasts."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.text import slugify

from forexgpt_site.jobs import JobCancelled, JobContext, job_enqueue, job_requeue
from marketdata.engine import normalize_symbol, normalize_timeframe
from marketdata.selectors import candles_frame
from training.models import ForecastSet, TrainingRun

# Test windows scored per run (evenly spaced), to keep CPU evaluation minutes, not hours.
EVAL_WINDOWS = int(os.environ.get("FOREXGPT_EVAL_WINDOWS", "1000"))
CHILD_CANCELLED = 3


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


def run_child(run: TrainingRun, ctx: JobContext | None = None, *, poll_s: float = 1.0) -> int:
    """Train in a child process (CUDA does not survive fork; DDP spawns its own ranks), watch it,
    stop it on cancel; returns its exit code."""
    cmd = [sys.executable, str(settings.BASE_DIR / "manage.py"), "train_worker", str(run.pk)]
    log = checkpoint_dir(run) / f"attempt-{run.attempts + 1}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    TrainingRun.objects.filter(pk=run.pk).update(attempts=run.attempts + 1)
    with open(log, "w") as out:
        child = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=settings.BASE_DIR, start_new_session=True,
                                 env={**os.environ, "TQDM_DISABLE": "1", "PYTHONUNBUFFERED": "1"})
        while child.poll() is None:
            time.sleep(poll_s)
            if TrainingRun.objects.filter(pk=run.pk, cancel_requested=True).exists():
                child.wait(timeout=60) if _signal(child, signal.SIGTERM) else None
                raise JobCancelled()
    if child.returncode not in (0, CHILD_CANCELLED):
        tail = log.read_text()[-3000:]
        raise RuntimeError(f"the trainer exited with code {child.returncode}:\n{tail}")
    return child.returncode


def _signal(child, sig) -> bool:
    try:
        os.killpg(child.pid, sig)
        return True
    except ProcessLookupError:
        return False


def training_run_execute(run: TrainingRun, ctx: JobContext) -> str:
    code = run_child(run, ctx)
    if code == CHILD_CANCELLED:
        raise JobCancelled()
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
    del torch
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


def load_forecaster(version):
    """The model, normalizer and config of a registered version, ready for inference on the CPU."""
    import torch

    from registry.selectors import version_checkpoint_path, version_file_bytes, version_stats
    from training.engine import DiffusionForecaster, Normalizer

    state = torch.load(version_checkpoint_path(version), map_location="cpu", weights_only=True)
    model = DiffusionForecaster(**state["model_config"])
    model.load_state_dict(state["state_dict"])
    config = json.loads(version_file_bytes(version, "config"))
    return model.eval(), Normalizer.from_npz(version_stats(version)), config


def forecast_compute(*, version, symbol: str, timeframe: str, start=None, end=None, samples: int = 100, seed: int = 0,
                     steps: int = 20) -> pd.DataFrame:
    """Per bar t in [start, end]: the forecast made after t closed, from bars <= t only - pred_return
    (the median cumulative log return at the horizon's end), q05..q95 there, and the confidence."""
    from training.engine import make_features, summarize, windows
    from training.engine.trainer import sample_forecasts

    if samples < 2:
        raise ValueError("samples must be at least 2")
    model, norm, config = load_forecaster(version)
    patch_len = config["patch_len"]
    symbol, tf = normalize_symbol(symbol), normalize_timeframe(timeframe).code
    candles = candles_frame(symbol=symbol, timeframe=tf, end=end)
    if start is not None:
        first = int((candles["ts"] < pd.Timestamp(start)).sum())
    else:
        first = patch_len - 1
    first = max(first, patch_len - 1)
    if len(candles) <= first:
        raise ValueError(f"not enough {symbol} {tf} bars: a forecast needs {patch_len} bars of context")
    features, channels = make_features(candles)
    if channels != config["channels"]:
        raise ValueError(f"this series has channels {channels}, the model was trained on {config['channels']}")
    ends = np.arange(first, len(candles))
    x = windows(norm.transform(features), ends, patch_len)
    paths = sample_forecasts(model, x, n_samples=samples, steps=steps, seed=seed, y_scale=norm.y_scale)
    s = summarize(paths)
    out = pd.DataFrame({"timestamp": candles["ts"].iloc[ends].dt.strftime("%Y-%m-%dT%H:%M:%SZ").to_numpy(), "pred_return": s["median"][:, -1]})
    for name in ("q05", "q10", "q25", "q50", "q75", "q90", "q95"):
        out[name] = s[name][:, -1]
    out["confidence"] = s["confidence"]
    return out


def forecast_store(*, version, frame: pd.DataFrame, symbol: str, timeframe: str, samples: int, seed: int) -> ForecastSet:
    fs = ForecastSet(artifact_version=version, symbol=symbol, timeframe=timeframe, rows=len(frame), samples=samples, seed=seed,
                     first=pd.Timestamp(frame["timestamp"].iloc[0]), last=pd.Timestamp(frame["timestamp"].iloc[-1]))
    fs.file.save(f"{version.registered_model.name}-v{version.version}-{symbol}-{timeframe}.csv",
                 ContentFile(frame.to_csv(index=False).encode()), save=False)
    fs.save()
    return fs


def stored_forecasts(*, version, symbol: str, timeframe: str) -> pd.DataFrame:
    """The newest stored forecasts of a version for a series (what backtests use for --artifact)."""
    fs = ForecastSet.objects.filter(artifact_version=version, symbol=normalize_symbol(symbol),
                                    timeframe=normalize_timeframe(timeframe).code).first()
    if fs is None:
        raise ValueError(f"{version.ref} has no stored forecasts for {symbol} {timeframe}: run the forecast command first")
    with fs.file.open("rb") as fh:
        return pd.read_csv(fh)
