"""Statistics that judge a parameter search: the deflated Sharpe ratio of the chosen set, the
probability of backtest overfitting (CSCV) and Hansen's SPA test of the best set against a benchmark.

Every function takes plain arrays: `R` is (T periods, N parameter sets) of per-period simple
returns of each tried set on one calendar. Results are dicts of plain Python values (JSON-ready).
"""

from __future__ import annotations

import math
import operator
from itertools import combinations

import numpy as np
from numpy.typing import ArrayLike

PBO_METRICS = ("sharpe", "mean")
MAX_PBO_BLOCKS = 20  # C(20, 10) = 184,756 combinations take ~4 s at T=2,600, N=1,000; C(22, 11) about 4 times that
_CHUNK_CELLS = 50_000  # combinations x strategies scored at once by the PBO: small enough to stay in cache
_FLAT_VARIANCE = 1e-12  # a variance below this share of the mean square is rounding: the returns are constant


def _int(value, name: str, minimum: int) -> int:
    try:
        number = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an integer, not {value!r}") from None
    if isinstance(value, bool) or number < minimum:
        raise ValueError(f"{name} must be an integer of at least {minimum}, not {value!r}")
    return number


def _returns_matrix(R: ArrayLike) -> np.ndarray:
    R = np.asarray(R, dtype=float)
    if R.ndim != 2:
        raise ValueError(f"the returns matrix must be 2-D (periods x parameter sets), not {R.ndim}-D")
    if not np.isfinite(R).all():
        raise ValueError("the returns matrix holds NaN or infinite values")
    return R


# -- deflated Sharpe ratio (Bailey & Lopez de Prado 2014) ------------------------------------------


def _expected_max_sharpe(n_trials: int, sharpe_variance: float) -> float:
    """E[max SR] of `n_trials` independent unskilled trials whose Sharpe ratios vary by `sharpe_variance`."""
    if n_trials == 1:
        return 0.0
    from scipy import stats  # a second to import: loaded when a search is judged, as arch is (_spa.py)

    gamma, inv = np.euler_gamma, stats.norm.ppf
    quantile = (1 - gamma) * inv(1 - 1 / n_trials) + gamma * inv(1 - 1 / (n_trials * math.e))
    return float(math.sqrt(sharpe_variance) * quantile)


def sharpe_variance_of(R: ArrayLike) -> float:
    """Variance (ddof=1) across the columns of `R` of their per-period Sharpe ratios (mean / std,
    ddof=1), leaving out columns whose returns are all equal (no Sharpe ratio). ValueError when fewer
    than two columns have one, or when `R` has fewer than 2 rows."""
    R = _returns_matrix(R)
    if R.shape[0] < 2:
        raise ValueError(f"a Sharpe ratio needs at least 2 periods, not {R.shape[0]}")
    varying = ~(R == R[0]).all(axis=0)
    if varying.sum() < 2:
        raise ValueError(f"the Sharpe variance needs at least 2 columns whose returns vary, not {int(varying.sum())}")
    kept = R[:, varying]
    return float(np.var(kept.mean(axis=0) / kept.std(axis=0, ddof=1), ddof=1))


