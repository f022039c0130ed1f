"""Backtest runs: validate, queue, compute with the engine, store stats, equity and trades."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
from django.core.files.base import ContentFile
from django.db import transaction

from backtesting_app.engine import FxCosts, align_forecasts, momentum_forecasts, ohlc_frame, run_backtest, strategy_spec
from backtesting_app.engine.optimize import PERMUTATIONS, BacktestProblem, model_value
from backtesting_app.models import BacktestRun
from backtesting_app.request import COST_FIELDS, FORECAST_SOURCES, BacktestRequest  # noqa: F401 (COST_FIELDS re-exported)
from forecasts.selectors import (
    finished_forecast_set,
    forecast_frame,
    forecast_set_for,
    forecast_sets_covering,
    read_forecasts_csv,
)
from forexgpt_site.errors import DomainError, domain_errors
from forexgpt_site.jobs import JobContext, job_enqueue, request_of
from forexgpt_site.parsing import range_words
from forexgpt_site.serialization import json_value
from marketdata.engine import normalize_symbol, normalize_timeframe, pip_size
from marketdata.selectors import candles_frame

DRAWDOWN_KEYS = ("Max. Drawdown [%]", "Avg. Drawdown [%]")


@domain_errors()  # a symbol or a timeframe the engine does not understand is the caller's refusal
def load_bars(*, symbol: str, timeframe: str, start=None, end=None) -> pd.DataFrame:
    symbol, tf = normalize_symbol(symbol), normalize_timeframe(timeframe)
    candles = candles_frame(symbol=symbol, timeframe=tf.code, start=start, end=end)
    if not len(candles):
        raise DomainError(
            f"no {symbol} {tf.code} bars are stored in that range: choose a range with bars, or import them"
        )
    if len(candles) < 3:
        raise DomainError(f"only {len(candles)} {symbol} {tf.code} bar(s) in that range: at least 3 are needed")
    return ohlc_frame(candles)


def forecast_set_table(fs) -> pd.DataFrame:
    return forecast_frame(fs, truth=False, calibrated=False)[["timestamp", "pred_return", "confidence"]]


def forecasts_of_request(source: str, upload, forecast_set=None) -> pd.DataFrame | str | None:
    """A request's forecasts, as `backtest_prepare` takes them: a stored forecast set's or the
    uploaded CSV's table, "baseline", or None (`source` none, for the pattern strategy)."""
    if source not in FORECAST_SOURCES:
        raise DomainError(f"unknown forecasts source {source!r}; choose {', '.join(FORECAST_SOURCES)}")
    if source == "forecast_set":
        return forecast_set_table(finished_forecast_set(forecast_set))
    if source == "csv":
        if upload is None:
            raise DomainError("forecasts_source csv needs an uploaded forecasts file")
        return read_forecasts_csv(upload)
    return "baseline" if source == "baseline" else None


def keep_forecasts(run, upload, forecast_set=None) -> None:
    """Record on a run (a backtest or an optimization) where its forecasts come from: the stored set
    and its model version, or the uploaded CSV."""
    if run.forecasts_source == "forecast_set":
        run.forecast_set = finished_forecast_set(forecast_set)
        run.artifact_version_id = run.forecast_set.artifact_version_id
    elif upload is not None and run.forecasts_source == "csv":
        upload.seek(0)
        run.forecasts.save(Path(getattr(upload, "name", "forecasts.csv")).name, upload, save=False)


def forecasts_of_run(run) -> pd.DataFrame | str | None:
    """The forecasts a stored run was started with, read back for its task."""
    if run.forecasts_source == "forecast_set":
        if run.forecast_set_id is None:
            raise DomainError("the forecast set this run used was deleted")
        return forecast_set_table(run.forecast_set)
    if run.forecasts_source == "csv":
        with run.forecasts.open("rb") as fh:
            return read_forecasts_csv(fh)
    return "baseline" if run.forecasts_source == "baseline" else None


