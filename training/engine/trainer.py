"""Training with Lightning: the data, the module, the trainer built from an OptimizationConfig,
a progress callback, checkpoints every epoch and resume from the last one."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, TensorDataset

os.environ.setdefault("TQDM_DISABLE", "1")
import lightning as L  # noqa: E402
from lightning.pytorch.callbacks import Callback, ModelCheckpoint  # noqa: E402

from .features import (
    TARGET_SCALE_LAMBDA,
    Normalizer,
    Split,
    chronological_split,
    horizon_targets,
    make_features,
    windows,
)  # noqa: E402
from .forecast import (  # noqa: E402
    LEVEL_GRID,
    baseline_scores,
    crps_samples,
    fit_levels,
    forecast_scores,
    recalibrate,
    shrink_drift,
)
from .model import DiffusionForecaster, build_forecaster, member_models, sample_forecasts  # noqa: E402
from .optimization import OptimizationConfig  # noqa: E402
from .sampling import DEFAULT_SAMPLER, DEFAULT_STEPS  # noqa: E402


@dataclass
class TrainingData:
    """Normalized windows and scaled targets for each chronological part."""

    x: dict  # part -> float32 [m, patch_len, channels]
    y: dict  # part -> float32 [m, horizon] (divided by each window's scale)
    ends: dict  # part -> bar index of each window's last bar
    normalizer: Normalizer
    channels: list[str]
    patch_len: int
    horizon: int
    close: np.ndarray = field(repr=False, default=None)
    scale: dict = field(repr=False, default=None)  # part -> [m] the scale of each window's targets (return units)
    ts: np.ndarray = field(repr=False, default=None)  # UTC bar times (the seasonal baseline's calendar)


def prepare_data(
    candles,
    *,
    patch_len: int = 64,
    horizon: int = 12,
    scale_lambda: float | None = TARGET_SCALE_LAMBDA,
    seasonal: bool = True,
    month_week: bool = True,
    channels=None,
    normalizer: Normalizer | None = None,
    scale_model: str = "ewma",
    split: Split | None = None,
) -> TrainingData:
    """Windows, targets and the normalizer, fitted on the training part. The ablations: `seasonal`
    False scales targets by the plain EWMA's spread, `month_week` False by a calendar without the first
    week of the month apart, `scale_lambda` None by one global scale, `scale_model` "garch" by the
    seasonal GARCH(1,1)-t's spread instead of the EWMA's, `channels` picks the input channels (default:
    all `make_features` gives). With `normalizer` (a trained model's, and its `channels`) nothing is
    fitted: another series' windows in that model's units, as its forecasts of that series are made (a
    pair it was not trained on). `split`: the window ends of each part, where they are not the series'
    own chronological split (`transfer.split_by_dates`)."""
    features, channels = make_features(candles, channels)
    close = candles["close"].to_numpy(float)
    ts = pd.to_datetime(candles["ts"], utc=True).to_numpy()
    targets = horizon_targets(close, horizon)
    split = split or chronological_split(len(candles), patch_len, horizon)
    norm = normalizer or Normalizer(scale_lambda=scale_lambda, scale_model=scale_model).fit(
        features, split.train, patch_len, targets, close, ts, seasonal=seasonal, month_week=month_week
    )
    feats = norm.transform(features)
    parts = {"train": split.train, "val": split.val, "test": split.test}
    scale = {
        k: np.broadcast_to(norm.target_scale(close, v, horizon, ts), v.shape).astype(np.float64)
        for k, v in parts.items()
    }
    return TrainingData(
        x={k: windows(feats, v, patch_len) for k, v in parts.items()},
        y={k: (targets[v] / scale[k][:, None]).astype(np.float32) for k, v in parts.items()},
        ends=parts,
        normalizer=norm,
        channels=channels,
        patch_len=patch_len,
        horizon=horizon,
        close=close,
        scale=scale,
        ts=ts,
    )


class LitDiffusion(L.LightningModule):
    def __init__(
        self,
        model_kwargs: dict,
        *,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        optimizer: str = "adamw",
        compile: bool = False,
        compile_mode: str = "default",
    ):
        super().__init__()
        self.save_hyperparameters()
        self.model = build_forecaster(**model_kwargs)
        # Compile the training computation itself (the loss: encoder, noising, denoiser); compiling
        # the module would only wrap forward(), which training never calls.
        self._train_loss = (
            torch.compile(self.model.loss, mode=None if compile_mode == "default" else compile_mode)
            if compile
            else self.model.loss
        )

    @property
    def forecaster(self) -> torch.nn.Module:  # a DiffusionForecaster or an EnsembleForecaster
        return self.model

    def training_step(self, batch, batch_idx):
        loss = self._train_loss(*batch)
        self.log("train_loss", loss, prog_bar=False, on_step=True, on_epoch=True, sync_dist=True)
        return loss

    def validation_step(self, batch, batch_idx):
        loss = self.forecaster.loss(*batch)
        self.log("val_loss", loss, on_epoch=True, sync_dist=True)

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None):
        """Clip by norm ourselves: Lightning refuses to clip for optimizers that unscale inside step()
        (torch's fused AdamW, apex FusedAdam) under mixed precision - found on the first GPU run. With a
        loss scaler (fp16) the gradients are unscaled first; bf16 and fp32 have nothing to unscale."""
        if not gradient_clip_val:
            return
        scaler = getattr(self.trainer.precision_plugin, "scaler", None)
        if scaler is not None and getattr(optimizer, "_step_supports_amp_scaling", False):
            scaler.unscale_(optimizer)  # Lightning unscales the other optimizers itself before this hook
        for member in member_models(self.model):  # each member of an ensemble clipped as if trained alone
            torch.nn.utils.clip_grad_norm_(member.parameters(), gradient_clip_val)

    def configure_optimizers(self):
        params = self.parameters()
        kind = self.hparams.optimizer
        if kind == "apex_fused_adam":
            from apex.optimizers import FusedAdam

            return FusedAdam(params, lr=self.hparams.lr, weight_decay=self.hparams.weight_decay, adam_w_mode=True)
        return torch.optim.AdamW(
            params, lr=self.hparams.lr, weight_decay=self.hparams.weight_decay, fused=kind == "adamw_fused"
        )


class ResidentBatches:
    """Batches cut from windows kept on the device: a fresh shuffle each pass (epoch), no per-sample
    collate and no host-to-device copy per batch. Under DDP each rank takes its own share of every
    epoch's order (rank and device are read when iterated, after the strategy has set them up)."""

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        batch_size: int,
        *,
        shuffle: bool,
        seed: int = 0,
        device=None,
        drop_last: bool = False,
    ):
        self.x, self.y, self.batch_size, self.shuffle, self.seed = x, y, batch_size, shuffle, seed
        self.device, self.drop_last, self.epoch, self._on = device, drop_last, 0, None

    def _shard(self) -> tuple[int, int]:
        dist = torch.distributed
        if dist.is_available() and dist.is_initialized():
            return dist.get_rank(), dist.get_world_size()
        return 0, 1

    def _tensors(self):
        device = self.device or (
            torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else "cpu"
        )
        if self._on is None or self._on[0] != str(device):
            self._on = (str(device), torch.from_numpy(self.x).to(device), torch.from_numpy(self.y).to(device))
        return self._on[1], self._on[2]

    def __len__(self) -> int:
        rank, world = self._shard()
        n = len(range(rank, len(self.x), world))
        return n // self.batch_size if self.drop_last and n >= self.batch_size else -(-n // self.batch_size)

    def __iter__(self):
        x, y = self._tensors()
        rank, world = self._shard()
        if self.shuffle:
            gen = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(len(x), generator=gen)[rank::world].to(x.device)
        else:
            order = torch.arange(rank, len(x), world, device=x.device)
        self.epoch += 1
        for b in range(len(self)):
            idx = order[b * self.batch_size : (b + 1) * self.batch_size]
            yield x[idx], y[idx]


def _fits_on_gpu(data: TrainingData, share: float = 0.25) -> tuple[bool, str]:
    nbytes = sum(a.nbytes for part in ("train", "val") for a in (data.x[part], data.y[part]))
    free, _ = torch.cuda.mem_get_info()
    return nbytes <= share * free, f"windows take {nbytes / 2**20:,.0f} MiB of {free / 2**20:,.0f} MiB free GPU memory"


def loaders(data: TrainingData, cfg: OptimizationConfig, batch_size: int, *, seed: int = 0):
    if cfg.loader == "resident" and torch.cuda.is_available():
        fits, why = _fits_on_gpu(data)
        if not fits:
            cfg._decide("loader", "dataloader", f"{why}: over a quarter, so a DataLoader instead of resident windows")
    if cfg.loader == "resident":
        return (
            ResidentBatches(
                data.x["train"],
                data.y["train"],
                batch_size,
                shuffle=True,
                seed=seed,
                drop_last=len(data.y["train"]) > batch_size,
            ),
            ResidentBatches(data.x["val"], data.y["val"], batch_size, shuffle=False, seed=seed),
        )
    if cfg.loader == "dali":
        from ._dali import dali_loader

        return dali_loader(data.x["train"], data.y["train"], batch_size, shuffle=True, seed=seed), dali_loader(
            data.x["val"], data.y["val"], batch_size, shuffle=False, seed=seed
        )
    common = {
        "batch_size": batch_size,
        "pin_memory": cfg.pin_memory,
        "num_workers": cfg.num_workers,
        "persistent_workers": cfg.num_workers > 0,
    }
    train = DataLoader(
        TensorDataset(torch.from_numpy(data.x["train"]), torch.from_numpy(data.y["train"])),
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
        drop_last=len(data.y["train"]) > batch_size,
        **common,
    )
    val = DataLoader(
        TensorDataset(torch.from_numpy(data.x["val"]), torch.from_numpy(data.y["val"])), shuffle=False, **common
    )
    return train, val


class ProgressReporter(Callback):
    """Reports epoch, step, losses, samples/s, ETA and GPU memory to `report(**fields)` (the caller
    throttles writes), and stops training when `should_stop()` says so (cancellation)."""

    def __init__(
        self, report: Callable[..., object], should_stop: Callable[[], bool] | None = None, batch_size: int = 64
    ):
        self.report, self.should_stop, self.batch_size = report, should_stop, batch_size
        self.started = None
        self.samples = 0
        self.history = []

    def on_train_start(self, trainer, module):
        self.started = time.perf_counter()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if trainer.global_rank != 0:
            return
        self.samples += self.batch_size * trainer.world_size
        elapsed = time.perf_counter() - self.started
        done = trainer.global_step
        total = trainer.estimated_stepping_batches
        rate = self.samples / elapsed if elapsed > 0 else 0.0
        loss = float(outputs["loss"]) if isinstance(outputs, dict) else float(outputs)
        gpu_mem = torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None
        eta = (total - done) * elapsed / max(done - self._first_step, 1) if math.isfinite(total) else None
        self.report(
            fraction=min(done / total, 1.0) if math.isfinite(total) and total else 0.0,
            epoch=trainer.current_epoch,
            step=done,
            train_loss=loss,
            samples_per_s=rate,
            eta_s=eta,
            gpu_memory_gb=gpu_mem,
        )
        if self.should_stop and self.should_stop():
            trainer.should_stop = True

    def on_train_epoch_start(self, trainer, module):
        if not hasattr(self, "_first_step"):
            self._first_step = trainer.global_step  # steps done before a resume don't count in the rate

    def on_train_epoch_end(self, trainer, module):  # after the epoch's validation, so both losses exist
        if trainer.global_rank != 0:
            return
        metrics = trainer.callback_metrics
        point = {
            "epoch": trainer.current_epoch,
            "step": trainer.global_step,
            "train_loss": float(metrics["train_loss_epoch"]) if "train_loss_epoch" in metrics else None,
            "val_loss": float(metrics["val_loss"]) if "val_loss" in metrics else None,
        }
        self.history.append(point)
        self.report(epoch_point=point)


def build_trainer(
    cfg: OptimizationConfig,
    *,
    max_epochs: int,
    checkpoint_dir: Path | None,
    callbacks=(),
    fast_dev_run: bool = False,
    limit_train_batches=None,
) -> L.Trainer:
    cbs = list(callbacks)
    if checkpoint_dir is not None:
        cbs.append(
            ModelCheckpoint(
                dirpath=checkpoint_dir, filename="epoch-{epoch}", save_last=True, every_n_epochs=1, save_top_k=-1
            )
        )
    if cfg.accelerator == "gpu":
        torch.backends.cudnn.benchmark = cfg.cudnn_benchmark
    return L.Trainer(
        accelerator=cfg.accelerator,
        devices=cfg.devices,
        num_nodes=cfg.num_nodes,
        strategy="ddp" if cfg.strategy == "ddp" else "auto",
        precision=cfg.precision,
        accumulate_grad_batches=cfg.gradient_accumulation,
        max_epochs=max_epochs,
        callbacks=cbs,
        enable_progress_bar=False,
        enable_model_summary=False,
        logger=False,
        fast_dev_run=fast_dev_run,
        limit_train_batches=limit_train_batches,
        num_sanity_val_steps=0,
        benchmark=cfg.cudnn_benchmark,
        enable_checkpointing=checkpoint_dir is not None,
        gradient_clip_val=1.0,
    )


def model_kwargs(
    data: TrainingData,
    cfg: OptimizationConfig,
    *,
    dim: int = 64,
    layers: int = 2,
    heads: int = 4,
    denoiser: str = "transformer",
    members: int = 1,
) -> dict:
    return {
        "channels": len(data.channels),
        "patch_len": data.patch_len,
        "horizon": data.horizon,
        "dim": dim,
        "layers": layers,
        "heads": heads,
        "denoiser": denoiser,
        "use_flash": cfg.flash_attention,
        "grad_checkpoint": cfg.gradient_checkpointing,
        "members": members,
    }


def train(
    data: TrainingData,
    cfg: OptimizationConfig,
    *,
    epochs: int,
    batch_size: int = 64,
    lr: float = 1e-3,
    checkpoint_dir: Path | None = None,
    resume: bool = True,
    callbacks=(),
    seed: int = 0,
    fast_dev_run: bool = False,
    limit_train_batches=None,
    **arch,
) -> tuple[LitDiffusion, L.Trainer]:
    """Fit; with `resume` and a `last.ckpt` in checkpoint_dir, continue from it (a dead run restarted)."""
    L.seed_everything(seed, workers=True, verbose=False)
    module = LitDiffusion(
        model_kwargs(data, cfg, **arch),
        lr=lr,
        optimizer=cfg.optimizer,
        compile=cfg.compile,
        compile_mode=cfg.compile_mode,
    )
    train_loader, val_loader = loaders(data, cfg, batch_size, seed=seed)
    trainer = build_trainer(
        cfg,
        max_epochs=epochs,
        checkpoint_dir=checkpoint_dir,
        callbacks=callbacks,
        fast_dev_run=fast_dev_run,
        limit_train_batches=limit_train_batches,
    )
    last = checkpoint_dir / "last.ckpt" if checkpoint_dir else None
    trainer.fit(module, train_loader, val_loader, ckpt_path=str(last) if resume and last and last.exists() else None)
    return module, trainer


def evenly_spaced(count: int, at_most: int) -> np.ndarray:
    """Indices of at most `at_most` of `count` items, evenly spaced, the first and the last included:
    the windows the spread fit and the scoring use."""
    return np.unique(np.linspace(0, count - 1, min(at_most, count)).astype(int))


SPREADS = np.round(np.arange(0.8, 1.81, 0.05), 2)  # the spread factors fit_spread tries
# The drifts it tries: the share of each window's own median path kept. The default model's median had
# no skill on the validation part (correlation with the outcome 0.001 and -0.008 for two seeds) and
# cost 1.1% CRPS there; 0 (no direction at all) was within 0.04% of 0.25, and a forecast without a
# direction cannot drive the forecast strategy, so the smallest share tried is 0.25.
DRIFTS = (0.25, 0.5, 0.75, 1.0)


def fit_spread(
    model: DiffusionForecaster,
    data: TrainingData,
    *,
    seed: int = 0,
    n_samples: int = 100,
    max_windows: int = 1000,
    device: str = "cpu",
    drifts=DRIFTS,
    levels: bool = True,
    on_batch: Callable[[int, int], object] | None = None,
) -> dict:
    """Fit the normalizer's `spread` and `drift` on the validation part: the spread factor (SPREADS)
    and the share of each window's median kept (`drifts`) that give the lowest CRPS of the horizon-end
    return over at most `max_windows` evenly spaced validation windows. A diffusion model sampled with
    few steps can come out too narrow or too wide, and its median can move with noise in the context;
    these are its two calibrated numbers, fitted on data the test part never sees. Then, with `levels`,
    the quantile levels its bands are read at (`forecast.fit_levels` on the same windows, after the
    spread and drift): the CRPS-best spread left the model's q05-q95 band covering 0.853-0.890 of the
    validation windows (its tails too thin for its middle), the map makes it 0.90 there (by construction),
    and on test windows it moved the CRPS by -0.3..+0.5% by pair and seed, the coverage by +0.9..+6.7 points
    (docs/FORECASTER.md, "Reading the bands at calibrated levels"). The map is on the predictive scale
    (`forecast.pit_values`): fitted with `n_samples`, it reads a forecast set's own number of samples alike.
    Returns what was tried."""
    ends = data.ends["val"]
    pick = evenly_spaced(len(ends), max_windows)
    scale = data.scale["val"][pick]
    y = data.y["val"][pick, -1] * scale
    base = sample_forecasts(
        model, data.x["val"][pick], n_samples=n_samples, seed=seed + 1, y_scale=scale, device=device, on_batch=on_batch
    )[:, :, -1]
    crps = {}  # drift -> spread -> CRPS
    for d in drifts:
        shrunk = shrink_drift(base, d)
        crps[float(d)] = {float(k): float(crps_samples(shrunk * k, y).mean()) for k in SPREADS}
    drift, spread = min(((d, k) for d in crps for k in crps[d]), key=lambda pair: crps[pair[0]][pair[1]])
    paths = shrink_drift(base, drift)[:, :, None] * spread
    level_map = fit_levels(paths[:, :, -1], y) if levels else None
    data.normalizer.spread, data.normalizer.drift, data.normalizer.levels = spread, drift, level_map
    return {
        "spread": spread,
        "drift": drift,
        # the levels the stored q05 / q95 are read at (of the forecast distribution: `levels_scale`; runs before
        # 2026-12-08 stored the 100 samples' own, without it), and the validation coverage before and after
        "levels_scale": "predictive",
        "band_levels": None
        if level_map is None
        else [float(np.interp(q, LEVEL_GRID, level_map)) for q in (0.05, 0.95)],
        "val_coverage_q05_q95": [
            forecast_scores(p[:, :, -1], y)["coverage_q05_q95"] for p in (paths, recalibrate(paths, level_map))
        ],
        "windows": int(len(pick)),
        "crps_by_spread": crps[drift],
        "crps_by_drift": {d: min(by_spread.values()) for d, by_spread in crps.items()},
    }


def evaluate_quality(
    model: DiffusionForecaster,
    data: TrainingData,
    *,
    seed: int = 0,
    n_samples: int = 100,
    steps: int = DEFAULT_STEPS,
    sampler: str = DEFAULT_SAMPLER,
    max_windows: int = 1000,
    device: str = "cpu",
    on_batch: Callable[[int, int], object] | None = None,
) -> dict:
    """Horizon-end CRPS, MAE of the median, pinball per quantile and q05-q95 coverage on the test part
    (at most `max_windows` evenly spaced windows), for the model (the fair CRPS of its `n_samples`
    paths) and, on the same windows, the random-walk, EWMA-Gaussian, seasonal-EWMA and seasonal
    GARCH(1,1)-t baselines, scored exactly (`baseline_scores`; the seasonal ones fitted on this data's
    training part). The model's paths come from `sampler` with `steps` evaluations each (recorded in the result); `on_batch(done, total)`
    follows the sampling, window batch by window batch."""
    ends = data.ends["test"]
    pick = evenly_spaced(len(ends), max_windows)
    x, ends, scale = data.x["test"][pick], ends[pick], data.scale["test"][pick]
    y = data.y["test"][pick, -1] * scale
    samples = sample_forecasts(
        model,
        x,
        n_samples=n_samples,
        steps=steps,
        sampler=sampler,
        seed=seed,
        y_scale=scale * data.normalizer.spread,
        drift=data.normalizer.drift,
        levels=data.normalizer.levels,
        device=device,
        on_batch=on_batch,
    )[:, :, -1]
    out = {
        "windows": int(len(ends)),
        "horizon_bars": data.horizon,
        "samples": n_samples,
        "sampler": sampler,
        "steps": steps,
        "model": forecast_scores(samples, y),
    }
    out |= baseline_scores(data.close, data.ts, ends, data.horizon, y, train_last=int(data.ends["train"].max()))
    return out
