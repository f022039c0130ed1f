from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from backtesting_app import selectors, services
from backtesting_app.models import BacktestRun, OptimizationRun
from backtesting_app.serializers import (
    BacktestCreateSerializer,
    BacktestRunSerializer,
    FrontPointSerializer,
    OptimizationCreateSerializer,
    OptimizationResultSerializer,
    OptimizationRunSerializer,
    PatternScanSerializer,
)
from forexgpt_site.api import CancelActionMixin, JobCreateMixin, ResumeActionMixin, job_create_schema
from forexgpt_site.parsers import TextJSONParser
from forexgpt_site.serialization import json_value


@extend_schema_view(create=job_create_schema(BacktestCreateSerializer, BacktestRunSerializer))
class BacktestRunViewSet(
    JobCreateMixin, CancelActionMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Backtests: create (JSON, or multipart with a forecasts CSV) -> 202; then status, stats, equity, trades."""

    serializer_class = BacktestRunSerializer
    create_serializer_class = BacktestCreateSerializer

    def start_job(self, **arguments):
        return services.backtest_run_start(**arguments)

    queryset = BacktestRun.objects.select_related("owner").order_by("-created_at")
    filterset_fields = ["status", "strategy", "symbol", "timeframe", "engine"]
    parser_classes = [TextJSONParser, MultiPartParser, FormParser]

    @extend_schema(responses={200: dict})
    @action(detail=True)
    def equity(self, request, pk=None):
        """The equity curve: ts, equity, drawdown_pct (positive)."""
        frame = selectors.backtest_equity(self.get_object())
        return Response(
            {
                "ts": frame["ts"].astype(str).tolist(),
                "equity": frame["equity"].tolist(),
                "drawdown_pct": frame["drawdown_pct"].tolist(),
            }
        )

    @extend_schema(responses={200: dict})
    @action(detail=True)
    def trades(self, request, pk=None):
        return Response(self.get_object().trades or [])


class PatternScanView(APIView):
    """Patterns detected in a range, each with its forward return after N bars, and hit rates per pattern
    (over every event); the newest `max_events` events are listed (default 1,000, at most 10,000)."""

    @extend_schema(parameters=[PatternScanSerializer], responses={200: dict})
    def get(self, request):
        query = PatternScanSerializer(
            data={
                **request.query_params.dict(),
                **(
                    {"patterns": request.query_params.getlist("patterns")} if "patterns" in request.query_params else {}
                ),
            }
        )
        query.is_valid(raise_exception=True)
        options = dict(query.validated_data)
        max_events = options.pop("max_events")
        scan = selectors.pattern_scan(**options)
        events = scan["events"].assign(ts=scan["events"]["ts"].astype(str))
        return Response(
            {
                "bars": scan["bars"],
                "forward_bars": scan["forward_bars"],
                "summary": [
                    {k: json_value(v) for k, v in row.items()} for row in scan["summary"].to_dict(orient="records")
                ],
                "events_total": len(events),
                "events_returned": min(len(events), max_events),
                "events": [
                    {k: json_value(v) for k, v in row.items()}
                    for row in events.tail(max_events).to_dict(orient="records")
                ],
            }
        )


TRIAL_QUERY_PARAMETERS = [
    OpenApiParameter(
        "sort",
        str,
        description="id (default), phase, generation, rank, feasible, violation, a metric (return_pct, "
        "max_drawdown_pct, sharpe, win_rate_pct, profit_factor, n_trades) or a searched parameter; a leading - "
        "descends. Missing values come last; ties by id.",
    ),
    OpenApiParameter("phase", str, enum=["grid", "nsga2", "local"]),
    OpenApiParameter("feasible", bool, description="only the sets that meet (yes) or violate (no) the constraints"),
    OpenApiParameter("front", bool, description="yes: only the feasible Pareto front (rank 0)"),
]


@extend_schema_view(create=job_create_schema(OptimizationCreateSerializer, OptimizationRunSerializer))
class OptimizationRunViewSet(
    JobCreateMixin, ResumeActionMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Optimizations: create -> 202; poll; read every result and the Pareto front; resume a dead run."""

    serializer_class = OptimizationRunSerializer
    create_serializer_class = OptimizationCreateSerializer

    def start_job(self, **arguments):
        return services.optimization_run_start(**arguments)

    queryset = OptimizationRun.objects.select_related("owner").order_by("-created_at")
    filterset_fields = ["status", "method", "symbol", "timeframe"]
    parser_classes = [TextJSONParser, MultiPartParser, FormParser]

    @extend_schema(responses={200: OptimizationResultSerializer(many=True)}, parameters=TRIAL_QUERY_PARAMETERS)
    @action(detail=True)
    def results(self, request, pk=None):
        """Every evaluated parameter set, paginated; sorted and filtered as the run page's trials table is.
        Ranges: min_<key> / max_<key> keep the sets whose metric or numeric searched parameter is at least /
        at most the value (e.g. ?min_sharpe=1&max_max_drawdown_pct=10). A bad value is a 400 naming it."""
        run = self.get_object()
        query = selectors.optimization_trial_query(run=run, params=request.query_params, strict=True)
        page = self.paginate_queryset(selectors.optimization_trials_queryset(run=run, query=query))
        return self.get_paginated_response(OptimizationResultSerializer(page, many=True).data)

    @extend_schema(responses={200: FrontPointSerializer(many=True)})
    @action(detail=True)
    def front(self, request, pk=None):
        """The feasible Pareto front with reference-engine stats and crowding distances."""
        return Response(selectors.optimization_summary(self.get_object())["front"])
