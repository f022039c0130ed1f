"""The dates a model was trained, validated and tested on, and where forecast origins fall among them.

`periods_of` reads them off a chronological split; `origin_parts`, `period_overlap`, `in_sample_of`
and `sample_label_of` tell whether forecasts were made on bars the model was fitted to. Plain
numpy / pandas: the registry stores the periods as JSON, the forecast and calibration pages read them."""

from __future__ import annotations

import numpy as np
import pandas as pd

PARTS = ("train", "val", "test")
# Where an origin can fall: before the model's first bar, inside a part, in the gap between two
# parts, or after its last bar. `overlap` counts forecast origins under each of these keys.
PLACES = ("before", "train", "val", "test", "between", "after")
IN_SAMPLE_PARTS = ("train", "val")  # the parts whose bars fitted the weights, the spread and the drift
ISO = "%Y-%m-%dT%H:%M:%SZ"
PERIOD_KEYS = ("first_bar", "last_bar", "first_origin", "last_origin", "windows")

LABELS = {
    "train": "in-sample (training)",
    "val": "in-sample (validation)",
    "test": "out-of-sample (test period)",
    "after": "out-of-sample (after the model's data)",
    "before": "out-of-sample (before the model's data)",
    "between": "out-of-sample (between the model's parts)",
}
UNKNOWN_LABEL = "periods unknown"
PLACE_NAMES = {
    "before": "before the model's data",
    "train": "in the training part",
    "val": "in the validation part",
    "test": "in the test part",
    "between": "between two parts",
    "after": "after the model's data",
}


def _utc_stamp(value) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _iso(value) -> str:
    return _utc_stamp(value).strftime(ISO)


def periods_of(data) -> dict:
    """Each part's span from a `TrainingData` (its `ends`, `ts`, `patch_len`, `horizon`): the first
    bar it reads (its first window's first input bar), the last (its last window's last target
    bar), the first and last window end (forecast origin) and the window count, times as ISO UTC.
    {"train": {"first_bar", "last_bar", "first_origin", "last_origin", "windows"}, "val": ..., "test": ...}"""
    ts = np.asarray(data.ts)
    out = {}
    for part in PARTS:
        ends = np.asarray(data.ends[part])
        first, last = int(ends.min()), int(ends.max())
        out[part] = {
            "first_bar": _iso(ts[first - data.patch_len + 1]),
            "last_bar": _iso(ts[last + data.horizon]),
            "first_origin": _iso(ts[first]),
            "last_origin": _iso(ts[last]),
            "windows": int(len(ends)),
        }
    return out


def _utc(values) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(values, utc=True))


def origin_parts(periods: dict | None, origins) -> np.ndarray | None:
    """The place (one of PLACES) of each forecast origin among the periods' parts, each part taken
    as [first_bar, last_bar] inclusive; None when the periods are unknown (empty)."""
    if not periods:
        return None
    when = _utc(origins).as_unit("ns").asi8
    out = np.full(len(when), "between", dtype=object)
    spans = [
        (part, _utc_stamp(periods[part]["first_bar"]).value, _utc_stamp(periods[part]["last_bar"]).value)
        for part in PARTS
    ]
    for part, first, last in spans:
        out[(when >= first) & (when <= last)] = part
    out[when < spans[0][1]] = "before"
    out[when > spans[-1][2]] = "after"
    return out


def period_overlap(periods: dict | None, origins) -> dict | None:
    """How many forecast origins fall in each place (PLACES: before, train, val, test, between,
    after); None when the periods are unknown."""
    parts = origin_parts(periods, origins)
    if parts is None:
        return None
    return {place: int(np.count_nonzero(parts == place)) for place in PLACES}


def in_sample_of(overlap: dict | None) -> bool | None:
    """True when any origin falls in the training or validation part, False when none does, None
    when unknown."""
    if overlap is None:
        return None
    return any(overlap.get(part, 0) for part in IN_SAMPLE_PARTS)


def sample_label_of(overlap: dict | None) -> str:
    """A few words for a set of origins: the most in-sample place any of them falls in."""
    if overlap is None:
        return UNKNOWN_LABEL
    for place in ("train", "val", "test", "after", "before", "between"):
        if overlap.get(place):
            return LABELS[place]
    return "no forecasts"
