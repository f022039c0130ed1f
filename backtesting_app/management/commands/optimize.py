import json
from contextlib import nullcontext

from django.core.management.base import BaseCommand, CommandError

from backtesting_app import services, tasks
from backtesting_app.engine import strategy_spec
from backtesting_app.request import OptimizationRequest
from backtesting_app.selectors import optimization_summary
from forexgpt_site.jobs import JobStatus
from forexgpt_site.jobs.commands import add_run_mode_arguments, job_command_run
from forexgpt_site.parsing import request_options


class Command(BaseCommand):
    help = (
        "Multi-objective optimization of strategy parameters (hybrid grid -> NSGA-II -> local grid by default), stored "
        "as an optimization run: in the foreground by default, or --queue it. --distributed sends the evaluations to the "
        "qcluster workers in chunks, whichever runs the search."
    )

    def add_arguments(self, parser):
        parser.add_argument("--symbol", required=True)
        parser.add_argument("--timeframe", required=True)
        parser.add_argument("--start", default=None)
        parser.add_argument("--end", default=None)
        parser.add_argument("--strategy", default=OptimizationRequest.strategy, choices=OptimizationRequest.STRATEGIES)
        source = parser.add_mutually_exclusive_group()
        source.add_argument("--forecasts", default="baseline", help="CSV path, or 'baseline' (the momentum baseline)")
        source.add_argument(
            "--artifact", default=None, help="model version REF: its newest finished forecast set covering the range"
        )
        source.add_argument("--forecast_set", type=int, default=None, help="a finished forecast set's id")
        parser.add_argument(
            "--space", default=None, help='JSON: {"stop_loss_pct": {"low": 0.001, "high": 0.02, "step": 0.0005}, ...}'
        )
        parser.add_argument("--fixed", default=None, help="JSON: strategy parameters held fixed")
        parser.add_argument("--objectives", default=",".join(OptimizationRequest.objectives))
        parser.add_argument("--constraints", default=None, help='JSON: {"min_trades": 30, "max_drawdown_pct": 25}')
        parser.add_argument("--budget", type=int, default=OptimizationRequest.budget)
        parser.add_argument("--method", default=OptimizationRequest.method, choices=OptimizationRequest.METHODS)
        parser.add_argument("--workers", type=int, default=1, help="local processes (1 = in-process)")
        parser.add_argument(
            "--distributed",
            action="store_true",
            help="qcluster workers evaluate the chunks (the search itself runs here, or on a worker with --queue)",
        )
        parser.add_argument(
            "--walk_forward",
            "--walk-forward",
            default=None,
            help="IN_SAMPLE,OUT_OF_SAMPLE[,RULE] bars, e.g. 4000,1000,max_sharpe",
        )
        parser.add_argument(
            "--holdout",
            type=float,
            default=OptimizationRequest.holdout,
            help="share of the range's last bars the search never sees (0-0.5; 0: every figure in-sample)",
        )
        parser.add_argument("--seed", type=int, default=OptimizationRequest.seed)
        parser.add_argument("--spread_pips", "--spread-pips", type=float, default=OptimizationRequest.spread_pips)
        parser.add_argument("--commission", type=float, default=OptimizationRequest.commission)
        parser.add_argument("--leverage", type=float, default=OptimizationRequest.leverage)
        parser.add_argument("--size", type=float, default=OptimizationRequest.size)
        parser.add_argument("--cash", type=float, default=OptimizationRequest.cash)
        parser.add_argument("--json", action="store_true")
        add_run_mode_arguments(parser, what="optimization")

    def handle(self, *args, **opts):
        walk = None
        if opts["walk_forward"]:
            parts = opts["walk_forward"].split(",")
            try:
                walk = {"in_sample": int(parts[0]), "out_of_sample": int(parts[1])} | (
                    {"rule": parts[2]} if len(parts) > 2 else {}
                )
            except (ValueError, IndexError) as exc:
                raise CommandError("--walk-forward takes IN_SAMPLE,OUT_OF_SAMPLE[,RULE]") from exc
        path = opts["forecasts"] if opts["forecasts"] not in (None, "baseline") else None
        needs_forecasts = strategy_spec(opts["strategy"]).needs_forecasts  # argparse checked the name
        source = (
            "forecast_set"
            if opts["forecast_set"] or opts["artifact"]
            else "none"
            if not needs_forecasts
            else "csv"
            if path
            else "baseline"
        )
        try:
            request = OptimizationRequest.from_dict(
                {
                    **request_options(OptimizationRequest, opts),
                    "fixed_params": opts["fixed"],
                    "artifact": opts["artifact"] or "",
                    "forecasts_source": source,
                    "walk_forward": walk,
                    "evaluator": "distributed"
                    if opts["distributed"]
                    else ("pool" if opts["workers"] > 1 else "inprocess"),
                }
            )
            with open(path, "rb") if path and source == "csv" else nullcontext() as upload:
                run = services.optimization_run_start(user=None, request=request, upload=upload, enqueue=False)
        except FileNotFoundError as exc:
            raise CommandError(f"no such file: {opts['forecasts']}") from exc
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        run = job_command_run(
            self,
            run,
            opts,
            execute=tasks.optimization_run_execute,
            page="optimizations:run",
            api="optimization-detail",
            what="optimization run",
        )
        if run is None:
            return
        summary = optimization_summary(run)
        if opts["json"]:
            self.stdout.write(json.dumps(summary, indent=2, default=str))
        else:
            self.stdout.write(f"run {run.pk}: {run.status} - {run.message}")
            for point in summary["front"]:
                self.stdout.write(
                    f"  {_shown(point['params'], '=')} -> {_shown(point['reference'])}; "
                    f"held out: {_shown(point['holdout'])}"
                )
            selection = (run.evidence or {}).get("selection")
            if selection:
                self.stdout.write(
                    f"  deflated Sharpe {_number(selection['dsr'].get('dsr'))}, PBO {_number(selection['pbo'].get('pbo'))}, "
                    f"SPA p {_number(selection['spa']['p_values']['consistent'])} ({selection['sets_tried']} sets tried)"
                )
        if run.status != JobStatus.SUCCEEDED:
            raise CommandError(f"optimization {run.status}: {run.message}")


def _number(value) -> str:
    """A figure as a person reads it: four significant digits (0.04276, 30.48), whole numbers whole."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _shown(values: dict | None, sep: str = " ") -> str:
    """`name value, ...` (or `name=value ...` for parameters) of a dict of figures; "-" for none."""
    if not values:
        return "-"
    return (", " if sep == " " else " ").join(f"{k}{sep}{_number(v)}" for k, v in values.items())
