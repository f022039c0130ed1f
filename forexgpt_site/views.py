from django.apps import apps
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.views.decorators.http import require_POST

from backtesting_app.models import BacktestRun, OptimizationRun
from conformal.models import CalibrationRun
from forexgpt_site.errors import DomainError
from forexgpt_site.jobs import job_cancel, job_requeue
from marketdata.models import Candle, CandleImport
from marketdata.selectors import series_list
from registry.models import ModelVersion, RegisteredModel
from training.models import TrainingRun


@login_not_required
def favicon(request):
    """Browsers ask for /favicon.ico whatever the page says: the site's icon, to anyone (it is no secret)."""
    return redirect(static("favicon.svg"), permanent=True)


def dashboard(request):
    series = series_list()
    return render(
        request,
        "dashboard.html",
        {
            "series": series,
            "candle_count": Candle.objects.count(),
            "imports": CandleImport.objects.order_by("-created_at")[:5],
            "registered_models": RegisteredModel.objects.count(),
            "calibrations": CalibrationRun.objects.order_by("-created_at")[:5],
            "backtests": BacktestRun.objects.order_by("-created_at")[:5],
            "optimizations": OptimizationRun.objects.order_by("-created_at")[:5],
            "training_runs": TrainingRun.objects.order_by("-created_at")[:5],
            "latest_versions": ModelVersion.objects.select_related("registered_model").order_by("-created_at")[:5],
        },
    )


def bad_request(request, exception=None):
    """handler400: an upload over its limit says so (size, limit, setting); anything else stays terse."""
    from forexgpt_site.uploads import UploadTooLarge

    message = str(exception) if isinstance(exception, UploadTooLarge) else "The request could not be understood."
    return render(request, "400.html", {"message": message, "back": request.META.get("HTTP_REFERER", "")}, status=400)


# The run pages' Cancel and Resume buttons: a page's kind of run -> its model.
JOB_KINDS = {
    "imports": "marketdata.CandleImport",
    "training": "training.TrainingRun",
    "forecasts": "forecasts.ForecastSet",
    "calibrations": "conformal.CalibrationRun",
    "backtests": "backtesting_app.BacktestRun",
    "optimizations": "backtesting_app.OptimizationRun",
}


@require_POST
def job_action(request, kind: str, pk: int, action: str):
    """Cancel a queued or running run, or resume a failed or cancelled one (kinds with a
    `resume_message`), as the API's cancel / resume do; its owner or staff. Back to the run's page,
    with the refusal (finished already, not yours) said there."""
    if kind not in JOB_KINDS or action not in ("cancel", "resume"):
        raise Http404("no such job action")
    model = apps.get_model(JOB_KINDS[kind])
    run = get_object_or_404(model, pk=pk)
    try:
        if action == "cancel":
            job_cancel(run=run, user=request.user)
        elif model.resume_message:
            job_requeue(run=run, user=request.user, message=model.resume_message)
        else:
            raise Http404(f"a {model._meta.verbose_name} cannot be resumed: start a new one")
    except (DomainError, PermissionDenied) as exc:
        messages.error(request, str(exc))
    return redirect(run.get_absolute_url())
