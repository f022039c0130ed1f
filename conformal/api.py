from django.http import HttpResponse
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from conformal import selectors, services
from conformal.models import CalibrationRun
from conformal.serializers import CalibrationCreateSerializer, CalibrationRunSerializer
from forexgpt_site.api import CancelActionMixin, JobCreateMixin, job_create_schema
from forexgpt_site.parsers import TextJSONParser
from forexgpt_site.serialization import json_value


@extend_schema_view(create=job_create_schema(CalibrationCreateSerializer, CalibrationRunSerializer))
class CalibrationRunViewSet(
    JobCreateMixin, CancelActionMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Conformal calibration runs: create with a forecasts CSV (202), poll, read metrics and intervals."""

    serializer_class = CalibrationRunSerializer
    create_serializer_class = CalibrationCreateSerializer

    def start_job(self, **arguments):
        return services.calibration_run_start(**arguments)

    queryset = CalibrationRun.objects.select_related("owner", "artifact_version__registered_model").order_by(
        "-created_at"
    )
    filterset_fields = ["status", "method", "attached"]

    def get_parser_classes(self):
        if getattr(self, "action", None) == "create":
            return [MultiPartParser, TextJSONParser]
        return super().get_parser_classes()

    @extend_schema(responses={200: dict})
    @action(detail=True)
    def intervals(self, request, pk=None):
        """The interval series: JSON columns, or CSV with `?as=csv`."""
        frame = selectors.calibration_intervals(self.get_object())
        if request.query_params.get("as") == "csv":
            return HttpResponse(frame.to_csv(index=False), content_type="text/csv")
        frame = frame.astype({"timestamp": str}) if "timestamp" in frame else frame
        return Response(json_value(frame.to_dict(orient="list")))

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def attach(self, request, pk=None):
        """Staff: make this calibration give its model version's forecasts their lo/hi."""
        run = services.calibration_attach(run=self.get_object(), user=request.user)
        return Response(CalibrationRunSerializer(run).data)
