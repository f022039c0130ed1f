from django.shortcuts import get_object_or_404, redirect, render

from conformal import charts, selectors, services
from conformal.forms import CalibrationForm
from conformal.models import CalibrationRun
from forexgpt_site.jobs import JobStatus, request_of
from forexgpt_site.parsing import row_ids

METRIC_ROWS = [
    ("coverage", "Coverage"),
    ("target", "Target"),
    ("mean_width", "Mean width"),
    ("median_width", "Median width"),
    ("winkler", "Winkler score"),
    ("rolling_window", "Rolling window (points)"),
    ("rolling_min", "Worst rolling coverage"),
    ("rolling_share_below", "Share of windows below target - 5 pts"),
    ("n_infinite", "Infinite intervals"),
    ("misses_below", "Misses below"),
    ("misses_above", "Misses above"),
    ("n", "Points"),
]


def conformal_page(request):
    if request.method == "POST":
        form = CalibrationForm(request.POST, request.FILES)
        if run := form.start(request.user, services.calibration_run_start):
            return redirect("conformal:run", pk=run.pk)
    else:
        chosen = request.GET.get("forecast_set", "")
        form = CalibrationForm(initial={"forecast_set": int(chosen)} if chosen.isdecimal() else {})
    runs = CalibrationRun.objects.select_related("artifact_version__registered_model").order_by("-created_at")[:50]
    return render(request, "conformal/list.html", {"form": form, "runs": runs})


def compare(request):
    ids = row_ids(request.GET.getlist("run"))
    runs = list(CalibrationRun.objects.filter(pk__in=ids, status=JobStatus.SUCCEEDED).order_by("pk"))
    return render(request, "conformal/compare.html", _charts_context(runs))


def run_detail(request, pk: int):
    run = get_object_or_404(
        CalibrationRun.objects.select_related("artifact_version__registered_model", "forecast_set"), pk=pk
    )
    context = _charts_context([run]) if run.status == JobStatus.SUCCEEDED else {"runs": [run]}
    return render(
        request,
        "conformal/run.html",
        {**context, "run": run, "asked": request_of(run), "coverage": selectors.calibration_coverage(run)},
    )


def attach(request, pk: int):
    """Staff: this calibration gives its model version's forecasts their lo / hi."""
    from django.contrib import messages
    from django.core.exceptions import PermissionDenied

    run = get_object_or_404(CalibrationRun, pk=pk)
    if request.method == "POST":
        try:
            services.calibration_attach(run=run, user=request.user)
        except (PermissionDenied, ValueError) as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"attached to {run.artifact_version.ref}: its forecasts now carry lo / hi")
    return redirect("conformal:run", pk=run.pk)


def _charts_context(runs) -> dict:
    frames = [(run, selectors.calibration_intervals(run)) for run in runs]
    rows = [(label, [run.metrics.get(key) for run in runs]) for key, label in METRIC_ROWS]
    by_vol = [
        (tercile, [(run.metrics.get("coverage_by_volatility") or {}).get(tercile) for run in runs])
        for tercile in ("low", "mid", "high")
    ]
    return {
        "runs": runs,
        "rows": rows,
        "by_vol": by_vol,
        "coverage_figure": charts.coverage_figure(frames) if frames else None,
        "band_figures": [
            (f"band-{i}", f"band-{i}-figure", charts.band_figure(run, frame)) for i, (run, frame) in enumerate(frames)
        ],
    }
