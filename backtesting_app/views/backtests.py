"""Backtest pages: start and list runs, one run's stats, equity and trades, compare runs, scan patterns."""

from django.shortcuts import get_object_or_404, redirect, render

from backtesting_app import charts, selectors, services
from backtesting_app.engine.patterns import pattern_events
from backtesting_app.forms import BacktestForm, PatternScanForm, initial_from_forecast_set
from backtesting_app.models import BacktestRun
from forexgpt_site.jobs import JobStatus, request_of
from forexgpt_site.parsing import row_ids

STAT_ROWS = [
    "Start",
    "End",
    "Duration",
    "Exposure Time [%]",
    "Equity Final [$]",
    "Equity Peak [$]",
    "Return [%]",
    "Buy & Hold Return [%]",
    "Return (Ann.) [%]",
    "Volatility (Ann.) [%]",
    "CAGR [%]",
    "Sharpe Ratio",
    "Sortino Ratio",
    "Calmar Ratio",
    "Alpha [%]",
    "Beta",
    "Max. Drawdown [%]",
    "Avg. Drawdown [%]",
    "Max. Drawdown Duration",
    "Avg. Drawdown Duration",
    "# Trades",
    "Win Rate [%]",
    "Best Trade [%]",
    "Worst Trade [%]",
    "Avg. Trade [%]",
    "Max. Trade Duration",
    "Avg. Trade Duration",
    "Profit Factor",
    "Expectancy [%]",
    "SQN",
    "Kelly Criterion",
]


def _fmt(value):
    return f"{value:,.4f}" if isinstance(value, float) else value


def backtests_page(request):
    if request.method == "POST":
        form = BacktestForm(request.POST, request.FILES)
        if run := form.start(request.user, services.backtest_run_start):
            return redirect("backtesting_app:run", pk=run.pk)
    else:
        form = BacktestForm(initial=initial_from_forecast_set(request))
    runs = BacktestRun.objects.order_by("-created_at")[:50]
    return render(request, "backtesting_app/list.html", {"form": form, "runs": runs})


def run_detail(request, pk: int):
    run = get_object_or_404(BacktestRun.objects.select_related("origin_result__run", "forecast_set"), pk=pk)
    asked = request_of(run)
    context = {"run": run, "asked": asked, "origin": run.origin_result}
    if run.origin_result is not None:
        context["origin_evidence"] = run.origin_result.run.evidence or {}
    if run.status == JobStatus.SUCCEEDED:
        equity = selectors.backtest_equity(run)
        ohlc = services.load_bars(symbol=run.symbol, timeframe=run.timeframe, start=run.start, end=run.end)
        # a strategy that trades on patterns stores them with its parameters: mark the detected ones
        events = pattern_events(ohlc, asked.params["patterns"], forward_bars=1) if "patterns" in asked.params else None
        trade = request.GET.get("trade")
        highlight = None
        if trade and trade.isascii() and trade.isdecimal() and len(trade) <= 9 and int(trade) < len(run.trades or []):
            highlight = int(trade)
        context |= {
            "equity_figure": charts.equity_figure(
                equity,
                title=f"{run.label}: equity and drawdown",
                held_out_from=((context.get("origin_evidence") or {}).get("holdout") or {}).get("first"),
            ),
            "trades_figure": charts.trades_figure(ohlc, run.trades or [], events, highlight=highlight),
            "stats_rows": [(key, _fmt(run.stats.get(key))) for key in STAT_ROWS if key in run.stats],
            "trades": [
                (i, t, selectors.exit_reason(t, last_bar=len(ohlc) - 1)) for i, t in enumerate(run.trades or [])
            ][:50],
            "highlight": highlight,
            "n_trades": len(run.trades or []),
        }
    return render(request, "backtesting_app/run.html", context)


def compare(request):
    ids = row_ids(request.GET.getlist("run"))
    runs = list(BacktestRun.objects.filter(pk__in=ids, status=JobStatus.SUCCEEDED).order_by("pk"))
    return render(
        request,
        "backtesting_app/compare.html",
        {
            "runs": runs,
            "figure": charts.compare_figure([(run, selectors.backtest_equity(run)) for run in runs]) if runs else None,
            "rows": [(key, [_fmt(run.stats.get(key)) for run in runs]) for key in STAT_ROWS],
        },
    )


def patterns_page(request):
    form = PatternScanForm(request.GET or None)
    context = {"form": form}
    if form.is_valid():
        try:
            scan = selectors.pattern_scan(**{k: v for k, v in form.cleaned_data.items() if v not in (None, [], "")})
        except ValueError as exc:
            form.add_error(None, str(exc))
        else:
            events = scan["events"]
            context |= {
                "scan": scan,
                "summary": scan["summary"].to_dict(orient="records"),
                "events": events.tail(300).iloc[::-1].to_dict(orient="records"),
                "figure": charts.trades_figure(scan["ohlc"], [], events),
            }
    return render(request, "backtesting_app/patterns.html", context)
