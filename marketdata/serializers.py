from rest_framework import serializers

from marketdata.engine import FORMATS
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


class SeriesSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    timeframe = serializers.CharField()
    rows = serializers.IntegerField()
    first = serializers.DateTimeField()
    last = serializers.DateTimeField()
    long_gaps = serializers.IntegerField()


class CandleImportCreateSerializer(serializers.Serializer):
    file = serializers.FileField()
    symbol = serializers.CharField()
    timeframe = serializers.CharField()
    tz = serializers.CharField(required=False, allow_blank=True, default="")
    format = serializers.ChoiceField(choices=["auto", *FORMATS], default="auto")
    drop = serializers.ListField(child=serializers.CharField(), required=False, default=list)


class CandleImportSerializer(serializers.ModelSerializer):
    owner = serializers.StringRelatedField()

    class Meta:
        model = CandleImport
        fields = [
            "id", "status", "progress", "message", "error", "original_name", "symbol", "timeframe", "tz", "format",
            "drop", "report", "owner", "created_at", "started_at", "finished_at", "cancel_requested",
        ]
        read_only_fields = fields
