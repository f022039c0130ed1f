import json

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render

from marketdata import selectors, services
from marketdata.charts import candlestick_figure, display_bars
from marketdata.engine import ImportRejected, normalize_timeframe
from marketdata.forms import CandleImportForm, ChartRangeForm
from marketdata.models import CandleImport


def _chart(symbol: str, timeframe: str, start=None, end=None) -> dict | None:
    rows = selectors.candles_frame(symbol=symbol, timeframe=timeframe, start=start, end=end)
    if rows.empty:
        return None
    bars, shown_tf = display_bars(rows, timeframe)
    shown = normalize_timeframe(shown_tf).label
    title = f"{symbol} {normalize_timeframe(timeframe).label}"
    if shown_tf != normalize_timeframe(timeframe).code:
        title += f" (shown as {shown}: {len(rows):,} bars aggregated to {len(bars):,})"
    return {
        "figure": json.loads(candlestick_figure(bars, title=title).to_json()),
        "bars": len(rows),
        "first": rows["ts"].iloc[0],
        "last": rows["ts"].iloc[-1],
    }


def data_page(request):
    series = selectors.series_list()
    if request.method == "POST":
        form = CandleImportForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                run = services.candle_import_start(user=request.user, upload=form.cleaned_data["file"], **{
                    k: form.cleaned_data[k] for k in ("symbol", "timeframe", "tz", "format", "drop")
                })
            except ImportRejected as exc:
                form.add_error(None, str(exc))
            else:
                messages.info(request, f"Import of {run.original_name} queued.")
                return redirect("marketdata:import-detail", pk=run.pk)
    else:
        form = CandleImportForm()
    chart_form = ChartRangeForm(request.GET or None)
    chart, selected = None, None
    if series:
        params = chart_form.cleaned_data if chart_form.is_valid() else {}
        symbol = params.get("symbol") or series[0]["symbol"]
        timeframe = params.get("timeframe") or series[0]["timeframe"]
        selected = {"symbol": symbol, "timeframe": timeframe, "start": params.get("start"), "end": params.get("end")}
        try:
            chart = _chart(symbol, timeframe, params.get("start"), params.get("end"))
        except ValueError as exc:
            messages.error(request, str(exc))
    return render(request, "marketdata/data.html", {
        "series": series, "form": form, "chart": chart, "selected": selected, "chart_form": chart_form,
        "imports": selectors.candle_imports_recent(limit=10),
    })


def import_detail(request, pk: int):
    run = get_object_or_404(CandleImport, pk=pk)
    chart = None
    report = run.report or {}
    if run.status == "succeeded" and report.get("first"):
        chart = _chart(run.symbol, run.timeframe, report["first"], report["last"])
    return render(request, "marketdata/import_detail.html", {"run": run, "report": report, "chart": chart})
