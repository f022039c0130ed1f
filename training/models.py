from django.db import models
from django.urls import reverse
from django.utils import timezone

from forexgpt_site.jobs import ChildJobRun
from training.request import TrainingRequest


class TrainingRun(ChildJobRun):
    """Training of one diffusion forecaster; runs on the `gpu` queue in a child process."""

    TASK = "training.tasks.training_run_execute"
    QUEUE = "gpu"
    request_class = TrainingRequest
    resume_message = "resuming from the last checkpoint"
    REQUEST_COLUMNS = ("name", "symbol", "timeframe", "start", "end", "horizon", "denoiser")

    name = models.CharField(max_length=120, blank=True)
    symbol = models.CharField(max_length=12)
    timeframe = models.CharField(max_length=8)
    start = models.DateTimeField(null=True, blank=True)
    end = models.DateTimeField(null=True, blank=True)
    horizon = models.PositiveIntegerField(default=TrainingRequest.horizon, help_text="bars forecast")
    denoiser = models.CharField(max_length=12, default=TrainingRequest.denoiser)
    decisions = models.JSONField(default=list, blank=True, help_text="optimizations applied, with reasons")
    hardware = models.JSONField(default=dict, blank=True)
    epoch = models.IntegerField(default=0)
    step = models.IntegerField(default=0)
    train_loss = models.FloatField(null=True, blank=True)
    val_loss = models.FloatField(null=True, blank=True)
    samples_per_s = models.FloatField(null=True, blank=True)
    eta_s = models.FloatField(null=True, blank=True)
    gpu_memory_gb = models.FloatField(null=True, blank=True)
    history = models.JSONField(default=list, blank=True, help_text="[{epoch, step, train_loss, val_loss}] per epoch")
    quality = models.JSONField(null=True, blank=True, help_text="test-period CRPS, MAE, pinball, coverage vs baselines")
    artifact_version = models.ForeignKey(
        "registry.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def get_absolute_url(self) -> str:
        return reverse("training:run", args=[self.pk])

    @property
    def label(self) -> str:
        return self.name or f"#{self.pk} {self.symbol} {self.timeframe} h{self.horizon}"

    # The child reports each phase in its own span of progress (training/services/child.py): the page names it.
    PHASES = (
        (0.90, "training"),
        (0.92, "fitting the spread and drift on the validation part"),
        (0.97, "scoring the test period"),
        (1.01, "registering the model version"),
    )

    @property
    def phase(self) -> str:
        if self.status == "queued":
            return "waiting for the gpu worker"
        if self.status != "running":
            return self.status
        return next(name for bound, name in self.PHASES if self.progress < bound)

    @property
    def epoch_of(self) -> str | None:
        """ "N of M": the epoch training is in (or ended in), 1-based, of the run's epochs; None while
        queued or when it ended before its first step."""
        if self.status == "queued" or (not self.step and self.status != "running"):
            return None
        return f"{self.epoch + 1} of {self.request.get('epochs')}"

    @property
    def registry_name(self) -> str:
        """The registered model its version goes to: `model_name`, or symbol-timeframe-horizon; a
        `fast_dev_run` smoke test (one batch) goes to NAME-smoke, so that it never becomes the version a
        bare NAME means."""
        name = self.request.get("model_name") or f"{self.symbol.lower()}-{self.timeframe}-h{self.horizon}"
        return f"{name[:94]}-smoke" if self.request.get("fast_dev_run") else name


class HardwareReport(models.Model):
    """What hardware detection found on a worker host (the `gpu` worker, or `manage.py hardware`),
    stored so that pages show it at once, with its age, instead of detecting on every visit."""

    host = models.CharField(max_length=255)
    report = models.JSONField(help_text="hardware and the optimizations it allows, as `hardware --json` prints")
    detected_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-detected_at"]

    def __str__(self) -> str:
        return f"{self.host} at {self.detected_at:%Y-%m-%d %H:%M}"
