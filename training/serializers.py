from rest_framework import serializers

from training.models import TrainingRun


class TrainingRunSerializer(serializers.ModelSerializer):
    owner = serializers.StringRelatedField()
    artifact = serializers.SerializerMethodField()

    class Meta:
        model = TrainingRun
        fields = ["id", "name", "status", "progress", "message", "error", "symbol", "timeframe", "start", "end", "horizon",
                  "patch_len", "epochs", "batch_size", "denoiser", "choices", "fast_dev_run", "seed", "decisions", "epoch",
                  "step", "train_loss", "val_loss", "samples_per_s", "eta_s", "gpu_memory_gb", "quality", "artifact",
                  "attempts", "owner", "created_at", "started_at", "finished_at"]
        read_only_fields = fields

    def get_artifact(self, obj) -> str | None:
        return obj.artifact_version.ref if obj.artifact_version_id else None


class TrainingCreateSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    timeframe = serializers.CharField()
    start = serializers.DateTimeField(required=False, allow_null=True)
    end = serializers.DateTimeField(required=False, allow_null=True)
    horizon = serializers.IntegerField(default=12)
    patch_len = serializers.IntegerField(default=64)
    epochs = serializers.IntegerField(default=30)
    batch_size = serializers.IntegerField(default=64)
    denoiser = serializers.ChoiceField(choices=["transformer", "unet"], default="transformer")
    choices = serializers.JSONField(required=False, help_text="precision, compile, num_gpus, gradient_accumulation, ...")
    fast_dev_run = serializers.BooleanField(default=False)
    seed = serializers.IntegerField(default=0)
    name = serializers.CharField(required=False, allow_blank=True, default="")
    model_name = serializers.CharField(required=False, allow_blank=True, default="")
