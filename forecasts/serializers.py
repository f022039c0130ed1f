from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from forecasts.models import ForecastSet
from forecasts.request import ForecastRequest
from forecasts.selectors import version_periods_of
from forexgpt_site.api import JobRequestSerializer, JobRunSerializer
from registry.serializers import PeriodsSerializer


class OverlapSerializer(serializers.Serializer):
    """How many forecast origins fall in each place of the model's periods (each part taken from its
    first bar read to its last)."""

    before = serializers.IntegerField(help_text="before the training part's first bar")
    train = serializers.IntegerField(help_text="inside the training part (in-sample)")
    val = serializers.IntegerField(
        help_text="inside the validation part (in-sample: early stopping, the fitted spread and drift)"
    )
    test = serializers.IntegerField(help_text="inside the test part (out-of-sample)")
    between = serializers.IntegerField(help_text="in a gap between two parts")
    after = serializers.IntegerField(help_text="after the test part's last bar (out-of-sample)")


class ForecastSetSerializer(JobRunSerializer):
    artifact = serializers.CharField(source="artifact_ref", read_only=True)
    version_id = serializers.IntegerField(source="artifact_version_id", read_only=True)
    overlap = OverlapSerializer(read_only=True, allow_null=True, help_text="null when the model's periods are unknown")
    in_sample = serializers.BooleanField(
        read_only=True,
        allow_null=True,
        help_text=(
            "true when any forecast was made inside the model's training or validation part; null when its periods are unknown"
        ),
    )
    sample_label = serializers.CharField(
        read_only=True, help_text='e.g. "in-sample (training)", "out-of-sample (test period)", "periods unknown"'
    )
    periods = serializers.SerializerMethodField(
        help_text="the model version's train / val / test periods; null when unknown"
    )

    class Meta:
        model = ForecastSet
        fields = [
            "id",
            "status",
            "progress",
            "message",
            "error",
            "artifact",
            "version_id",
            "symbol",
            "timeframe",
            "start",
            "end",
            "first",
            "last",
            "horizon",
            "samples",
            "seed",
            "steps",
            "sampler",
            "windows_total",
            "rows",
            "eta_s",
            "attempts",
            "created_at",
            "started_at",
            "finished_at",
            "in_sample",
            "sample_label",
            "overlap",
            "periods",
            "adaptation",
        ]
        read_only_fields = fields

    @extend_schema_field(PeriodsSerializer(allow_null=True))
    def get_periods(self, obj):
        return version_periods_of(obj)


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
    steps = serializers.IntegerField(
        required=False, default=ForecastRequest.steps, help_text="model evaluations per sample path"
    )
    sampler = serializers.CharField(
        required=False, default=ForecastRequest.sampler, help_text="dpmpp2m (default), unipc or ddim"
    )
