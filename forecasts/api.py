from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from forecasts import selectors, services
from forecasts.models import ForecastRow, ForecastSet
from forecasts.serializers import ForecastRequestSerializer, ForecastSetSerializer
from forexgpt_site.api import JobCreateMixin, ResumeActionMixin, job_create_schema
from forexgpt_site.serialization import json_value


def _records(frame):
    """Rows as JSON by the one rule (`json_value`): NaN null, an infinite bound "inf" / "-inf"."""
    frame = frame.assign(timestamp=frame["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return json_value(frame.to_dict(orient="records"))


@extend_schema_view(create=job_create_schema(ForecastRequestSerializer, ForecastSetSerializer))
class ForecastSetViewSet(
    JobCreateMixin, ResumeActionMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Forecast sets: `POST` queues one (202, nothing computed in the request); rows are read from the
    run as paginated JSON or CSV, with realized returns and calibrated intervals where known."""

    serializer_class = ForecastSetSerializer
    create_serializer_class = ForecastRequestSerializer

    def start_job(self, **arguments):
        return services.forecast_set_start(**arguments)

    queryset = ForecastSet.objects.select_related("artifact_version").order_by("-created_at")
    filterset_fields = ["status", "symbol", "timeframe", "artifact_version"]

    @extend_schema(
        parameters=[
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
            OpenApiParameter("as", str, description="csv for the whole set as CSV"),
        ],
        responses={200: dict},
    )
    @action(detail=True)
    def rows(self, request, pk=None):
        """`timestamp, pred_return, q05..q95, confidence, part, in_sample, y_true[, lo, hi, interval_kind]` per bar,
        paginated (`?as=csv`: all rows). `part`: where the forecast was made among the model's periods (before,
        train, val, test, between, after); `in_sample`: true inside the training or validation part (both null
        when the periods are unknown). `interval_kind` (with an attached calibration): `sequential` or `unseen`
        for the points its coverage is scored on, `fitted`, `seen` or `unknown` for those it is not."""
        fs = self.get_object()
        if request.query_params.get("as") == "csv":
            response = HttpResponse(
                selectors.forecast_frame(fs, labelled=True).to_csv(index=False), content_type="text/csv"
            )
            response["Content-Disposition"] = f'attachment; filename="forecast-set-{fs.pk}.csv"'
            return response
        page = self.paginate_queryset(ForecastRow.objects.filter(forecast_set=fs).order_by("ts"))
        ids = [row.pk for row in page]
        frame = selectors.forecast_frame(fs, labelled=True, rows=ForecastRow.objects.filter(pk__in=ids))
        return self.get_paginated_response(_records(frame))

    @extend_schema(responses={200: dict})
    @action(detail=True)
    def scores(self, request, pk=None):
        """The forecasts against the realized returns, beside the EWMA-Gaussian and random-walk baselines; `overlap`
        and `in_sample` of the scored forecasts; with an attached calibration, `calibration`: its id, method, alpha,
        target, the ranges it was fitted and evaluated on, and its coverage on this set's points it did not see."""
        fs = self.get_object()
        return Response(
            json_value(selectors.forecast_scores(fs, selectors.forecast_frame(fs)) or {"rows": 0, "pending": fs.rows})
        )
