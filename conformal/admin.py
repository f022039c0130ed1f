from django.contrib import admin

from conformal.models import CalibrationRun
from forexgpt_site.admin import JobRunAdmin


@admin.register(CalibrationRun)
class CalibrationRunAdmin(JobRunAdmin):
    list_display = ["id", "name", "method", "alpha", "status", "coverage", "artifact_version", "attached", "owner", "created_at"]
    list_filter = ["status", "method", "attached"]
    search_fields = ["name", "method", "artifact_version__registered_model__name"]
    readonly_fields = JobRunAdmin.readonly_fields + ["metrics", "state", "params", "method", "alpha", "forecasts", "intervals"]

    @admin.display(description="coverage")
    def coverage(self, obj):
        return f"{obj.metrics['coverage']:.4f}" if obj.metrics else "-"
