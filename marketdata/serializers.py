from rest_framework import serializers

from forexgpt_site.api import JobRequestSerializer, UtcRangeQuerySerializer
from marketdata.models import Candle, CandleImport
from marketdata.request import ImportRequest


class CandleSerializer(serializers.ModelSerializer):
    class Meta:
        model = Candle
        fields = ["ts", "open", "high", "low", "close", "volume"]


class CandleQuerySerializer(UtcRangeQuerySerializer):
    symbol = serializers.CharField()
    timeframe = serializers.CharField()


class SeriesSourceSerializer(serializers.Serializer):
    import_id = serializers.IntegerField()
    label = serializers.CharField()
    origin = serializers.CharField()
    bars = serializers.IntegerField()


class SeriesSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    timeframe = serializers.CharField()
    rows = serializers.IntegerField()
    first = serializers.DateTimeField()
    last = serializers.DateTimeField()
    long_gaps = serializers.IntegerField()
    sources = SeriesSourceSerializer(many=True, help_text="the imports that wrote the bars, largest first")
    is_demo = serializers.BooleanField(help_text="every bar is demo data")


class CandleImportCreateSerializer(JobRequestSerializer):
    """The API face of `ImportRequest`: its defaults, choices and checks, nothing of its own; plus the
    uploaded export (multipart), which travels beside the request."""

    R = ImportRequest
    upload_field = "file"
    file = serializers.FileField(help_text="HistData, MetaTrader 4/5, Dukascopy or CSV export")
    symbol = serializers.CharField(help_text="EURUSD or EUR/USD")
    timeframe = serializers.CharField(help_text="1m, 5m, 15m, 1h, 4h, 1d (or M1, H1, D1); at most 4w")
    tz = serializers.CharField(
        required=False,
        allow_blank=True,
        default=R.tz,
        help_text="source time zone (IANA name, e.g. Europe/Helsinki); blank = the format's default",
    )
    format = serializers.ChoiceField(choices=list(R.formats()), default=R.format)
    drop = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        default=list,
        help_text=f"anomaly kinds to drop: {', '.join(R.DROPPABLE)}",
    )
    on_conflict = serializers.ChoiceField(
        choices=list(R.CONFLICT_POLICIES.items()),
        default=R.on_conflict,
        help_text="bars already stored with other values: "
        + "; ".join(f"{k} = {v}" for k, v in R.CONFLICT_POLICIES.items()),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["format"].choices = list(ImportRequest.formats())  # read now: a format registered later is offered


class CandleImportSerializer(serializers.ModelSerializer):
    owner = serializers.StringRelatedField()

    class Meta:
        model = CandleImport
        fields = [
            "id",
            "status",
            "progress",
            "message",
            "error",
            "origin",
            "original_name",
            "symbol",
            "timeframe",
            "tz",
            "format",
            "drop",
            "on_conflict",
            "report",
            "owner",
            "created_at",
            "started_at",
            "finished_at",
            "cancel_requested",
        ]
        read_only_fields = fields
