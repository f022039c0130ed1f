from rest_framework import serializers

from marketdata.engine import CONFLICT_POLICIES, DEFAULT_CONFLICT_POLICY, FORMATS
from marketdata.models import Candle, CandleImport


class CandleSerializer(serializers.ModelSerializer):
    class Meta:
        model = Candle
        fields = ["ts", "open", "high", "low", "close", "volume"]


class CandleQuerySerializer(serializers.Serializer):
    symbol = serializers.CharField()
    timeframe = serializers.CharField()
    start = serializers.DateTimeField(required=False)
    end = serializers.DateTimeField(required=False)


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


class CandleImportCreateSerializer(serializers.Serializer):
    file = serializers.FileField()
    symbol = serializers.CharField()
    timeframe = serializers.CharField()
    tz = serializers.CharField(required=False, allow_blank=True, default="")
    format = serializers.ChoiceField(choices=["auto", *FORMATS], default="auto")
    drop = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    on_conflict = serializers.ChoiceField(choices=list(CONFLICT_POLICIES.items()), default=DEFAULT_CONFLICT_POLICY,
                                          help_text="bars already stored with other values: " + "; ".join(
                                              f"{k} = {v}" for k, v in CONFLICT_POLICIES.items()))


class CandleImportSerializer(serializers.ModelSerializer):
    owner = serializers.StringRelatedField()

    class Meta:
        model = CandleImport
        fields = [
            "id", "status", "progress", "message", "error", "origin", "original_name", "symbol", "timeframe", "tz", "format",
            "drop", "on_conflict", "report", "owner", "created_at", "started_at", "finished_at", "cancel_requested",
        ]
        read_only_fields = fields
