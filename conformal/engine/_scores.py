"""Nonconformity scores and the finite-sample conformal quantile.

A score turns (truth, forecast) into a number; an interval is every truth whose score is at most q.
`inputs` is a dict with `y_pred` and, where the score needs them, `scale`, `q_lo`, `q_hi`.
"""

from __future__ import annotations

import math

import numpy as np


def conformal_rank(n: int, alpha: float) -> int:
    """The 1-based rank k = ceil((n + 1)(1 - alpha)); k > n means the interval is infinite."""
    # The tiny epsilon keeps (n+1)(1-alpha) that is an integer in exact arithmetic from rounding up.
    return math.ceil((n + 1) * (1 - alpha) - 1e-9)


def conformal_quantile(scores: np.ndarray, alpha: float) -> float:
    """The k-th smallest score (k = ceil((n+1)(1-alpha))), or +inf when too few scores for that rank."""
    scores = np.asarray(scores, dtype=float)
    k = conformal_rank(len(scores), alpha)
    if k > len(scores):
        return math.inf
    return float(np.partition(scores, k - 1)[k - 1])


def lower_conformal_quantile(scores: np.ndarray, alpha: float) -> float:
    """The floor((n+1) alpha)-th smallest score, or -inf when that rank is below 1 (mirror of the above)."""
    scores = np.asarray(scores, dtype=float)
    k = math.floor((len(scores) + 1) * alpha + 1e-9)
    if k < 1:
        return -math.inf
    return float(np.partition(scores, k - 1)[k - 1])


class AbsoluteScore:
    """|y - y_pred|; interval y_pred -+ q."""

    name = "absolute"
    needs: tuple[str, ...] = ()

    def score(self, y, inputs):
        return np.abs(np.asarray(y, float) - inputs["y_pred"])

    def interval(self, q, inputs):
        return inputs["y_pred"] - q, inputs["y_pred"] + q


class NormalizedScore:
    """|y - y_pred| / scale; interval y_pred -+ q * scale (scale: the forecast's own spread)."""

    name = "normalized"
    needs = ("scale",)

    def score(self, y, inputs):
        return np.abs(np.asarray(y, float) - inputs["y_pred"]) / inputs["scale"]

    def interval(self, q, inputs):
        return inputs["y_pred"] - q * inputs["scale"], inputs["y_pred"] + q * inputs["scale"]


class CQRScore:
    """Conformalized quantile regression: max(q_lo - y, y - q_hi); interval [q_lo - q, q_hi + q]."""

    name = "cqr"
    needs = ("q_lo", "q_hi")

    def score(self, y, inputs):
        y = np.asarray(y, float)
        return np.maximum(inputs["q_lo"] - y, y - inputs["q_hi"])

    def interval(self, q, inputs):
        return inputs["q_lo"] - q, inputs["q_hi"] + q


SCORES = {cls.name: cls for cls in (AbsoluteScore, NormalizedScore, CQRScore)}


def make_score(name: str):
    try:
        return SCORES[name]()
    except KeyError:
        raise ValueError(f"unknown score {name!r}; choose one of {', '.join(SCORES)}") from None
