from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render

from registry.selectors import version_periods
from training import services
from training.engine.forecast import BASELINES, strongest_baseline
from training.forms import TrainingForm
from training.models import TrainingRun


def hardware_page(request):
    """The stored report, with its age; "Detect again" (or no report yet) asks the `gpu` worker."""
    from training.hardware import hardware_detect_enqueue, hardware_report_latest

    if request.method == "POST":
        hardware_detect_enqueue()
        messages.info(request, "Detection asked of the gpu worker (it waits for the job that worker is running, if any); "
                               "reload this page for the new report.")
        return redirect("hardware")
    latest = hardware_report_latest()
    if latest is None:
        hardware_detect_enqueue()
    return render(request, "training/hardware.html", {"latest": latest, "report": latest.report if latest else None})


def training_page(request):
    if request.method == "POST":
        form = TrainingForm(request.POST)  # the form checks the request; the service, the stored bars
        if run := form.start(request.user, services.training_run_start):
            return redirect("training:run", pk=run.pk)
    else:
        form = TrainingForm()
    return render(request, "training/list.html", {"form": form, "runs": TrainingRun.objects.order_by("-created_at")[:50]})


def run_detail(request, pk: int):
    run = get_object_or_404(TrainingRun, pk=pk)
    quality_rows, strongest = [], None
    if run.quality:
        model_crps = run.quality["model"]["crps"]
        for name, label in (("model", "diffusion model"), *BASELINES.items()):
            q = run.quality.get(name)  # runs scored before a seasonal baseline existed lack it
            if q:
                quality_rows.append((label, q["crps"], q["mae_median"], q["coverage_q05_q95"], q["pinball"],
                                     model_crps / q["crps"] if name != "model" and q["crps"] else None))
        if best := strongest_baseline({name: run.quality[name]["crps"] for name in BASELINES if name in run.quality}):
            strongest = {"name": best[0], "label": BASELINES[best[0]], "ratio": model_crps / best[1] if best[1] else None}
    periods = version_periods(run.artifact_version) if run.artifact_version else None
    return render(request, "training/run.html", {"run": run, "phase": run.phase, "quality_rows": quality_rows, "strongest": strongest,
                                                 "periods": periods})
