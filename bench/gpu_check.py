"""GPU measurements that have no management command of their own (run by bench/gpu_check.sh).

    python bench/gpu_check.py attention OUT.json   flash-attn (if installed) and torch's SDPA kernels vs the math reference
    python bench/gpu_check.py loader OUT.json      DALI (if installed) vs DataLoader vs GPU-resident batches: samples/s
    python bench/gpu_check.py forecast OUT.json    forecasts/s of the newest registered version, GPU vs CPU (needs Django)
    python bench/gpu_check.py merge DIR OUT.json   every part's JSON in DIR into one file

Each part writes JSON and never raises for a missing library: the reason is recorded instead.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _device() -> str:
    """cuda; the CPU only so that a dry run on a machine without a GPU exercises the same code."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _timed_ms(fn, *, warmup: int = 5, iters: int = 20) -> float:
    """Mean milliseconds of fn(), after warm-up, synchronized."""
    for _ in range(warmup):
        fn()
    _sync()
    started = time.perf_counter()
    for _ in range(iters):
        fn()
    _sync()
    return (time.perf_counter() - started) / iters * 1000


def attention() -> dict:
    """Same q, k, v: each kernel's output and input gradients against fp32 math attention, and the
    time of a forward + backward. Shapes: the model's own (heads 4 x 16, 64 bars) and a larger one."""
    import torch
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel

    from training.engine.model import flash_attention_fn

    flash = flash_attention_fn()
    out = {"flash_attn": {"installed": flash is not None}}
    if flash is None:
        try:
            import flash_attn  # noqa: F401
        except Exception as exc:
            out["flash_attn"]["reason"] = f"{type(exc).__name__}: {exc}"[:300]
    dev = _device()
    shapes = {
        "model (batch 1024, 4 heads x 16, 64 bars)": (1024, 64, 4, 16),
        "larger (batch 64, 16 heads x 64, 1024 bars)": (64, 1024, 16, 64),
    }
    if dev == "cpu":
        shapes = {"dry run (batch 8, 4 heads x 16, 64 bars)": (8, 64, 4, 16)}
    backends = {
        "sdpa_flash": SDPBackend.FLASH_ATTENTION,
        "sdpa_efficient": SDPBackend.EFFICIENT_ATTENTION,
        "sdpa_cudnn": SDPBackend.CUDNN_ATTENTION,
        "sdpa_math": SDPBackend.MATH,
    }
    rows = []
    for label, (b, t, h, d) in shapes.items():
        torch.manual_seed(0)
        qkv32 = torch.randn(b, t, 3, h, d, device=dev)
        grad32 = torch.randn(b, t, h, d, device=dev)

        def reference():
            x = qkv32.clone().requires_grad_(True)
            q, k, v = x.permute(2, 0, 3, 1, 4)
            with sdpa_kernel(SDPBackend.MATH):
                y = F.scaled_dot_product_attention(q, k, v).transpose(1, 2)
            y.backward(grad32)
            return y.detach(), x.grad

        ref_y, ref_g = reference()
        for dtype in (torch.bfloat16, torch.float16):
            kernels = {name: backend for name, backend in backends.items()}
            if flash is not None:
                kernels = {"flash_attn": None, **kernels}
            for name, backend in kernels.items():
                row = {"shape": label, "dtype": str(dtype).replace("torch.", ""), "kernel": name}
                qkv = qkv32.to(dtype)
                grad = grad32.to(dtype)

                def step():
                    x = qkv.clone().requires_grad_(True)
                    if name == "flash_attn":
                        y = flash(x)
                    else:
                        q, k, v = x.permute(2, 0, 3, 1, 4)
                        with sdpa_kernel(backend):
                            y = F.scaled_dot_product_attention(q, k, v).transpose(1, 2)
                    y.backward(grad)
                    return y, x.grad

                try:
                    y, g = step()
                    row["max_abs_diff_out"] = float((y.detach().float() - ref_y).abs().max())
                    row["max_abs_diff_grad"] = float((g.float() - ref_g).abs().max())
                    row["fwd_bwd_ms"] = _timed_ms(step)
                except Exception as exc:  # a kernel that does not support this shape/dtype/GPU
                    row["error"] = f"{type(exc).__name__}: {exc}"[:300]
                rows.append(row)
    out["rows"] = rows
    out["note"] = "differences are against fp32 math attention on the same inputs"
    return out


