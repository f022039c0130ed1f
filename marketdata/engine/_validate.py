"""Row validation (errors: the file is refused) and anomaly detection (reported, optionally dropped)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._errors import ImportRejected, RowError
from ._formats import ParsedFile
from ._symbols import Timeframe, normalize_timeframe

ANOMALY_KINDS = ("weekend", "day_spanning", "flat_filler", "long_gap")
DROPPABLE = ANOMALY_KINDS[:3]  # a long gap has no bars to drop
_EXAMPLES = 5


def validate(parsed: ParsedFile) -> pd.DataFrame:
    """Return the rows sorted by time, or raise ImportRejected listing every bad line.

    Checks: parseable timestamps and numbers (from the reader), positive prices, OHLC
    consistency, non-negative volume, and no timestamp twice in the file.
    """
    frame = parsed.frame
    errors = list(parsed.errors)
    bad_lines = {e.line for e in errors}
    ok = ~frame["line"].isin(bad_lines) & frame["ts"].notna()
    prices = frame.loc[ok, ["open", "high", "low", "close"]]
    lines = frame.loc[ok, "line"].to_numpy()

    def flag(mask, reason_of):
        for i in np.flatnonzero(np.asarray(mask)):
            errors.append(RowError(int(lines[i]), reason_of(i)))

    values = prices.to_numpy()
    o, h, lo, c = values.T
    flag(
        (values <= 0).any(axis=1),
        lambda i: "non-positive price in open, high, low, close " + ", ".join(f"{v:g}" for v in values[i]),
    )
    positive = (values > 0).all(axis=1)
    flag(positive & (h < lo), lambda i: f"high {h[i]} is below low {lo[i]}")
    flag(positive & (h >= lo) & (h < np.maximum(o, c)), lambda i: f"high {h[i]} is below open/close {max(o[i], c[i])}")
    flag(positive & (h >= lo) & (lo > np.minimum(o, c)), lambda i: f"low {lo[i]} is above open/close {min(o[i], c[i])}")
    volume = frame.loc[ok, "volume"].to_numpy()
    flag(volume < 0, lambda i: f"negative volume {volume[i]}")

    stamps = frame.loc[ok, ["ts", "line"]]
    dup = stamps["ts"].duplicated(keep=False).to_numpy()
    if dup.any():
        first_line = stamps[dup].groupby("ts")["line"].transform("min").to_numpy()
        dup_lines = stamps["line"].to_numpy()[dup]
        dup_ts = stamps["ts"].to_numpy()[dup]
        for line, first, ts in zip(dup_lines, first_line, dup_ts):
            if line != first:
                errors.append(
                    RowError(int(line), f"duplicate timestamp {pd.Timestamp(ts).isoformat()} (also on line {first})")
                )

    if errors:
        reasons: dict[int, list[str]] = {}
        for error in sorted(errors, key=lambda e: e.line):  # stable: a line's reasons in the order found
            reasons.setdefault(error.line, []).append(error.reason)
        errors = [RowError(line, "; ".join(why)) for line, why in reasons.items()]  # one entry a bad line
        raise ImportRejected(f"{len(errors)} bad row(s) in {len(frame)}; nothing was imported", errors, rows=len(frame))
    return frame.sort_values("ts", kind="stable").reset_index(drop=True)


_GUESSES = ("1m", "5m", "15m", "30m", "1h", "4h", "1d")


def check_spacing(rows: pd.DataFrame, timeframe: Timeframe) -> None:
    """ImportRejected when the file's bars stand closer together than one bar of the declared timeframe
    (their median spacing, under three quarters of it): hourly bars declared daily would be stored as 24
    'days' a day. (Wider spacing is not refused: illiquid minute data has holes.)"""
    if len(rows) < 3:
        return
    spacing = rows["ts"].diff().dropna().median()
    if spacing >= 0.75 * timeframe.offset:  # slack for bars stamped at their first tick, and DST shifts of weekly bars
        return
    minutes = spacing / pd.Timedelta(minutes=1)
    guess = next((f" (is it {code}?)" for code in _GUESSES if normalize_timeframe(code).minutes == minutes), "")
    raise ImportRejected(
        f"the file's bars are {_duration(spacing)} apart (median), closer than one {timeframe.code} bar: its timeframe is "
        f"not {timeframe.code}{guess}; nothing was imported"
    )


def _duration(delta: pd.Timedelta) -> str:
    minutes = int(delta / pd.Timedelta(minutes=1))
    if minutes and minutes % 1440 == 0:
        return f"{minutes // 1440} day(s)"
    if minutes and minutes % 60 == 0:
        return f"{minutes // 60} hour(s)"
    return f"{minutes} minute(s)" if minutes else f"{delta.total_seconds():g} second(s)"


@dataclass
class AnomalyScan:
    """Masks over the validated rows plus the report users see."""

    masks: dict[str, np.ndarray]
    report: dict


def _weekend_mask(ts: pd.Series) -> np.ndarray:
    # The FX week closes Friday ~21-22:00 UTC and opens Sunday ~21-22:00 UTC. Saturday bars and
    # Sunday bars before 20:00 UTC are outside it, allowing an hour for zone and DST slack.
    dow = ts.dt.day_of_week.to_numpy()
    hour = ts.dt.hour.to_numpy()
    return (dow == 5) | ((dow == 6) & (hour < 20))


_EPOCH_FRIDAY_CLOSE = pd.Timestamp("1970-01-02 22:00", tz="UTC")  # a Friday, 22:00 UTC
_WEEK_H = 7 * 24.0
_WEEKEND_H = 47.0  # Friday 22:00 -> Sunday 21:00 UTC


def _weekend_hours_until(t: pd.Series) -> np.ndarray:
    """Closed-market hours from a fixed Friday close to each time (a cumulative clock)."""
    hours = ((t - _EPOCH_FRIDAY_CLOSE) / pd.Timedelta(hours=1)).to_numpy()
    weeks, into = np.divmod(hours, _WEEK_H)
    return weeks * _WEEKEND_H + np.clip(into, 0, _WEEKEND_H)


def _day_spanning_mask(rng: np.ndarray, vol: np.ndarray) -> np.ndarray:
    """A whole-day aggregate among intraday bars: range *and* volume each over 12x the median.

    Both are needed: a news spike has a huge range alone. Without recorded volume a spike and an
    aggregate look alike, so nothing is flagged.
    """
    recorded = vol > 0
    if not recorded.any() or not len(rng) or np.median(rng) <= 0:
        return np.zeros(len(rng), bool)
    return (rng > 12 * np.median(rng)) & (vol > 12 * np.median(vol[recorded]))


def scan_anomalies(rows: pd.DataFrame, timeframe: Timeframe, *, long_gap_hours: float = 24.0) -> AnomalyScan:
    """Things that are not errors but a user should know about, with counts and examples.

    - weekend: bars when the FX market is closed;
    - day_spanning: a whole-day aggregate mixed into intraday bars (range and volume each over
      12x the file's median; not detectable when the file records no volume);
    - flat_filler: open = high = low = close with zero volume, in a file that records volume;
    - long_gap: more than `long_gap_hours` of trading time (weekends excluded) with no bar.
    """
    ts = rows["ts"]
    rng = (rows["high"] - rows["low"]).to_numpy()
    vol = rows["volume"].to_numpy()
    has_volume = bool((vol > 0).any())
    spanning = _day_spanning_mask(rng, vol)
    flat = (rows["open"] == rows["high"]) & (rows["high"] == rows["low"]) & (rows["low"] == rows["close"])
    filler = (flat.to_numpy() & (vol == 0)) if has_volume else np.zeros(len(rows), bool)
    masks = {"weekend": _weekend_mask(ts), "day_spanning": spanning, "flat_filler": filler}

    report = {}
    for kind, mask in masks.items():
        report[kind] = {
            "count": int(mask.sum()),
            "examples": [t.isoformat() for t in ts[mask].head(_EXAMPLES)],
        }

    gaps = []
    if len(ts) > 1:
        start, end = ts.iloc[:-1].reset_index(drop=True), ts.iloc[1:].reset_index(drop=True)
        hours = ((end - start) / pd.Timedelta(hours=1)).to_numpy() - timeframe.minutes / 60
        trading = hours - (_weekend_hours_until(end) - _weekend_hours_until(start))
        for i in np.flatnonzero(trading > long_gap_hours):
            gaps.append(
                {"from": start[i].isoformat(), "to": end[i].isoformat(), "trading_hours": round(float(trading[i]), 1)}
            )
    report["long_gap"] = {"count": len(gaps), "examples": gaps[:_EXAMPLES], "threshold_hours": long_gap_hours}
    return AnomalyScan(masks=masks, report=report)


def drop_anomalies(rows: pd.DataFrame, scan: AnomalyScan, kinds: list[str]) -> tuple[pd.DataFrame, dict]:
    """Remove the bars of the named anomaly kinds (long gaps have no bars to drop)."""
    unknown = set(kinds) - set(DROPPABLE)
    if unknown:
        raise ImportRejected(f"cannot drop {', '.join(sorted(unknown))}; droppable: {', '.join(DROPPABLE)}")
    keep = np.ones(len(rows), bool)
    dropped = {}
    for kind in kinds:
        dropped[kind] = int((scan.masks[kind] & keep).sum())
        keep &= ~scan.masks[kind]
    return rows[keep].reset_index(drop=True), dropped
