from django.contrib import admin


class JobRunAdmin(admin.ModelAdmin):
    """Shared admin for job-run tables: status fields are the worker's and the request is what the run
    was started with; neither is edited by hand."""

    readonly_fields = [
        "request",
        "status",
        "progress",
        "message",
        "error",
        "task_id",
        "created_at",
        "started_at",
        "finished_at",
        "heartbeat_at",
    ]
    list_filter = ["status"]
    date_hierarchy = "created_at"


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows a process writes (results, histories): listed and shown, never added, changed or deleted by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
