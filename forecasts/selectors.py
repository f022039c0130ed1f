"""Reading forecast sets: rows with their realized returns (from the stored candles, so a set made
before the candles arrived gets them as soon as they do), where each was made among the model's
train / validation / test periods, calibrated intervals, scores, choices; and reading a forecasts
CSV someone uploads instead of a stored set."""

from __future__ import annotations

from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd
from django.core.cache import cache
from django.db.models import QuerySet
from django.db.models.functions import Abs

from conformal.engine import calibrated_bounds, unseen_coverage
from forecasts.models import ForecastRow, ForecastSet
from forexgpt_site.errors import DomainError
from forexgpt_site.jobs import JobStatus, request_of
from forexgpt_site.parsing import range_words
from marketdata.selectors import candles_frame
from training.engine.periods import IN_SAMPLE_PARTS, in_sample_of, origin_parts, period_overlap

ROW_COLUMNS = ("pred_return", "q05", "q10", "q25", "q50", "q75", "q90", "q95", "confidence")
BANDS = (("q05", "q95", 0.90), ("q10", "q90", 0.80), ("q25", "q75", 0.50))


def realized_returns(*, symbol: str, timeframe: str, stamps: pd.Series, horizon: int) -> np.ndarray:
    """log(close[t + horizon bars] / close[t]) for each bar t, from the stored candles; NaN where
    that bar is not stored yet (or t itself is not a stored bar)."""
    if len(stamps) == 0:
        return np.zeros(0)
    candles = candles_frame(symbol=symbol, timeframe=timeframe, start=stamps.iloc[0])
    close = candles["close"].to_numpy(float)
    index = pd.Index(candles["ts"])
    pos = index.get_indexer(pd.DatetimeIndex(stamps))
    out = np.full(len(stamps), np.nan)
    ok = (pos >= 0) & (pos + horizon < len(close))
    out[ok] = np.log(close[pos[ok] + horizon] / close[pos[ok]])
    return out


def attached_calibration(fs: ForecastSet):
    """The finished calibration attached to the set's model version (a `conformal` CalibrationRun,
    read through the version's `calibrations` relation), or None."""
    if not fs.artifact_version_id:
        return None
    return fs.artifact_version.calibrations.filter(attached=True, status=JobStatus.SUCCEEDED).first()


def _own_intervals(calibration, fs: ForecastSet) -> pd.DataFrame | None:
    """The calibration's stored sequential intervals when it calibrated this very set (another set's
    forecasts differ: its intervals are not theirs)."""
    if calibration.forecast_set_id != fs.pk or not calibration.intervals:
        return None
    with calibration.intervals.open("rb") as fh:
        return read_forecasts_csv(fh)


def version_periods_of(fs: ForecastSet) -> dict | None:
    """The train / val / test periods of the set's model version, as stored with the set when it was
    made (a set made before they were stored: its version's, while it exists); None when unknown."""
    if fs.periods:
        return fs.periods
    return (fs.artifact_version.periods or None) if fs.artifact_version_id else None


def forecast_frame(
    fs: ForecastSet,
    *,
    truth: bool = True,
    calibrated: bool = True,
    labelled: bool = False,
    rows: QuerySet | None = None,
) -> pd.DataFrame:
    """`timestamp, pred_return, q05..q95, confidence[, part, in_sample][, y_true][, lo, hi, interval_kind]`,
    ascending. `y_true` is the realized horizon return where it is known. `labelled`: where each
    forecast was made among the model's periods (`part`: before, train, val, test, between, after)
    and whether that is in-sample (train or val); empty when the periods are unknown. `lo`/`hi` come
    from the version's attached calibration (`conformal.engine.calibrated_bounds`): on this set's
    points after its calibration part, its own sequential intervals where it calibrated this set,
    its final state's elsewhere; `interval_kind` says which, and whether the point is scored."""
    qs = rows if rows is not None else ForecastRow.objects.filter(forecast_set=fs)
    values = list(qs.order_by("ts").values_list("ts", *ROW_COLUMNS))
    frame = pd.DataFrame(values, columns=["timestamp", *ROW_COLUMNS])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    if labelled:
        parts = origin_parts(version_periods_of(fs), frame["timestamp"])
        frame["part"] = parts if parts is not None else None
        frame["in_sample"] = np.isin(parts, IN_SAMPLE_PARTS) if parts is not None else None
    if truth:
        frame["y_true"] = realized_returns(
            symbol=fs.symbol, timeframe=fs.timeframe, stamps=frame["timestamp"], horizon=fs.horizon
        )
    if calibrated and len(frame) and (calibration := attached_calibration(fs)) is not None:
        # The calibrator a calibration attached to this version publishes (read through the relation,
        # applied with the pure conformal engine: docs/ARCHITECTURE.md, the one read against the flow).
        frame = calibrated_bounds(
            frame,
            state=calibration.state,
            alpha=calibration.alpha,
            ranges=calibration.ranges,
            intervals=_own_intervals(calibration, fs),
        )
    return frame


