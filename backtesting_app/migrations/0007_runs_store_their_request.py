"""Backtest and optimization runs store their request whole (`request`, BacktestRequest /
OptimizationRequest.to_dict()); the columns only the request needs are filled into it and removed.
name, symbol, timeframe, start, end, strategy, engine / method, evaluator and forecasts_source stay
columns (lists, filters, admin, labels); the forecast set stays a relation."""

from django.db import migrations, models

COSTS = ("spread_pips", "commission", "leverage", "size", "cash")
BACKTEST_MOVED = ("params", "costs")
OPTIMIZATION_MOVED = ("fixed_params", "space", "objectives", "constraints", "budget", "seed", "workers", "costs", "walk_forward",
                      "holdout")
REQUEST_FIELD = models.JSONField(blank=True, default=dict, help_text="what the run was asked to do: its checked request's to_dict()")


def _iso(value):
    return value.isoformat() if value is not None else None


def _on_data(run) -> dict:
    """The fields a backtest and an optimization share (`request._RunOnData`)."""
    costs = {k: v for k, v in (run.costs or {}).items() if k in COSTS}  # one not stored takes the request's default
    return {"symbol": run.symbol, "timeframe": run.timeframe, "start": _iso(run.start), "end": _iso(run.end),
            "forecasts_source": run.forecasts_source, "forecast_set": run.forecast_set_id, "artifact": "", "name": run.name,
            "strategy": run.strategy, **costs}


def fill_requests(apps, schema_editor):
    BacktestRun = apps.get_model("backtesting_app", "BacktestRun")
    OptimizationRun = apps.get_model("backtesting_app", "OptimizationRun")
    for run in BacktestRun.objects.all().iterator():
        BacktestRun.objects.filter(pk=run.pk).update(request={**_on_data(run), "params": run.params or {}, "engine": run.engine})
    for run in OptimizationRun.objects.all().iterator():
        request = {**_on_data(run), "space": run.space, "fixed_params": run.fixed_params or {}, "objectives": list(run.objectives or []),
                   "constraints": run.constraints or {}, "budget": run.budget, "method": run.method, "seed": run.seed,
                   "evaluator": run.evaluator, "workers": run.workers, "walk_forward": run.walk_forward, "holdout": run.holdout}
        OptimizationRun.objects.filter(pk=run.pk).update(request=request)


def fill_columns(apps, schema_editor):
    BacktestRun = apps.get_model("backtesting_app", "BacktestRun")
    OptimizationRun = apps.get_model("backtesting_app", "OptimizationRun")
    for run in BacktestRun.objects.all().iterator():
        r = run.request
        BacktestRun.objects.filter(pk=run.pk).update(params=r.get("params", {}), costs={k: r[k] for k in COSTS if k in r})
    for run in OptimizationRun.objects.all().iterator():
        r = run.request
        OptimizationRun.objects.filter(pk=run.pk).update(
            costs={k: r[k] for k in COSTS if k in r}, **{k: r[k] for k in OPTIMIZATION_MOVED if k in r and k != "costs"})


class Migration(migrations.Migration):

    dependencies = [("backtesting_app", "0006_strategy_names")]

    operations = [
        migrations.AddField(model_name="backtestrun", name="request", field=REQUEST_FIELD),
        migrations.AddField(model_name="optimizationrun", name="request", field=REQUEST_FIELD),
        # space had no default: the column a reverse migration adds back needs one until it is filled
        migrations.AlterField(model_name="optimizationrun", name="space",
                              field=models.JSONField(default=list, help_text="searched parameters: name, kind, low, high, step, choices")),
        migrations.RunPython(fill_requests, fill_columns),
        *[migrations.RemoveField(model_name="backtestrun", name=name) for name in BACKTEST_MOVED],
        *[migrations.RemoveField(model_name="optimizationrun", name=name) for name in OPTIMIZATION_MOVED],
    ]
