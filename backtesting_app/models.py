from django.db import models
from django.urls import reverse

from backtesting_app.engine import ENGINES, STRATEGY_NAME_LENGTH
from backtesting_app.engine.optimize import EVALUATORS, METHODS
from backtesting_app.request import BacktestRequest, OptimizationRequest
from forexgpt_site.jobs import JobRun

FORECAST_SOURCE_CHOICES = [
    ("none", "none (pattern strategy)"),
    ("forecast_set", "a stored forecast set"),
    ("csv", "uploaded CSV"),
    ("baseline", "momentum baseline"),
]


class BacktestRun(JobRun):
    """One backtest: bars, a strategy with parameters, FX costs and forecasts -> stats, equity, trades."""

    TASK = "backtesting_app.tasks.backtest_run_execute"
    request_class = BacktestRequest
    REQUEST_COLUMNS = ("name", "symbol", "timeframe", "start", "end", "strategy", "engine", "forecasts_source")

    name = models.CharField(max_length=120, blank=True)
    symbol = models.CharField(max_length=12)
    timeframe = models.CharField(max_length=8)
    start = models.DateTimeField(null=True, blank=True)
    end = models.DateTimeField(null=True, blank=True)
    strategy = models.CharField(
        max_length=STRATEGY_NAME_LENGTH, help_text="a registered strategy's name (checked by the request)"
    )
    engine = models.CharField(max_length=10, default="reference", choices=ENGINES)
    forecasts_source = models.CharField(max_length=12, default="none", choices=FORECAST_SOURCE_CHOICES)
    forecasts = models.FileField(upload_to="backtests/forecasts/%Y/%m/", blank=True)
    forecast_set = models.ForeignKey(
        "forecasts.ForecastSet", null=True, blank=True, on_delete=models.SET_NULL, related_name="backtests"
    )
    artifact_version = models.ForeignKey(
        "registry.ModelVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="backtests",
        help_text="the model version whose forecasts it used",
    )
    stats = models.JSONField(null=True, blank=True, help_text="backtesting's stats; drawdowns as positive percentages")
    trades = models.JSONField(null=True, blank=True)
    equity = models.FileField(upload_to="backtests/equity/%Y/%m/", blank=True, help_text="ts, equity, drawdown_pct")
    model_value = models.JSONField(
        null=True,
        blank=True,
        help_text="the same strategy on baseline forecasts and on random "
        "entries (permutations), with differences and p-values",
    )
    origin_result = models.ForeignKey(
        "OptimizationResult",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="backtests",
        help_text="the optimization front point this backtest was opened from (chosen in-sample)",
    )

    @property
    def label(self) -> str:
        return self.name or f"#{self.pk} {self.strategy} {self.symbol} {self.timeframe}"

    @property
    def in_sample(self) -> bool | None:
        """True when its figures are in-sample: parameters chosen by an optimization on this data, or
        forecasts from a model trained or validated on this period; None when that is unknown."""
        if self.origin_result_id is not None:
            return True
        if self.forecast_set_id is not None:
            return getattr(self.forecast_set, "in_sample", None)
        return None if self.forecasts_source == "csv" else False

    def get_absolute_url(self) -> str:
        return reverse("backtesting_app:run", args=[self.pk])


