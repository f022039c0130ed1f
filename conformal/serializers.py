from rest_framework import serializers

from conformal.engine import method_choices
from conformal.models import CalibrationRun
from conformal.request import CalibrationRequest
from forecasts.serializers import OverlapSerializer
from forexgpt_site.api import JobRequestSerializer, JobRunSerializer


class RangeSerializer(serializers.Serializer):
    first = serializers.DateTimeField(help_text="its first point's timestamp (UTC)")
    last = serializers.DateTimeField(help_text="its last point's timestamp (UTC)")
    points = serializers.IntegerField()
    overlap = OverlapSerializer(
        allow_null=True, required=False, help_text="its points among the model's periods; null when unknown"
    )


class RangesSerializer(serializers.Serializer):
    calibration = RangeSerializer(help_text="the points the calibrator was fitted on")
    evaluation = RangeSerializer(
        help_text="the points given sequential intervals, each before its truth was seen: what `metrics` scores"
    )


class CalibrationRunSerializer(JobRunSerializer):
    owner = serializers.StringRelatedField()
    artifact = serializers.SerializerMethodField()
    forecast_set = serializers.IntegerField(
        source="forecast_set_id",
        read_only=True,
        allow_null=True,
        help_text="the stored forecast set it calibrated (null for an uploaded CSV)",
    )
    ranges = RangesSerializer(
        read_only=True, allow_null=True, help_text="null before it has run, or for forecasts without timestamps"
    )
    overlap = OverlapSerializer(
        read_only=True, allow_null=True, help_text="its forecasts among the model's periods; null when unknown"
    )
    in_sample = serializers.BooleanField(
        read_only=True,
        allow_null=True,
        help_text=(
            "true when any of its forecasts was made inside the model's training or validation part: it was calibrated "
            "and evaluated on in-sample forecasts; null when unknown"
        ),
    )
    sample_label = serializers.CharField(read_only=True)

    class Meta:
        model = CalibrationRun
        fields = [
            "id",
            "name",
            "status",
            "progress",
            "message",
            "error",
            "method",
            "alpha",
            "params",
            "metrics",
            "artifact",
            "attached",
            "owner",
            "created_at",
            "started_at",
            "finished_at",
            "forecast_set",
            "ranges",
            "overlap",
            "in_sample",
            "sample_label",
        ]
        read_only_fields = fields

    def get_artifact(self, obj) -> str | None:
        return obj.artifact_version.ref if obj.artifact_version_id else None


class CalibrationCreateSerializer(JobRequestSerializer):
    """The API face of `CalibrationRequest`: its defaults, choices and checks, nothing of its own; plus
    the uploaded forecasts CSV (multipart), which travels beside the request."""

    R = CalibrationRequest
    upload_field = "forecasts"
    forecasts = serializers.FileField(
        required=False, help_text="CSV: timestamp, y_true, y_pred[, q_lo, q_hi, scale] or the forecast columns + y_true"
    )
    forecast_set = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="a finished forecast set's id instead of a file (its realized returns come from the candles)",
    )
    method = serializers.ChoiceField(choices=[])  # the API names its method; the page offers the default
    alpha = serializers.FloatField(default=R.alpha)
    name = serializers.CharField(required=False, allow_blank=True, default=R.name)
    artifact = serializers.CharField(
        required=False,
        allow_blank=True,
        default=R.artifact,
        help_text="REF of the model version these forecasts come from",
    )
    cal_size = serializers.IntegerField(required=False)
    window = serializers.IntegerField(required=False)
    gamma = serializers.FloatField(required=False)
    lr = serializers.FloatField(required=False)
    score = serializers.ChoiceField(choices=list(R.SCORES), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["method"].choices = method_choices()  # read now: a method registered later is offered