def read_forecasts_csv(source: Path | str | IO, *, time_ordered: bool = False) -> pd.DataFrame:
    """A forecasts CSV (a path, an open file or an upload) - what a stored set's CSV holds, or any
    table of timestamp and forecast columns - with its column names stripped and its `timestamp`
    column, when present, parsed as UTC. `time_ordered`: the timestamps must also be ascending (a
    calibration learns from the past). ValueError says what is wrong and where."""
    try:
        frame = pd.read_csv(source)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DomainError(f"the forecasts file is not a readable CSV ({exc})") from exc
    if frame.empty:
        raise DomainError("the forecasts file has no rows")
    frame.columns = [str(c).strip() for c in frame.columns]
    if "timestamp" in frame:
        ts = pd.to_datetime(frame["timestamp"], utc=True, errors="coerce")
        if ts.isna().any():
            raise DomainError(f"timestamp on row {int(np.flatnonzero(ts.isna())[0]) + 1} is not a date/time")
        if time_ordered and not ts.is_monotonic_increasing:
            bad = int(np.flatnonzero((ts.diff() < pd.Timedelta(0)).to_numpy())[0]) + 1
            raise DomainError(f"timestamps must be ascending (time-ordered); row {bad} goes back in time")
        frame["timestamp"] = ts
    return frame


def finished_forecast_set(value) -> ForecastSet:
    """A finished forecast set from an instance or an id; ValueError names what is wrong."""
    if value is None or value == "":
        raise DomainError("forecasts_source forecast_set needs a forecast set (its id)")
    if isinstance(value, ForecastSet):
        fs = value
    else:
        try:
            fs = ForecastSet.objects.filter(pk=int(value)).first()
        except (TypeError, ValueError):
            fs = None
    if fs is None:
        raise DomainError(f"there is no forecast set {value!r}")
    if fs.status != JobStatus.SUCCEEDED:
        raise DomainError(f"forecast set {fs.pk} is {fs.status}: only a finished set can be used")
    return fs


def moves_exceeded_by(fs: ForecastSet, *shares: float) -> list[float] | None:
    """For each of `shares`, the |pred_return| that that share of the set's forecasts exceed (0.2: one
    forecast in five moves more), or None for a set without rows: a scale for the forecast strategy's
    entry threshold, which a model whose median is shrunk towards zero (its fitted drift) may never
    clear at a fixed 0.0005."""
    rows = ForecastRow.objects.filter(forecast_set=fs)
    count = rows.count()
    if not count:
        return None
    ranks = [min(int(count * share), count - 1) for share in shares]
    largest = list(
        rows.annotate(move=Abs("pred_return")).order_by("-move").values_list("move", flat=True)[: max(ranks) + 1]
    )
    return [float(largest[rank]) for rank in ranks]  # one sort of the set's rows for every share


def forecast_sets_covering(*, symbol: str, timeframe: str, start=None, end=None, version=None) -> QuerySet:
    """Finished sets of a series whose bars cover [start, end] (None = any), newest first. The range is
    read as the stored bars inside it: a range ending on a date (23:59:59 that day) is covered by a set
    that ends at the series' last bar of that day, as a set made for that range does."""
    from marketdata.selectors import candles_queryset

    qs = ForecastSet.objects.filter(symbol=symbol, timeframe=timeframe, status=JobStatus.SUCCEEDED).select_related(
        "artifact_version__registered_model"
    )
    bars = candles_queryset(symbol=symbol, timeframe=timeframe, start=start, end=end).values_list("ts", flat=True)
    if start is not None:
        start = bars.first() or start
    if end is not None:
        end = bars.order_by("-ts").first() or end
    if start is not None:
        qs = qs.filter(first__lte=start)
    if end is not None:
        qs = qs.filter(last__gte=end)
    if version is not None:
        qs = qs.filter(artifact_version=version)
    return qs.order_by("-created_at")


