"""Does the model gain from the strongest baseline? Forecast combination with the seasonal GARCH(1,1)-t,
chosen on the validation part, scored once on the test part.

    OMP_NUM_THREADS=1 .venv/bin/python bench/forecast_combination.py [--pairs AUDUSD,NZDUSD,USDCAD]
        [--platform-pairs AUDJPY] [--windows 5000] [--pair-windows 1000] [--seed 0] [--threads 1] [--out FILE]

The default model is trained on EURUSD as `forecast_quality.py` trains it (the platform's defaults). On
each series its raw paths (spread 1, drift 1) are sampled once on validation windows (1,000, as
`fit_spread` takes) and test windows, beside the seasonal GARCH(1,1)-t of that series (fitted on its
training part, the fourth baseline's own model). Two combinations, each with the spread and drift grids
of `fit_spread`, are chosen on validation and scored on test:
- `unit_blend`: each window's paths times (GARCH horizon spread / the model's own target unit)^w, w in
  W: the unit the model's output is read in moved part of the way towards the GARCH's (a per-window
  scale known before sampling, so the platform could apply it without changing paths' shape);
- `pool`: the linear pool (1 - p) model + p GARCH-t, p in P, whose CRPS is exact: for the mixture,
  E|X - y| - 1/2 E|X - X'| splits into the parts' terms and the cross term E|x_i - T|, which the t gives
  in closed form (`student_t_crps(x) + 1/2 E|T - T'|`).
`default` is the grid with w = p = 0 (what the platform does). Series: EURUSD (trained on; the protocol's
5,000 test windows), `--pairs` on their own 70/15/15 split with the clipped statistics refitted on their
training part (`robust_spread`'s statistics), `--platform-pairs` as the platform forecasts them (statistics on
the model's training dates, scored on the model's test dates: `transfer.split_by_dates`). Ratios are
CRPS / each baseline's exact CRPS on the same test windows.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from emit import emit  # noqa: E402  (bench/, the script's folder)
from forecast_quality import DATA, pair_name, pair_path, read_candles, train_default  # noqa: E402  (bench/)

from training.engine.features import chronological_split  # noqa: E402
from training.engine.forecast import _pair_sum, baseline_scores, shrink_drift  # noqa: E402
from training.engine.garch import SeasonalGarchT, horizon_t, student_t_crps, t_half_spread  # noqa: E402
from training.engine.model import sample_forecasts  # noqa: E402
from training.engine.periods import periods_of  # noqa: E402
from training.engine.trainer import DRIFTS, SPREADS, evenly_spaced, prepare_data  # noqa: E402
from training.engine.transfer import refit_statistics, split_by_dates  # noqa: E402

W = (0.0, 0.25, 0.5, 0.75, 1.0)  # unit_blend's exponents
P = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)  # pool's GARCH-t weights
BASELINES = ("random_walk", "ewma_gaussian", "seasonal_ewma", "seasonal_garch_t")


def pool_crps(sorted_paths: np.ndarray, y: np.ndarray, scale: np.ndarray, nu: np.ndarray, p: float) -> np.ndarray:
    """Per window, the CRPS of (1 - p) x the paths' distribution (fair: X != X') + p x the Student-t."""
    n = sorted_paths.shape[1]
    a_model = np.abs(sorted_paths - y[:, None]).mean(axis=1)
    b_model = 2 * _pair_sum(sorted_paths) / (n * (n - 1))
    if p == 0:
        return a_model - 0.5 * b_model
    c = t_half_spread(scale, nu)
    a_t = student_t_crps(y, scale, nu) + c
    cross = (student_t_crps(sorted_paths, scale[:, None], nu[:, None]) + c[:, None]).mean(axis=1)
    return (1 - p) * a_model + p * a_t - 0.5 * ((1 - p) ** 2 * b_model + p**2 * 2 * c + 2 * p * (1 - p) * cross)


def pool_coverage(sorted_paths: np.ndarray, y: np.ndarray, scale: np.ndarray, nu: np.ndarray, p: float) -> float:
    """q05-q95 coverage: of the paths' quantiles as the protocol takes them (np.quantile) where p is 0, else of
    the pool's, found by bisection on its CDF."""
    from scipy import stats

    if p == 0:
        lo, hi = np.quantile(sorted_paths, [0.05, 0.95], axis=1)
        return float(((y >= lo) & (y <= hi)).mean())

    bounds = []
    for q in (0.05, 0.95):
        lo = -np.maximum(np.abs(sorted_paths).max(axis=1), 20 * scale)
        hi = -lo
        for _ in range(60):
            mid = (lo + hi) / 2
            cdf = (1 - p) * (sorted_paths <= mid[:, None]).mean(axis=1) + p * stats.t.cdf(mid / scale, nu)
            lo, hi = np.where(cdf < q, mid, lo), np.where(cdf < q, hi, mid)
        bounds.append(hi)
    return float(((y >= bounds[0]) & (y <= bounds[1])).mean())


