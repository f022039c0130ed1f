"""Forecast runs: check a request, queue it on `gpu`, make the forecasts in a child process chunk by
chunk (each chunk one short transaction), continue a dead run where it stopped."""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import transaction

from forecasts.models import ForecastRow, ForecastSet
from forecasts.request import ForecastRequest
from forecasts.selectors import forecast_scores, version_periods_of
from forexgpt_site.errors import DomainError, domain_errors
from forexgpt_site.jobs import CHILD_CANCELLED, JobCancelled, JobContext, job_enqueue, job_run_child, request_of
from forexgpt_site.parsing import parse_utc
from marketdata.selectors import candles_frame, candles_queryset
from training.engine.periods import in_sample_of, period_overlap

logger = logging.getLogger(__name__)

CHUNK_WINDOWS = int(
    os.environ.get("FOREXGPT_FORECAST_CHUNK", "256")
)  # windows per stored chunk (and per sampling batch)
QUANTILE_FIELDS = ("q05", "q10", "q25", "q50", "q75", "q90", "q95")


def load_forecaster(version):
    """The model, normalizer and config of a registered version, ready for inference on the CPU."""
    import torch

    from registry.selectors import version_checkpoint_path, version_file_bytes, version_stats
    from training.engine import Normalizer, build_forecaster

    state = torch.load(version_checkpoint_path(version), map_location="cpu", weights_only=True)
    model = build_forecaster(**state["model_config"])
    model.load_state_dict(state["state_dict"])
    config = json.loads(version_file_bytes(version, "config"))
    return model.eval(), Normalizer.from_npz(version_stats(version)), config


@dataclass
class ForecastPlan:
    """The bars a request forecasts: `ends` index the candles (bars <= end), each a window's last bar.
    `adapt` (another series than the model's): the bars and the windows its statistics and spread are
    fitted on."""

    candles: pd.DataFrame
    ends: np.ndarray
    patch_len: int
    adapt: AdaptPlan | None = None


@dataclass
class AdaptPlan:
    """Another series' bars up to the end of the model's validation period, and the window ends of its
    training and validation periods among them (`transfer.split_by_dates`)."""

    candles: pd.DataFrame
    split: object  # training.engine.features.Split


def adapt_end(version, request: ForecastRequest):
    """The last bar another series' statistics and spread may read: the end of the model's validation
    period. DomainError for a version that records no periods."""
    if not version.periods:
        raise DomainError(
            f"{version.ref} was trained on {version.symbol} {version.timeframe} and records no training and "
            f"validation periods (registered before they were kept): it can forecast only {version.symbol}"
        )
    return parse_utc(version.periods["val"]["last_bar"])


def adapt_plan(version, request: ForecastRequest, candles: pd.DataFrame, patch_len: int) -> AdaptPlan:
    """Another series' windows of the model's training and validation periods among `candles` (its bars up to
    `adapt_end`); DomainError naming what is missing."""
    from training.engine.transfer import split_by_dates, windows_needed

    periods = version.periods
    split = split_by_dates(candles["ts"], periods, patch_len, version.horizon_bars)
    needed = windows_needed(periods)
    for part, name, found in (("train", "training", split.train), ("val", "validation", split.val)):
        if len(found) < needed[part]:
            raise DomainError(
                f"{version.ref} was trained on {version.symbol} {version.timeframe}; to forecast {request.symbol} it "
                f"fits {request.symbol}'s statistics on its bars of the model's {name} period "
                f"({_when(periods[part]['first_origin'])} to {_when(periods[part]['last_origin'])} UTC), and "
                f"{found.size:,} {request.symbol} {request.timeframe} windows are stored there: at least {needed[part]:,} are needed"
            )
    return AdaptPlan(candles=candles, split=split)


