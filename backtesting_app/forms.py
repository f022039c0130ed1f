import json

from django import forms

from backtesting_app.engine import ENGINES, strategy_choices, strategy_spec, strategy_specs
from backtesting_app.engine.optimize import EVALUATORS, METHODS, default_space
from backtesting_app.engine.patterns import PATTERNS
from backtesting_app.request import BacktestRequest, OptimizationRequest
from forecasts.forms import ForecastSetField
from forecasts.selectors import finished_forecast_set, moves_exceeded_by
from forexgpt_site.forms import JobForm, UtcDateTimeField, UtcRangeForm

FORECAST_SOURCE_CHOICES = [
    ("forecast_set", "a stored forecast set"),
    ("baseline", "momentum baseline (causal EWMA)"),
    ("csv", "upload a CSV"),
    ("none", "none (pattern strategy)"),
]


ENTRY_SHARE = 0.2  # a preselected set's suggested entry threshold: the move one forecast in five exceeds
SEARCH_SHARE = 0.01  # and the top of the searched entry thresholds: the move one forecast in a hundred exceeds


def initial_from_forecast_set(request) -> dict:
    """`?forecast_set=N` (the forecast-set page's links) preselects the set, its series and its range
    (the list offers only the sets that cover the form's range, so a wider range would hide it), and
    sizes the entry threshold to the set's own forecasts: the backtest's `params` enter on the
    ENTRY_SHARE largest moves, the optimization's `space` searches thresholds up to the SEARCH_SHARE
    largest (the standard 0.0005 and 0-0.003 suit a model whose median moves that far; one whose
    fitted drift keeps a quarter of its median rarely does, and then nothing trades)."""
    try:
        fs = finished_forecast_set(request.GET.get("forecast_set"))
    except ValueError:  # absent, unknown or unfinished: nothing preselected
        return {}
    strategy = OptimizationRequest.strategy  # the forecast-driven default
    initial = {
        "forecasts_source": "forecast_set",
        "forecast_set": fs.pk,
        "symbol": fs.symbol,
        "timeframe": fs.timeframe,
        "strategy": strategy,
        "start": fs.first,
        "end": fs.last,
    }
    moves = moves_exceeded_by(fs, ENTRY_SHARE, SEARCH_SHARE)
    if moves and all(moves):
        entry, top = moves
        initial["params"] = json.dumps({**strategy_spec(strategy).defaults, "entry_threshold": float(f"{entry:.2g}")})
        high = float(f"{top:.2g}")
        space = {p["name"]: {k: p[k] for k in ("low", "high", "step")} for p in default_space(strategy).as_dict()}
        space["entry_threshold"] |= {"high": high, "step": float(f"{high / 30:.2g}")}
        initial["space"] = json.dumps(space)
    return initial


def default_params() -> str:
    """The first strategy's default parameters (the form's first choice), as JSON."""
    return json.dumps(strategy_specs()[0].defaults, default=list)


def params_help() -> str:
    """Each strategy's parameters, as the params field explains them."""
    return "JSON; " + "; ".join(
        f"{spec.name}: {', '.join(p.name if p.required else f'[{p.name}]' for p in spec.parameters)}"
        for spec in strategy_specs()
    )


class BacktestForm(JobForm):
    """The page face of `BacktestRequest`, plus the uploaded forecasts CSV, which travels beside it."""

    request_class = BacktestRequest
    upload_field = "forecasts"
    name = forms.CharField(required=False, max_length=120)
    symbol = forms.CharField(initial="EURUSD")
    timeframe = forms.CharField(initial="1h")
    start = UtcDateTimeField(help_text="UTC; blank = the first bar")
    end = UtcDateTimeField(help_text="UTC; blank = the last bar")
    strategy = forms.ChoiceField(choices=strategy_choices)  # a callable: read at each use, later strategies included
    params = forms.CharField(widget=forms.Textarea(attrs={"rows": 4, "cols": 48}), initial=default_params)
    forecasts_source = forms.ChoiceField(choices=FORECAST_SOURCE_CHOICES, initial="baseline")
    forecast_set = ForecastSetField()
    forecasts = forms.FileField(required=False, help_text="timestamp, pred_return[, confidence]")
    engine = forms.ChoiceField(choices=ENGINES, initial=BacktestRequest.engine)
    spread_pips = forms.FloatField(initial=BacktestRequest.spread_pips, min_value=0)
    commission = forms.FloatField(initial=BacktestRequest.commission, help_text="relative, per side")
    leverage = forms.FloatField(initial=BacktestRequest.leverage, min_value=1)
    size = forms.FloatField(initial=BacktestRequest.size, help_text="fraction of equity per trade")
    cash = forms.FloatField(initial=BacktestRequest.cash)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["params"].help_text = params_help()