class OptimizationRun(JobRun):
    """A multi-objective parameter search (hybrid, grid or NSGA-II), resumable from its stored results."""

    TASK = "backtesting_app.tasks.optimization_run_execute"
    request_class = OptimizationRequest
    resume_message = "resuming from the stored results"
    REQUEST_COLUMNS = (
        "name",
        "symbol",
        "timeframe",
        "start",
        "end",
        "strategy",
        "method",
        "evaluator",
        "forecasts_source",
    )

    name = models.CharField(max_length=120, blank=True)
    symbol = models.CharField(max_length=12)
    timeframe = models.CharField(max_length=8)
    start = models.DateTimeField(null=True, blank=True)
    end = models.DateTimeField(null=True, blank=True)
    strategy = models.CharField(
        max_length=STRATEGY_NAME_LENGTH, default="forecast", help_text="a registered strategy's name"
    )
    method = models.CharField(max_length=8, default="hybrid", choices=METHODS)
    evaluator = models.CharField(max_length=12, default="inprocess", choices=EVALUATORS)
    forecasts_source = models.CharField(max_length=12, default="baseline", choices=FORECAST_SOURCE_CHOICES)
    forecasts = models.FileField(upload_to="optimizations/forecasts/%Y/%m/", blank=True)
    forecast_set = models.ForeignKey(
        "forecasts.ForecastSet", null=True, blank=True, on_delete=models.SET_NULL, related_name="optimizations"
    )
    artifact_version = models.ForeignKey(
        "registry.ModelVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="optimizations",
        help_text="the model version whose forecasts it used",
    )
    phase = models.CharField(max_length=12, blank=True)
    phase_counts = models.JSONField(default=dict, blank=True, help_text="evaluations per phase")
    hv_history = models.JSONField(default=list, blank=True, help_text="[evaluations, hypervolume] after each batch")
    reference_point = models.JSONField(default=list, blank=True)
    walk_forward_result = models.JSONField(null=True, blank=True)
    evidence = models.JSONField(
        null=True, blank=True, help_text="held-out range, chosen point, DSR / PBO / SPA, model value"
    )

    @property
    def label(self) -> str:
        return self.name or f"#{self.pk} {self.method} {self.symbol} {self.timeframe}"

    @property
    def forecasts_in_sample(self) -> bool | None:
        """True when its forecasts come from a model trained or validated on this period (every figure
        then flatters the model, held-out tail included); None when unknown (a CSV, periods unknown)."""
        if self.forecast_set_id is not None:
            return getattr(self.forecast_set, "in_sample", None)
        return None if self.forecasts_source == "csv" else False

    def get_absolute_url(self) -> str:
        return reverse("optimizations:run", args=[self.pk])


class OptimizationResult(models.Model):
    """One evaluated parameter set (each evaluated once per run)."""

    run = models.ForeignKey(OptimizationRun, on_delete=models.CASCADE, related_name="results")
    key = models.CharField(max_length=400, help_text="the snapped parameter vector")
    params = models.JSONField()
    metrics = models.JSONField(
        help_text="return_pct, max_drawdown_pct (positive), sharpe, win_rate_pct, profit_factor, n_trades"
    )
    stats = models.JSONField(null=True, blank=True, help_text="full reference-engine stats (front points)")
    phase = models.CharField(max_length=8)
    generation = models.PositiveIntegerField(default=0)
    feasible = models.BooleanField(default=True)
    rank = models.IntegerField(null=True, blank=True, help_text="dominance rank; 0 = Pareto front")
    holdout_metrics = models.JSONField(
        null=True, blank=True, help_text="the same metrics on the held-out tail (front points)"
    )
    worker = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run", "id"]
        constraints = [models.UniqueConstraint(fields=["run", "key"], name="optimization_result_once")]

    def __str__(self) -> str:
        return f"{self.run} result {self.key}"


class ParetoFront(models.Model):
    run = models.ForeignKey(OptimizationRun, on_delete=models.CASCADE, related_name="front")
    result = models.OneToOneField(OptimizationResult, on_delete=models.CASCADE, related_name="front_entry")
    rank = models.PositiveIntegerField(default=0)
    crowding_distance = models.FloatField(null=True, blank=True, help_text="null = infinite (a boundary point)")

    class Meta:
        ordering = ["run", "rank", "-crowding_distance"]

    def __str__(self) -> str:
        return f"{self.run} front point {self.result_id} (rank {self.rank})"


class OptimizationChunk(models.Model):
    """A slice of one batch, evaluated by whichever django-q2 worker takes it (distributed runs)."""

    run = models.ForeignKey(OptimizationRun, on_delete=models.CASCADE, related_name="chunks")
    batch = models.PositiveIntegerField()
    index = models.PositiveIntegerField()
    params = models.JSONField()
    metrics = models.JSONField(null=True, blank=True)
    worker = models.CharField(max_length=120, blank=True, help_text="host:cluster pid:worker pid")
    error = models.TextField(blank=True, help_text="why the chunk could not be evaluated")
    done = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run", "batch", "index"]
        constraints = [models.UniqueConstraint(fields=["run", "batch", "index"], name="optimization_chunk_once")]

    def __str__(self) -> str:
        return f"{self.run} chunk {self.batch}.{self.index}"
