"""The evidence behind a searched strategy: a held-out tail the search never sees, the statistics of
selecting one point among many tried (deflated Sharpe, PBO, SPA), and whether the forecasts add
value over a baseline's and over random entries with the same exposure."""

from __future__ import annotations

import numpy as np

from ._evaluate import BacktestProblem
from ._overfitting import deflated_sharpe_ratio, probability_of_backtest_overfitting, sharpe_variance_of, spa_test

HOLDOUT_SHARE = 0.25  # the default share of a range's bars kept from the search
MIN_SEARCH_BARS, MIN_HOLDOUT_BARS = 60, 20  # a few days of H1 bars each: less is no test at all
SELECTION_MAX_SETS = 1000  # parameter sets re-run for PBO / SPA (evenly spaced by evaluation order beyond that)
PERMUTATIONS = 200  # random-entry backtests behind a model-value p-value
MIN_PBO_BLOCKS = 4


def split_holdout(problem: BacktestProblem, share: float) -> tuple[BacktestProblem, BacktestProblem | None]:
    """(the bars the search sees, the held-out tail after them or None): the last `share` of the bars
    are kept out. ValueError when either part would be too short to mean anything."""
    if not 0 <= share < 1:
        raise ValueError(f"the held-out share must be at least 0 and below 1, not {share!r}")
    n = len(problem.ohlc)
    held = int(round(n * share))
    if held == 0:
        return problem, None
    if held < MIN_HOLDOUT_BARS or n - held < MIN_SEARCH_BARS:
        raise ValueError(
            f"{n} bars cannot keep {share:.0%} out of the search: the search needs at least {MIN_SEARCH_BARS} "
            f"bars and the held-out tail {MIN_HOLDOUT_BARS} (held-out share 0 searches them all)"
        )
    return problem.slice(0, n - held), problem.slice(n - held, n)


def bars_range(problem: BacktestProblem) -> dict:
    index = problem.ohlc.index
    return {"bars": int(len(index)), "first": index[0].isoformat(), "last": index[-1].isoformat()}


def returns_matrix(problem: BacktestProblem, params: list[dict]) -> np.ndarray:
    """[days - 1, sets]: each parameter set's day-over-day returns on the problem's bars."""
    return np.column_stack([problem.daily_returns(p) for p in params])


def evenly_kept(count: int, at_most: int, keep: int) -> np.ndarray:
    """Indices of at most `at_most` of `count` items, evenly spaced, `keep` always among them."""
    if count <= at_most:
        return np.arange(count)
    idx = np.unique(np.r_[np.linspace(0, count - 1, at_most - 1).astype(int), keep])
    return idx


def logit_histogram(logits: list[float], bins: int = 40) -> dict:
    """The distribution of the CSCV logits, kept small enough to store with a run (12,870 logits for 16
    blocks): counts in `bins` equal bins, and how many fall at or below 0 (that share is the PBO)."""
    values = np.asarray(logits, float)
    finite = values[np.isfinite(values)]
    counts, edges = np.histogram(finite, bins=bins) if len(finite) else (np.zeros(0, int), np.zeros(1))
    return {
        "edges": [float(e) for e in edges],
        "counts": [int(c) for c in counts],
        "at_or_below_zero": int(np.sum(values <= 0)),
        "total": int(len(values)),
    }


def effective_trials(R: np.ndarray, n_trials: int) -> tuple[float | None, int]:
    """(the mean pairwise correlation of the sets' returns, the effective number of independent tries
    rho + (1 - rho) N) - Bailey & Lopez de Prado's estimate for correlated trials: neighbouring parameter
    sets trade alike, so 600 of them are worth far fewer independent tries. Sets that never vary are left out."""
    varying = R[:, R.std(axis=0) > 0]
    if varying.shape[1] < 2:
        return None, 1
    corr = np.corrcoef(varying, rowvar=False)
    rho = float(corr[np.triu_indices_from(corr, 1)].mean())
    rho = min(1.0, max(0.0, rho))
    return rho, max(1, int(round(rho + (1 - rho) * n_trials)))


