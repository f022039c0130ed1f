from rest_framework import serializers

from backtesting_app.models import BacktestRun
from backtesting_app.engine.patterns import PATTERNS


class BacktestRunSerializer(serializers.ModelSerializer):
    owner = serializers.StringRelatedField()

    class Meta:
        model = BacktestRun
        fields = ["id", "name", "status", "progress", "message", "error", "symbol", "timeframe", "start", "end", "strategy",
                  "params", "costs", "engine", "forecasts_source", "stats", "owner", "created_at", "started_at", "finished_at"]
        read_only_fields = fields


class BacktestCreateSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    timeframe = serializers.CharField()
    start = serializers.DateTimeField(required=False, allow_null=True)
    end = serializers.DateTimeField(required=False, allow_null=True)
    strategy = serializers.ChoiceField(choices=["forecast", "pattern", "combined"])
    params = serializers.JSONField(help_text="strategy parameters (a JSON object)")
    engine = serializers.ChoiceField(choices=["reference", "fast"], default="reference")
    forecasts_source = serializers.ChoiceField(choices=["csv", "baseline", "none"], default="none")
    forecasts = serializers.FileField(required=False, help_text="CSV: timestamp, pred_return[, confidence]")
    spread_pips = serializers.FloatField(default=1.0)
    commission = serializers.FloatField(default=0.0)
    leverage = serializers.FloatField(default=1.0)
    size = serializers.FloatField(default=0.95)
    cash = serializers.FloatField(default=100_000.0)
    name = serializers.CharField(required=False, allow_blank=True, default="")


class PatternScanSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    timeframe = serializers.CharField()
    start = serializers.DateTimeField(required=False)
    end = serializers.DateTimeField(required=False)
    forward_bars = serializers.IntegerField(default=12, min_value=1, max_value=1000)
    patterns = serializers.ListField(child=serializers.ChoiceField(choices=PATTERNS), required=False)
