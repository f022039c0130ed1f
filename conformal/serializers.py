from rest_framework import serializers

from conformal.models import CalibrationRun
from conformal.request import CalibrationRequest
from forexgpt_site.api import JobRequestSerializer


class CalibrationRunSerializer(serializers.ModelSerializer):
    owner = serializers.StringRelatedField()
    artifact = serializers.SerializerMethodField()

    class Meta:
        model = CalibrationRun
        fields = ["id", "name", "status", "progress", "message", "error", "method", "alpha", "params", "metrics",
                  "artifact", "attached", "owner", "created_at", "started_at", "finished_at"]
        read_only_fields = fields

    def get_artifact(self, obj) -> str | None:
        return obj.artifact_version.ref if obj.artifact_version_id else None


class CalibrationCreateSerializer(JobRequestSerializer):
    """The API face of `CalibrationRequest`: its defaults, choices and checks, nothing of its own; plus
    the uploaded forecasts CSV (multipart), which travels beside the request."""

    R = CalibrationRequest
    upload_field = "forecasts"
    forecasts = serializers.FileField(required=False, help_text="CSV: timestamp, y_true, y_pred[, q_lo, q_hi, scale] or the forecast columns + y_true")
    forecast_set = serializers.IntegerField(required=False, allow_null=True,
                                            help_text="a finished forecast set's id instead of a file (its realized returns come from the candles)")
    method = serializers.ChoiceField(choices=list(R.METHODS))  # the API names its method; the page offers the default
    alpha = serializers.FloatField(default=R.alpha)
    name = serializers.CharField(required=False, allow_blank=True, default=R.name)
    artifact = serializers.CharField(required=False, allow_blank=True, default=R.artifact,
                                     help_text="REF of the model version these forecasts come from")
    cal_size = serializers.IntegerField(required=False)
    window = serializers.IntegerField(required=False)
    gamma = serializers.FloatField(required=False)
    lr = serializers.FloatField(required=False)
    score = serializers.ChoiceField(choices=list(R.SCORES), required=False)