def selection_statistics(
    problem: BacktestProblem,
    params: list[dict],
    chosen: int,
    *,
    n_trials: int | None = None,
    blocks: int = 16,
    spa_reps: int = 1000,
    seed: int = 0,
    max_sets: int = SELECTION_MAX_SETS,
) -> dict:
    """What choosing `params[chosen]` among every tried set is worth, on the bars they were chosen on:
    its deflated Sharpe ratio (against the best of `n_trials` tries, default len(params); and, as
    `dsr_effective`, against the effective number of independent tries, `effective_trials`), the
    probability of backtest overfitting (CSCV over `blocks` blocks) and Hansen's SPA p-value of the best
    set against not trading. Beyond `max_sets` sets, PBO and SPA use `max_sets` evenly spaced ones
    (the chosen included); the DSR always counts every try."""
    if not params:
        raise ValueError("no parameter set was evaluated")
    n_trials = n_trials or len(params)
    keep = evenly_kept(len(params), max_sets, chosen)
    R = returns_matrix(problem, [params[i] for i in keep])
    at = int(np.searchsorted(keep, chosen))
    days = R.shape[0]
    out = {
        "sets_tried": int(n_trials),
        "sets_used": int(len(keep)),
        "periods": int(days),
        "period": "day",
        "chosen_params": params[chosen],
    }
    try:
        variance = sharpe_variance_of(R) if R.shape[1] > 1 else 0.0
        out["dsr"] = deflated_sharpe_ratio(
            R[:, at], n_trials=n_trials, sharpe_variance=variance, periods_per_year=problem.days.annual_days
        )
        rho, effective = effective_trials(R, n_trials)
        out["dsr_effective"] = deflated_sharpe_ratio(
            R[:, at], n_trials=effective, sharpe_variance=variance, periods_per_year=problem.days.annual_days
        ) | {"mean_correlation": rho}
    except ValueError as exc:
        out["dsr"] = out["dsr_effective"] = {"dsr": None, "reason": str(exc)}
    # blocks of at least 2 days: a short range gets fewer blocks (at least 4), a shorter one no PBO
    blocks = min(blocks, days // 2 - (days // 2) % 2)
    try:
        if blocks < MIN_PBO_BLOCKS:
            raise ValueError(f"{days} days are too few for the PBO: it needs {2 * MIN_PBO_BLOCKS} (blocks of 2 days)")
        pbo = probability_of_backtest_overfitting(R, blocks=blocks)
        out["pbo"] = {k: v for k, v in pbo.items() if k != "logits"} | {
            "logit_histogram": logit_histogram(pbo["logits"])
        }
    except ValueError as exc:
        out["pbo"] = {"pbo": None, "reason": str(exc)}
    try:
        out["spa"] = spa_test(R, chosen=at, reps=spa_reps, seed=seed)
    except ValueError as exc:
        out["spa"] = {"p_values": {"lower": None, "consistent": None, "upper": None}, "reason": str(exc)}
    return out


def _p_value(actual: float | None, draws: np.ndarray) -> float | None:
    """One-sided permutation p-value: the share of draws at least as good, counting the actual one."""
    if actual is None:
        return None
    draws = draws[np.isfinite(draws)]
    return float((1 + np.sum(draws >= actual)) / (1 + len(draws)))


def _summary(values: np.ndarray) -> dict:
    values = values[np.isfinite(values)]
    if not len(values):
        return {"mean": None, "p05": None, "p50": None, "p95": None}
    q = np.percentile(values, [5, 50, 95])
    return {"mean": float(values.mean()), "p05": float(q[0]), "p50": float(q[1]), "p95": float(q[2])}


def _num(metrics: dict, key: str) -> float:
    v = metrics.get(key)
    return np.nan if v is None else float(v)


def mean_difference_p_value(a: np.ndarray, b: np.ndarray, *, reps: int = 1000, seed: int = 0) -> float | None:
    """One-sided p-value that the mean of a - b (paired days) is not above 0: a stationary bootstrap
    (arch) of the centred differences, block length by Politis & White."""
    from arch.bootstrap import StationaryBootstrap, optimal_block_length  # loads with the first judged run only

    diff = np.asarray(a, float) - np.asarray(b, float)
    if len(diff) < 10 or not np.any(diff):
        return None
    block = max(1.0, float(optimal_block_length(diff)["stationary"].iloc[0]))
    boot = StationaryBootstrap(block, diff - diff.mean(), seed=seed)
    means = boot.apply(np.mean, reps).ravel()
    return float((1 + np.sum(means >= diff.mean())) / (1 + reps))


def model_value(
    problem: BacktestProblem,
    params: dict,
    *,
    baseline: tuple | None = None,
    permutations: int = PERMUTATIONS,
    seed: int = 0,
) -> dict:
    """The same strategy and parameters on the problem's forecasts, on `baseline` forecasts (pred,
    conf arrays on the same bars) and on `permutations` random-entry runs: the forecasts shuffled in
    time, so entries keep their number, sizes and brackets but lose their timing. Returns each
    one's metrics, the differences and one-sided p-values (the model no better than chance / than
    the baseline)."""
    if problem.pred is None:
        raise ValueError("model value needs a forecast-driven strategy")
    actual_returns = problem.daily_returns(params)
    actual = problem.evaluate(params)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(permutations):
        order = rng.permutation(len(problem.pred))
        draws.append(problem.evaluate(params, problem.pred[order], problem.conf[order]))
    out = {
        "metrics": actual,
        "bars": bars_range(problem),
        "random": {
            "permutations": permutations,
            "seed": seed,
            **{key: _summary(np.array([_num(d, key) for d in draws])) for key in ("return_pct", "sharpe", "n_trades")},
            "p_value_return": _p_value(actual["return_pct"], np.array([_num(d, "return_pct") for d in draws])),
            "p_value_sharpe": _p_value(actual["sharpe"], np.array([_num(d, "sharpe") for d in draws])),
        },
    }
    if baseline is not None:
        pred, conf = (np.asarray(a, float) for a in baseline)
        base = problem.evaluate(params, pred, conf)
        out["baseline"] = {
            "metrics": base,
            "return_difference_pct": actual["return_pct"] - base["return_pct"],
            "sharpe_difference": None
            if actual["sharpe"] is None or base["sharpe"] is None
            else actual["sharpe"] - base["sharpe"],
            "p_value": mean_difference_p_value(actual_returns, problem.daily_returns(params, pred, conf), seed=seed),
        }
    return out
