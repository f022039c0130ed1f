"""Calibrated coverage on the points a calibration did not see: the one figure its own page and the
page of every forecast set it gives intervals to show, from the same bounds and the same points."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._inputs import check_alpha
from ._methods import state_is_online
from ._state import with_bounds

# What each forecast's lo / hi are, relative to an attached calibration (the `interval_kind` column):
INTERVAL_KINDS = {
    "fitted": "in the calibration part: the calibrator was fitted on it (not scored)",
    "sequential": "the calibration's own interval, made before the point's truth was seen (scored)",
    "seen": "after the calibration part, but an online calibrator's final state has seen its truth (not scored)",
    "unseen": "after every point the calibration saw: its final state's interval (scored)",
    "unknown": "the calibration's forecasts had no timestamps: what it saw is unknown (not scored)",
}
SCORED_KINDS = ("sequential", "unseen")
_ISO = "%Y-%m-%dT%H:%M:%SZ"


def _utc_index(values) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(values, utc=True)).as_unit("ns")


def calibration_ranges(timestamps, n_calibration: int) -> dict | None:
    """The time ranges of a calibration's input: `calibration`, the first `n_calibration` points
    (the calibrator was fitted on them), and `evaluation`, the rest (each given a sequential interval
    before its truth was seen) - each {"first", "last" (ISO UTC), "points"}. None without timestamps."""
    if timestamps is None or len(timestamps) <= n_calibration or n_calibration < 1:
        return None
    ts = _utc_index(timestamps)
    return {
        "calibration": {
            "first": f"{ts[0]:{_ISO}}",
            "last": f"{ts[n_calibration - 1]:{_ISO}}",
            "points": int(n_calibration),
        },
        "evaluation": {
            "first": f"{ts[n_calibration]:{_ISO}}",
            "last": f"{ts[-1]:{_ISO}}",
            "points": int(len(ts) - n_calibration),
        },
    }


def calibrated_bounds(
    frame: pd.DataFrame, *, state: dict, alpha: float, ranges: dict | None, intervals: pd.DataFrame | None = None
) -> pd.DataFrame:
    """`frame` (a `timestamp` column and the forecast columns) with `lo`, `hi` and `interval_kind`
    (INTERVAL_KINDS): the calibration's own sequential interval where `intervals` (its stored
    `timestamp, lo, hi`, given only for the forecasts it calibrated) has the point's timestamp after
    the calibration part, its final state's interval (`state`) elsewhere. `ranges` is
    `calibration_ranges` of its input; an online method's final state has seen its evaluation part too."""
    out = with_bounds(state, alpha, frame)
    kinds = np.full(len(out), "unknown", dtype=object)
    if ranges and "timestamp" in out:
        ts = _utc_index(out["timestamp"])
        fitted_through = pd.Timestamp(ranges["calibration"]["last"])
        seen_through = pd.Timestamp(ranges["evaluation"]["last"]) if state_is_online(state) else fitted_through
        kinds[:] = "unseen"
        kinds[ts <= seen_through] = "seen"
        kinds[ts <= fitted_through] = "fitted"
        if intervals is not None and len(intervals) and "timestamp" in intervals:
            own = _utc_index(intervals["timestamp"])
            if own.is_unique:
                pos = own.get_indexer(ts)
                hit = (pos >= 0) & (ts > fitted_through)
                lo, hi = out["lo"].to_numpy(float).copy(), out["hi"].to_numpy(float).copy()
                lo[hit] = intervals["lo"].to_numpy(float)[pos[hit]]
                hi[hit] = intervals["hi"].to_numpy(float)[pos[hit]]
                out = out.assign(lo=lo, hi=hi)
                kinds[hit] = "sequential"
    return out.assign(interval_kind=kinds)


def unseen_coverage(frame: pd.DataFrame, *, alpha: float) -> dict:
    """Calibrated coverage over the points of a `calibrated_bounds` frame that the calibration did
    not see (`interval_kind` sequential or unseen) and whose truth (`y_true`) is known: the share
    with lo <= y_true <= hi (an infinite bound covers), beside the target 1 - alpha, the points
    scored (how many of each kind), their first and last timestamp, and the points left out."""
    check_alpha(alpha)
    kinds = frame["interval_kind"].to_numpy(object)
    y = frame["y_true"].to_numpy(float) if "y_true" in frame else np.full(len(frame), np.nan)
    known = np.isfinite(y)
    scored = known & np.isin(kinds, SCORED_KINDS)
    covered = (y[scored] >= frame["lo"].to_numpy(float)[scored]) & (y[scored] <= frame["hi"].to_numpy(float)[scored])
    stamps = frame["timestamp"][scored] if "timestamp" in frame else pd.Series([], dtype=object)
    return {
        "coverage": float(covered.mean()) if scored.any() else None,
        "target": 1 - alpha,
        "points": int(scored.sum()),
        "sequential": int((scored & (kinds == "sequential")).sum()),
        "unseen": int((scored & (kinds == "unseen")).sum()),
        "first": f"{_utc_index(stamps)[0]:{_ISO}}" if len(stamps) else None,
        "last": f"{_utc_index(stamps)[-1]:{_ISO}}" if len(stamps) else None,
        "not_scored": {kind: int((known & (kinds == kind)).sum()) for kind in ("fitted", "seen", "unknown")},
        "pending": int((~known & np.isin(kinds, SCORED_KINDS)).sum()),
    }
