from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from registry.selectors import version_periods
from training import services
from training.engine.forecast import BASELINES, strongest_baseline
from training.forms import TrainingForm
from training.models import TrainingRun


def hardware_page(request):
    """The stored report, with its age; "Detect again" (or no report yet) asks the `gpu` worker, and the
    page reloads itself until the report it asked for is stored."""
    from training.hardware import (
        FRESH_S,
        hardware_detect_enqueue,
        hardware_report_age_s,
        hardware_report_latest,
        hardware_request_state,
        hardware_training_busy,
    )

    if request.method == "POST":
        age = hardware_report_age_s()
        if age is not None and age < FRESH_S:
            messages.info(request, f"The report below is {age:.0f} s old: it was not detected again.")
            return redirect("hardware")
        hardware_detect_enqueue()
        request.session["hardware_requested_at"] = timezone.now().timestamp()
        busy = hardware_training_busy()
        if busy is not None:
            messages.info(
                request,
                f"Detection asked of the gpu worker; it is busy with training run #{busy.pk} and detects "
                "after it. The report below was stored when that run started, on the same worker.",
            )
        else:
            messages.info(
                request, "Detection asked of the gpu worker: this page reloads itself until the new report is in."
            )
        return redirect("hardware")
    latest = hardware_report_latest()
    if latest is None:
        hardware_detect_enqueue()
    requested_at = request.session.get("hardware_requested_at")
    waiting = hardware_request_state(requested_at, latest)
    if waiting is None and requested_at is not None:
        del request.session["hardware_requested_at"]
    return render(
        request,
        "training/hardware.html",
        {
            "latest": latest,
            "report": latest.report if latest else None,
            "waiting": waiting,
            "busy": hardware_training_busy() if waiting else None,
        },
    )


def training_page(request):
    if request.method == "POST":
        form = TrainingForm(request.POST)  # the form checks the request; the service, the stored bars
        if run := form.start(request.user, services.training_run_start):
            return redirect("training:run", pk=run.pk)
    else:
        form = TrainingForm()
    return render(
        request, "training/list.html", {"form": form, "runs": TrainingRun.objects.order_by("-created_at")[:50]}
    )


def run_detail(request, pk: int):
    run = get_object_or_404(TrainingRun, pk=pk)
    quality_rows, strongest = [], None
    if run.quality:
        model_crps = run.quality["model"]["crps"]
        for name, label in (("model", "diffusion model"), *BASELINES.items()):
            q = run.quality.get(name)  # runs scored before a seasonal baseline existed lack it
            if q:
                quality_rows.append(
                    (
                        label,
                        q["crps"],
                        q["mae_median"],
                        q["coverage_q05_q95"],
                        q["pinball"],
                        model_crps / q["crps"] if name != "model" and q["crps"] else None,
                    )
                )
        if best := strongest_baseline({name: run.quality[name]["crps"] for name in BASELINES if name in run.quality}):
            strongest = {
                "name": best[0],
                "label": BASELINES[best[0]],
                "ratio": model_crps / best[1] if best[1] else None,
            }
    periods = version_periods(run.artifact_version) if run.artifact_version else None
    return render(
        request,
        "training/run.html",
        {"run": run, "phase": run.phase, "quality_rows": quality_rows, "strongest": strongest, "periods": periods},
    )
