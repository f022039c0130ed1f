from django.contrib.auth.decorators import login_not_required
from django.shortcuts import redirect, render
from django.templatetags.static import static

from backtesting_app.models import BacktestRun, OptimizationRun
from conformal.models import CalibrationRun
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
