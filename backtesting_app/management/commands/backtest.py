import json
from contextlib import nullcontext

from django.core.management.base import BaseCommand, CommandError

from backtesting_app.request import BacktestRequest
from backtesting_app.services import backtest_run_start
from backtesting_app.tasks import backtest_run_execute
from forexgpt_site.jobs import JobStatus
from forexgpt_site.jobs.commands import add_run_mode_arguments, job_command_run
from forexgpt_site.parsing import request_options


class Command(BaseCommand):
    help = (
        "Backtest a strategy on stored bars with kernc's backtesting (or the fast engine), stored as a backtest run as the "
        "API stores one: in the foreground by default (prints stats and trades), or --queue it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--symbol", required=True)
        parser.add_argument("--timeframe", required=True)
        parser.add_argument("--start", default=None)
        parser.add_argument("--end", default=None)
        parser.add_argument("--strategy", required=True, choices=BacktestRequest.STRATEGIES)
        source = parser.add_mutually_exclusive_group()
        source.add_argument(
            "--forecasts", default=None, help="CSV with timestamp, pred_return[, confidence]; or 'baseline'"
        )
        source.add_argument(
            "--artifact", default=None, help="model version REF: its newest finished forecast set covering the range"
        )
        source.add_argument("--forecast_set", type=int, default=None, help="a finished forecast set's id")
        parser.add_argument("--params", required=True, help='JSON, e.g. {"entry_threshold": 0.0005, ...}')
        parser.add_argument("--spread_pips", "--spread-pips", type=float, default=BacktestRequest.spread_pips)
        parser.add_argument("--commission", type=float, default=BacktestRequest.commission)
        parser.add_argument("--leverage", type=float, default=BacktestRequest.leverage)
        parser.add_argument("--size", type=float, default=BacktestRequest.size)
        parser.add_argument("--cash", type=float, default=BacktestRequest.cash)
        parser.add_argument("--engine", default=BacktestRequest.engine, choices=BacktestRequest.ENGINES)
        parser.add_argument("--json", action="store_true")
        add_run_mode_arguments(parser, what="backtest")

    def handle(self, *args, **opts):
        path = opts["forecasts"] if opts["forecasts"] not in (None, "baseline") else None
        source = (
            "forecast_set"
            if opts["forecast_set"] or opts["artifact"]
            else "csv"
            if path
            else "baseline"
            if opts["forecasts"] == "baseline"
            else "none"
        )
        try:
            request = BacktestRequest.from_dict(
                {
                    **request_options(BacktestRequest, opts),
                    "artifact": opts["artifact"] or "",
                    "forecasts_source": source,
                }
            )
            with open(path, "rb") if path else nullcontext() as upload:
                run = backtest_run_start(user=None, request=request, upload=upload, enqueue=False)
        except FileNotFoundError as exc:
            raise CommandError(f"no such file: {opts['forecasts']}") from exc
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        run = job_command_run(
            self,
            run,
            opts,
            execute=backtest_run_execute,
            page="backtesting_app:run",
            api="backtest-detail",
            what="backtest run",
        )
        if run is None:
            return
        if run.status != JobStatus.SUCCEEDED:
            raise CommandError(f"backtest {run.status}: {run.message}")
        stats = run.stats
        if opts["json"]:
            self.stdout.write(json.dumps({"id": run.pk, "stats": stats, "trades": run.trades}, indent=2))
            return
        self.stdout.write(f"backtest run {run.pk}: {run.message}")
        for key in (
            "Start",
            "End",
            "Return [%]",
            "Max. Drawdown [%]",
            "Sharpe Ratio",
            "# Trades",
            "Win Rate [%]",
            "Equity Final [$]",
        ):
            self.stdout.write(f"{key:>20}: {stats.get(key)}")
