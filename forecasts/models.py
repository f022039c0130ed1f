from django.db import models
from django.urls import reverse

from forecasts.request import ForecastRequest
from forexgpt_site.jobs import ChildJobRun
from training.engine.periods import in_sample_of, sample_label_of


class ForecastSet(ChildJobRun):
    """A model version's forecasts for a series and range: a job on the `gpu` queue that stores its
    rows chunk by chunk, so a run that dies continues where it stopped."""

    TASK = "forecasts.tasks.forecast_set_execute"
    QUEUE = "gpu"
    request_class = ForecastRequest
    resume_message = "resuming after the stored forecasts"
    REQUEST_COLUMNS = ("symbol", "timeframe", "start", "end")

    artifact_version = models.ForeignKey(
        "registry.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="forecast_sets"
    )
    artifact_ref = models.CharField(
        max_length=160, blank=True, help_text="the version's reference, kept if it is deleted"
    )
    symbol = models.CharField(max_length=12)
    timeframe = models.CharField(max_length=8)
    start = models.DateTimeField(
        null=True, blank=True, help_text="requested first bar (None: the first that has context)"
    )
    end = models.DateTimeField(null=True, blank=True, help_text="requested last bar (None: the last stored)")
    first = models.DateTimeField(null=True, blank=True, help_text="first forecast bar")
    last = models.DateTimeField(null=True, blank=True, help_text="last forecast bar")
    horizon = models.PositiveIntegerField(default=12, help_text="bars ahead of each forecast")
    windows_total = models.PositiveIntegerField(default=0)
    rows = models.PositiveIntegerField(default=0, help_text="forecasts stored so far")
    eta_s = models.FloatField(null=True, blank=True)
    overlap = models.JSONField(
        null=True,
        blank=True,
        help_text=(
            "forecast origins in each place of the model's periods: {before, train, val, test, between, after} counts; "
            "null when the version records no periods"
        ),
    )
    periods = models.JSONField(
        null=True,
        blank=True,
        help_text=(
            "the model version's train / val / test periods when the set was made: its forecasts stay labelled and "
            "scored alike if the version is deleted later; null when the version records none"
        ),
    )

    adaptation = models.JSONField(
        null=True,
        blank=True,
        help_text=(
            "a series the model was not trained on: what was fitted to it before forecasting (its statistics' bars, "
            "the windows, the spread and drift); null for the model's own series"
        ),
    )

    def get_absolute_url(self) -> str:
        return reverse("forecasts:detail", args=[self.pk])

    @property
    def label(self) -> str:
        return f"#{self.pk} {self.artifact_ref} {self.symbol} {self.timeframe}"

    @property
    def in_sample(self) -> bool | None:
        """True when any forecast was made inside the model's training or validation part, False when
        none was, None when the model's periods are unknown."""
        return in_sample_of(self.overlap)

    @property
    def sample_label(self) -> str:
        """ "in-sample (training)", "in-sample (validation)", "out-of-sample (test period)",
        "out-of-sample (after the model's data)", ... or "periods unknown"."""
        return sample_label_of(self.overlap)


class ForecastRow(models.Model):
    """One forecast: made after bar `ts` closed, for the cumulative log return `horizon` bars on."""

    forecast_set = models.ForeignKey(ForecastSet, on_delete=models.CASCADE, related_name="forecast_rows")
    ts = models.DateTimeField()
    pred_return = models.FloatField(help_text="median of the sampled horizon-end returns")
    q05 = models.FloatField()
    q10 = models.FloatField()
    q25 = models.FloatField()
    q50 = models.FloatField()
    q75 = models.FloatField()
    q90 = models.FloatField()
    q95 = models.FloatField()
    confidence = models.FloatField(help_text="share of samples with the median's sign")

    class Meta:
        ordering = ["forecast_set", "ts"]
        constraints = [models.UniqueConstraint(fields=["forecast_set", "ts"], name="forecasts_one_row_per_bar")]

    def __str__(self) -> str:
        return f"forecast set {self.forecast_set_id} at {self.ts:%Y-%m-%d %H:%M} UTC"
