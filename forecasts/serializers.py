from rest_framework import serializers

from forecasts.models import ForecastSet
from forecasts.request import ForecastRequest
from forexgpt_site.api import JobRequestSerializer


class ForecastSetSerializer(serializers.ModelSerializer):
    artifact = serializers.CharField(source="artifact_ref", read_only=True)
    version_id = serializers.IntegerField(source="artifact_version_id", read_only=True)

    class Meta:
        model = ForecastSet
        fields = ["id", "status", "progress", "message", "error", "artifact", "version_id", "symbol", "timeframe", "start", "end",
                  "first", "last", "horizon", "samples", "seed", "steps", "sampler", "windows_total", "rows", "eta_s", "attempts",
                  "created_at", "started_at", "finished_at"]
        read_only_fields = fields


class ForecastRequestSerializer(JobRequestSerializer):
    """The API face of `ForecastRequest`: its defaults and checks, nothing of its own."""

    R = ForecastRequest

    artifact = serializers.CharField(help_text="model version: name, name:VERSION or name@alias")
    symbol = serializers.CharField(help_text="EURUSD or EUR/USD; must be the model's")
    timeframe = serializers.CharField(help_text="the model's timeframe, e.g. 1h")
    start = serializers.CharField(required=False, allow_null=True, help_text="first bar (UTC, ISO 8601)")
    end = serializers.CharField(required=False, allow_null=True, help_text="last bar (UTC, ISO 8601)")
    samples = serializers.IntegerField(required=False, default=ForecastRequest.samples)
    seed = serializers.IntegerField(required=False, default=ForecastRequest.seed)
    steps = serializers.IntegerField(required=False, default=ForecastRequest.steps, help_text="model evaluations per sample path")
    sampler = serializers.CharField(required=False, default=ForecastRequest.sampler, help_text="dpmpp2m (default), unipc or ddim")
