"""Training on several pairs at once, scored on pairs the network never saw (an experiment of issue #25;
the platform trains on one series).

    OMP_NUM_THREADS=1 .venv/bin/python bench/forecast_pool.py --pool EURUSD,AUDUSD,USDCAD,EURGBP \
        --held USDCHF,NZDUSD,EURCHF,AUDJPY [--seed 0] [--threads 1] [--out bench/results/forecast-pool-cpu.json]

Each pair of the pool is prepared as the protocol prepares EURUSD (`bench/forecast_quality.py`: its own
chronological 70/15/15 split, its own normalizer - input mean / spread, volatility calendar and target unit -
fitted on its own training part) and the windows of all of them are shuffled together. The network is the
default one trained for the default's number of steps (6 epochs of at most 176 batches of 256: as many steps
as the default takes on EURUSD alone, so the comparison is at equal training time); spread and drift are
fitted on 2,000 (twice `--windows`) evenly spaced windows of the pooled validation part. Every pair, held out or pooled, is then
scored on its own test part (1,000 evenly spaced windows) in its own normalizer's units against the four
baselines fitted on its own training part, as the protocol scores pairs.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import forecast_quality as fq  # noqa: E402  (bench/, the script's folder)
from emit import emit  # noqa: E402

from training.engine import build_config, detect_hardware  # noqa: E402
from training.engine.features import chronological_split  # noqa: E402
from training.engine.trainer import TrainingData, evaluate_quality, fit_spread, prepare_data, train  # noqa: E402
from training.request import TrainingRequest  # noqa: E402


def default_steps_per_epoch() -> int:
    """The default's batches per epoch on the protocol's EURUSD file (its training windows / the batch size,
    the last partial batch dropped as training drops it): 45,297 / 256 = 176 on EURUSD H1 2014-2024."""
    n_train = len(chronological_split(len(fq.read_candles(fq.DATA)), 64, 12).train)
    return n_train // TrainingRequest.batch_size


def pooled(parts: dict[str, TrainingData]) -> TrainingData:
    """The training and validation windows of every pair as one set (each already in its own units)."""
    first = next(iter(parts.values()))

    def cat(attr: str, part: str) -> np.ndarray:
        return np.concatenate([getattr(d, attr)[part] for d in parts.values()])

    return TrainingData(
        x={k: cat("x", k) for k in ("train", "val")},
        y={k: cat("y", k) for k in ("train", "val")},
        ends={k: cat("ends", k) for k in ("train", "val")},
        normalizer=copy.deepcopy(first.normalizer),
        channels=first.channels,
        patch_len=first.patch_len,
        horizon=first.horizon,
        scale={k: cat("scale", k) for k in ("train", "val")},
    )


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--pool", required=True, help="pairs trained on, e.g. EURUSD,AUDUSD,USDCAD,EURGBP")
    p.add_argument("--held", required=True, help="pairs scored and never trained on")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--epochs", type=int, default=TrainingRequest.epochs)
    p.add_argument("--windows", type=int, default=1000, help="test windows per pair")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    pool, held = args.pool.upper().split(","), args.held.upper().split(",")
    torch.set_num_threads(args.threads)
    parts = {pair: prepare_data(fq.read_candles(fq.pair_path(pair)), patch_len=64, horizon=12) for pair in pool}
    data = pooled(parts)
    started = time.perf_counter()
    module, trainer = train(
        data,
        build_config(detect_hardware()),
        epochs=args.epochs,
        batch_size=TrainingRequest.batch_size,
        seed=args.seed,
        limit_train_batches=default_steps_per_epoch(),
    )
    train_s = time.perf_counter() - started
    torch.set_num_threads(args.threads)  # Lightning may have changed it
    model = module.forecaster.float()
    fitted = fit_spread(model, data, seed=args.seed, n_samples=100, max_windows=2 * args.windows)
    rows = []
    for pair in held + pool:
        d = parts.get(pair) or prepare_data(fq.read_candles(fq.pair_path(pair)), patch_len=64, horizon=12)
        d.normalizer.spread, d.normalizer.drift, d.normalizer.levels = (
            fitted["spread"],
            fitted["drift"],
            data.normalizer.levels,
        )
        scored = evaluate_quality(model, d, seed=args.seed, n_samples=100, max_windows=args.windows)
        rows.append({"pair": pair, "held_out": pair in held, "windows": scored["windows"], **fq.quality_row(scored)})
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    emit(
        {
            "pool": pool,
            "held_out": held,
            "seed": args.seed,
            "threads": args.threads,
            "train_windows": {pair: len(d.x["train"]) for pair, d in parts.items()},
            "steps": trainer.global_step,
            "train_seconds": round(train_s, 1),
            "spread": fitted["spread"],
            "drift": fitted["drift"],
            "pairs": rows,
        },
        args.out,
    )


if __name__ == "__main__":
    main()
