from rest_framework import serializers

from conformal.engine import METHODS
from conformal.models import CalibrationRun


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


class CalibrationCreateSerializer(serializers.Serializer):
    forecasts = serializers.FileField(required=False, help_text="CSV: timestamp, y_true, y_pred[, q_lo, q_hi, scale] or the forecast columns + y_true")
    forecast_set = serializers.IntegerField(required=False, allow_null=True,
                                            help_text="a finished forecast set's id instead of a file (its realized returns come from the candles)")
    method = serializers.ChoiceField(choices=METHODS)
    alpha = serializers.FloatField(default=0.1)
    name = serializers.CharField(required=False, allow_blank=True, default="")
    artifact = serializers.CharField(required=False, allow_blank=True, help_text="REF of the model version these forecasts come from")
    cal_size = serializers.IntegerField(required=False)
    window = serializers.IntegerField(required=False)
    gamma = serializers.FloatField(required=False)
    lr = serializers.FloatField(required=False)
    score = serializers.CharField(required=False)
