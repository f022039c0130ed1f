"""The forecast-quality protocol: the default model against four baselines on EURUSD H1, the same way
every time, the ablations that decide the default, and the model on pairs it was never trained on.

    .venv/bin/python bench/forecast_quality.py [--variants default,no_vol_channels] [--epochs 6] [--batch 256]
        [--windows 5000] [--samples 100] [--seed 0] [--threads 2] [--out bench/results/forecast-quality-cpu.json]
        [--pairs EURUSD,AUDUSD,USDCAD | --data FILE,FILE] [--pair-windows 1000] [--pair-adapt none,stats,stats_spread]
        [--train-end 2020-12-26]

`--pairs` (names of files in ../shared/data, `PAIR_H1_*.csv`) or `--data` (CSV paths, the same
columns): leave-one-pair-out. Each variant is still trained on EURUSD alone; each listed series other
than the training file is then scored on its own test part (its own chronological split, at most
`--pair-windows` windows, default `--windows`) with the EURUSD model as its forecasts of that series
are made - the EURUSD normalizer, calendar, spread and drift, nothing refitted - against the four
baselines fitted on that series' own training part. EURUSD itself, when listed, is the variant's own row.
`--pair-adapt` adds rows per other series with the network unchanged: `stats` refits the input channels'
mean / spread and the volatility calendar on that series' own training part (its bars in the units the
network was trained in), `stats_spread` also fits the spread and drift again on its own validation part;
`robust` and `robust_spread` do the same with statistics a one-bar shock cannot set
(`training.engine.transfer.refit_statistics`: what the platform does when a model forecasts another series).
Those rows use each pair's own 70/15/15 split, whose test part may fall on dates the EURUSD network was
trained on (the 2012-2020 files' test parts are in 2019-2020); `platform` does exactly what the platform
does - statistics on the pair's bars of the model's training dates, spread and drift on its validation
dates - and scores the pair's windows of the model's test dates, where the network saw no bar of any pair.
`--train-end DATE` trains on EURUSD's bars before DATE only (its own 70/15/15 split within them): with
2020-12-26 the model's test dates (2019-12 to 2020-12) fall where the 2012-2020 pairs have bars, so
`platform` gives a clean test on every pair, not on AUDJPY alone.

The epochs and the batch default to the platform's own (`TrainingRequest`): the default model is the
one a training run started with the defaults gives. Fixed: the data (EURUSD_H1_2014-2024.csv), the
chronological split (70 / 15 / 15 with gaps, as
training runs use), the test windows (`--windows` evenly spaced over the test part; 5,000 of its
9,700), 100 samples per forecast, the seeds (training and sampling), the sampler (the default, DPM-Solver++(2M) with 6 steps). Scored: CRPS of the 12-bar cumulative return at
the horizon end, and q05-q95 coverage, for the model (the fair CRPS of its 100 independent paths, an
unbiased estimate of its distribution's CRPS) and, on the same windows, scored exactly from their
distributions (no sampling noise), the random walk (the empirical distribution of the past 2,000
12-bar returns), the EWMA Gaussian (lambda 0.94, closed form) and the seasonal EWMA (EWMA of returns
divided by their hour-of-week factor from the training part, times the factors of the horizon's own
hours; closed form) and the seasonal GARCH(1,1)-t (GARCH(1,1) with Student-t innovations fitted with
`arch` on the training part's returns divided by their hour-of-week spread, filtered forward with
those parameters, its horizon variance re-scaled by the horizon's own hours; a Student-t of matched
kurtosis, closed form: `training.engine.garch`). Each variant is trained from scratch with the hardware's
configuration and reported with its training time; ratios are model / baseline (below 1 is better).

Variants (the ablation; each training configuration is trained once and shared by the variants that
differ only after training; each is the default with one change): `default` (one network, as
`TrainingRequest.members` says; targets in units of the calendar-aware EWMA's spread with lambda 0.995 -
the calendar of the hour of the week, with the first week of the month apart - that EWMA's level and each
bar's return against it as two input channels, the spread factor and the drift fitted on the validation
part, and the levels its bands are read at: `forecast.fit_levels`), `no_levels` (the same model's bands
read at its samples' own levels, the default before), `one_calendar` (the hour of the week alone, the default before), `ensemble2` (an ensemble of 2
networks trained side by side), `garch_scale` (targets in units of the seasonal GARCH(1,1)-t's spread, the
default's calendar, instead of the EWMA's), `range_channel` (an input channel more: the slow EWMA's spread
of each bar's Garman-Klass range variance, `features.OPTIONAL_CHANNELS`), `daily_context` (five input channels
more: the last 5 and 20 trading days' return and range, `features.DAILY_CHANNELS`), `context128` (a context of 128 bars), `no_vol_channels` (without the two volatility channels), `no_drift` (the
same model keeping its whole median, the default before), `fast_scale` (lambda 0.94), `no_spread` (neither
spread nor drift fitted), `ewma_scale` (the plain EWMA's spread), `global_scale` (one global target
scale, with the fitted spread and drift), `global_no_spread` (the model before any of these).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import pandas as pd
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from emit import emit  # noqa: E402  (bench/, the script's folder)

from training.engine import build_config, detect_hardware, make_features  # noqa: E402
from training.engine.features import DAILY_CHANNELS, VOL_CHANNELS, Split, chronological_split  # noqa: E402
from training.engine.forecast import strongest_baseline  # noqa: E402
from training.engine.periods import periods_of  # noqa: E402
from training.engine.trainer import TARGET_SCALE_LAMBDA, evaluate_quality, fit_spread, prepare_data, train  # noqa: E402
from training.engine.transfer import adapt_to_series, refit_statistics, split_by_dates, windows_needed  # noqa: E402
from training.request import TrainingRequest  # noqa: E402

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
VARIANTS = {  # the training data each variant needs, and whether it fits the spread on the validation part
    "default": {
        "scale_lambda": TARGET_SCALE_LAMBDA,
        "seasonal": True,
        "spread": True,
        "change": "targets in units of the calendar-aware EWMA's spread (lambda 0.995; hour of the week, the first week of the month apart), its level and each bar's return against it as inputs; spread, drift and band levels fitted on validation (the default)",
    },
    "no_levels": {
        "scale_lambda": TARGET_SCALE_LAMBDA,
        "seasonal": True,
        "spread": True,
        "levels": False,
        "change": "the default model with its bands read at its samples' own levels (no quantile recalibration; the default before)",
    },
    "one_calendar": {
        "scale_lambda": TARGET_SCALE_LAMBDA,
        "seasonal": True,
        "spread": True,
        "month_week": False,
        "change": "the calendar of the target scale without the first week of the month apart (the default before)",
    },
    "ensemble2": {
        "scale_lambda": TARGET_SCALE_LAMBDA,
        "seasonal": True,
        "spread": True,
        "members": 2,
        "change": "an ensemble of 2 networks trained side by side, sampled as one mixture (members 2)",
    },
    "context128": {
        "scale_lambda": TARGET_SCALE_LAMBDA,
        "seasonal": True,
        "spread": True,
        "patch_len": 128,
        "change": "a context of 128 bars instead of 64 (its test windows start where 128 bars of context exist)",
    },
    "garch_scale": {
        "scale_lambda": TARGET_SCALE_LAMBDA,
        "seasonal": True,
        "spread": True,
        "scale_model": "garch",
        "change": "targets in units of the seasonal GARCH(1,1)-t's spread (fitted on the training part, the default's calendar) instead of the EWMA's",
    },
    "range_channel": {
        "scale_lambda": TARGET_SCALE_LAMBDA,
        "seasonal": True,
        "spread": True,
        "extra_channels": ("log_sigma_range",),
        "change": "the default plus an input channel: the log spread of the slow EWMA (lambda 0.995) of each bar's Garman-Klass range variance",
    },
    "daily_context": {
        "scale_lambda": TARGET_SCALE_LAMBDA,
        "seasonal": True,
        "spread": True,
        "extra_channels": DAILY_CHANNELS,
        "change": "the default plus a daily context: the last 5 and 20 trading days' return and high-low range in units of the slow spread, and the 20 days' volatility against it (features.DAILY_CHANNELS)",
    },
    "no_vol_channels": {
        "scale_lambda": TARGET_SCALE_LAMBDA,
        "seasonal": True,
        "spread": True,
        "vol_channels": False,
        "change": "the default without the volatility channels (log_sigma, ret_z): the default before",
    },
    "no_drift": {
        "scale_lambda": TARGET_SCALE_LAMBDA,
        "seasonal": True,
        "spread": True,
        "drift": False,
        "change": "the default model keeping its whole median (drift 1; the default before); spread fitted",
    },
    "fast_scale": {
        "scale_lambda": 0.94,
        "seasonal": True,
        "spread": True,
        "change": "targets in units of a fast calendar-aware EWMA (lambda 0.94); spread and drift fitted",
    },
    "no_spread": {
        "scale_lambda": TARGET_SCALE_LAMBDA,
        "seasonal": True,
        "spread": False,
        "change": "the default model without the fitted spread and drift",
    },
    "ewma_scale": {
        "scale_lambda": TARGET_SCALE_LAMBDA,
        "seasonal": False,
        "spread": True,
        "change": "targets in units of the plain EWMA's spread (no calendar); spread and drift fitted",
    },
    "global_scale": {
        "scale_lambda": None,
        "seasonal": False,
        "spread": True,
        "change": "one global target scale (the model before); spread and drift fitted",
    },
    "global_no_spread": {
        "scale_lambda": None,
        "seasonal": False,
        "spread": False,
        "vol_channels": False,
        "change": "the model before, as it was: global scale, no fitted spread",
    },
}
ABLATION = "default,one_calendar,ensemble2,no_vol_channels,no_drift,fast_scale,no_spread,ewma_scale,global_scale,global_no_spread"
PAIR_ADAPT = ("none", "stats", "stats_spread", "robust", "robust_spread", "platform")  # --pair-adapt
BASELINES = ("random_walk", "ewma_gaussian", "seasonal_ewma", "seasonal_garch_t")
_trained: dict = {}  # (scale_lambda, seasonal, month_week, vol_channels, members, patch_len, scale_model, extra channels) -> (data, module, trainer, train seconds): shared by variants


def run_variant(name: str, candles: pd.DataFrame, args) -> dict:
    spec = VARIANTS[name]
    vol = spec.get("vol_channels", True)
    members = spec.get("members", TrainingRequest.members)
    month_week = spec.get("month_week", True)
    patch_len = spec.get("patch_len", 64)
    scale_model = spec.get("scale_model", "ewma")
    extra = spec.get("extra_channels", ())
    key = (spec["scale_lambda"], spec["seasonal"], month_week, vol, members, patch_len, scale_model, extra)
    cfg = build_config(detect_hardware())
    if key not in _trained:
        channels = (
            None
            if vol and not extra
            else [c for c in make_features(candles)[1] if vol or c not in VOL_CHANNELS] + list(extra)
        )
        data = prepare_data(
            candles,
            patch_len=patch_len,
            horizon=12,
            scale_lambda=spec["scale_lambda"],
            seasonal=spec["seasonal"],
            month_week=month_week,
            channels=channels,
            scale_model=scale_model,
        )
        started = time.perf_counter()
        module, trainer = train(data, cfg, epochs=args.epochs, batch_size=args.batch, seed=args.seed, members=members)
        _trained[key] = (data, module, trainer, time.perf_counter() - started)
    data, module, trainer, train_s = _trained[key]
    torch.set_num_threads(args.threads)  # Lightning may have changed it
    device = "cuda" if cfg.accelerator == "gpu" and torch.cuda.is_available() else "cpu"
    model = module.forecaster.float().to(device)
    started = time.perf_counter()
    data.normalizer.spread, data.normalizer.drift, data.normalizer.levels = 1.0, 1.0, None
    fitted = (
        fit_spread(
            model,
            data,
            seed=args.seed,
            n_samples=args.samples,
            device=device,
            levels=spec.get("levels", True),
            **({} if spec.get("drift", True) else {"drifts": (1.0,)}),
        )
        if spec["spread"]
        else {"spread": 1.0, "drift": 1.0, "band_levels": None, "val_coverage_q05_q95": None}
    )
    quality = evaluate_quality(
        model, data, seed=args.seed, n_samples=args.samples, max_windows=args.windows, device=device
    )
    eval_s = time.perf_counter() - started
    row = {
        "variant": name,
        "change": spec["change"],
        "context_bars": patch_len,
        "epochs": args.epochs,
        "batch": args.batch,
        "members": members,
        "train_seconds": round(train_s, 1),
        "eval_seconds": round(eval_s, 1),
        "steps": trainer.global_step,
        "spread": fitted["spread"],
        "drift": fitted["drift"],
        "band_levels": fitted["band_levels"],
        "val_coverage_q05_q95": fitted["val_coverage_q05_q95"],  # before and after the band levels
        "windows": quality["windows"],
        "samples": quality["samples"],
        "sampler": f"{quality['sampler']}-{quality['steps']}",
        **quality_row(quality),
        "device": device,
    }
    print(json.dumps(row), file=sys.stderr, flush=True)
    pairs = []
    for path in args.series:
        if path.resolve() == DATA.resolve():
            pairs.append(
                {
                    "pair": pair_name(path),
                    "file": path.name,
                    "trained_on": True,
                    "windows": quality["windows"],
                    **quality_row(quality),
                }
            )
            continue
        candles_other = read_candles(path)
        for adapt in args.pair_adapt:
            started = time.perf_counter()
            if adapt == "platform":
                pairs.append(platform_row(model, data, candles, candles_other, path, args, device, spec))
                print(json.dumps(pairs[-1]), file=sys.stderr, flush=True)
                continue
            norm = (
                data.normalizer
                if adapt == "none"
                else refit_statistics(
                    data.normalizer,
                    candles_other,
                    data.channels,
                    int(chronological_split(len(candles_other), patch_len, 12).train.max()),
                    robust=adapt.startswith("robust"),
                )
            )
            other = prepare_data(
                candles_other, patch_len=patch_len, horizon=12, channels=data.channels, normalizer=norm
            )
            if adapt.endswith("_spread"):
                fit_spread(
                    model, other, seed=args.seed, n_samples=args.samples, device=device, levels=spec.get("levels", True)
                )
            scored = evaluate_quality(
                model, other, seed=args.seed, n_samples=args.samples, max_windows=args.pair_windows, device=device
            )
            pairs.append(
                {
                    "pair": pair_name(path),
                    "file": path.name,
                    "trained_on": False,
                    "adapt": adapt,
                    "spread": other.normalizer.spread,
                    "drift": other.normalizer.drift,
                    "windows": scored["windows"],
                    "eval_seconds": round(time.perf_counter() - started, 1),
                    **quality_row(scored),
                }
            )
            print(json.dumps(pairs[-1]), file=sys.stderr, flush=True)
    return row | ({"pairs": pairs} if pairs else {})


def platform_row(
    model, data, own_candles: pd.DataFrame, candles: pd.DataFrame, path: Path, args, device: str, spec: dict
) -> dict:
    """Another pair exactly as the platform forecasts it (`--pair-adapt platform`): its statistics fitted on
    its bars of the EURUSD model's training dates and its spread and drift on its windows of the model's
    validation dates (`transfer.adapt_to_series`, the forecast set's own code), scored on its windows of
    the model's test dates - dates on which the network saw no bar of any pair - beside the model on its own
    pair's windows of the same dates (`trained_pair_on_these_dates`: what the period gives where the model
    was trained). A pair with too few bars on those dates (the platform refuses it) is recorded with its counts."""
    started = time.perf_counter()
    periods = periods_of(data)
    split = split_by_dates(candles["ts"], periods, data.patch_len, data.horizon, parts=("train", "val", "test"))
    stamps = pd.DatetimeIndex(pd.to_datetime(candles["ts"], utc=True))
    test = split.test
    counts = {"train": len(split.train), "val": len(split.val), "test": len(test)}
    row = {
        "pair": pair_name(path),
        "file": path.name,
        "trained_on": False,
        "adapt": "platform",
        "windows_on_the_models_dates": counts,
    }
    needed = windows_needed(periods)
    if any(counts[part] < needed[part] for part in needed) or counts["test"] < 100:
        return row | {"refused": f"too few windows on the model's dates (needed: {needed}, and 100 test windows)"}
    norm, fitted = adapt_to_series(
        model,
        data.normalizer,
        candles,
        channels=data.channels,
        patch_len=data.patch_len,
        horizon=data.horizon,
        split=split,
        seed=args.seed,
        n_samples=args.samples,
        device=device,
        levels=spec.get("levels", True),
    )
    other = prepare_data(
        candles, patch_len=data.patch_len, horizon=data.horizon, channels=data.channels, normalizer=norm, split=split
    )
    scored = evaluate_quality(
        model, other, seed=args.seed, n_samples=args.samples, max_windows=args.pair_windows, device=device
    )
    # The same dates on the model's own pair: what the period gives the model where it was trained.
    own_stamps = pd.DatetimeIndex(pd.to_datetime(data.ts, utc=True))
    own_test = data.ends["test"][
        (own_stamps[data.ends["test"]] >= stamps[test[0]]) & (own_stamps[data.ends["test"]] <= stamps[test[-1]])
    ]
    own = prepare_data(
        own_candles,
        patch_len=data.patch_len,
        horizon=data.horizon,
        channels=data.channels,
        normalizer=data.normalizer,
        split=Split(data.ends["train"], data.ends["val"], own_test),
    )
    reference = evaluate_quality(
        model, own, seed=args.seed, n_samples=args.samples, max_windows=args.pair_windows, device=device
    )
    return row | {
        "spread": norm.spread,
        "drift": norm.drift,
        "band_levels": fitted["band_levels"],
        "val_coverage_q05_q95": fitted["val_coverage_q05_q95"],
        "windows": scored["windows"],
        "test_dates": [str(stamps[test[0]]), str(stamps[test[-1]])],
        "eval_seconds": round(time.perf_counter() - started, 1),
        **quality_row(scored),
        "trained_pair_on_these_dates": {
            "pair": pair_name(DATA),
            "windows": reference["windows"],
            **quality_row(reference),
        },
    }


def quality_row(quality: dict) -> dict:
    """The model's CRPS and coverage, its ratio to each baseline, the baselines' own, and which is strongest."""
    scores = quality["model"]
    best, _ = strongest_baseline({b: quality[b]["crps"] for b in BASELINES})
    return {
        "crps": scores["crps"],
        "coverage_q05_q95": scores["coverage_q05_q95"],
        "ratio": {b: scores["crps"] / quality[b]["crps"] for b in BASELINES},
        "strongest_baseline": best,
        "baselines": {
            b: {"crps": quality[b]["crps"], "coverage_q05_q95": quality[b]["coverage_q05_q95"]} for b in BASELINES
        },
        "garch_params": quality["seasonal_garch_t"]["params"],
    }


def read_candles(path: Path) -> pd.DataFrame:
    return pd.read_csv(path).rename(columns={"timestamp": "ts"})


def train_default(seed: int, threads: int) -> tuple:
    """(data, module, trainer): the default model trained on EURUSD as a training run started with the pages'
    defaults trains it, for the benchmarks that study that model (forecast_combination.py, band_levels.py)."""
    if not DATA.exists():
        sys.exit(f"{DATA} is absent: the benchmark needs ../shared/data")
    data = prepare_data(read_candles(DATA), patch_len=64, horizon=12)
    module, trainer = train(
        data,
        build_config(detect_hardware()),
        epochs=TrainingRequest.epochs,
        batch_size=TrainingRequest.batch_size,
        seed=seed,
        members=TrainingRequest.members,
    )
    torch.set_num_threads(threads)  # Lightning may have changed it
    return data, module, trainer


def pair_name(path: Path) -> str:
    return path.name.split("_")[0]


def pair_path(pair: str) -> Path:
    """The H1 file of `pair` in ../shared/data (EURUSD: the training file); exits naming what is missing."""
    found = [DATA] if pair == pair_name(DATA) else sorted(DATA.parent.glob(f"{pair}_H1_*.csv"))
    if not found:
        sys.exit(f"no {pair}_H1_*.csv in {DATA.parent}")
    return found[0]


def series_paths(args) -> list[Path]:
    """The files `--pairs` names (PAIR_H1_*.csv in ../shared/data; EURUSD is the training file) or `--data` lists."""
    if args.data:
        paths = [Path(p) for p in args.data.split(",")]
    elif args.pairs:
        paths = [pair_path(pair) for pair in args.pairs.upper().split(",")]
    else:
        return []
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        sys.exit(f"absent: {', '.join(missing)}")
    return paths


def main():
    p = argparse.ArgumentParser()
    p.add_argument(
        "--variants", default=None, help="default: the whole ablation; with --pairs or --data, the default alone"
    )
    p.add_argument("--epochs", type=int, default=TrainingRequest.epochs)  # the platform's defaults: "the default model"
    p.add_argument("--batch", type=int, default=TrainingRequest.batch_size)
    p.add_argument("--windows", type=int, default=5000)
    p.add_argument("--samples", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=None)
    p.add_argument("--pairs", default=None, help="leave-one-pair-out: pairs to score the EURUSD-trained model on")
    p.add_argument("--data", default=None, help="leave-one-pair-out: CSV files to score the EURUSD-trained model on")
    p.add_argument(
        "--pair-windows", type=int, default=None, help="test windows per pair other than EURUSD (default --windows)"
    )
    p.add_argument(
        "--pair-adapt",
        default="none",
        help="how each other pair is scored, comma-separated: none (the EURUSD normalizer, as the model's "
        "forecasts are made), stats (input mean / spread and calendar refitted on the pair's training part), "
        "stats_spread (stats, and the spread and drift fitted again on the pair's validation part), robust and "
        "robust_spread (the same with statistics robust to a shock: transfer.refit_statistics)",
    )
    p.add_argument(
        "--train-end",
        default=None,
        help="train (and split) on EURUSD's bars before this date only, e.g. 2020-12-26: with --pair-adapt "
        "platform, the 2012-2020 pairs then have bars on the model's test dates (a clean test on each)",
    )
    args = p.parse_args()
    args.pair_adapt = args.pair_adapt.split(",")
    if unknown := set(args.pair_adapt) - set(PAIR_ADAPT):
        sys.exit(f"--pair-adapt: unknown {', '.join(sorted(unknown))} ({', '.join(PAIR_ADAPT)})")
    if not DATA.exists():
        sys.exit(f"{DATA} is absent: the benchmark needs ../shared/data")
    args.series = series_paths(args)
    args.pair_windows = args.pair_windows or args.windows
    args.variants = args.variants or ("default" if args.series else ABLATION)
    torch.set_num_threads(args.threads)
    candles = read_candles(DATA)
    if args.train_end:
        candles = candles[pd.to_datetime(candles["ts"], utc=True) < pd.Timestamp(args.train_end, tz="UTC")]
        candles = candles.reset_index(drop=True)
    started = time.perf_counter()
    rows = [run_variant(name, candles, args) for name in args.variants.split(",")]
    hw = detect_hardware()
    result = {
        "protocol": {
            "data": DATA.name,
            **({"train_end": args.train_end, "bars": len(candles)} if args.train_end else {}),
            "split": "chronological 70/15/15 with gaps",
            "windows": args.windows,
            **(
                {
                    "pairs": [p.name for p in args.series],
                    "pair_windows": args.pair_windows,
                    "pair_adapt": args.pair_adapt,
                }
                if args.series
                else {}
            ),
            "samples": args.samples,
            "seed": args.seed,
            "horizon_bars": 12,
            "context_bars": "64 unless the variant says",
            "baselines": "scored exactly from their distributions",
        },
        "hardware": ", ".join(g.name for g in hw.gpus)
        or f"CPU, {os.cpu_count()} cores ({platform.processor() or platform.machine()})",
        "torch": torch.__version__,
        "threads": args.threads,
        "wall_seconds": round(time.perf_counter() - started, 1),
        "variants": rows,
    }
    emit(result, args.out)


if __name__ == "__main__":
    main()
