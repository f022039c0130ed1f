"""Which parameters matter: a first-order functional ANOVA of the evaluated parameter sets (numpy only)."""

from __future__ import annotations

import numpy as np


def parameter_importance(params: list[dict], values, *, names: list[str], max_bins: int = 10) -> dict | None:
    """How much of the variance of `values` (one objective over evaluated parameter sets) each parameter
    explains on its own: a first-order functional ANOVA of an additive model y = mu + sum_j f_j(x_j),
    each f_j a step function over the bins of x_j (each value its own bin when there are few, else up to
    `max_bins` quantile bins, fewer for few points: one per 20; a choice is its categories), all fitted
    together by least squares - so a parameter that only moves with an important one gets little.
    `importance[name]` is the epsilon-squared of f_j: (n Var(f_j) - (bins_j - 1) s^2) / (n Var(y)), at
    least 0, where s^2 is the residual variance per degree of freedom - what an irrelevant parameter's bins
    fit by chance is taken off. `explained`: the model's adjusted R^2 (the rest: interactions and noise).
    None with fewer than 10 finite values, no variance, or no degree of freedom left."""
    y = np.asarray([np.nan if v is None else float(v) for v in values], dtype=float)
    keep = np.isfinite(y)
    y = y[keep]
    kept = [p for p, k in zip(params, keep) if k]
    n = len(y)
    if n < 10 or np.var(y) <= 0:
        return None
    bins = min(max_bins, max(2, n // 20))
    columns = []
    for name in names:
        raw = [p.get(name) for p in kept]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw):
            x = np.asarray(raw, dtype=float)
            levels = np.unique(x)
            if len(levels) > bins:
                levels = np.unique(np.quantile(x, np.linspace(0, 1, bins + 1)[1:-1]))
                code = np.searchsorted(levels, x, side="right")  # bins [q_k, q_k+1) between the quantiles
            else:
                code = np.searchsorted(levels, x)
        else:
            _, code = np.unique(np.asarray([str(v) for v in raw]), return_inverse=True)
        code = np.unique(code, return_inverse=True)[1].ravel()  # only bins that hold a point
        columns.append(np.eye(code.max() + 1)[code])
    df_model = sum(block.shape[1] - 1 for block in columns)
    df_resid = n - 1 - df_model
    if df_resid < 1:
        return None
    design = np.hstack([np.ones((n, 1)), *columns])
    centred = y - y.mean()
    # least squares through the small Gram matrix (a few dozen columns): the minimum-norm solution, the
    # columns' shared constants (each parameter's bins sum to the intercept) left at zero
    coef = np.linalg.lstsq(design.T @ design, design.T @ centred, rcond=1e-10)[0]
    fitted = design @ coef
    ss_total = float(centred @ centred)
    residual_variance = float((centred - fitted) @ (centred - fitted)) / df_resid
    importance, offset = {}, 1
    for name, block in zip(names, columns):
        effect = block @ coef[offset : offset + block.shape[1]]
        offset += block.shape[1]
        ss_effect = n * float(np.var(effect))  # var ignores f_j's constant: centring is implicit
        importance[name] = max(0.0, (ss_effect - (block.shape[1] - 1) * residual_variance) / ss_total)
    explained = 1 - residual_variance / (ss_total / (n - 1))
    return {"importance": importance, "explained": float(explained), "n": int(n)}