def forecast_plan(version, request: ForecastRequest) -> ForecastPlan:
    """Which bars get a forecast; ValueError when the model cannot forecast them (another bar size,
    another series without enough bars in the model's periods, too few bars of context before the
    start, nothing in the range). The series' bars are read once, up to the later of the request's end
    and, for another series, the end of the model's validation period."""
    from registry.selectors import version_file_bytes

    if version.timeframe != request.timeframe:
        raise DomainError(
            f"{version.ref} was trained on {version.symbol} {version.timeframe}; it cannot forecast "
            f"{request.symbol} {request.timeframe} (a model forecasts bars of the size it was trained on)"
        )
    patch_len = int(json.loads(version_file_bytes(version, "config"))["patch_len"])
    fit_end = adapt_end(version, request) if version.symbol != request.symbol else None
    read_end = request.end if fit_end is None or request.end is None else max(request.end, fit_end)
    stored = candles_frame(symbol=request.symbol, timeframe=request.timeframe, end=read_end)

    def upto(end) -> pd.DataFrame:
        return stored if end is None or end == read_end else stored[stored["ts"] <= end].reset_index(drop=True)

    adapt = adapt_plan(version, request, upto(fit_end), patch_len) if fit_end is not None else None
    candles = upto(request.end)
    first = patch_len - 1
    if request.start is not None:
        before = int((candles["ts"] < pd.Timestamp(request.start)).sum())
        if before < patch_len - 1:
            raise DomainError(
                f"a forecast needs {patch_len} bars of context: only {before} {request.symbol} {request.timeframe} "
                f"bars are stored before {request.start:%Y-%m-%d %H:%M}; " + _first_forecastable(request, patch_len)
            )
        first = before
    if len(candles) <= first:
        raise DomainError(
            f"no {request.symbol} {request.timeframe} bar to forecast in that range "
            f"({len(candles)} bars stored up to it; a forecast needs {patch_len} of context)"
        )
    return ForecastPlan(candles=candles, ends=np.arange(first, len(candles)), patch_len=patch_len, adapt=adapt)


def _first_forecastable(request: ForecastRequest, patch_len: int) -> str:
    """Where the series' first forecast can start (its patch_len-th stored bar, wherever the request's
    range ends), said as what to do."""
    stored = candles_queryset(symbol=request.symbol, timeframe=request.timeframe).values_list("ts", flat=True)
    ts = next(iter(stored[patch_len - 1 : patch_len]), None)
    if ts is None:
        return f"fewer than {patch_len} {request.symbol} {request.timeframe} bars are stored: import more"
    after_end = request.end is not None and ts > request.end
    return f"start at {ts:%Y-%m-%d %H:%M} or later" + (
        f" (after this range's end, {request.end:%Y-%m-%d %H:%M}: move the end too)" if after_end else ""
    )


class InSampleRange(DomainError):
    """Forecasts asked for on bars the model was trained or validated on, without confirming it."""


def _when(iso: str) -> str:
    return f"{parse_utc(iso):%Y-%m-%d %H:%M}"


def in_sample_message(version, overlap: dict, symbol: str | None = None) -> str:
    """What a form says before it makes in-sample forecasts: how many fall in which part, and where
    the out-of-sample forecasts start. `symbol`: the series forecast, where it is not the model's own
    (the model's periods are dates: its weights saw its own series on them, and the other series'
    statistics and spread are fitted on that series' bars of the same dates)."""
    periods = version.periods
    inside = [
        f"{overlap[part]:,} inside its {name} part ({_when(periods[part]['first_bar'])} to {_when(periods[part]['last_bar'])} UTC)"
        for part, name in (("train", "training"), ("val", "validation"))
        if overlap.get(part)
    ]
    return (
        f"In-sample: of these {sum(overlap.values()):,} forecasts, {' and '.join(inside)}. {version.ref} was fitted to "
        + (
            f"{version.symbol}'s bars of those dates (and its {symbol} statistics to {symbol}'s bars of them)"
            if symbol and symbol != version.symbol
            else "those bars"
        )
        + f", so their scores, calibrations and backtests overstate what it can do. Its test period starts "
        f"{_when(periods['test']['first_bar'])} UTC: start there or later for out-of-sample forecasts, or confirm to make these anyway."
    )


