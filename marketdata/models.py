from django.db import models

from forexgpt_site.jobs import JobRun


class Candle(models.Model):
    """One OHLCV bar; `ts` is the bar's start in UTC."""

    symbol = models.CharField(max_length=12)
    timeframe = models.CharField(max_length=8, help_text="canonical code: 1m, 5m, 1h, 4h, 1d")
    ts = models.DateTimeField(help_text="bar start, UTC")
    open = models.FloatField()
    high = models.FloatField()
    low = models.FloatField()
    close = models.FloatField()
    volume = models.FloatField(default=0.0)
    source = models.CharField(max_length=120, blank=True, help_text="file or process the bar came from")

    class Meta:
        ordering = ["symbol", "timeframe", "ts"]
        constraints = [
            # Also the index for range queries: (symbol, timeframe) equality, then a ts range.
            models.UniqueConstraint(fields=["symbol", "timeframe", "ts"], name="candle_unique_bar"),
        ]

    def __str__(self) -> str:
        return f"{self.symbol} {self.timeframe} {self.ts:%Y-%m-%d %H:%M}"


class CandleImport(JobRun):
    """An uploaded export waiting for, or done with, import by a worker."""

    TASK = "marketdata.tasks.candle_import_execute"

    file = models.FileField(upload_to="imports/%Y/%m/")
    original_name = models.CharField(max_length=255)
    symbol = models.CharField(max_length=12)
    timeframe = models.CharField(max_length=8)
    tz = models.CharField(max_length=64, blank=True, help_text="source time zone; blank = the format's default")
    format = models.CharField(max_length=12, default="auto")
    drop = models.JSONField(default=list, blank=True, help_text="anomaly kinds to drop")
    report = models.JSONField(null=True, blank=True)

    class Meta(JobRun.Meta):
        pass

    def __str__(self) -> str:
        return f"import {self.original_name} -> {self.symbol} {self.timeframe} ({self.status})"
