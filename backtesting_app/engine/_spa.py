"""arch's SPA test computing the same numbers faster (`_overfitting.spa_test` runs it). A module of
its own so that arch, which takes seconds to import, loads when a search is judged rather than with
every process that imports the engine (the web, each worker, every management command)."""

from __future__ import annotations

import numpy as np
from arch.bootstrap import SPA
from scipy import fft


def _stationary_bootstrap_variance(loss_diff: np.ndarray, block_size: int) -> np.ndarray:
    """arch SPA's variance of each column of loss differentials (its autocovariances weighted by the
    stationary bootstrap's kernel, Politis & Romano 1994), every lag's autocovariance from one FFT
    instead of arch's loop over lags: the same numbers in O(N T log T) rather than O(N T^2)."""
    t = loss_diff.shape[0]
    d = loss_diff - loss_diff.mean(axis=0)
    size = fft.next_fast_len(2 * t - 1, real=True)
    spectrum = fft.rfft(d, n=size, axis=0)
    lagged = fft.irfft(spectrum.real**2 + spectrum.imag**2, n=size, axis=0)[1:t]  # sum_s d_s d_{s+i}, i >= 1
    i, keep = np.arange(1, t), 1.0 - 1.0 / block_size
    kappa = (1 - i / t) * keep**i + (i / t) * keep ** (t - i)
    return (np.sum(d**2, axis=0) + 2 * kappa @ lagged) / t


class FastSPA(SPA):
    """arch's SPA (pinned arch 8.0.0) computing the same numbers faster: its O(N T^2) variance loop
    becomes one FFT, and each draw's column means come from the draw's index counts by a matrix
    product (arch copies the T x N draw and takes its mean three times). The draws are arch's own
    (`update_indices` of its stationary bootstrap, in order); tests hold the results equal to arch's."""

    _DRAWS_AT_ONCE = 100

    def _compute_variance(self) -> None:
        if self.nested:
            return super()._compute_variance()
        self._loss_diff_var = _stationary_bootstrap_variance(self._loss_diff, self.block_size)

    def _simulate_values(self) -> None:
        self._compute_variance()
        self._valid_columns = self._check_column_validity()
        upper = self._loss_diff.mean(axis=0)  # every model re-centred
        consistent = np.where(self._valid_columns, upper, 0.0)  # only those near the benchmark
        lower = np.maximum(upper, 0.0)  # none that is worse
        draws = np.empty((self.reps, self.k))
        for lo in range(0, self.reps, self._DRAWS_AT_ONCE):
            counts = np.stack(
                [
                    np.bincount(self.bootstrap.update_indices(), minlength=self.t).astype(float)
                    for _ in range(min(self._DRAWS_AT_ONCE, self.reps - lo))
                ]
            )
            draws[lo : lo + len(counts)] = counts @ self._loss_diff / self.t
        self._simulated_vals = np.stack([(draws - centre).T for centre in (lower, consistent, upper)], axis=2)