def sampled(model, data, garch: SeasonalGarchT, part: str, windows: int, seed: int) -> dict:
    """Raw paths' horizon-end returns (spread 1, drift 1), outcomes, the model's unit and the GARCH-t."""
    ends = data.ends[part]
    pick = evenly_spaced(len(ends), windows)
    ends, unit = ends[pick], data.scale[part][pick]
    variances = garch.step_variances(data.close, data.ts, ends, data.horizon)
    t_scale, nu = horizon_t(variances, garch.nu_)
    paths = sample_forecasts(model, data.x[part][pick], n_samples=100, seed=seed, y_scale=unit)[:, :, -1]
    return {
        "ends": ends,
        "paths": paths,
        "y": data.y[part][pick, -1] * unit,
        "unit": unit,
        "garch_spread": np.sqrt(variances.sum(axis=1)),
        "t_scale": t_scale,
        "nu": nu,
    }


def combined(s: dict, drift: float, spread: float, w: float) -> np.ndarray:
    factor = spread * (s["garch_spread"] / s["unit"]) ** w
    return np.sort(shrink_drift(s["paths"][:, :, None], drift)[:, :, 0] * factor[:, None], axis=1)


def series_row(model, data, name: str, args, test_windows: int) -> dict:
    started = time.perf_counter()
    train_last = int(data.ends["train"].max())
    garch = SeasonalGarchT().fit(data.close, data.ts, train_last)  # the fourth baseline's own model
    val = sampled(model, data, garch, "val", 1000, args.seed + 1)  # fit_spread's windows and seed
    test = sampled(model, data, garch, "test", test_windows, args.seed)  # evaluate_quality's
    baselines = baseline_scores(data.close, data.ts, test["ends"], data.horizon, test["y"], train_last=train_last)
    grids = {
        "default": [(d, k, 0.0, 0.0) for d in DRIFTS for k in SPREADS],
        "unit_blend": [(d, k, w, 0.0) for d in DRIFTS for k in SPREADS for w in W],
        "pool": [(d, k, 0.0, p) for d in DRIFTS for k in SPREADS for p in P],
    }
    val_crps: dict = {}
    row = {"series": name, "windows": {"val": len(val["y"]), "test": len(test["y"])}}
    for method, grid in grids.items():
        for key in grid:
            if key not in val_crps:
                d, k, w, p = key
                val_crps[key] = float(pool_crps(combined(val, d, k, w), val["y"], val["t_scale"], val["nu"], p).mean())
        d, k, w, p = min(grid, key=val_crps.get)
        paths = combined(test, d, k, w)
        crps = float(pool_crps(paths, test["y"], test["t_scale"], test["nu"], p).mean())
        row[method] = {
            "drift": d,
            "spread": k,
            "w": w,
            "p": p,
            "val_crps": val_crps[(d, k, w, p)],
            "crps": crps,
            "coverage_q05_q95": pool_coverage(paths, test["y"], test["t_scale"], test["nu"], p),
            "ratio": {b: crps / baselines[b]["crps"] for b in BASELINES},
        }
        print(name, method, row[method], file=sys.stderr, flush=True)
    row["baselines"] = {b: {"crps": baselines[b]["crps"]} for b in BASELINES}
    row["seconds"] = round(time.perf_counter() - started, 1)
    return row


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--pairs", default="AUDUSD,NZDUSD,USDCAD", help="own split, clipped statistics refitted")
    p.add_argument("--platform-pairs", default="AUDJPY", help="as the platform forecasts them, on the model's dates")
    p.add_argument("--windows", type=int, default=5000)
    p.add_argument("--pair-windows", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=None)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    data, module, trainer = train_default(args.seed, args.threads)
    train_s = time.perf_counter() - started
    model = module.forecaster.float()
    rows = [series_row(model, data, f"{pair_name(DATA)} (trained on)", args, args.windows)]
    periods = periods_of(data)
    for pairs, own_split in ((args.pairs, True), (args.platform_pairs, False)):
        for pair in filter(None, pairs.upper().replace("/", "").split(",")):
            candles = read_candles(pair_path(pair))
            split = (
                chronological_split(len(candles), data.patch_len, data.horizon)
                if own_split
                else split_by_dates(
                    candles["ts"], periods, data.patch_len, data.horizon, parts=("train", "val", "test")
                )
            )
            norm = refit_statistics(data.normalizer, candles, data.channels, int(split.train.max()), robust=True)
            other = prepare_data(
                candles,
                patch_len=data.patch_len,
                horizon=data.horizon,
                channels=data.channels,
                normalizer=norm,
                split=split,
            )
            name = f"{pair} (own split)" if own_split else f"{pair} (the model's dates)"
            rows.append(series_row(model, other, name, args, args.pair_windows))
    emit(
        {
            "protocol": {
                "model": "the default, trained on EURUSD (TrainingRequest's defaults)",
                "chosen_on": "1,000 validation windows",
                "unit_blend_w": list(W),
                "pool_p": list(P),
                "seed": args.seed,
            },
            "train_seconds": round(train_s, 1),
            "steps": trainer.global_step,
            "series": rows,
            "wall_seconds": round(time.perf_counter() - started, 1),
        },
        args.out,
    )


if __name__ == "__main__":
    main()
