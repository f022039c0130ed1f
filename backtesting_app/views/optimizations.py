"""Optimization pages: start a search, follow it, read its front, open a front point as a backtest."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render

from backtesting_app import charts, services
from backtesting_app.engine.optimize import OBJECTIVES
from backtesting_app.forms import OptimizationForm, initial_from_forecast_set
from backtesting_app.models import OptimizationResult, OptimizationRun
from backtesting_app.request import COST_FIELDS, BacktestRequest
from backtesting_app.selectors import optimization_summary


def optimizations_page(request):
    if request.method == "POST":
        form = OptimizationForm(request.POST, request.FILES)
        if run := form.start(request.user, services.optimization_run_start):
            return redirect("optimizations:run", pk=run.pk)
    else:
        form = OptimizationForm(initial=initial_from_forecast_set(request))
    runs = OptimizationRun.objects.order_by("-created_at")[:50]
    return render(request, "backtesting_app/optimizations.html", {"form": form, "runs": runs})


def optimization_detail(request, pk: int):
    run = get_object_or_404(OptimizationRun, pk=pk)
    results = list(run.results.order_by("id").values("id", "params", "metrics", "rank", "feasible", "phase"))
    metric_keys = [OBJECTIVES[o][0] for o in run.objectives]
    summary = optimization_summary(run)
    context = {"run": run, "summary": summary, "metric_keys": metric_keys, "results_count": len(results),
               "phases": [(p, run.phase_counts.get(p, 0)) for p in (("grid", "nsga2", "local") if run.method == "hybrid" else (run.method,))]}
    if results and run.is_finished:
        context["figures"] = charts.pareto_figures(results, metric_keys)
    if run.hv_history:
        context["hv_figure"] = charts.hypervolume_figure(run.hv_history)
    evidence = run.evidence or {}
    context["evidence"] = evidence
    context["walk"] = run.walk_forward_result
    context["value_where"] = "the held-out tail" if evidence.get("holdout") else "the searched bars (no held-out tail)"
    logits = ((evidence.get("selection") or {}).get("pbo") or {}).get("logits")
    if logits:
        context["logits_figure"] = charts.pbo_logits_figure(logits)
    if run.walk_forward_result and run.walk_forward_result.get("windows"):
        context["wf_figure"] = charts.walk_forward_figure(run.walk_forward_result)
    return render(request, "backtesting_app/optimization.html", context)


def open_as_backtest(request, pk: int, result_id: int):
    """Start a reference backtest of one front point with the run's data, forecasts and costs."""
    run = get_object_or_404(OptimizationRun, pk=pk)
    result = get_object_or_404(OptimizationResult, pk=result_id, run=run)
    if request.method != "POST":
        return redirect("optimizations:run", pk=pk)
    upload = run.forecasts.open("rb") if run.forecasts_source == "csv" else None
    try:
        backtest = services.backtest_run_start(user=request.user, upload=upload, request=BacktestRequest.from_dict({
            "symbol": run.symbol, "timeframe": run.timeframe, "strategy": run.strategy, "params": {**run.fixed_params, **result.params},
            "engine": "reference", "start": run.start, "end": run.end, "forecasts_source": run.forecasts_source,
            "forecast_set": run.forecast_set_id, "name": f"optimization #{run.pk} point {result.pk}",
            **{k: v for k, v in (run.costs or {}).items() if k in COST_FIELDS}}), origin_result=result)
    except ValueError as exc:
        messages.error(request, str(exc))
        return redirect("optimizations:run", pk=pk)
    finally:
        if upload:
            upload.close()
    return redirect("backtesting_app:run", pk=backtest.pk)
