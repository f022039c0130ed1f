from django.contrib import admin

from conformal.models import CalibrationRun
from forexgpt_site.admin import JobRunAdmin


@admin.register(CalibrationRun)
class CalibrationRunAdmin(JobRunAdmin):
    list_display = [
        "id",
        "name",
        "method",
        "alpha",
        "status",
        "coverage",
        "artifact_version",
        "attached",
        "owner",
        "created_at",
    ]
    list_filter = ["status", "method", "attached"]
    search_fields = ["name", "method", "artifact_version__registered_model__name"]
    # Attaching goes through the API's attach action, which checks the run succeeded and is staff-only.
    readonly_fields = JobRunAdmin.readonly_fields + [
        "metrics",
        "state",
        "method",
        "alpha",
        "forecasts",
        "intervals",
        "artifact_version",
        "attached",
        "ranges",
        "overlap",
    ]

    @admin.display(description="coverage")
    def coverage(self, obj):
        return f"{obj.metrics['coverage']:.4f}" if obj.metrics else "-"
