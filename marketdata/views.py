from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from forexgpt_site.jobs import JobStatus
from marketdata import selectors, services
from marketdata.charts import series_chart
from marketdata.engine import ImportRejected
from marketdata.forms import CandleDeleteForm, CandleImportForm, ChartRangeForm, ImportRetryForm
from marketdata.models import CandleImport


def _chart(symbol: str, timeframe: str, start=None, end=None) -> dict | None:
    rows = selectors.candles_frame(symbol=symbol, timeframe=timeframe, start=start, end=end)
    return series_chart(rows, symbol=symbol, timeframe=timeframe)


def data_page(request):
    series = selectors.series_list()
    if request.method == "POST":
        form = CandleImportForm(request.POST, request.FILES)
        if run := form.start(request.user, services.candle_import_start):
            messages.info(request, f"Import of {run.original_name} queued.")
            return redirect("marketdata:import-detail", pk=run.pk)
    else:
        form = CandleImportForm()
    chart_form = ChartRangeForm(request.GET or None)
    chart, selected = None, None
    if series:
        params = chart_form.cleaned_data if chart_form.is_valid() else {}
        if chart_form.is_bound and not chart_form.is_valid():  # said, and the series asked for kept
            for errors in chart_form.errors.values():
                messages.error(request, " ".join(errors))
            params = {"symbol": request.GET.get("symbol", ""), "timeframe": request.GET.get("timeframe", "")}
        symbol = params.get("symbol") or series[0]["symbol"]
        timeframe = params.get("timeframe") or series[0]["timeframe"]
        selected = {"symbol": symbol, "timeframe": timeframe, "start": params.get("start"), "end": params.get("end")}
        try:
            chart = _chart(symbol, timeframe, params.get("start"), params.get("end"))
        except ValueError as exc:
            messages.error(request, str(exc))
    return render(
        request,
        "marketdata/data.html",
        {
            "series": series,
            "form": form,
            "chart": chart,
            "selected": selected,
            "chart_form": chart_form,
            "can_delete": request.user.is_staff and selected is not None,
            "imports": selectors.candle_imports_recent(limit=10),
        },
    )


@require_POST
def candles_delete(request):
    """Staff only: delete a series, or the bars of it in a UTC range."""
    if not request.user.is_staff:
        raise PermissionDenied("only staff may delete market data")
    form = CandleDeleteForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Nothing deleted: {form.errors.as_text()}")
        return redirect("marketdata:data")
    try:
        result = services.candles_delete(user=request.user, **form.cleaned_data)
    except ImportRejected as exc:
        messages.error(request, f"Nothing deleted: {exc}")
        return redirect("marketdata:data")
    span = (
        "the whole series"
        if not (result["start"] or result["end"])
        else f"{result['start'] or 'first bar'} -> {result['end'] or 'last bar'}"
    )
    messages.info(request, f"Deleted {result['deleted']:,} {result['symbol']} {result['timeframe']} bars ({span}).")
    query = urlencode({"symbol": result["symbol"], "timeframe": result["timeframe"]})
    return HttpResponseRedirect(f"{reverse('marketdata:data')}?{query}")


def import_detail(request, pk: int):
    run = get_object_or_404(CandleImport, pk=pk)
    chart = None
    report = run.report or {}
    if run.status == JobStatus.SUCCEEDED and report.get("first"):
        chart = _chart(run.symbol, run.timeframe, report["first"], report["last"])
    can_retry = run.status == "failed" and bool(report.get("conflicts")) and run.origin == CandleImport.Origin.UPLOAD
    return render(
        request,
        "marketdata/import_detail.html",
        {
            "run": run,
            "report": report,
            "chart": chart,
            "can_retry": can_retry,
        },
    )


@require_POST
def import_retry(request, pk: int):
    """Import a refused upload again with another conflict policy."""
    run = get_object_or_404(CandleImport, pk=pk)
    form = ImportRetryForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Not imported: {form.errors.as_text()}")
        return redirect("marketdata:import-detail", pk=run.pk)
    try:
        retry = services.candle_import_retry(user=request.user, run=run, on_conflict=form.cleaned_data["on_conflict"])
    except ValueError as exc:  # the service's refusal (ImportRejected), or a stored row its checks refuse
        messages.error(request, str(exc))
        return redirect("marketdata:import-detail", pk=run.pk)
    messages.info(request, f"Import of {retry.original_name} queued again ({retry.on_conflict} on conflict).")
    return redirect("marketdata:import-detail", pk=retry.pk)
