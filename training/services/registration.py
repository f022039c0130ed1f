"""Registering what a training run trained: checkpoint, config, normalizer statistics, history,
test metrics and the train / validation / test periods become a new version in the registry."""

from __future__ import annotations

import io

import numpy as np

from forexgpt_site.jobs import request_of
from training.engine.forecast import BASELINES
from training.engine.periods import periods_of
from training.models import TrainingRun


def register_model(run: TrainingRun, model, data, cfg, history, quality):
    import torch

    from registry.services import OPERATOR, artifact_register

    request = request_of(run)
    ensemble = f", an ensemble of {request.members}" if request.members > 1 else ""
    buffer = io.BytesIO()
    torch.save({"state_dict": model.state_dict(), "model_config": model.config}, buffer)
    stats = io.BytesIO()
    np.savez(stats, **data.normalizer.to_npz())
    config = {
        "model": model.config,
        "patch_len": data.patch_len,
        "horizon": data.horizon,
        "channels": data.channels,
        "epochs": request.epochs,
        "batch_size": request.batch_size,
        "seed": request.seed,
        "optimization": cfg.as_dict(),
    }
    metrics = {
        "crps": quality["model"]["crps"],
        "mae_median": quality["model"]["mae_median"],
        "coverage_q05_q95": quality["model"]["coverage_q05_q95"],
    }
    metrics |= {f"crps_{name}": quality[name]["crps"] for name in BASELINES if name in quality}  # all four baselines
    return artifact_register(
        model_name=run.registry_name,
        files={
            "checkpoint": buffer.getvalue(),
            "config": config,
            "stats": stats.getvalue(),
            "history": {"epochs": history},
        },
        symbol=run.symbol,
        timeframe=run.timeframe,
        horizon_bars=run.horizon,
        channel_order=data.channels,
        metrics=metrics,
        periods=periods_of(data),
        description=("smoke test (fast_dev_run: one batch), " if request.fast_dev_run else "")
        + f"diffusion forecaster ({run.denoiser} denoiser{ensemble}) from training run #{run.pk}",
        user=run.owner or OPERATOR,
        training_run_id=run.pk,
    )
