"""A file's bars against the bars already stored for the same series: new, duplicate or conflict.

A stored bar with the same start and identical OHLCV is a duplicate (importing it again changes
nothing); with any other value it is a conflict, which the import's policy settles.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._errors import ImportConflict, ImportRejected

OHLCV = ("open", "high", "low", "close", "volume")
# What an import does with conflicting bars; the first is the default.
CONFLICT_POLICIES = {
    "refuse": "refuse the file and report the conflicts (nothing is written)",
    "keep": "keep the stored bars (import only the new ones)",
    "replace": "replace the stored bars with the file's",
}
DEFAULT_CONFLICT_POLICY = "refuse"
_EXAMPLES = 10


@dataclass
class BarComparison:
    """Masks over the file's rows (each row is in exactly one), and the conflicts' examples."""

    new: np.ndarray  # no stored bar at that time
    duplicate: np.ndarray  # a stored bar with identical values
    conflict: np.ndarray  # a stored bar with other values
    stale: np.ndarray  # a stored bar with other values, written by a superseded import
    examples: list[dict]

    @property
    def counts(self) -> dict:
        return {
            "new": int(self.new.sum()),
            "duplicates": int(self.duplicate.sum()),
            "conflicts": int(self.conflict.sum()),
        }


def compare_bars(
    rows: pd.DataFrame, stored: pd.DataFrame, *, superseded: Iterable[int] = (), examples: int = _EXAMPLES
) -> BarComparison:
    """Classify each of `rows` against `stored` (both with a UTC `ts` and OHLCV columns; stored
    timestamps unique, as the table guarantees). Values are compared exactly: a float read back
    from the database is the float written.

    `stored` may carry the `candle_import_id` that wrote each bar: differing bars written by a
    `superseded` import (an earlier result of the same recomputation) are `stale`, not conflicts.
    The examples name it, and the file's `line` when `rows` has one.
    """
    none = np.zeros(len(rows), bool)
    if stored.empty:
        return BarComparison(new=~none, duplicate=none, conflict=none.copy(), stale=none.copy(), examples=[])
    matched = stored.set_index("ts").reindex(rows["ts"])
    present = matched["open"].notna().to_numpy()
    file_values = rows[list(OHLCV)].to_numpy(dtype=float)
    stored_values = matched[list(OHLCV)].to_numpy(dtype=float)
    differs = file_values != stored_values
    conflict = present & differs.any(axis=1)
    stale = none.copy()
    if "candle_import_id" in matched and superseded:
        stale = conflict & matched["candle_import_id"].isin(list(superseded)).to_numpy()
        conflict &= ~stale
    shown = []
    for i in np.flatnonzero(conflict)[:examples]:
        item = {
            "ts": rows["ts"].iloc[i].isoformat(),
            "fields": [name for name, d in zip(OHLCV, differs[i]) if d],
            "stored": dict(zip(OHLCV, stored_values[i].tolist())),
            "file": dict(zip(OHLCV, file_values[i].tolist())),
        }
        if "line" in rows:
            item["line"] = int(rows["line"].iloc[i])
        if "candle_import_id" in matched:
            item["stored_import"] = int(matched["candle_import_id"].iloc[i])
        shown.append(item)
    duplicate = present & ~differs.any(axis=1)
    return BarComparison(new=~present, duplicate=duplicate, conflict=conflict, stale=stale, examples=shown)


def conflict_rejection(comparison: BarComparison, *, rows: int) -> ImportConflict:
    """The refusal for a file with conflicting bars, naming the first one and the way out."""
    counts = comparison.counts
    first = comparison.examples[0]
    detail = ", ".join(f"{name} {first['stored'][name]:.10g} vs {first['file'][name]:.10g}" for name in first["fields"])
    message = (
        f"{counts['conflicts']:,} bar(s) are already stored with other values (first: {first['ts']}, stored vs file: {detail}); "
        f"nothing was imported - import again with on_conflict keep (keep the stored bars) or replace (write the file's)"
    )
    report = {**counts, "conflict_examples": comparison.examples, "on_conflict": "refuse"}
    return ImportConflict(message, report=report, rows=rows)


# A file whose closes stand this far from the stored series' (either way) is not the same instrument in
# the same quote - another pair, or prices scaled - whatever its conflict policy says to do with
# differing bars. On the bars both hold two vendors' quotes of one pair differ by pips, not by a fifth
# (even on the day of the SNB's 2015 move: the same minutes, the same prices); against the stored bars
# next to the file's first and last (up to a week away) a real market can move further - EURCHF by 19%
# in minutes in January 2015, USDRUB by 80% in two weeks of March 2022 - so the limit there is 2x:
# wide enough for those, still far below another pair's (AUDJPY is ~60x EURUSD).
PRICE_SCALE_LIMIT = 1.2
NEIGHBOUR_SCALE_LIMIT = 2.0
NEIGHBOUR_WINDOW = pd.Timedelta(days=7)


def price_scale_refusal(
    rows: pd.DataFrame, stored: pd.DataFrame, *, series: str, superseded: Iterable[int] = ()
) -> ImportRejected | None:
    """The refusal for a file whose prices are not on the stored series' scale, or None. Compared on the
    bars both hold (the median ratio of closes, PRICE_SCALE_LIMIT); where they share none, the file's
    first and last bars against the stored bars just before and after them (within NEIGHBOUR_WINDOW,
    NEIGHBOUR_SCALE_LIMIT). `stored`: the series' bars around the file's range, with `ts` and `close`
    (and `candle_import_id`: bars written by a `superseded` import - an earlier result of the same
    recomputation, which this one replaces - are not compared)."""
    if superseded and "candle_import_id" in stored:
        stored = stored[~stored["candle_import_id"].isin(list(superseded))]
    if rows.empty or stored.empty:
        return None
    closes = stored.set_index("ts")["close"]
    shared = closes.reindex(rows["ts"]).to_numpy(float)
    both = np.isfinite(shared) & (shared > 0)
    first, last = rows["ts"].iloc[0], rows["ts"].iloc[-1]
    if both.any():
        file_close, stored_close, limit = rows["close"].to_numpy(float)[both], shared[both], PRICE_SCALE_LIMIT
        where = f"the {both.sum():,} bars both hold"
    else:
        before = closes[(closes.index < first) & (closes.index >= first - NEIGHBOUR_WINDOW)].tail(1)
        after = closes[(closes.index > last) & (closes.index <= last + NEIGHBOUR_WINDOW)].head(1)
        pairs = [(rows["close"].iloc[0], before.iloc[0])] if len(before) else []
        pairs += [(rows["close"].iloc[-1], after.iloc[0])] if len(after) else []
        if not pairs:
            return None
        file_close, stored_close = np.array(pairs, float).T
        limit, where = NEIGHBOUR_SCALE_LIMIT, "the stored bars next to the file's first and last (a week at most away)"
    ratio = float(np.median(file_close / stored_close))
    if 1 / limit <= ratio <= limit:
        return None
    return ImportRejected(
        f"the file's prices are {ratio:.3g}x the stored {series} bars' on {where} (median close "
        f"{np.median(file_close):.6g} against {np.median(stored_close):.6g}): is it another pair, or another quote? "
        "Nothing was imported, whatever the conflict policy; if the stored bars are the wrong ones, staff can "
        "delete them first (the Data page, or manage.py delete_candles)"
    )
