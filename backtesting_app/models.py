from django.db import models

from forexgpt_site.jobs import JobRun


class BacktestRun(JobRun):
    """One backtest: bars, a strategy with parameters, FX costs and forecasts -> stats, equity, trades."""

    TASK = "backtesting_app.tasks.backtest_run_execute"

    name = models.CharField(max_length=120, blank=True)
    symbol = models.CharField(max_length=12)
    timeframe = models.CharField(max_length=8)
    start = models.DateTimeField(null=True, blank=True)
    end = models.DateTimeField(null=True, blank=True)
    strategy = models.CharField(max_length=12, choices=[("forecast", "forecast"), ("pattern", "pattern"), ("combined", "combined")])
    params = models.JSONField(default=dict)
    costs = models.JSONField(default=dict, help_text="spread_pips, commission, leverage, size, cash")
    engine = models.CharField(max_length=10, default="reference", choices=[("reference", "reference (backtesting)"), ("fast", "fast (compiled)")])
    forecasts_source = models.CharField(max_length=10, default="none", choices=[
        ("none", "none (pattern strategy)"), ("csv", "uploaded CSV"), ("baseline", "momentum baseline")])
    forecasts = models.FileField(upload_to="backtests/forecasts/%Y/%m/", blank=True)
    artifact_version = models.ForeignKey("registry.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="backtests")
    calibration = models.ForeignKey("conformal.CalibrationRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="backtests")
    stats = models.JSONField(null=True, blank=True, help_text="backtesting's stats; drawdowns as positive percentages")
    trades = models.JSONField(null=True, blank=True)
    equity = models.FileField(upload_to="backtests/equity/%Y/%m/", blank=True, help_text="ts, equity, drawdown_pct")

    class Meta(JobRun.Meta):
        pass

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return self.name or f"#{self.pk} {self.strategy} {self.symbol} {self.timeframe}"
