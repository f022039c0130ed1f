from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from backtesting_app.engine import strategy_choices
from backtesting_app.engine.patterns import PATTERNS
from backtesting_app.models import BacktestRun, OptimizationResult, OptimizationRun
from backtesting_app.request import BacktestRequest, OptimizationRequest
from forexgpt_site.api import JobRequestSerializer, JobRunSerializer, UtcRangeQuerySerializer


class BacktestRunSerializer(JobRunSerializer):
    owner = serializers.StringRelatedField()

    class Meta:
        model = BacktestRun
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
            "strategy",
            "params",
            "costs",
            "engine",
            "forecasts_source",
            "forecast_set",
            "artifact_version",
            "stats",
            "model_value",
            "origin_result",
            "in_sample",
            "owner",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    in_sample = serializers.SerializerMethodField(
        help_text=(
            "whether these figures are in-sample: true when its parameters were chosen by an optimization on this data "
            "(origin_result) or its forecasts come from a model trained or validated on this period; null when unknown"
        )
    )

    def get_in_sample(self, run) -> bool | None:
        return run.in_sample


class _RunOnDataSerializer(JobRequestSerializer):
    """The fields a backtest and an optimization share (`request._RunOnData`): series, range, forecasts,
    costs, name; defaults from the request class named by `R`."""

    R = BacktestRequest
    upload_field = "forecasts"
    symbol = serializers.CharField(help_text="EURUSD or EUR/USD")
    timeframe = serializers.CharField()
    start = serializers.CharField(required=False, allow_null=True, help_text="first bar (UTC, ISO 8601)")
    end = serializers.CharField(required=False, allow_null=True, help_text="last bar (UTC, ISO 8601)")
    forecast_set = serializers.IntegerField(
        required=False, allow_null=True, help_text="a finished forecast set's id (forecasts_source forecast_set)"
    )
    artifact = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="or a model version REF: its newest finished forecast set covering the series and range",
    )
    forecasts = serializers.FileField(required=False, help_text="CSV: timestamp, pred_return[, confidence]")
    strategy = serializers.ChoiceField(choices=[])
    spread_pips = serializers.FloatField(default=R.spread_pips)
    commission = serializers.FloatField(default=R.commission)
    leverage = serializers.FloatField(default=R.leverage)
    size = serializers.FloatField(default=R.size)
    cash = serializers.FloatField(default=R.cash)
    name = serializers.CharField(required=False, allow_blank=True, default="")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["strategy"].choices = strategy_choices()  # read now: a strategy registered later is offered


class BacktestCreateSerializer(_RunOnDataSerializer):
    """The API face of `BacktestRequest`: its defaults, choices and checks, nothing of its own; plus
    the uploaded forecasts CSV (multipart), which travels beside the request."""

    R = BacktestRequest
    params = serializers.JSONField(help_text="strategy parameters (a JSON object)")
    engine = serializers.ChoiceField(choices=list(R.ENGINES), default=R.engine)
    forecasts_source = serializers.ChoiceField(choices=R.FORECAST_SOURCES, default=R.forecasts_source)


class PatternScanSerializer(UtcRangeQuerySerializer):
    symbol = serializers.CharField()
    timeframe = serializers.CharField()
    forward_bars = serializers.IntegerField(default=12, min_value=1, max_value=1000)
    patterns = serializers.ListField(child=serializers.ChoiceField(choices=PATTERNS), required=False)
    max_events = serializers.IntegerField(
        default=1000, min_value=0, max_value=10000, help_text="the newest events listed; the summary counts them all"
    )


EVIDENCE_HELP = (
    "How far to trust the front. search / holdout: the bars the search saw and the held-out tail after them "
    "({bars, first, last}; holdout null when holdout is 0). chosen: the front point of best in-sample Sharpe (rule "
    "max_sharpe) with its in_sample and holdout metrics. selection: statistics of choosing it among every tried set, on "
    "the searched bars' daily returns - dsr {dsr (probability the true Sharpe is above the best of sets_tried "
    "unskilled tries), psr, sharpe, sharpe_annual, expected_max_sharpe, skew, kurtosis, n_obs, n_trials}, pbo {pbo "
    "(probability of backtest overfitting, CSCV), logit_histogram {edges, counts, at_or_below_zero, total}, n_combinations, "
    "blocks, degradation}, spa {p_values {lower, consistent, "
    "upper} of Hansen's SPA against not trading, reality_check_p}. model_value: the chosen point on the held-out tail "
    "(part) with the model's forecasts (metrics), the momentum baseline's (baseline: metrics, differences, p_value) "
    "and random entries (random: permutations, return_pct / sharpe / n_trades summaries, p_value_return, "
    "p_value_sharpe)."
)


