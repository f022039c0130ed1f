"""The child process of a training run (`manage.py train_worker ID`): train, resuming from the last
checkpoint, score the test period against the baselines, register the trained version."""

from __future__ import annotations

import json
import os
import time

from django.conf import settings

from forexgpt_site.jobs import CHILD_CANCELLED, JobCancelled, JobContext, request_of
from marketdata.selectors import candles_frame
from training.hardware import hardware_report_store
from training.models import TrainingRun

from .registration import register_model
from .runs import checkpoint_dir

# Test windows scored per run (evenly spaced), to keep CPU evaluation minutes, not hours.
EVAL_WINDOWS = int(os.environ.get("FOREXGPT_EVAL_WINDOWS", "1000"))


def training_child_main(run_id: int) -> int:
    """The child: train (resuming from last.ckpt), evaluate on the test part, register the artifact."""
    import torch

    from training.engine import UserChoices, build_config, detect_hardware
    from training.engine.trainer import ProgressReporter, evaluate_quality, fit_spread, prepare_data, train

    # On purpose, not torch's default of every core: beside the web server and the default cluster
    # two threads were 3x slower a step than one here (FOREXGPT_TORCH_THREADS, default 1).
    torch.set_num_threads(settings.FOREXGPT_TORCH_THREADS)
    run = TrainingRun.objects.get(pk=run_id)
    request = request_of(run)
    rank = int(os.environ.get("LOCAL_RANK", "0")) + int(os.environ.get("NODE_RANK", "0"))
    candles = candles_frame(symbol=request.symbol, timeframe=request.timeframe, start=request.start, end=request.end)
    data = prepare_data(candles, patch_len=request.patch_len, horizon=request.horizon)
    hw = detect_hardware()
    cfg = build_config(hw, request.user_choices(), denoiser=request.denoiser)
    ctx = JobContext(run)
    if rank == 0:
        TrainingRun.objects.filter(pk=run.pk).update(decisions=cfg.decisions, hardware=hw.as_dict())
        # The worker is busy until this run ends: its detection is the Hardware page's freshest report.
        hardware_report_store(
            json.loads(
                json.dumps(
                    {
                        "hardware": hw.as_dict(),
                        "optimizations": build_config(hw, UserChoices()).decisions,
                        "source": f"training run #{run.pk} as it started",
                    },
                    default=str,
                )
            )
        )
    history = list(run.history or [])

    def report(fraction=None, epoch_point=None, **fields_):
        if epoch_point is not None:
            history[:] = [h for h in history if h["epoch"] != epoch_point["epoch"]] + [epoch_point]
            TrainingRun.objects.filter(pk=run.pk).update(history=history, val_loss=epoch_point["val_loss"])
            return
        message = (
            f"epoch {fields_['epoch'] + 1}/{request.epochs}, step {fields_['step']}, loss {fields_['train_loss']:.4f}"
        )
        try:
            ctx.progress(0.9 * fraction, message, **{k: v for k, v in fields_.items()})
        except JobCancelled:
            stop_flag["stop"] = True

    stop_flag = {"stop": False}
    reporter = ProgressReporter(report, should_stop=lambda: stop_flag["stop"], batch_size=request.batch_size)
    ckpt = checkpoint_dir(run)
    module, trainer = train(
        data,
        cfg,
        epochs=request.epochs,
        batch_size=request.batch_size,
        checkpoint_dir=ckpt,
        callbacks=[reporter],
        seed=request.seed,
        fast_dev_run=request.fast_dev_run,
        denoiser=request.denoiser,
        members=request.members,
    )
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        # Every rank ends its process group here: a rank leaving with gloo's threads still running
        # was aborted at exit ("terminate called without an active exception", seen once in four runs
        # of the DDP test), and Lightning then killed the run's other ranks.
        torch.distributed.destroy_process_group()
    if stop_flag["stop"]:
        return CHILD_CANCELLED
    if trainer.global_rank != 0 or rank != 0:
        return 0
    # The throttled reports may have skipped the last step: record where training ended. Lightning moves
    # current_epoch past an epoch when it ends (1 after one epoch); the run's epoch is the last one trained,
    # 0-based as while it trains (the page showed "epoch 2 of 1" after a one-epoch run).
    TrainingRun.objects.filter(pk=run.pk).update(step=trainer.global_step, epoch=max(trainer.current_epoch - 1, 0))
    # Fit the spread and drift and score where training ran (the GPU when there is one), then keep a CPU copy for the registry.
    device = "cuda" if cfg.accelerator == "gpu" and torch.cuda.is_available() else "cpu"
    model = module.forecaster.float().to(device)

    def phase_progress(low: float, high: float, what: str):
        """on_batch(done, total) of one phase: its own share of the bar, its own ETA from its own pace."""
        started = time.monotonic()

        def report(done: int, total: int) -> None:
            elapsed = time.monotonic() - started
            ctx.progress(
                low + (high - low) * done / total,
                f"{what}: {done:,} of {total:,} windows",
                eta_s=elapsed * (total - done) / done,
                force=done == total,
            )

        return report

    try:
        # each phase starts without an ETA: the training's would otherwise count down over the next phase
        ctx.progress(0.90, "fitting the forecast spread and drift on the validation part", eta_s=None, force=True)
        spread = fit_spread(
            model,
            data,
            seed=request.seed,
            max_windows=EVAL_WINDOWS,
            device=device,
            on_batch=phase_progress(0.90, 0.92, "fitting the spread and drift on the validation part"),
        )
        ctx.progress(0.92, "scoring the test period", eta_s=None, force=True)
        quality = evaluate_quality(
            model,
            data,
            seed=request.seed,
            max_windows=EVAL_WINDOWS,
            device=device,
            on_batch=phase_progress(0.92, 0.97, "scoring the test period"),
        )
    except JobCancelled:
        return CHILD_CANCELLED
    quality["spread"] = {k: v for k, v in spread.items() if not k.startswith("crps_by_")}
    model = model.cpu()
    TrainingRun.objects.filter(pk=run.pk).update(quality=quality)
    ctx.progress(0.97, "registering the model version", eta_s=None, force=True)
    version = register_model(run, model, data, cfg, history, quality)
    TrainingRun.objects.filter(pk=run.pk).update(
        artifact_version=version, message=f"registered {version.ref}; {quality_line(quality)}"
    )
    return 0


def quality_line(quality: dict) -> str:
    """The test CRPS against the strongest baseline (the lowest CRPS), named: the status line's words."""
    from training.engine.forecast import BASELINES, strongest_baseline

    crps = quality["model"]["crps"]
    strongest = strongest_baseline({name: quality[name]["crps"] for name in BASELINES if name in quality})
    if strongest is None:
        return f"test CRPS {crps:.4g}"
    name, base = strongest
    return f"test CRPS {crps:.4g}, {crps / base:.4f}x the strongest baseline, {BASELINES[name]} ({base:.4g})"