def backtest_prepare(request: BacktestRequest, forecasts: pd.DataFrame | str | None) -> dict:
    """A checked request's inputs: its bars, its FX costs, and its forecasts (`request_forecasts`: a table
    of timestamp, pred_return[, confidence], "baseline" for the momentum baseline, or None) aligned to
    the bars. The request checked its parameters, costs and engine; here what needs the stored data."""
    spec = strategy_spec(request.strategy)
    fx = FxCosts(**request.costs, pip=pip_size(request.symbol))
    ohlc = load_bars(symbol=request.symbol, timeframe=request.timeframe, start=request.start, end=request.end)
    pred = conf = None
    if spec.needs_forecasts:
        if forecasts is None:
            raise DomainError(
                f"the {request.strategy} strategy needs forecasts: a stored forecast set, an uploaded CSV or the "
                "momentum baseline"
            )
        pred, conf = align_forecasts(ohlc, momentum_forecasts(ohlc) if isinstance(forecasts, str) else forecasts)
    return {
        "ohlc": ohlc,
        "strategy": request.strategy,
        "params": request.params,
        "costs": fx,
        "pred_return": pred,
        "confidence": conf,
        "engine": request.engine,
    }


def request_forecasts(request: BacktestRequest, upload=None) -> tuple[BacktestRequest, pd.DataFrame | str | None]:
    """The request with an `artifact` resolved to the forecast set it picks, and the forecasts it
    names (as `backtest_prepare` takes them)."""
    if request.artifact:
        request = request.with_forecast_set(
            forecast_set_for(
                artifact=request.artifact,
                symbol=request.symbol,
                timeframe=request.timeframe,
                start=request.start,
                end=request.end,
            ).pk
        )
    elif request.forecasts_source == "forecast_set" and request.forecast_set is None:
        raise DomainError(
            no_forecast_set_message(
                symbol=request.symbol, timeframe=request.timeframe, start=request.start, end=request.end
            )
        )
    return request, forecasts_of_request(request.forecasts_source, upload, request.forecast_set)


def no_forecast_set_message(*, symbol: str, timeframe: str, start=None, end=None) -> str:
    """Why a backtest on 'a stored forecast set' has none: which sets of the series exist and what they
    cover, where the series' bars end, and what to do."""
    from marketdata.selectors import candles_queryset

    def when(ts) -> str:
        return f"{ts:%Y-%m-%d %H:%M}"

    def listed(sets) -> str:
        return "; ".join(f"#{fs.pk} ({fs.artifact_ref}) {when(fs.first)} to {when(fs.last)}" for fs in sets[:5])

    span = range_words(start, end)
    covering = forecast_sets_covering(symbol=symbol, timeframe=timeframe, start=start, end=end)
    if covering.exists():
        return f"no forecast set was picked; these cover {symbol} {timeframe}{span}: {listed(covering)}"
    stored = forecast_sets_covering(symbol=symbol, timeframe=timeframe)
    have = (
        f"the stored sets cover {listed(stored)}"
        if stored.exists()
        else f"no forecast set of {symbol} {timeframe} is stored"
    )
    last = candles_queryset(symbol=symbol, timeframe=timeframe).order_by("-ts").values_list("ts", flat=True).first()
    data = (
        f"; the {symbol} {timeframe} bars end {when(last)} UTC"
        if last
        else f"; no {symbol} {timeframe} bars are stored"
    )
    return (
        f"no stored forecast set covers {symbol} {timeframe}{span} ({have}{data}): make forecasts for this range on a "
        "model version's page, choose a range a set covers, or use the momentum baseline"
    )


def backtest_compute(request: BacktestRequest, forecasts: pd.DataFrame | str | None):
    """Run a request with its forecasts (`request_forecasts`): returns (its inputs as `backtest_prepare`
    made them - the bars, the per-bar forecasts the strategy saw - and the BacktestResult)."""
    prep = backtest_prepare(request, forecasts)
    return prep, run_backtest(
        prep["ohlc"],
        prep["strategy"],
        prep["params"],
        prep["costs"],
        pred_return=prep["pred_return"],
        confidence=prep["confidence"],
        engine=prep["engine"],
    )


