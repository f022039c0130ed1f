from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, mixins, viewsets
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from forexgpt_site.api import CancelActionMixin, JobCreateMixin, job_create_schema
from marketdata import selectors, services
from marketdata.models import CandleImport
from marketdata.serializers import (
    CandleImportCreateSerializer,
    CandleImportSerializer,
    CandleQuerySerializer,
    CandleSerializer,
    SeriesSerializer,
)


class CandleListView(generics.ListAPIView):
    """Bars of one series in a UTC range: `?symbol=EURUSD&timeframe=1h&start=...&end=...`."""

    serializer_class = CandleSerializer

    @extend_schema(parameters=[CandleQuerySerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        query = CandleQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return selectors.candles_queryset(**query.validated_data)


class SeriesListView(APIView):
    """Every stored (symbol, timeframe) series with its row count, range and long gaps."""

    @extend_schema(responses=SeriesSerializer(many=True))
    def get(self, request):
        return Response(SeriesSerializer(selectors.series_list(), many=True).data)


class CandleImportViewSet(CancelActionMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Candle imports: upload with `POST /api/candles/import/`, then poll the run here."""

    serializer_class = CandleImportSerializer
    queryset = CandleImport.objects.select_related("owner").order_by("-created_at")
    filterset_fields = ["status", "symbol", "timeframe"]


@extend_schema_view(post=job_create_schema(CandleImportCreateSerializer, CandleImportSerializer))
class CandleImportCreateView(JobCreateMixin, generics.GenericAPIView):
    """Upload an export (multipart); answers 202 with the queued import run."""

    serializer_class = CandleImportSerializer
    create_serializer_class = CandleImportCreateSerializer

    def start_job(self, **arguments):
        return services.candle_import_start(**arguments)

    parser_classes = [MultiPartParser, FormParser]

    def post(self, request):
        return self.create(request)
