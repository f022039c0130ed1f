from rest_framework import serializers

from forexgpt_site.api import JobRequestSerializer, JobRunSerializer
from training.models import TrainingRun
from training.request import TrainingRequest


class TrainingRunSerializer(JobRunSerializer):
    owner = serializers.StringRelatedField()
    artifact = serializers.SerializerMethodField()

    class Meta:
        model = TrainingRun
        fields = [
            "id",
            "name",
            "status",
            "progress",
            "message",
            "error",
            "symbol",
            "timeframe",
            "start",
            "end",
            "horizon",
            "patch_len",
            "epochs",
            "batch_size",
            "denoiser",
            "members",
            "choices",
            "fast_dev_run",
            "seed",
            "decisions",
            "epoch",
            "step",
            "train_loss",
            "val_loss",
            "samples_per_s",
            "eta_s",
            "gpu_memory_gb",
            "quality",
            "artifact",
            "attempts",
            "owner",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_artifact(self, obj) -> str | None:
        return obj.artifact_version.ref if obj.artifact_version_id else None


class TrainingCreateSerializer(JobRequestSerializer):
    """The API face of `TrainingRequest`: its defaults, choices and checks, nothing of its own."""

    R = TrainingRequest
    symbol = serializers.CharField(help_text="EURUSD or EUR/USD")
    timeframe = serializers.CharField(help_text="e.g. 1h")
    start = serializers.CharField(
        required=False, allow_null=True, help_text="first bar (UTC, ISO 8601); default: the first stored"
    )
    end = serializers.CharField(
        required=False, allow_null=True, help_text="last bar (UTC, ISO 8601); default: the last stored"
    )
    horizon = serializers.IntegerField(default=R.horizon, help_text="bars forecast")
    patch_len = serializers.IntegerField(default=R.patch_len, help_text="bars of context per window")
    epochs = serializers.IntegerField(default=R.epochs)
    batch_size = serializers.IntegerField(default=R.batch_size)
    denoiser = serializers.ChoiceField(choices=list(R.DENOISERS), default=R.denoiser)
    members = serializers.IntegerField(
        default=R.members, help_text="networks trained side by side and sampled as one mixture"
    )
    choices = serializers.JSONField(
        required=False,
        help_text=(
            f"options that win over auto-detection: precision ({', '.join(R.PRECISIONS)}), compile, compile_mode "
            f"({', '.join(R.COMPILE_MODES)}), num_gpus, gradient_accumulation, ..."
        ),
    )
    fast_dev_run = serializers.BooleanField(default=R.fast_dev_run)
    seed = serializers.IntegerField(default=R.seed)
    name = serializers.CharField(required=False, allow_blank=True, default=R.name)
    model_name = serializers.CharField(
        required=False,
        allow_blank=True,
        default=R.model_name,
        help_text="registry model (a slug); default <symbol>-<timeframe>-h<horizon>",
    )
