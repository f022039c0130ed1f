"""Online calibrators that follow a changing error distribution.

Each one is fitted on a calibration stretch, then used one observation at a time:
`predict_one(...)` gives the interval for the next point, `update(y_true)` reveals the truth.
`predict_online(y_true, y_pred, ...)` runs that loop over arrays (batch use) - the intervals it
returns are those that were available before each truth was seen.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import deque

import numpy as np

from ._inputs import check_alpha, prepare
from ._scores import conformal_quantile, conformal_rank, make_score


class _ScoreWindow:
    """The last `size` scores kept sorted, so a conformal quantile is one index lookup."""

    def __init__(self, scores, size: int | None):
        scores = [float(s) for s in scores]
        if size is not None:
            scores = scores[-size:]
        self.size = size
        self.order = deque(scores)
        self.sorted = sorted(scores)

    def add(self, score: float) -> None:
        if self.size is not None and len(self.order) >= self.size:
            old = self.order.popleft()
            del self.sorted[bisect_left(self.sorted, old)]
        self.order.append(score)
        insort(self.sorted, score)

    def quantile(self, alpha: float) -> float:
        """Conformal quantile at level 1 - alpha: +inf when alpha <= 0 or too few scores."""
        if alpha <= 0:
            return math.inf
        k = conformal_rank(len(self.sorted), alpha)
        return math.inf if k > len(self.sorted) else self.sorted[max(k, 1) - 1]


class _OnlineConformal:
    score = "absolute"
    online = True  # fitted once, then updated after each truth (`predict_online`)

    def _restore(self, state: dict) -> None:
        """What every online calibrator rebuilt from its state starts with: nothing seen since."""
        self.score_ = make_score(state["score"])
        self.n_infinite_, self.n_seen_, self._pending = 0, 0, None

    def _fit_scores(self, y_true, y_pred, scale, q_lo, q_hi) -> np.ndarray:
        check_alpha(self.alpha)
        self.score_ = make_score(self.score)
        inputs, y = prepare(y_pred, scale=scale, q_lo=q_lo, q_hi=q_hi, needs=self.score_.needs, y_true=y_true)
        self.n_calibration_ = len(y)
        self.n_seen_ = 0
        self.n_infinite_ = 0
        self._pending = None
        return self.score_.score(y, inputs)

    def predict_one(
        self, y_pred: float, *, scale: float | None = None, q_lo: float | None = None, q_hi: float | None = None
    ):
        inputs = {"y_pred": float(y_pred), "scale": scale, "q_lo": q_lo, "q_hi": q_hi}
        for name in self.score_.needs:
            if inputs[name] is None:
                raise ValueError(f"this method needs {name} from the forecast")
        q = self._current_q()
        if math.isinf(q) and q > 0:
            self.n_infinite_ += 1
            lo, hi = -math.inf, math.inf
        elif math.isinf(q):  # an empty prediction set: a sure miss, shown as a zero-width interval
            lo = hi = inputs["y_pred"]
        else:
            lo, hi = (float(v) for v in self.score_.interval(q, inputs))
        self._pending = (inputs, lo, hi)
        return lo, hi

    def update(self, y_true: float) -> bool:
        """Reveal the truth for the last prediction; returns whether it was missed."""
        if self._pending is None:
            raise RuntimeError("update() follows predict_one()")
        inputs, lo, hi = self._pending
        self._pending = None
        y = float(y_true)
        miss = not (lo <= y <= hi)
        self._learn(float(self.score_.score(y, inputs)), miss)
        self.n_seen_ += 1
        return miss

    def predict(self, y_pred, *, scale=None, q_lo=None, q_hi=None):
        """Intervals for new forecasts at the current state, without learning from them."""
        inputs, _ = prepare(y_pred, scale=scale, q_lo=q_lo, q_hi=q_hi, needs=self.score_.needs)
        q = self._state_q()
        if math.isinf(q) and q < 0:
            return inputs["y_pred"].copy(), inputs["y_pred"].copy()
        return self.score_.interval(q, inputs)

    def _state_q(self) -> float:
        return self._current_q()

    def predict_online(self, y_true, y_pred, *, scale=None, q_lo=None, q_hi=None):
        inputs, y = prepare(y_pred, scale=scale, q_lo=q_lo, q_hi=q_hi, needs=self.score_.needs, y_true=y_true)
        n = len(y)
        lo, hi = np.empty(n), np.empty(n)
        extra = {k: inputs[k].tolist() for k in self.score_.needs}
        preds, truths = inputs["y_pred"].tolist(), y.tolist()
        for t in range(n):
            lo[t], hi[t] = self.predict_one(preds[t], **{k: v[t] for k, v in extra.items()})
            self.update(truths[t])
        return lo, hi


class SlidingWindowConformal(_OnlineConformal):
    """Split conformal recalibrated at every step on the last `window` scores."""

    kind = "window"

    def __init__(self, alpha: float = 0.1, window: int = 500, score: str = "absolute"):
        self.alpha = alpha
        self.window = window
        self.score = score

    def fit(self, y_true, y_pred, *, scale=None, q_lo=None, q_hi=None) -> SlidingWindowConformal:
        if not isinstance(self.window, int) or self.window < 1:
            raise ValueError(f"window must be a positive number of observations, not {self.window!r}")
        scores = self._fit_scores(y_true, y_pred, scale, q_lo, q_hi)
        self.window_ = _ScoreWindow(scores, self.window)
        return self

    def _current_q(self) -> float:
        return self.window_.quantile(self.alpha)

    def _learn(self, score: float, miss: bool) -> None:
        self.window_.add(score)

    def get_state(self) -> dict:
        return {
            "method": self.kind,
            "alpha": self.alpha,
            "window": self.window,
            "score": self.score,
            "scores": list(self.window_.order),
        }

    @classmethod
    def from_state(cls, state: dict) -> SlidingWindowConformal:
        cal = cls(state["alpha"], window=state["window"], score=state["score"])
        cal._restore(state)
        cal.window_ = _ScoreWindow(state["scores"], state["window"])
        return cal


class AdaptiveConformal(_OnlineConformal):
    """ACI (Gibbs & Candes 2021): alpha_t <- alpha_t + gamma * (alpha - miss_t).

    The interval at t is the conformal quantile at level 1 - alpha_t of the last `window` scores
    (all scores when window is None). alpha_t <= 0 gives an infinite interval (counted in
    `n_infinite_`); alpha_t >= 1 gives an empty set, shown as a zero-width interval at y_pred.
    The long-run miss rate tends to alpha whatever the data do.
    """

    kind = "aci"

    def __init__(self, alpha: float = 0.1, gamma: float = 0.005, window: int | None = 2000, score: str = "absolute"):
        self.alpha = alpha
        self.gamma = gamma
        self.window = window
        self.score = score

    def fit(self, y_true, y_pred, *, scale=None, q_lo=None, q_hi=None) -> AdaptiveConformal:
        if not isinstance(self.gamma, (int, float)) or self.gamma <= 0:
            raise ValueError(f"gamma must be a positive step size, not {self.gamma!r}")
        scores = self._fit_scores(y_true, y_pred, scale, q_lo, q_hi)
        self.window_ = _ScoreWindow(scores, self.window)
        self.alpha_t_ = float(self.alpha)
        self.alpha_path_ = []
        return self

    def _current_q(self) -> float:
        self.alpha_path_.append(self.alpha_t_)
        return self._state_q()

    def _state_q(self) -> float:
        if self.alpha_t_ >= 1:
            return -math.inf
        return self.window_.quantile(self.alpha_t_)

    def _learn(self, score: float, miss: bool) -> None:
        self.alpha_t_ += self.gamma * (self.alpha - (1.0 if miss else 0.0))
        self.window_.add(score)

    def get_state(self) -> dict:
        return {
            "method": self.kind,
            "alpha": self.alpha,
            "gamma": self.gamma,
            "window": self.window,
            "score": self.score,
            "alpha_t": self.alpha_t_,
            "scores": list(self.window_.order),
        }

    @classmethod
    def from_state(cls, state: dict) -> AdaptiveConformal:
        cal = cls(state["alpha"], gamma=state["gamma"], window=state["window"], score=state["score"])
        cal._restore(state)
        cal.window_ = _ScoreWindow(state["scores"], state["window"])
        cal.alpha_t_, cal.alpha_path_ = float(state["alpha_t"]), []
        return cal


class QuantileTracking(_OnlineConformal):
    """Conformal PID's quantile tracking (Angelopoulos et al. 2023): q <- q + lr * q0 * (miss - alpha).

    Starts from the calibration quantile q0 and moves it up after a miss and down otherwise, so the
    long-run miss rate tends to alpha; `lr` is relative to q0.
    """

    kind = "pid"

    def __init__(self, alpha: float = 0.1, lr: float = 0.05, score: str = "absolute"):
        self.alpha = alpha
        self.lr = lr
        self.score = score

    def fit(self, y_true, y_pred, *, scale=None, q_lo=None, q_hi=None) -> QuantileTracking:
        if not isinstance(self.lr, (int, float)) or self.lr <= 0:
            raise ValueError(f"lr must be a positive step size, not {self.lr!r}")
        scores = self._fit_scores(y_true, y_pred, scale, q_lo, q_hi)
        q0 = conformal_quantile(scores, self.alpha)
        if math.isinf(q0):
            raise ValueError(f"{len(scores)} calibration points are too few for alpha={self.alpha}")
        self.step_ = self.lr * max(abs(q0), 1e-12)
        self.q_t_ = q0
        return self

    def _current_q(self) -> float:
        return self.q_t_

    def _learn(self, score: float, miss: bool) -> None:
        self.q_t_ += self.step_ * ((1.0 if miss else 0.0) - self.alpha)

    def get_state(self) -> dict:
        return {
            "method": self.kind,
            "alpha": self.alpha,
            "lr": self.lr,
            "score": self.score,
            "q_t": self.q_t_,
            "step": self.step_,
        }

    @classmethod
    def from_state(cls, state: dict) -> QuantileTracking:
        cal = cls(state["alpha"], lr=state["lr"], score=state["score"])
        cal._restore(state)
        cal.q_t_, cal.step_ = float(state["q_t"]), float(state["step"])
        return cal
