from django.contrib import admin

from forecasts.models import ForecastSet
from forexgpt_site.admin import JobRunAdmin


@admin.register(ForecastSet)
class ForecastSetAdmin(JobRunAdmin):
    list_display = [
        "id",
        "artifact_ref",
        "symbol",
        "timeframe",
        "first",
        "last",
        "rows",
        "windows_total",
        "status",
        "created_at",
    ]
    list_filter = ["status", "symbol", "timeframe"]
    search_fields = ["artifact_ref", "symbol"]
    readonly_fields = JobRunAdmin.readonly_fields + [
        "artifact_version",
        "artifact_ref",
        "first",
        "last",
        "rows",
        "windows_total",
        "eta_s",
        "attempts",
        "overlap",
    ]
