from django.contrib import admin

from forexgpt_site.admin import JobRunAdmin
from training.models import TrainingRun


@admin.register(TrainingRun)
class TrainingRunAdmin(JobRunAdmin):
    list_display = [
        "id",
        "name",
        "symbol",
        "timeframe",
        "horizon",
        "denoiser",
        "status",
        "epoch",
        "val_loss",
        "artifact_version",
        "created_at",
    ]
    list_filter = ["status", "symbol", "timeframe", "denoiser"]
    search_fields = ["name", "symbol", "request__model_name"]
    readonly_fields = JobRunAdmin.readonly_fields + ["decisions", "hardware", "history", "quality", "artifact_version"]
