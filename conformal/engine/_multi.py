from __future__ import annotations

import numpy as np

from ._inputs import check_alpha


class MultiHorizonConformal:
    """One calibrator per horizon step; `joint=True` splits alpha over the H steps (Bonferroni),
    so all H intervals of a path cover together with probability >= 1 - alpha."""

    def __init__(self, make_calibrator, alpha: float = 0.1, joint: bool = False):
        self.make_calibrator = make_calibrator
        self.alpha = alpha
        self.joint = joint

    def fit(self, y_true, y_pred, **columns) -> MultiHorizonConformal:
        check_alpha(self.alpha)
        y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
        if y_true.ndim != 2 or y_true.shape != y_pred.shape:
            raise ValueError(f"y_true and y_pred must both be (n, horizon); got {y_true.shape} and {y_pred.shape}")
        self.horizon_ = y_true.shape[1]
        self.step_alpha_ = self.alpha / self.horizon_ if self.joint else self.alpha
        self.calibrators_ = [
            self.make_calibrator(self.step_alpha_).fit(
                y_true[:, h], y_pred[:, h], **{k: np.asarray(v)[:, h] for k, v in columns.items() if v is not None}
            )
            for h in range(self.horizon_)
        ]
        return self

    def predict(self, y_pred, **columns):
        y_pred = np.asarray(y_pred, float)
        if y_pred.ndim != 2 or y_pred.shape[1] != self.horizon_:
            raise ValueError(f"y_pred must be (n, {self.horizon_})")
        bounds = [
            cal.predict(y_pred[:, h], **{k: np.asarray(v)[:, h] for k, v in columns.items() if v is not None})
            for h, cal in enumerate(self.calibrators_)
        ]
        return np.column_stack([b[0] for b in bounds]), np.column_stack([b[1] for b in bounds])