@domain_errors()  # what the engines refuse for this request's data is a refusal too
@transaction.atomic
def forecast_set_start(
    *, user, request: ForecastRequest, enqueue: bool = True, in_sample_ok: bool = True
) -> ForecastSet:
    """Check the request against the model and the stored bars, store the run, queue it on `gpu`.
    Nothing is computed here: the web request answers at once. The set's `overlap` with the model's
    periods is known from the planned bars; with `in_sample_ok` False a range that touches the
    training or validation part is refused with `InSampleRange` (a form asks before making it)."""
    from registry.selectors import version_by_ref

    version = version_by_ref(request.artifact)
    plan = forecast_plan(version, request)
    ts = plan.candles["ts"]
    overlap = period_overlap(version.periods, ts.iloc[plan.ends])
    if not in_sample_ok and in_sample_of(overlap):
        raise InSampleRange(in_sample_message(version, overlap, request.symbol))
    fs = ForecastSet.of_request(  # the version it resolved to, not an alias that may move: a resumed run makes the same rows
        replace(request, artifact=version.ref),
        owner=user if getattr(user, "is_authenticated", False) else None,
        artifact_version=version,
        artifact_ref=version.ref,
        first=ts.iloc[plan.ends[0]].to_pydatetime(),
        last=ts.iloc[plan.ends[-1]].to_pydatetime(),
        horizon=version.horizon_bars,
        windows_total=len(plan.ends),
        overlap=overlap,
        periods=version.periods or None,
        message=f"queued: {len(plan.ends):,} forecasts",
    )
    fs.save()
    if enqueue:
        job_enqueue(fs)
    return fs


def log_path(fs: ForecastSet) -> Path:
    return Path(settings.FOREXGPT_CHECKPOINT_DIR) / f"forecast-set-{fs.pk}" / f"attempt-{fs.attempts + 1}.log"


def forecast_set_work(fs: ForecastSet, ctx: JobContext) -> str:
    """The task's work: the child process makes the forecasts; this process watches it."""
    job_run_child(fs, ["forecast_worker", str(fs.pk)], log_path(fs))
    fs.refresh_from_db()
    # Score it once here: the fitted baselines land in the host's cache, so the set's page does not fit a
    # GARCH on tens of thousands of bars in its first request (1.0-1.4 s of a page's server time before).
    try:
        forecast_scores(fs)
    except Exception:  # the forecasts are stored: a scoring error shows on the page, it does not fail the job
        logger.warning("forecast set %s: scores not prepared", fs.pk, exc_info=True)
    return fs.message or "done"


def _chunk_generator(seed: int, chunk: int):
    """Each chunk's noise comes from (seed, chunk) alone, so a resumed run makes the same rows."""
    import torch

    return torch.Generator().manual_seed(int(np.random.SeedSequence([seed, chunk]).generate_state(1)[0]))


def adapt_normalizer(fs: ForecastSet, model, norm, config: dict, adapt: AdaptPlan, device: str, ctx: JobContext):
    """The model's normalizer fitted to the set's series (`transfer.adapt_to_series`: statistics on its bars
    of the model's training period, the spread and drift on its validation period's windows); what was
    fitted is kept on the set (`adaptation`) for its page."""
    from training.engine.transfer import adapt_to_series
    from training.services.child import EVAL_WINDOWS

    version = fs.artifact_version
    ctx.progress(
        0.0,
        f"fitting {fs.symbol}'s statistics and spread on its bars of {version.ref}'s training and validation periods",
        force=True,
    )
    started = time.monotonic()
    adapted, fitted = adapt_to_series(
        model,
        norm,
        adapt.candles,
        channels=config["channels"],
        patch_len=int(config["patch_len"]),
        horizon=int(config["horizon"]),
        split=adapt.split,
        seed=request_of(fs).seed,
        max_windows=EVAL_WINDOWS,
        device=device,
    )
    ts = adapt.candles["ts"]
    train, val = adapt.split.train, adapt.split.val
    fs.adaptation = {
        "trained_on": version.symbol,
        "statistics_bars": [_utc_text(ts.iloc[0]), _utc_text(ts.iloc[int(train.max())])],
        "train_windows": int(len(train)),
        "val_windows": int(len(val)),
        "val_origins": [_utc_text(ts.iloc[int(val.min())]), _utc_text(ts.iloc[int(val.max())])],
        "spread_windows": fitted["windows"],
        "spread": fitted["spread"],
        "drift": fitted["drift"],
        "band_levels": fitted["band_levels"],
        "levels_scale": fitted["levels_scale"],
        "model_spread": norm.spread,
        "model_drift": norm.drift,
        "seconds": round(time.monotonic() - started, 1),
    }
    ForecastSet.objects.filter(pk=fs.pk).update(adaptation=fs.adaptation)
    return adapted


