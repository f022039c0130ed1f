"""Measured speedups: a few dozen real training steps per configuration on this machine - the fp32
eager baseline, each optimization alone, all of the chosen ones together. No assumed factors."""

from __future__ import annotations

import contextlib
import copy
import resource
import time

import numpy as np
import torch

from .model import build_forecaster
from .optimization import OptimizationConfig


def _configs(chosen: OptimizationConfig, *, cuda: bool = False) -> list[tuple[str, dict]]:
    """(name, overrides) from the fp32 eager baseline (batches gathered on the host and copied, as a
    DataLoader does); each optimization the chosen config turns on, alone; then all. On CUDA also
    torch.compile with CUDA graphs (mode reduce-overhead), alone and on top of all, for comparison."""
    base = {
        "precision": "32-true",
        "compile": False,
        "compile_mode": "default",
        "optimizer": "adamw",
        "flash_attention": False,
        "gradient_checkpointing": False,
        "resident": False,
    }
    candidates = []
    if chosen.precision != "32-true":
        candidates.append((chosen.precision, {"precision": chosen.precision}))
    if chosen.compile:
        candidates.append(("torch.compile", {"compile": True}))
    if chosen.optimizer != "adamw":
        candidates.append((chosen.optimizer, {"optimizer": chosen.optimizer}))
    if chosen.flash_attention:
        candidates.append(("flash-attn", {"flash_attention": True}))
    if chosen.gradient_checkpointing:
        candidates.append(("gradient checkpointing", {"gradient_checkpointing": True}))
    if chosen.loader == "resident":
        candidates.append(("GPU-resident data", {"resident": True}))
    rows = [("fp32 eager (baseline)", base)] + [(name, {**base, **o}) for name, o in candidates]
    together = {**base, **{k: v for _, o in candidates for k, v in o.items()}}
    if len(candidates) > 1:
        rows.append(("all chosen together", together))
    if cuda:
        graphs = {"compile": True, "compile_mode": "reduce-overhead"}
        rows.append(("torch.compile + CUDA graphs", {**base, **graphs}))
        rows.append(("all chosen + CUDA graphs", {**together, **graphs}))
    return rows


def _autocast(device: str, precision: str):
    if precision == "bf16-mixed":
        return torch.autocast(device_type=device, dtype=torch.bfloat16)
    if precision == "16-mixed":
        return torch.autocast(device_type=device, dtype=torch.float16)
    return contextlib.nullcontext()


def measure(
    model_kwargs: dict,
    x: np.ndarray,
    y: np.ndarray,
    overrides: dict,
    *,
    device: str,
    batch_size: int,
    warmup: int = 5,
    steps: int = 30,
    seed: int = 0,
) -> dict:
    torch.manual_seed(seed)
    kwargs = {
        **model_kwargs,
        "use_flash": overrides["flash_attention"],
        "grad_checkpoint": overrides["gradient_checkpointing"],
    }
    model = build_forecaster(**kwargs).to(device)
    if overrides["compile"]:
        torch._dynamo.reset()  # each row compiles its own model from scratch, never hitting the recompile limit
    mode = None if overrides["compile_mode"] == "default" else overrides["compile_mode"]
    loss_fn = torch.compile(model.loss, mode=mode) if overrides["compile"] else model.loss  # compile what a step runs
    if overrides["optimizer"] == "apex_fused_adam":
        from apex.optimizers import FusedAdam

        opt = FusedAdam(model.parameters(), lr=1e-3, adam_w_mode=True)
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=overrides["optimizer"] == "adamw_fused")
    scaler = torch.amp.GradScaler(device, enabled=overrides["precision"] == "16-mixed")
    rng = np.random.default_rng(seed)
    cuda = device == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    if overrides["resident"]:  # the windows on the device once; batches indexed there
        gx, gy = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)

        def batch():
            idx = torch.randint(0, len(gx), (batch_size,), device=device)
            return gx[idx], gy[idx]
    else:

        def batch():
            idx = rng.integers(0, len(x), batch_size)
            return torch.from_numpy(x[idx]).to(device, non_blocking=True), torch.from_numpy(y[idx]).to(
                device, non_blocking=True
            )

    def step():
        ctx, tgt = batch()
        opt.zero_grad(set_to_none=True)
        with _autocast(device, overrides["precision"]):
            loss = loss_fn(ctx, tgt)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    for _ in range(warmup):  # includes compilation and cuDNN autotuning
        step()
    if cuda:
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    if cuda:
        torch.cuda.synchronize()
    step_s = (time.perf_counter() - started) / steps
    peak = (torch.cuda.max_memory_allocated() / 2**20) if cuda else None
    return {
        "step_ms": step_s * 1000,
        "samples_per_s": batch_size / step_s,
        "peak_gpu_memory_mb": peak,
        "process_rss_growth_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024,
    }


def estimate_speedup(
    model_kwargs: dict,
    x: np.ndarray,
    y: np.ndarray,
    chosen: OptimizationConfig,
    *,
    batch_size: int,
    epochs: int,
    warmup: int = 5,
    steps: int = 30,
) -> list[dict]:
    """A table: per configuration, step time, samples/s, peak memory, projected epoch and run time,
    and speedup against the fp32 eager baseline - all measured here, now."""
    device = "cuda" if chosen.accelerator == "gpu" and torch.cuda.is_available() else "cpu"
    if device == "cuda":
        torch.backends.cudnn.benchmark = chosen.cudnn_benchmark
    steps_per_epoch = max(1, len(x) // batch_size) / max(1, chosen.devices * chosen.num_nodes)
    rows = []
    for name, overrides in _configs(copy.deepcopy(chosen), cuda=device == "cuda"):
        try:
            m = measure(model_kwargs, x, y, overrides, device=device, batch_size=batch_size, warmup=warmup, steps=steps)
        except Exception as exc:  # an optimization that does not run here is reported, not hidden
            rows.append({"config": name, "error": f"{type(exc).__name__}: {exc}"[:300]})
            continue
        epoch_s = m["step_ms"] / 1000 * steps_per_epoch
        rows.append({"config": name, **m, "epoch_s": epoch_s, "run_s": epoch_s * epochs})
    base = next((r for r in rows if "step_ms" in r), None)
    for r in rows:
        if "step_ms" in r and base:
            r["speedup"] = base["step_ms"] / r["step_ms"]
    return rows
