from django.contrib import admin

from backtesting_app.models import BacktestRun
from forexgpt_site.admin import JobRunAdmin


@admin.register(BacktestRun)
class BacktestRunAdmin(JobRunAdmin):
    list_display = ["id", "name", "strategy", "symbol", "timeframe", "engine", "status", "return_pct", "max_drawdown_pct", "owner", "created_at"]
    list_filter = ["status", "strategy", "engine", "symbol", "timeframe"]
    search_fields = ["name", "symbol", "strategy"]
    readonly_fields = JobRunAdmin.readonly_fields + ["stats", "trades", "equity", "params", "costs", "forecasts"]

    @admin.display(description="return %")
    def return_pct(self, obj):
        return f"{obj.stats['Return [%]']:.2f}" if obj.stats else "-"

    @admin.display(description="max drawdown %")
    def max_drawdown_pct(self, obj):
        return f"{obj.stats['Max. Drawdown [%]']:.2f}" if obj.stats else "-"