def _utc_text(stamp) -> str:
    return f"{pd.Timestamp(stamp).tz_convert('UTC'):%Y-%m-%d %H:%M}"


def forecast_child_main(set_id: int) -> int:
    """The child: forecast every chunk of windows not stored yet, one short transaction a chunk."""
    import torch

    from training.engine import make_features, sample_forecasts, summarize, windows
    from training.engine.model import inference_precision

    torch.set_num_threads(settings.FOREXGPT_TORCH_THREADS)
    fs = ForecastSet.objects.get(pk=set_id)
    if fs.artifact_version is None:
        raise DomainError(f"model version {fs.artifact_ref} was deleted; these forecasts cannot be completed")
    ctx = JobContext(fs)
    model, norm, config = load_forecaster(fs.artifact_version)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    precision = inference_precision(device)  # bf16 on a GPU that has it, fp32 on the CPU
    request = request_of(fs)
    plan = forecast_plan(fs.artifact_version, request)
    if plan.adapt is not None:  # another series: its bars in the model's units (a resumed run fits the same)
        norm = adapt_normalizer(fs, model, norm, config, plan.adapt, device, ctx)
    features, _ = make_features(plan.candles, config["channels"])  # the model's channels, in its order
    feats = norm.transform(features)
    # each window's scale (the calendar-aware EWMA's spread times the fitted spread; one number for older
    # models); each window's median path is kept at the fitted drift times itself (1 for older models)
    scales = norm.forecast_scale(
        plan.candles["close"].to_numpy(float), plan.ends, int(config["horizon"]), plan.candles["ts"]
    )
    ts = plan.candles["ts"]
    done = set(ForecastRow.objects.filter(forecast_set=fs).values_list("ts", flat=True))
    chunks = [plan.ends[i : i + CHUNK_WINDOWS] for i in range(0, len(plan.ends), CHUNK_WINDOWS)]
    chunk_scales = [scales[i : i + CHUNK_WINDOWS] for i in range(0, len(plan.ends), CHUNK_WINDOWS)]
    started, made = time.monotonic(), 0
    try:
        for k, ends in enumerate(chunks):
            stamps = [ts.iloc[e].to_pydatetime() for e in ends]
            if all(s in done for s in stamps):
                continue
            paths = sample_forecasts(
                model,
                windows(feats, ends, plan.patch_len),
                n_samples=request.samples,
                steps=request.steps,
                sampler=request.sampler,
                generator=_chunk_generator(request.seed, k),
                batch=len(ends),
                y_scale=chunk_scales[k],
                drift=norm.drift,
                levels=norm.levels,
                device=device,
                precision=precision,
            )
            s = summarize(paths)
            rows = [
                ForecastRow(
                    forecast_set=fs,
                    ts=stamp,
                    pred_return=float(s["median"][i, -1]),
                    confidence=float(s["confidence"][i]),
                    **{q: float(s[q][i, -1]) for q in QUANTILE_FIELDS},
                )
                for i, stamp in enumerate(stamps)
            ]
            with transaction.atomic():
                ForecastRow.objects.filter(forecast_set=fs, ts__in=stamps).delete()  # a chunk is all or nothing
                ForecastRow.objects.bulk_create(rows)
            made += len(rows)
            stored = ForecastRow.objects.filter(forecast_set=fs).count()
            rate = made / max(time.monotonic() - started, 1e-9)
            eta = (fs.windows_total - stored) / rate if rate > 0 else None
            ctx.progress(
                stored / max(fs.windows_total, 1),
                f"{stored:,} of {fs.windows_total:,} forecasts ({rate:,.1f}/s)",
                force=True,
                rows=stored,
                eta_s=eta,
            )
    except JobCancelled:
        return CHILD_CANCELLED
    stamps = list(ForecastRow.objects.filter(forecast_set=fs).values_list("ts", flat=True))
    overlap = period_overlap(version_periods_of(fs), stamps)  # the stored rows' own origins
    ForecastSet.objects.filter(pk=fs.pk).update(
        rows=len(stamps), eta_s=0, overlap=overlap, message=f"{len(stamps):,} forecasts of {fs.artifact_ref}"
    )
    return 0
