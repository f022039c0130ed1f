import json
import time

from django.core.management.base import BaseCommand, CommandError

from backtesting_app import services, tasks
from backtesting_app.engine import STRATEGIES
from backtesting_app.engine.optimize import METHODS
from backtesting_app.management.commands.backtest import _when
from backtesting_app.models import OptimizationRun
from backtesting_app.selectors import optimization_summary
from forecasts.selectors import finished_forecast_set, forecast_set_for
from forexgpt_site.jobs import JobStatus
from forexgpt_site.parsing import parse_json_object


class Command(BaseCommand):
    help = "Multi-objective optimization of strategy parameters (hybrid grid -> NSGA-II -> local grid by default)."

    def add_arguments(self, parser):
        parser.add_argument("--symbol", required=True)
        parser.add_argument("--timeframe", required=True)
        parser.add_argument("--start", default=None)
        parser.add_argument("--end", default=None)
        parser.add_argument("--strategy", default="forecast", choices=list(STRATEGIES))
        source = parser.add_mutually_exclusive_group()
        source.add_argument("--forecasts", default="baseline", help="CSV path, or 'baseline' (the momentum baseline)")
        source.add_argument("--artifact", default=None, help="model version REF: its newest finished forecast set covering the range")
        source.add_argument("--forecast_set", type=int, default=None, help="a finished forecast set's id")
        parser.add_argument("--space", default=None, help='JSON: {"stop_loss_pct": {"low": 0.001, "high": 0.02, "step": 0.0005}, ...}')
        parser.add_argument("--fixed", default=None, help="JSON: strategy parameters held fixed")
        parser.add_argument("--objectives", default="return,drawdown,sharpe")
        parser.add_argument("--constraints", default=None, help='JSON: {"min_trades": 30, "max_drawdown_pct": 25}')
        parser.add_argument("--budget", type=int, default=600)
        parser.add_argument("--method", default="hybrid", choices=list(METHODS))
        parser.add_argument("--workers", type=int, default=1, help="local processes (1 = in-process)")
        parser.add_argument("--distributed", action="store_true", help="queue it: qcluster workers evaluate the chunks")
        parser.add_argument("--walk-forward", default=None, help="IN_SAMPLE,OUT_OF_SAMPLE[,RULE] bars, e.g. 4000,1000,max_sharpe")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--spread-pips", type=float, default=1.0)
        parser.add_argument("--commission", type=float, default=0.0)
        parser.add_argument("--leverage", type=float, default=1.0)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        walk = None
        if opts["walk_forward"]:
            parts = opts["walk_forward"].split(",")
            try:
                walk = {"in_sample": int(parts[0]), "out_of_sample": int(parts[1])} | ({"rule": parts[2]} if len(parts) > 2 else {})
            except (ValueError, IndexError) as exc:
                raise CommandError("--walk-forward takes IN_SAMPLE,OUT_OF_SAMPLE[,RULE]") from exc
        upload = None
        source = "baseline" if opts["forecasts"] == "baseline" else "csv"
        if opts["strategy"] == "pattern":
            source = "none"
        try:
            forecast_set = None
            if opts["artifact"] or opts["forecast_set"]:
                source = "forecast_set"
                forecast_set = finished_forecast_set(opts["forecast_set"]) if opts["forecast_set"] else forecast_set_for(
                    artifact=opts["artifact"], symbol=opts["symbol"], timeframe=opts["timeframe"], start=_when(opts["start"]),
                    end=_when(opts["end"]))
            elif source == "csv":
                upload = open(opts["forecasts"], "rb")
            run = services.optimization_run_start(
                user=None, symbol=opts["symbol"], timeframe=opts["timeframe"], strategy=opts["strategy"],
                space=parse_json_object(opts["space"], "--space") if opts["space"] else None,
                fixed_params=parse_json_object(opts["fixed"], "--fixed") if opts["fixed"] else None,
                objectives=opts["objectives"],
                constraints=parse_json_object(opts["constraints"], "--constraints") if opts["constraints"] else None,
                budget=opts["budget"], method=opts["method"], seed=opts["seed"],
                evaluator="distributed" if opts["distributed"] else ("pool" if opts["workers"] > 1 else "inprocess"),
                workers=opts["workers"], costs={"spread_pips": opts["spread_pips"], "commission": opts["commission"], "leverage": opts["leverage"]},
                start=_when(opts["start"]), end=_when(opts["end"]), forecasts_source=source, upload=upload, forecast_set=forecast_set,
                walk_forward_spec=walk, enqueue=opts["distributed"])
        except FileNotFoundError as exc:
            raise CommandError(f"no such file: {opts['forecasts']}") from exc
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            if upload:
                upload.close()
        if opts["distributed"]:
            while not OptimizationRun.objects.get(pk=run.pk).is_finished:
                time.sleep(1)
        else:
            tasks.optimization_run_execute(run.pk)
        run.refresh_from_db()
        summary = optimization_summary(run)
        if opts["json"]:
            self.stdout.write(json.dumps(summary, indent=2, default=str))
        else:
            self.stdout.write(f"run {run.pk}: {run.status} - {run.message}")
            for point in summary["front"]:
                self.stdout.write(f"  {point['params']} -> {point['reference']}")
        if run.status != JobStatus.SUCCEEDED:
            raise CommandError(f"optimization {run.status}: {run.message}")
