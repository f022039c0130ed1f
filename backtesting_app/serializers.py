from rest_framework import serializers

from backtesting_app.engine.patterns import PATTERNS
from backtesting_app.models import BacktestRun, OptimizationResult, OptimizationRun
from backtesting_app.request import BacktestRequest, OptimizationRequest
from forexgpt_site.api import JobRequestSerializer


class BacktestRunSerializer(serializers.ModelSerializer):
    owner = serializers.StringRelatedField()

    class Meta:
        model = BacktestRun
        fields = ["id", "name", "status", "progress", "message", "error", "symbol", "timeframe", "start", "end", "strategy",
                  "params", "costs", "engine", "forecasts_source", "forecast_set", "artifact_version", "stats", "owner", "created_at",
                  "started_at", "finished_at"]
        read_only_fields = fields


class _RunOnDataSerializer(JobRequestSerializer):
    """The fields a backtest and an optimization share (`request._RunOnData`): series, range, forecasts,
    costs, name; defaults from the request class named by `R`."""

    R = BacktestRequest
    upload_field = "forecasts"
    symbol = serializers.CharField(help_text="EURUSD or EUR/USD")
    timeframe = serializers.CharField()
    start = serializers.CharField(required=False, allow_null=True, help_text="first bar (UTC, ISO 8601)")
    end = serializers.CharField(required=False, allow_null=True, help_text="last bar (UTC, ISO 8601)")
    forecast_set = serializers.IntegerField(required=False, allow_null=True, help_text="a finished forecast set's id (forecasts_source forecast_set)")
    artifact = serializers.CharField(required=False, allow_blank=True, default="",
                                     help_text="or a model version REF: its newest finished forecast set covering the series and range")
    forecasts = serializers.FileField(required=False, help_text="CSV: timestamp, pred_return[, confidence]")
    spread_pips = serializers.FloatField(default=R.spread_pips)
    commission = serializers.FloatField(default=R.commission)
    leverage = serializers.FloatField(default=R.leverage)
    size = serializers.FloatField(default=R.size)
    cash = serializers.FloatField(default=R.cash)
    name = serializers.CharField(required=False, allow_blank=True, default="")


class BacktestCreateSerializer(_RunOnDataSerializer):
    """The API face of `BacktestRequest`: its defaults, choices and checks, nothing of its own; plus
    the uploaded forecasts CSV (multipart), which travels beside the request."""

    R = BacktestRequest
    strategy = serializers.ChoiceField(choices=list(R.STRATEGIES))
    params = serializers.JSONField(help_text="strategy parameters (a JSON object)")
    engine = serializers.ChoiceField(choices=list(R.ENGINES), default=R.engine)
    forecasts_source = serializers.ChoiceField(choices=R.FORECAST_SOURCES, default=R.forecasts_source)


class PatternScanSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    timeframe = serializers.CharField()
    start = serializers.DateTimeField(required=False)
    end = serializers.DateTimeField(required=False)
    forward_bars = serializers.IntegerField(default=12, min_value=1, max_value=1000)
    patterns = serializers.ListField(child=serializers.ChoiceField(choices=PATTERNS), required=False)
    max_events = serializers.IntegerField(default=1000, min_value=0, max_value=10000,
                                          help_text="the newest events listed; the summary counts them all")


class OptimizationRunSerializer(serializers.ModelSerializer):
    owner = serializers.StringRelatedField()

    class Meta:
        model = OptimizationRun
        fields = ["id", "name", "status", "progress", "message", "error", "symbol", "timeframe", "start", "end", "strategy",
                  "fixed_params", "space", "objectives", "constraints", "method", "budget", "seed", "evaluator", "workers",
                  "costs", "forecasts_source", "forecast_set", "artifact_version", "phase", "phase_counts", "hv_history",
                  "reference_point", "walk_forward", "walk_forward_result", "owner", "created_at", "started_at", "finished_at"]
        read_only_fields = fields


class OptimizationResultSerializer(serializers.ModelSerializer):
    class Meta:
        model = OptimizationResult
        fields = ["id", "params", "metrics", "stats", "phase", "generation", "feasible", "rank", "worker", "created_at"]
        read_only_fields = fields


class OptimizationCreateSerializer(_RunOnDataSerializer):
    """The API face of `OptimizationRequest`: its defaults, choices and checks; plus the uploaded
    forecasts CSV (multipart), which travels beside the request."""

    R = OptimizationRequest
    strategy = serializers.ChoiceField(choices=list(R.STRATEGIES), default=R.strategy)
    space = serializers.JSONField(required=False, help_text="searched parameters; default: the strategy's standard space")
    fixed_params = serializers.JSONField(required=False)
    objectives = serializers.CharField(default=",".join(R.objectives))
    constraints = serializers.JSONField(required=False)
    budget = serializers.IntegerField(default=R.budget)
    method = serializers.ChoiceField(choices=list(R.METHODS), default=R.method)
    seed = serializers.IntegerField(default=R.seed)
    evaluator = serializers.ChoiceField(choices=list(R.EVALUATORS), default=R.evaluator)
    workers = serializers.IntegerField(default=R.workers, help_text="pool size, at most the worker machine's cores; 0 = all")
    forecasts_source = serializers.ChoiceField(choices=R.FORECAST_SOURCES, default=R.forecasts_source)
    walk_forward = serializers.JSONField(required=False, help_text='{"in_sample": 4000, "out_of_sample": 1000, "rule": "max_sharpe"}')