def loader() -> dict:
    """Samples/s of the loader alone over EURUSD-sized windows (45,000 x 64 x 9 float32): the
    DataLoader the trainer uses, DALI when installed, and batches cut from a GPU-resident tensor."""
    import numpy as np
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    rng = np.random.default_rng(0)
    dev = _device()
    m = 45_000 if dev == "cuda" else 4_000
    x = rng.standard_normal((m, 64, 9), dtype=np.float32)
    y = rng.standard_normal((m, 12), dtype=np.float32)
    batch = int(os.environ.get("GPU_CHECK_LOADER_BATCH", "1024"))
    out = {"windows": len(x), "batch_size": batch, "rows": []}

    def timed(name, make_iter, epochs: int = 2):
        try:
            n = 0
            for ctx, tgt in make_iter():  # warm: first epoch starts workers / builds pipelines
                ctx, tgt = ctx.to(dev, non_blocking=True), tgt.to(dev, non_blocking=True)
            _sync()
            started = time.perf_counter()
            for _ in range(epochs):
                for ctx, tgt in make_iter():
                    ctx, tgt = ctx.to(dev, non_blocking=True), tgt.to(dev, non_blocking=True)
                    n += len(ctx)
            _sync()
            out["rows"].append({"loader": name, "samples_per_s": n / (time.perf_counter() - started)})
        except Exception as exc:
            out["rows"].append({"loader": name, "error": f"{type(exc).__name__}: {exc}"[:300]})

    ds = TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    for workers in (0, 4):
        dl = DataLoader(
            ds,
            batch_size=batch,
            shuffle=True,
            pin_memory=dev == "cuda",
            num_workers=workers,
            persistent_workers=workers > 0,
        )
        timed(f"DataLoader(TensorDataset) pinned, {workers} workers", lambda dl=dl: dl)
    gx, gy = torch.from_numpy(x).to(dev), torch.from_numpy(y).to(dev)

    def resident():
        order = torch.randperm(len(gx), device=dev)
        return ((gx[order[i : i + batch]], gy[order[i : i + batch]]) for i in range(0, len(gx), batch))

    timed("GPU-resident tensors, shuffled index", resident)
    try:
        from training.engine._dali import dali_loader

        batches = dali_loader(x, y, batch, shuffle=True)  # one pipeline; each pass is an epoch
        timed("dali", lambda: batches)
    except Exception as exc:
        out["rows"].append({"loader": "dali", "error": f"{type(exc).__name__}: {exc}"[:300]})
    return out


def forecast() -> dict:
    """Forecasts per second of the newest registered version on the GPU (and the CPU, on fewer
    windows, for scale): 100 samples, horizon 12, 20 DDIM steps, the same windows."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "forexgpt_site.settings")
    import django

    django.setup()
    import numpy as np
    import torch

    from forecasts.services import load_forecaster
    from marketdata.selectors import candles_frame
    from registry.models import ModelVersion
    from training.engine import make_features, windows
    from training.engine.model import sample_forecasts

    version = ModelVersion.objects.order_by("-created_at").first()
    if version is None:
        return {"error": "no registered version (the training step did not register one)"}
    model, norm, config = load_forecaster(version)
    candles = candles_frame(symbol="EURUSD", timeframe="1h")
    feats, _ = make_features(candles)
    dev = _device()
    n = 8192 if dev == "cuda" else 256
    ends = np.arange(len(candles) - n, len(candles))
    x = windows(norm.transform(feats), ends, config["patch_len"])
    out = {"version": version.ref, "samples": 100, "horizon": config["horizon"], "ddim_steps": 20, "rows": []}

    def run(device, n, batch):
        sample_forecasts(model, x[:batch], n_samples=100, steps=20, device=device, batch=batch)  # warm-up
        _sync()
        started = time.perf_counter()
        sample_forecasts(model, x[:n], n_samples=100, steps=20, device=device, batch=batch)
        _sync()
        seconds = time.perf_counter() - started
        out["rows"].append(
            {
                "device": device,
                "windows": n,
                "windows_per_batch": batch,
                "seconds": seconds,
                "forecasts_per_s": n / seconds,
            }
        )

    if dev == "cuda":
        for batch in (256, 2048, 8192):
            run("cuda", n, batch)
    torch.set_num_threads(os.cpu_count() or 1)
    run("cpu", min(n, 512), 256)
    out["cpu_threads"] = torch.get_num_threads()
    return out


def merge(folder: Path) -> dict:
    merged = {}
    for path in sorted(folder.glob("*.json")):
        try:
            merged[path.stem] = json.loads(path.read_text())
        except ValueError:
            merged[path.stem] = {"error": f"not JSON: {path.read_text()[-500:]}"}
    return merged


def main(argv: list[str]) -> None:
    part, target = argv[1], Path(argv[-1])
    if part == "merge":
        result = merge(Path(argv[2]))
    else:
        started = time.perf_counter()
        try:
            result = {"attention": attention, "loader": loader, "forecast": forecast}[part]()
        except Exception as exc:
            import traceback

            result = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-3000:]}
        result["wall_s"] = time.perf_counter() - started
    target.write_text(json.dumps(result, indent=2, default=str))
    print(f"{part}: wrote {target}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv)
