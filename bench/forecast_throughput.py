"""Forecasts/s and quality of the samplers, side by side in one run, on a trained default model.

    .venv/bin/python bench/forecast_throughput.py [--checkpoint /tmp/forexgpt-forecast-bench.pt] [--epochs 6]
        [--windows 512] [--threads 1] [--curve "ddim:10,20,50 dpmpp2m:4,5,6,8,10,20 unipc:4,5,6,8"]
        [--eval-windows 1000] [--epoch-batch 64] [--skip-epoch]

The model is the default one (`trainer.model_kwargs`: transformer denoiser, d=64, 2 layers, 4 heads,
context 64, horizon 12) trained on the training part of EURUSD_H1_2014-2024.csv with the
configuration hardware detection picks; it is saved to --checkpoint and reused when the file exists
(delete it to retrain). Then, with --threads torch threads:

- **old**: today's forecast path before this change - 20-step DDIM with the per-row time embedding,
  SDPA attention and all of a chunk's 25,600 paths solved at once (`legacy_ddim_sample` below is a
  frozen copy of it) - and **new**: `model.sample` with its defaults, both through the batches of
  256 windows that forecast sets use, alternating batch by batch, on the same --windows evenly
  spaced test windows with the same noise seed. Forecasts/s, and CRPS and q05-q95 coverage of the
  12-bar horizon-end return.
- the quality-vs-steps curve of each sampler on those windows (and its forecasts/s);
- end-of-training scoring (`evaluate_quality`, --eval-windows) with the default sampler vs one
  training epoch on the same data at the training runs' default batch size (--epoch-batch).

With --device cuda (on an NVIDIA machine; bench/gpu_forecast.sh runs it there) it measures instead, on
--windows test windows (bench/gpu_forecast.sh: 8,192, a whole number of calls at either size): the old 20-step DDIM path and the new
default sampler in fp32 and bf16 (autocast; the solver stays float32), each at 256 windows per call (a
forecast set's chunk) and at --gpu-batch windows per call, after a warm-up, synchronised; and the new
sampler with its denoiser compiled by torch.compile (mode reduce-overhead: CUDA graphs). Quality of
each against the old path on the same windows and noise.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from training.engine import DiffusionForecaster, build_config, build_forecaster, detect_hardware, forecast_scores  # noqa: E402
from training.engine.model import sample_forecasts  # noqa: E402
from training.engine.sampling import DEFAULT_SAMPLER, DEFAULT_STEPS  # noqa: E402
from training.engine.trainer import evaluate_quality, evenly_spaced, prepare_data, train  # noqa: E402

DATA = next(
    (
        p
        for p in (
            ROOT.parent / "shared" / "data" / "EURUSD_H1_2014-2024.csv",
            ROOT / ".gpu-data" / "EURUSD_H1_2014-2024.csv",
        )
        if p.exists()
    ),
    ROOT.parent / "shared" / "data" / "EURUSD_H1_2014-2024.csv",
)
CHUNK_WINDOWS = 256  # forecast sets sample 256 windows per call (FOREXGPT_FORECAST_CHUNK)


def legacy_ddim_sample(model: DiffusionForecaster, context, n_samples: int, *, steps: int = 20, generator=None):
    """Frozen copy of DiffusionForecaster.sample before the fast samplers: deterministic DDIM, the
    time embedding computed for every row, every path of the call solved at once. Run it with
    gradients enabled on a model whose parameters need none, so Attention takes the SDPA path it
    took then (nothing is recorded: no tensor requires grad)."""
    b = context.shape[0]
    cond = model.encoder(context).repeat_interleave(n_samples, dim=0)
    horizon = model.config["horizon"]
    x = torch.randn(b * n_samples, horizon, generator=generator, device="cpu").to(context.device, cond.dtype)
    schedule = torch.linspace(model.timesteps - 1, 0, steps).round().long().tolist()
    for i, t in enumerate(schedule):
        step = torch.full((x.shape[0],), t, device=x.device, dtype=torch.long)
        v = model._v(x, step, cond)
        a, s = model.alpha[t], model.sigma[t]
        x0 = a * x - s * v
        eps = s * x + a * v
        if i + 1 < len(schedule):
            nxt = schedule[i + 1]
            x = model.alpha[nxt] * x0 + model.sigma[nxt] * eps
        else:
            x = x0
    return x.view(b, n_samples, horizon)


def load_candles() -> pd.DataFrame:
    if not DATA.exists():
        sys.exit(f"{DATA} is absent: the benchmark needs ../shared/data")
    return pd.read_csv(DATA).rename(columns={"timestamp": "ts"})


def trained_model(data, path: Path, epochs: int, threads: int) -> tuple[DiffusionForecaster, dict]:
    if path.exists():
        state = torch.load(path, map_location="cpu", weights_only=True)
        model = build_forecaster(**state["model_config"])
        model.load_state_dict(state["state_dict"])
        return model.eval(), state["trained"]
    cfg = build_config(detect_hardware())
    started = time.perf_counter()
    module, trainer = train(data, cfg, epochs=epochs, batch_size=256, seed=0)
    trained = {
        "epochs": epochs,
        "batch_size": 256,
        "seconds": round(time.perf_counter() - started, 1),
        "steps": trainer.global_step,
        "threads": threads,
        "val_loss": float(trainer.callback_metrics["val_loss"]) if "val_loss" in trainer.callback_metrics else None,
    }
    model = module.forecaster.float().cpu().eval()
    torch.save({"state_dict": model.state_dict(), "model_config": model.config, "trained": trained}, path)
    return model, trained


def timed(fn):
    started = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - started


def old_and_new(model, x, *, n_samples: int, seed: int, y_scale: float) -> tuple[dict, dict]:
    """Paths and seconds of the old path (legacy 20-step DDIM) and the new default (`model.sample`),
    each fed 256-window batches in order from its own generator seeded with `seed`, as
    sample_forecasts does; the two alternate batch by batch so that other work on a shared machine
    slows both alike."""
    legacy = copy.deepcopy(model).requires_grad_(False)
    gens = {"old": torch.Generator().manual_seed(seed), "new": torch.Generator().manual_seed(seed)}
    paths, seconds = {"old": [], "new": []}, {"old": 0.0, "new": 0.0}
    for i in range(0, len(x), CHUNK_WINDOWS):
        ctx = torch.from_numpy(np.ascontiguousarray(x[i : i + CHUNK_WINDOWS]))
        with torch.enable_grad():
            out, sec = timed(lambda: legacy_ddim_sample(legacy, ctx, n_samples, steps=20, generator=gens["old"]))
        paths["old"].append(out.numpy())
        seconds["old"] += sec
        with torch.inference_mode():
            out, sec = timed(lambda: model.sample(ctx, n_samples, generator=gens["new"]))
        paths["new"].append(out.numpy())
        seconds["new"] += sec
    return {k: np.concatenate(v) * y_scale for k, v in paths.items()}, seconds


def scored(samples, y) -> dict:
    s = forecast_scores(samples[:, :, -1], y)
    return {"crps": s["crps"], "coverage_q05_q95": s["coverage_q05_q95"]}


def gpu_main(args, model, trained, x, y, y_scale) -> None:
    """Forecasts/s on the GPU: old vs new, fp32 vs bf16, small vs large calls; quality vs old."""
    dev = "cuda" if torch.cuda.is_available() else "cpu"  # cpu: a dry run of this code path only
    n = args.samples
    model = model.to(dev).eval()
    legacy = copy.deepcopy(model).requires_grad_(False)
    rows = []

    def sync():
        if dev == "cuda":
            torch.cuda.synchronize()

    def run(name, batch, fn):
        for _ in range(3):  # warm-up: kernels, allocator, compilation and CUDA-graph recording
            fn(x[:batch], torch.Generator().manual_seed(args.seed + 1))
        sync()
        gen = torch.Generator().manual_seed(args.seed)  # every variant solves the same noise
        gen_outs = []
        started = time.perf_counter()
        for i in range(0, len(x), batch):
            gen_outs.append(fn(x[i : i + batch], gen))
        sync()
        sec = time.perf_counter() - started
        out = np.concatenate([o.float().cpu().numpy() for o in gen_outs]) * y_scale
        rows.append(
            {
                "name": name,
                "windows_per_call": batch,
                "seconds": round(sec, 3),
                "forecasts_per_s": round(len(x) / sec, 1),
                **scored(out, y),
            }
        )
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)

    def old(ctx_np, gen):
        ctx = torch.from_numpy(np.ascontiguousarray(ctx_np)).to(dev)
        with torch.enable_grad():
            return legacy_ddim_sample(legacy, ctx, n, steps=20, generator=gen)

    def new(precision, m=model):
        def fn(ctx_np, gen):
            ctx = torch.from_numpy(np.ascontiguousarray(ctx_np)).to(dev)
            return m.sample(ctx, n, generator=gen, precision=precision)

        return fn

    for batch in (CHUNK_WINDOWS, args.gpu_batch):
        run("old ddim-20 fp32", batch, old)
        run(f"new {DEFAULT_SAMPLER}-{DEFAULT_STEPS} fp32", batch, new("fp32"))
        run(f"new {DEFAULT_SAMPLER}-{DEFAULT_STEPS} bf16", batch, new("bf16"))
    compiled = {}
    try:
        fast = copy.deepcopy(model)
        fast.denoiser = torch.compile(fast.denoiser, mode="reduce-overhead", dynamic=False)
        started = time.perf_counter()
        run(f"new {DEFAULT_SAMPLER}-{DEFAULT_STEPS} bf16 compiled", args.gpu_batch, new("bf16", fast))
        compiled = {"compile_and_run_seconds": round(time.perf_counter() - started, 1)}
    except Exception as exc:  # a compiler failure is a result, not a crash of the bench
        compiled = {"error": f"{type(exc).__name__}: {exc}"[:500]}
    base = {r["windows_per_call"]: r for r in rows if r["name"].startswith("old")}
    for r in rows:
        ref = base[r["windows_per_call"]] if r["windows_per_call"] in base else base[args.gpu_batch]
        r["speedup_vs_old_same_call_size"] = round(r["forecasts_per_s"] / ref["forecasts_per_s"], 2)
        r["crps_vs_old_pct"] = round(100 * (r["crps"] / ref["crps"] - 1), 3)
        r["coverage_vs_old_points"] = round(100 * (r["coverage_q05_q95"] - ref["coverage_q05_q95"]), 2)
    props = torch.cuda.get_device_properties(0) if dev == "cuda" else None
    print(
        json.dumps(
            {
                "device": f"{props.name}, {props.total_memory / 2**30:.0f} GiB, CC {props.major}.{props.minor}"
                if props
                else "cpu (dry run)",
                "torch": torch.__version__,
                "cuda": torch.version.cuda,
                "windows": int(len(x)),
                "samples": n,
                "model": model.config,
                "trained": trained,
                "rows": rows,
                "compiled": compiled,
            },
            indent=2,
        )
    )


def parse_curve(text: str) -> list[tuple[str, int]]:
    return [(name, int(k)) for part in text.split() for name, ks in [part.split(":")] for k in ks.split(",")]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--checkpoint", default="/tmp/forexgpt-forecast-bench.pt")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--windows", type=int, default=512)
    p.add_argument("--samples", type=int, default=100)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--curve", default="ddim:10,20,50 dpmpp2m:4,5,6,8,10,20 unipc:4,5,6,8")
    p.add_argument("--eval-windows", type=int, default=1000)
    p.add_argument("--epoch-batch", type=int, default=64)
    p.add_argument("--skip-epoch", action="store_true")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--gpu-batch", type=int, default=4096, help="windows per call in the GPU's large-call rows")
    args = p.parse_args()

    # the model of the recorded results: one global target scale (sampling speed does not depend on it)
    data = prepare_data(load_candles(), patch_len=64, horizon=12, scale_lambda=None)
    torch.set_num_threads(args.threads)
    model, trained = trained_model(data, Path(args.checkpoint), args.epochs, args.threads)
    torch.set_num_threads(args.threads)  # Lightning may have changed it
    ends = data.ends["test"]
    pick = evenly_spaced(len(ends), args.windows)
    x = data.x["test"][pick]
    y = data.y["test"][pick, -1] * data.normalizer.y_scale
    y_scale, n = data.normalizer.y_scale, args.samples
    if args.device == "cuda":
        return gpu_main(args, model, trained, x, y, y_scale)

    paths, seconds = old_and_new(model, x, n_samples=n, seed=args.seed, y_scale=y_scale)
    old_q, new_q = scored(paths["old"], y), scored(paths["new"], y)
    old_s, new_s = seconds["old"], seconds["new"]
    comparison = {
        "old": {
            "sampler": "ddim (legacy code path)",
            "steps": 20,
            "seconds": round(old_s, 2),
            "forecasts_per_s": round(len(x) / old_s, 2),
            **old_q,
        },
        "new": {
            "sampler": DEFAULT_SAMPLER,
            "steps": DEFAULT_STEPS,
            "seconds": round(new_s, 2),
            "forecasts_per_s": round(len(x) / new_s, 2),
            **new_q,
        },
        "speedup": round(old_s / new_s, 2),
        "crps_change_pct": round(100 * (new_q["crps"] / old_q["crps"] - 1), 3),
        "coverage_change_points": round(100 * (new_q["coverage_q05_q95"] - old_q["coverage_q05_q95"]), 2),
    }
    print(json.dumps({"comparison": comparison}), file=sys.stderr, flush=True)

    curve = []
    for sampler, steps in parse_curve(args.curve):
        out, sec = timed(
            lambda: sample_forecasts(
                model, x, n_samples=n, seed=args.seed, y_scale=y_scale, steps=steps, sampler=sampler
            )
        )
        q = scored(out, y)
        curve.append(
            {
                "sampler": sampler,
                "steps": steps,
                **{k: round(v, 8) for k, v in q.items()},
                "crps_vs_old_pct": round(100 * (q["crps"] / old_q["crps"] - 1), 3),
                "coverage_vs_old_points": round(100 * (q["coverage_q05_q95"] - old_q["coverage_q05_q95"]), 2),
                "forecasts_per_s": round(len(x) / sec, 2),
            }
        )
        print(json.dumps(curve[-1]), file=sys.stderr, flush=True)

    scoring = {}
    if args.eval_windows:
        _, eval_s = timed(lambda: evaluate_quality(model, data, seed=args.seed, max_windows=args.eval_windows))
        scoring = {"eval_windows": args.eval_windows, "evaluate_quality_seconds": round(eval_s, 1)}
    if args.eval_windows and not args.skip_epoch:
        cfg = build_config(detect_hardware())
        _, epoch_s = timed(lambda: train(data, cfg, epochs=1, batch_size=args.epoch_batch, seed=1))
        torch.set_num_threads(args.threads)
        scoring |= {
            "one_epoch_seconds": round(epoch_s, 1),
            "epoch_batch_size": args.epoch_batch,
            "scoring_over_epoch": round(eval_s / epoch_s, 3),
        }

    print(
        json.dumps(
            {
                "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs (shared with other work)",
                "torch": torch.__version__,
                "threads": torch.get_num_threads(),
                "windows": int(len(x)),
                "samples": n,
                "horizon_bars": data.horizon,
                "model": model.config,
                "trained": trained,
                "comparison": comparison,
                "curve": curve,
                "scoring": scoring,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
