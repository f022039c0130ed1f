from django.contrib import admin, messages
from django.db.models import Count

from forexgpt_site.admin import JobRunAdmin
from marketdata.models import Candle, CandleImport
from marketdata.services import candles_delete_written_by


@admin.register(Candle)
class CandleAdmin(admin.ModelAdmin):
    list_display = ["symbol", "timeframe", "ts", "open", "high", "low", "close", "volume", "candle_import"]
    list_filter = ["symbol", "timeframe", "candle_import__origin"]
    search_fields = ["symbol", "candle_import__original_name"]
    date_hierarchy = "ts"
    list_select_related = ["candle_import"]
    raw_id_fields = ["candle_import"]
    show_full_result_count = False  # counting millions of bars on every page is slow


@admin.register(CandleImport)
class CandleImportAdmin(JobRunAdmin):
    list_display = [
        "id",
        "original_name",
        "origin",
        "symbol",
        "timeframe",
        "format",
        "on_conflict",
        "status",
        "progress",
        "owner",
        "created_at",
    ]
    list_filter = ["status", "origin", "on_conflict", "symbol", "timeframe", "format"]
    search_fields = ["original_name", "symbol", "message"]
    readonly_fields = JobRunAdmin.readonly_fields + ["report"]
    actions = ["delete_written_bars"]

    @admin.action(description="Delete the bars the selected imports wrote")
    def delete_written_bars(self, request, queryset):
        deleted = candles_delete_written_by(user=request.user, import_ids=queryset.values_list("pk", flat=True))
        self.message_user(
            request, f"Deleted {deleted:,} bars written by {queryset.count()} import(s).", messages.SUCCESS
        )

    def get_deleted_objects(self, objs, request):
        # An import's bars protect it: name them by count rather than list every bar.
        ids = [obj.pk for obj in objs]
        written = dict(
            Candle.objects.filter(candle_import__in=ids).order_by().values_list("candle_import").annotate(n=Count("id"))
        )
        if not written:
            return super().get_deleted_objects(objs, request)
        protected = [
            f"import #{pk}: the {n:,} bars it wrote (delete them first: action "
            f"'Delete the bars the selected imports wrote')"
            for pk, n in sorted(written.items())
        ]
        return [], {}, set(), protected
