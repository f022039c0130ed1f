from django.db import models
from django.urls import reverse

from forexgpt_site.jobs import JobRun
from marketdata.engine import CONFLICT_POLICIES, DEFAULT_CONFLICT_POLICY
from marketdata.request import ImportRequest


class CandleImport(JobRun):
    """One write of bars into a series: an uploaded export (run by a worker), a file imported with
    `import_candles`, the demo series, or a resample. Every stored bar points at the one that wrote it.
    Demo and resample rows are no requests (their format is `demo` / `resample`, `request` empty): the
    request's fields stay columns for them."""

    TASK = "marketdata.tasks.candle_import_execute"
    request_class = ImportRequest
    REQUEST_COLUMNS = ("symbol", "timeframe", "tz", "format", "drop", "on_conflict")

    class Origin(models.TextChoices):
        UPLOAD = "upload", "uploaded file"
        COMMAND = "command", "import_candles"
        DEMO = "demo", "demo data"
        RESAMPLE = "resample", "resample"

    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.UPLOAD)
    file = models.FileField(
        upload_to="imports/%Y/%m/", blank=True, help_text="the uploaded file; blank for other origins"
    )
    original_name = models.CharField(max_length=255)
    symbol = models.CharField(max_length=12)
    timeframe = models.CharField(max_length=8)
    tz = models.CharField(max_length=64, blank=True, help_text="source time zone; blank = the format's default")
    format = models.CharField(max_length=12, default="auto")
    drop = models.JSONField(default=list, blank=True, help_text="anomaly kinds to drop")
    on_conflict = models.CharField(
        max_length=8,
        choices=list(CONFLICT_POLICIES.items()),
        default=DEFAULT_CONFLICT_POLICY,
        help_text="what to do with bars already stored with other values",
    )
    report = models.JSONField(null=True, blank=True)
    published = models.BooleanField(
        default=False,
        help_text="its bars are visible: they are written while this is "
        "false, unseen by every reader, and appear together when it turns true",
    )

    def get_absolute_url(self) -> str:
        return reverse("marketdata:import-detail", args=[self.pk])

    def __str__(self) -> str:
        return f"import #{self.pk} {self.original_name} -> {self.symbol} {self.timeframe} ({self.status})"

    @property
    def source_label(self) -> str:
        """Where the bars came from, as the data page shows it."""
        if self.origin == self.Origin.DEMO:
            return f"demo data ({self.original_name})"
        if self.origin == self.Origin.RESAMPLE:
            return self.original_name
        detected = (self.report or {}).get("format") or self.format
        return f"{self.original_name} ({detected}, import #{self.pk})"


class PublishedCandleManager(models.Manager):
    """Bars of published imports only: an import's bars stay invisible while it writes them."""

    def get_queryset(self):
        # One NOT IN over the (few) unpublished imports: cheaper than joining every bar to its import.
        return (
            super().get_queryset().exclude(candle_import__in=CandleImport.objects.filter(published=False).values("pk"))
        )


class Candle(models.Model):
    """One OHLCV bar; `ts` is the bar's start in UTC. `Candle.objects` holds the bars of published
    imports, what every reader uses; `Candle.all_objects` also the bars an import is still writing
    (or left behind when its process died): the writer's view."""

    symbol = models.CharField(max_length=12)
    timeframe = models.CharField(max_length=8, help_text="canonical code: 1m, 5m, 1h, 4h, 1d")
    ts = models.DateTimeField(help_text="bar start, UTC")
    open = models.FloatField()
    high = models.FloatField()
    low = models.FloatField()
    close = models.FloatField()
    volume = models.FloatField(default=0.0)
    # PROTECT: an import's record outlives its bars; delete the bars first (data page, delete_candles).
    candle_import = models.ForeignKey(
        CandleImport, on_delete=models.PROTECT, related_name="candles", help_text="the import that wrote this bar"
    )

    objects = PublishedCandleManager()
    all_objects = models.Manager()

    class Meta:
        ordering = ["symbol", "timeframe", "ts"]
        constraints = [
            # Also the index for range queries: (symbol, timeframe) equality, then a ts range.
            models.UniqueConstraint(fields=["symbol", "timeframe", "ts"], name="candle_unique_bar"),
        ]

    def __str__(self) -> str:
        return f"{self.symbol} {self.timeframe} {self.ts:%Y-%m-%d %H:%M}"
