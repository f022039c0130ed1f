"""Forecast quality of the diffusion forecaster on EURUSD_H1_2014-2024.csv against the baselines.

    .venv/bin/python bench/forecast_quality.py [--epochs 8] [--batch 256] [--windows 1000] [--denoiser transformer]

Trains the default model (context 64 bars, horizon 12, d=64, 2 layers) on the chronological
training part on this machine's hardware, then scores horizon-end forecasts (100 samples, 20 DDIM
steps) on up to --windows evenly spaced test windows, with the random walk (empirical past horizon
returns) and the EWMA Gaussian (lambda 0.94) scored on the same windows with the same sample count.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from training.engine import build_config, detect_hardware  # noqa: E402
from training.engine.trainer import ProgressReporter, evaluate_quality, prepare_data, train  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "EURUSD_H1_2014-2024.csv"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--windows", type=int, default=1000)
    p.add_argument("--denoiser", default="transformer")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    if not DATA.exists():
        sys.exit(f"{DATA} is absent: the benchmark needs ../shared/data")
    candles = pd.read_csv(DATA).rename(columns={"timestamp": "ts"})
    data = prepare_data(candles)
    hw = detect_hardware()
    cfg = build_config(hw, denoiser=args.denoiser)
    reporter = ProgressReporter(lambda **k: None, batch_size=args.batch)
    started = time.perf_counter()
    module, _ = train(data, cfg, epochs=args.epochs, batch_size=args.batch, callbacks=[reporter], seed=args.seed, denoiser=args.denoiser)
    train_s = time.perf_counter() - started
    started = time.perf_counter()
    quality = evaluate_quality(module.forecaster.float().cpu(), data, seed=args.seed, max_windows=args.windows)
    device = ", ".join(g.name for g in hw.gpus) or f"CPU ({hw.cpu_cores} cores)"
    print(json.dumps({"device": device, "windows_train_val_test": {k: len(v) for k, v in data.ends.items()},
                      "epochs": args.epochs, "batch": args.batch, "train_seconds": round(train_s), "history": reporter.history,
                      "eval_seconds": round(time.perf_counter() - started), "quality": quality}, indent=2))


if __name__ == "__main__":
    main()