def deflated_sharpe_ratio(
    returns: ArrayLike, *, n_trials: int, sharpe_variance: float, periods_per_year: float | None = None
) -> dict:
    """The deflated Sharpe ratio of one set's per-period returns, chosen as the best of `n_trials`
    tries whose per-period Sharpe ratios vary across tries by `sharpe_variance` (see `sharpe_variance_of`).

    dsr = Phi((SR - SR0) sqrt(T - 1) / sqrt(1 - g3 SR + (g4 - 1)/4 SR^2)), SR = mean / std (ddof=1)
    per period, g3 / g4 the sample skewness / (non-excess) kurtosis, SR0 the expected maximum Sharpe
    of `n_trials` unskilled tries (0 for one try). psr is the same with SR0 = 0.

    Returns {dsr, psr, sharpe, sharpe_annual, expected_max_sharpe, n_trials, sharpe_variance, skew,
    kurtosis, n_obs, reason}; Sharpe ratios are per period, sharpe_annual is SR sqrt(periods_per_year)
    (None without it). When the returns are all equal (no Sharpe ratio), or the moments make the
    standard error vanish, dsr, psr and the statistics that cannot be computed are None and `reason`
    says why; otherwise `reason` is None. ValueError for fewer than 3 returns, non-finite returns,
    n_trials below 1, a negative or non-finite sharpe_variance or a non-positive periods_per_year.
    """
    r = np.asarray(returns, dtype=float)
    if r.ndim != 1:
        raise ValueError(f"the chosen set's returns must be 1-D, not {r.ndim}-D")
    if r.size < 3:
        raise ValueError(f"the deflated Sharpe ratio needs at least 3 returns, not {r.size}")
    if not np.isfinite(r).all():
        raise ValueError("the chosen set's returns hold NaN or infinite values")
    n_trials = _int(n_trials, "n_trials", 1)
    sharpe_variance = float(sharpe_variance)
    if not (math.isfinite(sharpe_variance) and sharpe_variance >= 0):
        raise ValueError(f"sharpe_variance must be finite and at least 0, not {sharpe_variance!r}")
    if periods_per_year is not None and not periods_per_year > 0:
        raise ValueError(f"periods_per_year must be positive, not {periods_per_year!r}")
    out = {
        "dsr": None,
        "psr": None,
        "sharpe": None,
        "sharpe_annual": None,
        "expected_max_sharpe": _expected_max_sharpe(n_trials, sharpe_variance),
        "n_trials": n_trials,
        "sharpe_variance": sharpe_variance,
        "skew": None,
        "kurtosis": None,
        "n_obs": int(r.size),
        "reason": None,
    }
    if (r == r[0]).all():
        return out | {"reason": "the chosen set's returns are all equal: it has no Sharpe ratio"}
    from scipy import stats

    sr = float(r.mean() / r.std(ddof=1))
    skew, kurtosis = float(stats.skew(r)), float(stats.kurtosis(r, fisher=False))
    out |= {
        "sharpe": sr,
        "skew": skew,
        "kurtosis": kurtosis,
        "sharpe_annual": None if periods_per_year is None else sr * math.sqrt(periods_per_year),
    }
    spread = 1 - skew * sr + (kurtosis - 1) / 4 * sr**2
    if not spread > 0:
        return out | {"reason": "the returns' skewness and kurtosis leave the Sharpe ratio no standard error"}
    scale = math.sqrt((r.size - 1) / spread)
    return out | {
        "dsr": float(stats.norm.cdf((sr - out["expected_max_sharpe"]) * scale)),
        "psr": float(stats.norm.cdf(sr * scale)),
    }


# -- probability of backtest overfitting (Bailey, Borwein, Lopez de Prado & Zhu 2017) --------------


def _scores_from_sums(metric: str, total: np.ndarray, squares: np.ndarray, n: np.ndarray) -> np.ndarray:
    mean = total / n
    if metric == "mean":
        return mean
    var = (squares - total * mean) / (n - 1)
    flat = var <= _FLAT_VARIANCE * squares / n
    with np.errstate(divide="ignore", invalid="ignore"):
        sharpe = mean / np.sqrt(np.where(flat, 1.0, var))
    # constant returns: no trading scores 0 (neither good nor bad), a constant gain or loss +-inf
    return np.where(flat, np.where(mean == 0, 0.0, np.copysign(np.inf, mean)), sharpe)


def _scores_from_callable(metric, R: np.ndarray, rows: np.ndarray) -> np.ndarray:
    scores = np.asarray(metric(R[rows]), dtype=float)
    if scores.shape != (R.shape[1],):
        raise ValueError(f"the PBO metric must return one score per column ({R.shape[1]}), not shape {scores.shape}")
    return np.where(np.isnan(scores), -np.inf, scores)