def stats_dict(stats: pd.Series) -> dict:
    """backtesting's stats as JSON; drawdowns turned positive (a loss is reported as a positive %)."""
    out = {k: json_value(v) for k, v in stats.items() if not str(k).startswith("_")}
    for key in DRAWDOWN_KEYS:
        if out.get(key) is not None:
            out[key] = abs(out[key])
    return out


def trades_records(trades: pd.DataFrame) -> list[dict]:
    return [{k: json_value(v) for k, v in row.items()} for row in trades.to_dict(orient="records")]


def equity_frame(result) -> pd.DataFrame:
    eq = result.equity
    return pd.DataFrame(
        {
            "ts": eq.index.tz_localize("UTC"),
            "equity": eq["Equity"].to_numpy(),
            "drawdown_pct": 100 * eq["DrawdownPct"].to_numpy(),
        }
    )


@domain_errors()  # what the engines refuse for this request's data is a refusal too
def backtest_run_start(
    *, user, request: BacktestRequest, upload=None, origin_result=None, enqueue: bool = True
) -> BacktestRun:
    """Check the whole request (bars, parameters, costs, forecast coverage), store the run and queue it
    (`enqueue=False`: the caller runs or queues it, as the command does); `upload`
    is the forecasts CSV of source `csv`; `origin_result` the optimization front point it was opened
    from (its parameters were chosen on this data: the page says so). Only the insert is a
    transaction: loading and aligning the bars happens before it."""
    request, forecasts = request_forecasts(request, upload)
    backtest_prepare(request, forecasts)
    run = BacktestRun.of_request(
        request, owner=user if getattr(user, "is_authenticated", False) else None, origin_result=origin_result
    )
    keep_forecasts(run, upload, request.forecast_set)
    with transaction.atomic():
        run.save()
        if enqueue:
            job_enqueue(run)
    return run


def backtest_run_work(run: BacktestRun, ctx: JobContext) -> str:
    ctx.progress(0.1, f"loading {run.symbol} {run.timeframe} bars", force=True)
    forecasts = forecasts_of_run(run)
    ctx.progress(0.3, f"running the {run.strategy} strategy on the {run.engine} engine", force=True)
    prep, result = backtest_compute(request_of(run), forecasts)
    value = None
    if prep["pred_return"] is not None:
        ctx.progress(
            0.7, f"the same strategy on random entries ({PERMUTATIONS} permutations) and the baseline", force=True
        )
        value = backtest_model_value(run, prep)
    ctx.progress(0.9, "saving results", force=True)
    buffer = io.StringIO()
    equity_frame(result).to_csv(buffer, index=False)
    stored = run.equity.storage.save(f"backtests/equity/run-{run.pk}.csv", ContentFile(buffer.getvalue().encode()))
    stats = stats_dict(result.stats)
    try:
        with transaction.atomic():
            BacktestRun.objects.filter(pk=run.pk).update(
                stats=stats, trades=trades_records(result.trades), equity=stored, model_value=value
            )
    except BaseException:
        run.equity.storage.delete(stored)
        raise
    message = (
        f"return {stats['Return [%]']:.2f}%, max drawdown {stats['Max. Drawdown [%]']:.2f}%, {stats['# Trades']} trades"
    )
    explain = strategy_spec(run.strategy).no_trade_reason
    if stats["# Trades"] == 0 and explain is not None:
        message += f": {explain(prep['pred_return'], prep['confidence'], prep['params'])}"
    return message


def backtest_model_value(run: BacktestRun, prep: dict) -> dict:
    """Does the forecast add value? The same strategy and parameters on the momentum baseline's forecasts
    (when the run's come from a model or a CSV) and on random entries (`model_value`), on the compiled
    engine, so the three are measured alike."""
    problem = BacktestProblem(
        prep["ohlc"], prep["strategy"], prep["costs"], pred_return=prep["pred_return"], confidence=prep["confidence"]
    )
    baseline = None
    if run.forecasts_source != "baseline":
        baseline = align_forecasts(prep["ohlc"], momentum_forecasts(prep["ohlc"]))
    return model_value(problem, prep["params"], baseline=baseline, seed=0)