def quantile_score(quantiles: dict[str, np.ndarray], y: np.ndarray) -> float:
    """CRPS approximated from the seven stored quantiles: twice the mean pinball loss over the levels
    (exact CRPS needs the samples, which are not stored; the same rule scores every forecaster)."""
    from training.engine.forecast import QUANTILE_NAMES, QUANTILES, pinball

    return float(2 * np.mean([pinball(quantiles[name], y, tau) for name, tau in zip(QUANTILE_NAMES, QUANTILES)]))


# The seasonal baselines need a calendar and a GARCH fit: at least this many stored bars before they start.
MIN_SEASON_BARS = 1000
SEASONAL_CACHE_S = 3600


def baseline_fit_end(fs: ForecastSet, stamps: pd.Series, first_scored) -> tuple[int, str] | None:
    """(index of the last bar, why) of the bars the seasonal baselines are fitted on, among the set's
    series' stored bars `stamps` (ascending): up to the model version's last training origin, as a
    training run's scores fit them; where its periods are unknown, or that leaves fewer than
    MIN_SEASON_BARS bars, the bars before the first scored forecast. None when neither has enough."""
    periods = version_periods_of(fs)
    if periods:
        last = int(np.searchsorted(stamps, pd.Timestamp(periods["train"]["last_origin"]), side="right")) - 1
        if last + 1 >= MIN_SEASON_BARS:
            return last, "the model's training part"
    last = int(np.searchsorted(stamps, first_scored, side="left")) - 1
    return (last, "the bars before the first scored forecast") if last + 1 >= MIN_SEASON_BARS else None


