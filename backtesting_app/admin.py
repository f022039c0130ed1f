from django.contrib import admin
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html

from backtesting_app.models import BacktestRun, OptimizationResult, OptimizationRun, ParetoFront
from forexgpt_site.admin import JobRunAdmin, ReadOnlyAdmin


@admin.register(BacktestRun)
class BacktestRunAdmin(JobRunAdmin):
    list_display = [
        "id",
        "name",
        "strategy",
        "symbol",
        "timeframe",
        "engine",
        "status",
        "return_pct",
        "max_drawdown_pct",
        "owner",
        "created_at",
    ]
    list_filter = ["status", "strategy", "engine", "symbol", "timeframe"]
    search_fields = ["name", "symbol", "strategy"]
    readonly_fields = JobRunAdmin.readonly_fields + ["stats", "trades", "equity", "forecasts"]

    @admin.display(description="return %")
    def return_pct(self, obj):
        return f"{obj.stats['Return [%]']:.2f}" if obj.stats else "-"

    @admin.display(description="max drawdown %")
    def max_drawdown_pct(self, obj):
        return f"{obj.stats['Max. Drawdown [%]']:.2f}" if obj.stats else "-"


class ReadOnlyInline(admin.TabularInline):
    """What the optimizer wrote: shown, never edited, added or deleted by hand."""

    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ParetoFrontInline(ReadOnlyInline):
    model = ParetoFront
    fields = readonly_fields = ["result", "params", "metrics", "crowding_distance"]
    verbose_name_plural = "Pareto front"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("result")

    @admin.display(description="parameters")
    def params(self, obj):
        return obj.result.params

    @admin.display(description="metrics (fast engine)")
    def metrics(self, obj):
        return obj.result.metrics


@admin.register(OptimizationRun)
class OptimizationRunAdmin(JobRunAdmin):
    """Optimization runs with their front inline; every evaluated point is under Optimization results."""

    list_display = [
        "id",
        "name",
        "method",
        "strategy",
        "symbol",
        "timeframe",
        "evaluator",
        "status",
        "evaluations",
        "front_size",
        "owner",
        "created_at",
    ]
    list_filter = ["status", "method", "strategy", "evaluator", "symbol", "timeframe"]
    search_fields = ["name", "symbol", "strategy"]
    # The request is what the run was started with; the search and its results are the worker's.
    readonly_fields = JobRunAdmin.readonly_fields + [
        "symbol",
        "timeframe",
        "start",
        "end",
        "strategy",
        "method",
        "evaluator",
        "forecasts_source",
        "forecasts",
        "forecast_set",
        "artifact_version",
        "phase",
        "phase_counts",
        "hv_history",
        "reference_point",
        "walk_forward_result",
        "results_link",
    ]
    inlines = [ParetoFrontInline]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(n_results=Count("results", distinct=True), n_front=Count("front", distinct=True))
        )

    @admin.display(description="evaluations", ordering="n_results")
    def evaluations(self, obj):
        return obj.n_results

    @admin.display(description="front", ordering="n_front")
    def front_size(self, obj):
        return obj.n_front

    @admin.display(description="results")
    def results_link(self, obj):
        url = reverse("admin:backtesting_app_optimizationresult_changelist") + f"?run__exact={obj.pk}"
        return format_html('<a href="{}">every evaluated parameter set ({})</a>', url, obj.results.count())


@admin.register(OptimizationResult)
class OptimizationResultAdmin(ReadOnlyAdmin):
    """Every evaluated parameter set, read-only; a run's page links to its own (`?run__exact=N`)."""

    list_display = ["id", "run", "phase", "generation", "feasible", "rank", "params", "metrics", "worker"]
    list_filter = ["phase", "feasible", ("rank", admin.EmptyFieldListFilter)]
    list_select_related = ["run"]
    search_fields = ["run__name", "=run__id"]
