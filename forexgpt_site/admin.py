from django.contrib import admin


class JobRunAdmin(admin.ModelAdmin):
    """Shared admin for job-run tables: status fields are the worker's, never edited by hand."""

    readonly_fields = ["status", "progress", "message", "error", "task_id", "created_at", "started_at", "finished_at", "heartbeat_at"]
    list_filter = ["status"]
    date_hierarchy = "created_at"