class OptimizationRunSerializer(JobRunSerializer):
    owner = serializers.StringRelatedField()

    class Meta:
        model = OptimizationRun
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
            "strategy",
            "fixed_params",
            "space",
            "objectives",
            "constraints",
            "method",
            "budget",
            "seed",
            "evaluator",
            "workers",
            "costs",
            "forecasts_source",
            "forecast_set",
            "artifact_version",
            "phase",
            "phase_counts",
            "hv_history",
            "reference_point",
            "walk_forward",
            "walk_forward_result",
            "holdout",
            "evidence",
            "forecasts_in_sample",
            "owner",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields
        extra_kwargs = {"evidence": {"help_text": EVIDENCE_HELP}}

    forecasts_in_sample = serializers.SerializerMethodField(
        help_text=("true when its forecasts come from a model trained or validated on this period; null when unknown")
    )

    def get_forecasts_in_sample(self, run) -> bool | None:
        return run.forecasts_in_sample


class OptimizationResultSerializer(serializers.ModelSerializer):
    class Meta:
        model = OptimizationResult
        fields = [
            "id",
            "params",
            "metrics",
            "holdout_metrics",
            "stats",
            "phase",
            "generation",
            "feasible",
            "rank",
            "worker",
            "created_at",
        ]
        read_only_fields = fields


class FrontPointSerializer(serializers.Serializer):
    """One point of the feasible Pareto front (documentation of `GET /api/optimizations/{id}/front/`)."""

    id = serializers.IntegerField(help_text="the result's id (open it as a backtest from the run page)")
    params = serializers.JSONField(help_text="the searched parameters")
    metrics = serializers.JSONField(
        help_text="in-sample: return_pct, max_drawdown_pct, sharpe, win_rate_pct, profit_factor, "
        "n_trades on the bars the search saw (fast engine)"
    )
    holdout = serializers.JSONField(
        allow_null=True,
        help_text="the same metrics on the held-out tail the search never saw (null when the run kept none)",
    )
    phase = serializers.CharField()
    crowding_distance = serializers.FloatField(allow_null=True)
    parameter_sets = serializers.IntegerField(help_text="parameter sets reaching this objective vector")
    equivalent = serializers.JSONField(help_text="the other parameter sets reaching it")
    rerun = serializers.BooleanField(
        help_text="whether it was re-run on the reference engine (reference holds its stats)"
    )
    reference = serializers.JSONField(
        help_text="in-sample reference-engine stats: Return [%], Max. Drawdown [%], Sharpe Ratio, # Trades"
    )


@extend_schema_field({"oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}]})
class NamesField(serializers.Field):
    """Names as a list (as the API shows them) or as text separated by commas (a form's value); the
    request checks each name."""

    def to_internal_value(self, data):
        if isinstance(data, str) or (isinstance(data, list) and all(isinstance(name, str) for name in data)):
            return data
        raise serializers.ValidationError("must be a list of names or names separated by commas")

    def to_representation(self, value):
        return value


class OptimizationCreateSerializer(_RunOnDataSerializer):
    """The API face of `OptimizationRequest`: its defaults, choices and checks; plus the uploaded
    forecasts CSV (multipart), which travels beside the request."""

    R = OptimizationRequest
    strategy = serializers.ChoiceField(choices=[], default=R.strategy)
    space = serializers.JSONField(
        required=False, help_text="searched parameters; default: the strategy's standard space"
    )
    fixed_params = serializers.JSONField(required=False)
    objectives = NamesField(default=",".join(R.objectives), help_text="a list, or names separated by commas")
    constraints = serializers.JSONField(required=False)
    budget = serializers.IntegerField(default=R.budget)
    method = serializers.ChoiceField(choices=list(R.METHODS), default=R.method)
    seed = serializers.IntegerField(default=R.seed)
    evaluator = serializers.ChoiceField(choices=list(R.EVALUATORS), default=R.evaluator)
    workers = serializers.IntegerField(
        default=R.workers, help_text="pool size, at most the worker machine's cores; 0 = all"
    )
    forecasts_source = serializers.ChoiceField(choices=R.FORECAST_SOURCES, default=R.forecasts_source)
    walk_forward = serializers.JSONField(
        required=False,
        help_text='{"in_sample": 4000, "out_of_sample": 1000, "rule": "max_sharpe"}; '
        'without the sizes ({"rule": "max_sharpe"}) five windows fitted to the range',
    )
    holdout = serializers.FloatField(
        default=R.holdout,
        help_text="share of the range's last bars the search never sees (0-0.5); every front point is re-run on them",
    )
