from django.db import models
from django.urls import reverse

from conformal.engine import METHOD_NAME_LENGTH
from conformal.request import CalibrationRequest
from forexgpt_site.jobs import JobRun
from training.engine.periods import in_sample_of, sample_label_of


class CalibrationRun(JobRun):
    """Conformal calibration of a forecast series: method, alpha, parameters -> metrics and intervals."""

    TASK = "conformal.tasks.calibration_run_execute"
    request_class = CalibrationRequest
    REQUEST_COLUMNS = ("name", "method", "alpha")

    name = models.CharField(max_length=120, blank=True)
    forecasts = models.FileField(
        upload_to="conformal/forecasts/%Y/%m/", help_text="CSV: timestamp, y_true, y_pred[, q_lo, q_hi, scale]"
    )
    artifact_version = models.ForeignKey(
        "registry.ModelVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="calibrations",
        help_text="the model version whose forecasts these are",
    )
    forecast_set = models.ForeignKey(
        "forecasts.ForecastSet",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="calibrations",
        help_text="the stored forecasts it calibrated",
    )
    method = models.CharField(max_length=METHOD_NAME_LENGTH, help_text="a registered calibration method's name")
    alpha = models.FloatField()
    metrics = models.JSONField(null=True, blank=True)
    state = models.JSONField(null=True, blank=True, help_text="the fitted calibrator, to apply to new forecasts")
    intervals = models.FileField(
        upload_to="conformal/intervals/%Y/%m/", blank=True, help_text="timestamp, y_true, y_pred, lo, hi"
    )
    attached = models.BooleanField(default=False, help_text="gives this version's forecasts their lo/hi")
    ranges = models.JSONField(
        null=True,
        blank=True,
        help_text=(
            "{calibration, evaluation}: {first, last, points} of the points it was fitted on and of those it made "
            "sequential intervals for; null for forecasts without timestamps"
        ),
    )
    overlap = models.JSONField(
        null=True,
        blank=True,
        help_text=(
            "its forecasts' origins in each place of the model version's periods ({before, train, val, test, between, after}); "
            "null when unknown"
        ),
    )

    class Meta(JobRun.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["artifact_version"],
                condition=models.Q(attached=True),
                name="conformal_one_attached_calibration_per_version",
            ),
        ]

    def __str__(self) -> str:
        return self.name or f"{self.method} alpha={self.alpha} #{self.pk}"

    @property
    def label(self) -> str:
        return self.name or f"#{self.pk} {self.method} (alpha {self.alpha:g})"

    @property
    def in_sample(self) -> bool | None:
        """True when any of its forecasts was made inside the model's training or validation part,
        False when none was, None when unknown (no model version, no periods, no timestamps)."""
        return in_sample_of(self.overlap)

    @property
    def sample_label(self) -> str:
        return sample_label_of(self.overlap)

    def get_absolute_url(self) -> str:
        return reverse("conformal:run", args=[self.pk])