class PatternScanForm(UtcRangeForm):
    symbol = forms.CharField(initial="EURUSD")
    timeframe = forms.CharField(initial="1h")
    start = UtcDateTimeField()
    end = UtcDateTimeField()
    forward_bars = forms.IntegerField(initial=12, min_value=1, max_value=1000)
    patterns = forms.MultipleChoiceField(
        choices=[(p, p) for p in PATTERNS],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="none ticked = all",
    )


class OptimizationForm(JobForm):
    """The page face of `OptimizationRequest`, plus the uploaded forecasts CSV; walk-forward applies
    only when ticked."""

    request_class = OptimizationRequest
    upload_field = "forecasts"
    name = forms.CharField(required=False, max_length=120)
    symbol = forms.CharField(initial="EURUSD")
    timeframe = forms.CharField(initial="1h")
    start = UtcDateTimeField(help_text="UTC")
    end = UtcDateTimeField(help_text="UTC")
    strategy = forms.ChoiceField(choices=strategy_choices, initial=OptimizationRequest.strategy)
    forecasts_source = forms.ChoiceField(choices=FORECAST_SOURCE_CHOICES, initial=OptimizationRequest.forecasts_source)
    forecast_set = ForecastSetField()
    forecasts = forms.FileField(required=False, help_text="timestamp, pred_return[, confidence]")
    method = forms.ChoiceField(
        choices=METHODS, initial=OptimizationRequest.method, help_text="hybrid: grid -> NSGA-II -> local grid"
    )
    objectives = forms.CharField(
        initial=",".join(OptimizationRequest.objectives),
        help_text="return, drawdown, sharpe, win_rate, profit_factor, trades",
    )
    constraints = forms.CharField(
        required=False, initial='{"min_trades": 30}', help_text='JSON, e.g. {"min_trades": 30, "max_drawdown_pct": 25}'
    )
    space = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 48}),
        help_text="JSON; blank = the strategy's standard space",
    )
    budget = forms.IntegerField(initial=OptimizationRequest.budget, min_value=10, max_value=1_000_000)
    seed = forms.IntegerField(initial=OptimizationRequest.seed)
    evaluator = forms.ChoiceField(choices=EVALUATORS, initial=OptimizationRequest.evaluator)
    workers = forms.IntegerField(initial=OptimizationRequest.workers, min_value=0, help_text="pool size; 0 = all cores")
    holdout = forms.FloatField(
        initial=OptimizationRequest.holdout,
        min_value=0,
        max_value=0.5,
        label="Held-out share",
        help_text="the range's last bars the search never sees; every front point is re-run on them. "
        "0 keeps none: then every figure is in-sample",
    )
    walk_forward_enabled = forms.BooleanField(required=False, label="Walk forward")
    walk_forward = forms.CharField(
        required=False,
        initial='{"rule": "max_sharpe"}',
        label="Walk-forward windows",
        help_text="JSON; without in_sample / out_of_sample bars, five windows fitted to the range "
        '(e.g. {"in_sample": 4000, "out_of_sample": 1000, "rule": "max_sharpe"})',
    )
    spread_pips = forms.FloatField(initial=OptimizationRequest.spread_pips, min_value=0)
    commission = forms.FloatField(initial=OptimizationRequest.commission, help_text="relative, per side")
    leverage = forms.FloatField(initial=OptimizationRequest.leverage, min_value=1)
    size = forms.FloatField(initial=OptimizationRequest.size, help_text="fraction of equity per trade")
    cash = forms.FloatField(initial=OptimizationRequest.cash)

    def request_values(self, cleaned: dict) -> dict:
        values = super().request_values(cleaned)
        if not values.pop("walk_forward_enabled"):
            values["walk_forward"] = None
        return values
