from django.db.models import Count
from django.shortcuts import render

from backtesting_app.models import BacktestRun
from conformal.models import CalibrationRun
from marketdata.models import Candle, CandleImport
from marketdata.selectors import series_list
from registry.models import ModelVersion, RegisteredModel

# Sections later work fills in. Each says what it will show; none shows made-up content.
PLANNED_SECTIONS = {
    "hardware": (
        "Hardware",
        "Detected GPUs (name, memory, compute capability), CUDA / cuDNN / NCCL versions, NVLink, whether "
        "flash-attn, NVIDIA DALI and apex are usable here, CPU cores and RAM - and which training "
        "optimizations that enables.",
    ),
    "training": (
        "Training",
        "Diffusion forecaster training runs: a new-run form, live loss curves, throughput and ETA, the "
        "optimizations applied with their reasons, and forecast quality against baselines.",
    ),
}


def dashboard(request):
    series = series_list()
    return render(request, "dashboard.html", {
        "series": series,
        "candle_count": Candle.objects.count(),
        "imports": CandleImport.objects.order_by("-created_at")[:5],
        "import_status": dict(CandleImport.objects.values_list("status").annotate(n=Count("id")).order_by()),
        "sections": PLANNED_SECTIONS,
        "registered_models": RegisteredModel.objects.count(),
        "calibrations": CalibrationRun.objects.order_by("-created_at")[:5],
        "backtests": BacktestRun.objects.order_by("-created_at")[:5],
        "latest_versions": ModelVersion.objects.select_related("registered_model").order_by("-created_at")[:5],
    })


def planned_section(request, section: str):
    title, description = PLANNED_SECTIONS[section]
    return render(request, "planned.html", {"title": title, "description": description, "section": section})