def forecast_scores(fs: ForecastSet, frame: pd.DataFrame | None = None) -> dict | None:
    """The set's forecasts against the realized returns, beside the baselines on the same bars (their
    exact quantiles at the same levels; the seasonal EWMA and seasonal GARCH(1,1)-t fitted on the bars
    `baseline_fit_end` names): the quantile score and its ratio to each baseline's, the coverage of each
    band, the strongest baseline, and the rows scored. None when no horizon has passed yet."""
    from training.engine.forecast import (
        BASELINES,
        empirical_quantiles,
        ewma_sigma,
        gaussian_quantiles,
        random_walk_history,
        seasonal_ewma_sigma,
        strongest_baseline,
    )
    from training.engine.forecast import QUANTILE_NAMES as names
    from training.engine.forecast import QUANTILES as levels
    from training.engine.garch import seasonal_garch_t_quantiles

    frame = forecast_frame(fs, calibrated=False) if frame is None else frame
    known = frame[np.isfinite(frame["y_true"])]
    if known.empty:
        return None
    candles = candles_frame(symbol=fs.symbol, timeframe=fs.timeframe, end=known["timestamp"].iloc[-1])
    ends = pd.Index(candles["ts"]).get_indexer(pd.DatetimeIndex(known["timestamp"]))
    close, y, ts = candles["close"].to_numpy(float), known["y_true"].to_numpy(float), candles["ts"]

    def named(q):
        return {n: q[i] for i, n in enumerate(names)}

    forecasters = {
        "model": {n: known[n].to_numpy(float) for n in names},
        "ewma_gaussian": named(gaussian_quantiles(ewma_sigma(close, ends, fs.horizon), levels)),
        "random_walk": named(empirical_quantiles(random_walk_history(close, ends, fs.horizon), levels)),
    }
    fit = baseline_fit_end(fs, ts, known["timestamp"].iloc[0])
    if fit is not None and ends.min() >= 1:  # a forecast made at the series' first bar has no return to filter
        train_last = fit[0]
        # A GARCH fit on tens of thousands of bars takes a second or two: kept per process until the set's
        # scored rows or the bars they stand on change.
        key = f"forecast-seasonal:{fs.pk}:{len(known)}:{known['timestamp'].iloc[-1].isoformat()}:{len(close)}:{train_last}"
        seasonal = cache.get(key)
        if seasonal is None:
            seasonal = {
                "seasonal_ewma": named(
                    gaussian_quantiles(seasonal_ewma_sigma(close, ts, ends, fs.horizon, train_last=train_last), levels)
                ),
                "seasonal_garch_t": named(
                    seasonal_garch_t_quantiles(close, ts, ends, fs.horizon, train_last=train_last, levels=levels)
                ),
            }
            cache.set(key, seasonal, SEASONAL_CACHE_S)
        forecasters |= seasonal
    scored = {name: quantile_score(q, y) for name, q in forecasters.items()}
    order = ["model", *(name for name in BASELINES if name in forecasters)]  # the pages' order
    out = {
        "rows": int(len(known)),
        "pending": int(len(frame) - len(known)),
        "forecasters": {},
        "baselines_fitted_on": None
        if "seasonal_ewma" not in forecasters
        else {"last_bar": ts.iloc[fit[0]].to_pydatetime(), "bars": fit[0] + 1, "why": fit[1]},
    }
    for name in order:
        q = forecasters[name]
        out["forecasters"][name] = {
            "label": "this model" if name == "model" else BASELINES[name],
            "quantile_crps": scored[name],
            "model_ratio": None if name == "model" or not scored[name] else scored["model"] / scored[name],
            "mae_median": float(np.mean(np.abs(y - q["q50"]))),
            "coverage": {f"{lo}-{hi}": float(np.mean((y >= q[lo]) & (y <= q[hi]))) for lo, hi, _ in BANDS},
        }
    strongest = strongest_baseline({name: scored[name] for name in BASELINES if name in scored})
    out["strongest_baseline"] = strongest[0] if strongest else None
    overlap = period_overlap(version_periods_of(fs), known["timestamp"])
    out |= {"overlap": overlap, "in_sample": in_sample_of(overlap)}  # of the scored forecasts
    if "interval_kind" in frame and (calibration := attached_calibration(fs)) is not None:
        out["calibration"] = calibration_summary(calibration, frame)
        out["calibrated_coverage"] = out["calibration"]["coverage"]
    return out


def calibration_summary(calibration, frame: pd.DataFrame) -> dict:
    """The attached calibration as a forecast set's scores name it - its id, method, alpha and target,
    the ranges it was fitted and evaluated on, whether its own forecasts were in-sample - and its
    calibrated coverage on this set's points it did not see (`conformal.engine.unseen_coverage`,
    the function its own page's figure comes from)."""
    return {
        "id": calibration.pk,
        "label": calibration.label,
        "method": calibration.method,
        "alpha": calibration.alpha,
        "params": request_of(calibration).params,
        "ranges": calibration.ranges,
        "forecast_set": calibration.forecast_set_id,
        "in_sample": calibration.in_sample,
        "sample_label": calibration.sample_label,
        **unseen_coverage(frame, alpha=calibration.alpha),
    }


def runs_using(fs: ForecastSet) -> dict[str, list]:
    """The calibrations, backtests and optimizations that used a forecast set, newest first."""
    return {
        name: list(getattr(fs, name).order_by("-created_at")[:20])
        for name in ("calibrations", "backtests", "optimizations")
        if hasattr(fs, name)
    }


def forecast_set_for(*, artifact: str, symbol: str, timeframe: str, start=None, end=None) -> ForecastSet:
    """The newest finished forecast set of a model version (REF) that covers a series and range."""
    from marketdata.engine import normalize_symbol, normalize_timeframe
    from registry.selectors import version_by_ref

    version = version_by_ref(artifact)
    symbol, timeframe = normalize_symbol(symbol), normalize_timeframe(timeframe).code
    fs = forecast_sets_covering(symbol=symbol, timeframe=timeframe, start=start, end=end, version=version).first()
    if fs is None:
        raise DomainError(
            f"{version.ref} has no finished forecast set of {symbol} {timeframe}{range_words(start, end)}: make one first "
            f"(Make forecasts on its page, POST /api/forecasts/ or manage.py forecast)"
        )
    return fs