def probability_of_backtest_overfitting(R: ArrayLike, *, blocks: int = 16, metric=None) -> dict:
    """PBO by combinatorially symmetric cross-validation over the columns of `R`.

    The T rows are cut into `blocks` contiguous blocks (sizes as numpy.array_split: the first T % blocks
    one row longer). For each of the C(blocks, blocks/2) choices of half the blocks as in-sample (in
    itertools.combinations order), the column best in-sample (lowest index on ties) is ranked
    out-of-sample among all N columns (ranks 1..N, N best, ties averaged): w = rank / (N + 1),
    logit = ln(w / (1 - w)). pbo is the share of logits <= 0.

    `metric` scores each column on a subset of rows: None or "sharpe" (mean / std, ddof=1; a column
    whose returns there are all 0 scores 0, all equal to c != 0 scores +-inf by the sign of c),
    "mean", or a callable taking the (rows, N) sub-matrix and returning N scores (NaN scores as
    -inf), called twice per combination. The named metrics are computed from per-block sums.

    Returns {pbo, logits, n_combinations, blocks, n_strategies, n_periods, metric, degradation};
    degradation is {slope, intercept} of the least-squares line of out-of-sample on in-sample score of
    each combination's in-sample best, and prob_oos_loss, the share of combinations where it scores
    below 0 out-of-sample (slope and intercept None when the finite in-sample scores do not vary).
    ValueError for an odd `blocks`, one below 2 or above MAX_PBO_BLOCKS, fewer rows than blocks (or
    halves under 2 rows), fewer than 2 columns, non-finite returns or an unknown metric.
    """
    R = _returns_matrix(R)
    T, N = R.shape
    blocks = _int(blocks, "blocks", 2)
    if blocks % 2:
        raise ValueError(f"blocks must be even (half in-sample, half out-of-sample), not {blocks}")
    if blocks > MAX_PBO_BLOCKS:
        raise ValueError(
            f"blocks must be at most {MAX_PBO_BLOCKS} ({math.comb(MAX_PBO_BLOCKS, MAX_PBO_BLOCKS // 2):,} "
            f"combinations), not {blocks}"
        )
    if T < blocks:
        raise ValueError(f"{T} periods cannot be cut into {blocks} blocks")
    if N < 2:
        raise ValueError(f"the PBO compares parameter sets: it needs at least 2 columns, not {N}")
    if metric is None:
        metric = "sharpe"
    if not callable(metric) and metric not in PBO_METRICS:
        raise ValueError(f"unknown PBO metric {metric!r}: use one of {PBO_METRICS} or a callable")
    sizes = np.array([len(part) for part in np.array_split(np.arange(T), blocks)])
    if sizes[blocks // 2 :].sum() < 2:
        raise ValueError(f"{T} periods in {blocks} blocks leave halves under 2 periods")
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    in_sample = np.zeros((math.comb(blocks, blocks // 2), blocks))
    for c, chosen in enumerate(combinations(range(blocks), blocks // 2)):
        in_sample[c, list(chosen)] = 1.0
    if callable(metric):
        block_of_row = np.repeat(np.arange(blocks), sizes)
    else:
        block_sums, block_squares = np.add.reduceat(R, starts, axis=0), np.add.reduceat(R * R, starts, axis=0)
    logits, is_best, oos_best = [], [], []
    step = max(1, _CHUNK_CELLS // N)
    for lo in range(0, len(in_sample), step):
        chunk = in_sample[lo : lo + step]
        if callable(metric):
            masks = chunk[:, block_of_row].astype(bool)
            is_score = np.stack([_scores_from_callable(metric, R, m) for m in masks])
            oos_score = np.stack([_scores_from_callable(metric, R, ~m) for m in masks])
        else:
            # each half summed from its own blocks (not total - in-sample): a half where a set never
            # trades then sums to exactly 0
            out = 1.0 - chunk
            is_score = _scores_from_sums(metric, chunk @ block_sums, chunk @ block_squares, (chunk @ sizes)[:, None])
            oos_score = _scores_from_sums(metric, out @ block_sums, out @ block_squares, (out @ sizes)[:, None])
        best = np.argmax(is_score, axis=1)
        rows = np.arange(len(chunk))
        best_oos = oos_score[rows, best][:, None]
        rank = (oos_score < best_oos).sum(axis=1) + ((oos_score == best_oos).sum(axis=1) + 1) / 2
        w = rank / (N + 1)
        logits.append(np.log(w / (1 - w)))
        is_best.append(is_score[rows, best])
        oos_best.append(best_oos[:, 0])
    logits, is_best, oos_best = np.concatenate(logits), np.concatenate(is_best), np.concatenate(oos_best)
    return {
        "pbo": float(np.mean(logits <= 0)),
        "logits": logits.tolist(),
        "n_combinations": int(len(logits)),
        "blocks": blocks,
        "n_strategies": int(N),
        "n_periods": int(T),
        "metric": metric if isinstance(metric, str) else getattr(metric, "__name__", "callable"),
        "degradation": _degradation(is_best, oos_best),
    }


def _degradation(is_best: np.ndarray, oos_best: np.ndarray) -> dict:
    finite = np.isfinite(is_best) & np.isfinite(oos_best)
    x, y = is_best[finite], oos_best[finite]
    line = {"slope": None, "intercept": None}
    if len(x) >= 2 and np.ptp(x) > 0:
        slope, intercept = np.polyfit(x, y, 1)
        line = {"slope": float(slope), "intercept": float(intercept)}
    return line | {"prob_oos_loss": float(np.mean(oos_best < 0))}


# -- Hansen's SPA test (arch) -----------------------------------------------------------------------


def spa_test(
    R: ArrayLike,
    *,
    benchmark: ArrayLike | None = None,
    chosen: int | None = None,
    reps: int = 1000,
    block_size: int | None = None,
    seed: int | None = 0,
) -> dict:
    """Hansen's (2005) test of superior predictive ability: does the best column of `R` beat
    `benchmark` (per-period returns, default 0: not trading) beyond what trying all N explains?
    Runs arch.bootstrap.SPA on losses = -returns with a stationary bootstrap of `reps` draws and
    mean block length `block_size` (default arch's int(sqrt(T))), seeded by `seed` so results repeat.

    Columns equal to the benchmark in every period (a set that never trades, by default) are left out
    of the test: they cannot beat it, and arch would count their exact tie as a win; when every
    column is, the p-values are 1.

    Returns {p_values {lower, consistent, upper}, reality_check_p, best, chosen, reps, block_size,
    seed, n_strategies, n_periods, n_same_as_benchmark}. best is the column with the highest mean
    excess return (the one the statistic is about); chosen echoes `chosen`, or is best when None;
    n_same_as_benchmark counts the columns left out. arch's SPA statistic is the un-studentized
    maximum mean loss differential, so its `upper` p-value (every model re-centred) is White's (2000)
    reality check, what arch.bootstrap.RealityCheck returns: reality_check_p is it, not a second
    bootstrap. ValueError for fewer than 3 periods, non-finite returns, a benchmark of another length,
    a chosen index out of range, or reps / block_size below 1.
    """
    R = _returns_matrix(R)
    T, N = R.shape
    if T < 3:
        raise ValueError(f"the SPA test needs at least 3 periods, not {T}")
    if N < 1:
        raise ValueError("the SPA test needs at least 1 column")
    bench = np.zeros(T) if benchmark is None else np.asarray(benchmark, dtype=float)
    if bench.shape != (T,):
        raise ValueError(f"the benchmark must be {T} per-period returns, not shape {bench.shape}")
    if not np.isfinite(bench).all():
        raise ValueError("the benchmark holds NaN or infinite values")
    reps = _int(reps, "reps", 1)
    if block_size is not None:
        block_size = _int(block_size, "block_size", 1)
    if chosen is not None:
        chosen = _int(chosen, "chosen", 0)
        if chosen >= N:
            raise ValueError(f"chosen column {chosen} is out of range for {N} columns")
    # a set identical to the benchmark (one that never trades, against not trading) has a loss
    # differential of exactly 0: arch's strict `>` then rejects whenever every other set is worse
    same = (R == bench[:, None]).all(axis=0)
    if same.all():
        p = {"lower": 1.0, "consistent": 1.0, "upper": 1.0}
        used_block_size = int(np.sqrt(T)) if block_size is None else block_size
    else:
        from ._spa import FastSPA  # arch loads when a search is judged, not with every Django process

        spa = FastSPA(-bench, -R[:, ~same], block_size=block_size, reps=reps, bootstrap="stationary", seed=seed)
        spa.compute()
        p = {name: float(value) for name, value in spa.pvalues.items()}
        used_block_size = int(spa.block_size)
    best = int(np.argmax((R - bench[:, None]).mean(axis=0)))
    return {
        "p_values": p,
        "reality_check_p": p["upper"],
        "best": best,
        "chosen": best if chosen is None else chosen,
        "reps": reps,
        "block_size": used_block_size,
        "seed": seed,
        "n_strategies": int(N),
        "n_periods": int(T),
        "n_same_as_benchmark": int(same.sum()),
    }
