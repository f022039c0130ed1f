from django.contrib import admin

from forexgpt_site.admin import JobRunAdmin
from marketdata.models import Candle, CandleImport


@admin.register(Candle)
class CandleAdmin(admin.ModelAdmin):
    list_display = ["symbol", "timeframe", "ts", "open", "high", "low", "close", "volume", "source"]
    list_filter = ["symbol", "timeframe", "source"]
    search_fields = ["symbol", "source"]
    date_hierarchy = "ts"
    show_full_result_count = False  # counting millions of bars on every page is slow


@admin.register(CandleImport)
class CandleImportAdmin(JobRunAdmin):
    list_display = ["id", "original_name", "symbol", "timeframe", "format", "status", "progress", "owner", "created_at"]
    list_filter = ["status", "symbol", "timeframe", "format"]
    search_fields = ["original_name", "symbol", "message"]
    readonly_fields = JobRunAdmin.readonly_fields + ["report"]
