"""Split conformal calibrators: fit once on past data, apply to what follows."""

from __future__ import annotations

import math

import numpy as np

from ._inputs import check_alpha, prepare
from ._scores import conformal_quantile, lower_conformal_quantile, make_score


class SplitConformal:
    """Symmetric split conformal on a score (absolute residual by default).

    Coverage >= 1 - alpha for exchangeable data. With fewer than 1/alpha - 1 calibration points the
    rank exceeds n and the interval is infinite (`is_infinite_` says so).
    """

    kind = "split"  # what `get_state` stores as "method": `calibrator_from_state` finds the class by it
    online = False

    def __init__(self, alpha: float = 0.1, score: str = "absolute"):
        self.alpha = alpha
        self.score = score

    def fit(self, y_true, y_pred, *, scale=None, q_lo=None, q_hi=None) -> SplitConformal:
        check_alpha(self.alpha)
        self.score_ = make_score(self.score)
        inputs, y = prepare(y_pred, scale=scale, q_lo=q_lo, q_hi=q_hi, needs=self.score_.needs, y_true=y_true)
        self.n_calibration_ = len(y)
        self.q_ = conformal_quantile(self.score_.score(y, inputs), self.alpha)
        self.is_infinite_ = bool(np.isinf(self.q_))
        return self

    def predict(self, y_pred, *, scale=None, q_lo=None, q_hi=None):
        inputs, _ = prepare(y_pred, scale=scale, q_lo=q_lo, q_hi=q_hi, needs=self.score_.needs)
        return self.score_.interval(self.q_, inputs)

    def get_state(self) -> dict:
        return {"method": self.kind, "alpha": self.alpha, "score": self.score, "q": self.q_}

    @classmethod
    def from_state(cls, state: dict) -> SplitConformal:
        """The fitted calibrator `get_state()` describes."""
        cal = cls(state["alpha"], score=state["score"])
        cal.score_, cal.q_ = make_score(state["score"]), float(state["q"])
        cal.is_infinite_ = math.isinf(cal.q_)
        return cal


class AsymmetricConformal:
    """Split conformal on signed residuals y - y_pred, each tail with its own finite-sample rank.

    lower = the floor((n+1) alpha/2)-th smallest residual, upper = the ceil((n+1)(1 - alpha/2))-th;
    each tail misses at most alpha/2, so coverage >= 1 - alpha. Skewed errors get skewed intervals.
    """

    kind = "asymmetric"
    online = False

    def __init__(self, alpha: float = 0.1):
        self.alpha = alpha

    def fit(self, y_true, y_pred, **_) -> AsymmetricConformal:
        check_alpha(self.alpha)
        inputs, y = prepare(y_pred, y_true=y_true)
        residuals = y - inputs["y_pred"]
        self.n_calibration_ = len(y)
        self.q_lo_ = lower_conformal_quantile(residuals, self.alpha / 2)
        self.q_hi_ = conformal_quantile(residuals, self.alpha / 2)
        self.is_infinite_ = bool(np.isinf(self.q_lo_) or np.isinf(self.q_hi_))
        return self

    def predict(self, y_pred, **_):
        inputs, _ = prepare(y_pred)
        return inputs["y_pred"] + self.q_lo_, inputs["y_pred"] + self.q_hi_

    def get_state(self) -> dict:
        return {"method": self.kind, "alpha": self.alpha, "q_lo": self.q_lo_, "q_hi": self.q_hi_}

    @classmethod
    def from_state(cls, state: dict) -> AsymmetricConformal:
        cal = cls(state["alpha"])
        cal.q_lo_, cal.q_hi_ = float(state["q_lo"]), float(state["q_hi"])
        cal.is_infinite_ = math.isinf(cal.q_lo_) or math.isinf(cal.q_hi_)
        return cal
