"""Optimization pages: start a search, follow it, read its front and every trial, open a point as a backtest."""

from dataclasses import replace
from urllib.parse import urlencode

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render

from backtesting_app import charts, services
from backtesting_app.engine.optimize import OBJECTIVES, parse_constraints
from backtesting_app.forms import OptimizationForm, initial_from_forecast_set
from backtesting_app.models import OptimizationResult, OptimizationRun
from backtesting_app.selectors import (
    optimization_chart_rows,
    optimization_importance,
    optimization_parameter_kinds,
    optimization_summary,
    optimization_trial_query,
    optimization_trials,
)
from forexgpt_site.jobs import request_of

BEST_FIRST = {
    key: direction == "max" for key, direction in OBJECTIVES.values()
}  # a metric's first click sorts best first


def reference_point_text(objectives, point) -> str:
    """The hypervolume's reference point in the objectives' own units and directions: "return -100%,
    drawdown 100%, Sharpe -10" (stored minimized: maximized objectives negated)."""
    from backtesting_app.engine.optimize import OBJECTIVES

    units = {"return_pct": "%", "max_drawdown_pct": "%", "win_rate_pct": "%"}
    parts = []
    for name, value in zip(objectives, point or []):
        metric, direction = OBJECTIVES[name]
        shown = -value if direction == "max" else value
        parts.append(f"{name} {shown:g}{units.get(metric, '')}")
    return ", ".join(parts) or "-"


def optimizations_page(request):
    if request.method == "POST":
        form = OptimizationForm(request.POST, request.FILES)
        if run := form.start(request.user, services.optimization_run_start):
            return redirect("optimizations:run", pk=run.pk)
    else:
        form = OptimizationForm(initial=initial_from_forecast_set(request))
    runs = OptimizationRun.objects.order_by("-created_at")[:50]
    return render(request, "backtesting_app/optimizations.html", {"form": form, "runs": runs})


def _trials_context(request, run: OptimizationRun) -> dict:
    """The trials table's page: its rows, columns, and the links that page, sort and filter it."""
    query = optimization_trial_query(run=run, params=request.GET)
    trials = optimization_trials(run=run, query=query)
    asked = request_of(run)
    objective_keys = [OBJECTIVES[o][0] for o in asked.objectives]
    constraint_keys = list(
        dict.fromkeys(c.metric for c in parse_constraints(asked.constraints) if c.metric not in objective_keys)
    )
    kinds = optimization_parameter_kinds(run)
    bounds = {f"{bound}_{key}": value for key, bound, value in query.bounds}

    def column(key, label, *, numeric=True, filterable=True):
        descending = query.sort == f"-{key}"
        ascending = query.sort == key
        first = f"-{key}" if BEST_FIRST.get(key) else key
        target = key if descending else (f"-{key}" if ascending else first)
        return {
            "key": key,
            "label": label,
            "numeric": numeric,
            "arrow": "▼" if descending else ("▲" if ascending else ""),
            "sort_query": urlencode(query.as_params(sort=target, page=1)),
            "filterable": filterable,
            "min": bounds.get(f"min_{key}", ""),
            "max": bounds.get(f"max_{key}", ""),
        }

    metric_columns = [column(k, charts.OBJECTIVE_LABELS[k]) for k in [*objective_keys, *constraint_keys]]
    param_columns = [column(n, n, filterable=kind != "choice") for n, kind in kinds.items()]
    page = trials["page"]
    pager = {
        label: urlencode(query.as_params(page=n))
        for label, n in (
            ("first", 1),
            ("previous", page.previous_page_number() if page.has_previous() else None),
            ("next", page.next_page_number() if page.has_next() else None),
            ("last", page.paginator.num_pages),
        )
        if n
    }
    for row in trials["rows"]:
        row["param_values"] = [row["params"].get(n) for n in kinds]
        row["metric_values"] = [row["metrics"].get(c["key"]) for c in metric_columns]
    return {
        "trials": trials,
        "trial_query": query,
        "metric_columns": metric_columns,
        "param_columns": param_columns,
        "base_columns": [
            column("id", "#", filterable=False),
            column("phase", "phase", numeric=False, filterable=False),
            column("generation", "gen.", filterable=False),
            column("rank", "rank", filterable=False),
        ],
        "feasible_column": column("feasible", "feasible", numeric=False, filterable=False),
        "violation_column": column("violation", "violation", filterable=False),
        "pager": pager,
        "has_constraints": bool(asked.constraints),
        "phase_choices": _phases(run),
        "sort_label": ""
        if query.sort == "id"
        else f"{query.sort.lstrip('-')}, {'descending' if query.sort.startswith('-') else 'ascending'}",
    }


def _phases(run: OptimizationRun) -> tuple[str, ...]:
    return ("grid", "nsga2", "local") if run.method == "hybrid" else (run.method,)


def optimization_detail(request, pk: int):
    run = get_object_or_404(OptimizationRun, pk=pk)
    asked = request_of(run)
    metric_keys = [OBJECTIVES[o][0] for o in asked.objectives]
    summary = optimization_summary(run)
    context = {
        "run": run,
        "asked": asked,
        "summary": summary,
        "metric_keys": metric_keys,
        "results_count": summary["evaluations"],
        "phases": [(p, run.phase_counts.get(p, 0)) for p in _phases(run)],
    }
    if summary["evaluations"]:
        context.update(_trials_context(request, run))
    if summary["evaluations"] and run.is_finished:
        rows, total = optimization_chart_rows(run=run)
        names = list(optimization_parameter_kinds(run))
        context["figures"] = charts.pareto_figures(rows, metric_keys, total=total)
        context["charted"] = len(rows)
        importance = optimization_importance(run=run, rows=rows)
        fitted = {k: v for k, v in importance.items() if v}
        if fitted:
            context["importance"] = {
                "objectives": [
                    {"label": charts.OBJECTIVE_LABELS[k], "explained": v["explained"], "n": v["n"]}
                    for k, v in fitted.items()
                ],
                "rows": [{"name": n, "shares": [v["importance"][n] for v in fitted.values()]} for n in names],
            }
            context["importance_figure"] = charts.importance_figure(fitted, names)
        context["slice_figure"] = charts.slice_figure(rows, metric_keys, names, total=total)
    if run.hv_history:
        context["hv_figure"] = charts.hypervolume_figure(run.hv_history)
    context["reference_point_text"] = reference_point_text(asked.objectives, run.reference_point)
    evidence = run.evidence or {}
    context["evidence"] = evidence
    context["walk"] = run.walk_forward_result
    context["value_where"] = "the held-out tail" if evidence.get("holdout") else "the searched bars (no held-out tail)"
    histogram = ((evidence.get("selection") or {}).get("pbo") or {}).get("logit_histogram")
    if histogram:
        context["logits_figure"] = charts.pbo_logits_figure(histogram)
    if run.walk_forward_result and run.walk_forward_result.get("windows"):
        context["wf_figure"] = charts.walk_forward_figure(run.walk_forward_result)
    return render(request, "backtesting_app/optimization.html", context)


def optimization_trials_table(request, pk: int):
    """The trials table alone (the run page swaps it in when sorted, filtered or paged)."""
    run = get_object_or_404(OptimizationRun, pk=pk)
    return render(
        request, "backtesting_app/_trials.html", {"run": run, "asked": request_of(run), **_trials_context(request, run)}
    )


def open_as_backtest(request, pk: int, result_id: int):
    """Start a reference backtest of one front point with the run's data, forecasts and costs."""
    run = get_object_or_404(OptimizationRun, pk=pk)
    result = get_object_or_404(OptimizationResult, pk=result_id, run=run)
    if request.method != "POST":
        return redirect("optimizations:run", pk=pk)
    upload = run.forecasts.open("rb") if run.forecasts_source == "csv" else None
    # the run's checked request, at this point of its space (which the request checked), on the reference engine
    backtest_request = replace(
        request_of(run).backtest(result.params),
        engine="reference",
        forecast_set=run.forecast_set_id,
        name=f"optimization #{run.pk} point {result.pk}",
    )
    try:
        backtest = services.backtest_run_start(
            user=request.user, upload=upload, request=backtest_request, origin_result=result
        )
    except ValueError as exc:
        messages.error(request, str(exc))
        return redirect("optimizations:run", pk=pk)
    finally:
        if upload:
            upload.close()
    return redirect("backtesting_app:run", pk=backtest.pk)
