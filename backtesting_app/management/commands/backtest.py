import json

from django.core.management.base import BaseCommand, CommandError

from backtesting_app.engine import ENGINES, STRATEGIES
from backtesting_app.services import backtest_compute, stats_dict, trades_records
from backtesting_app.services.backtests import forecast_set_table
from forecasts.selectors import finished_forecast_set, forecast_set_for, read_forecasts_csv
from forexgpt_site.parsing import parse_json_object, parse_utc


def _when(text):
    """--start / --end: an ISO date or date-time; naive values are UTC."""
    try:
        return parse_utc(text)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc


class Command(BaseCommand):
    help = "Backtest a strategy on stored bars with kernc's backtesting (or the fast engine); prints stats and trades."

    def add_arguments(self, parser):
        parser.add_argument("--symbol", required=True)
        parser.add_argument("--timeframe", required=True)
        parser.add_argument("--start", default=None)
        parser.add_argument("--end", default=None)
        parser.add_argument("--strategy", required=True, choices=list(STRATEGIES))
        source = parser.add_mutually_exclusive_group()
        source.add_argument("--forecasts", default=None, help="CSV with timestamp, pred_return[, confidence]; or 'baseline'")
        source.add_argument("--artifact", default=None, help="model version REF: its newest finished forecast set covering the range")
        source.add_argument("--forecast_set", type=int, default=None, help="a finished forecast set's id")
        parser.add_argument("--params", required=True, help='JSON, e.g. {"entry_threshold": 0.0005, ...}')
        parser.add_argument("--spread-pips", type=float, default=1.0)
        parser.add_argument("--commission", type=float, default=0.0)
        parser.add_argument("--leverage", type=float, default=1.0)
        parser.add_argument("--size", type=float, default=0.95)
        parser.add_argument("--cash", type=float, default=100_000.0)
        parser.add_argument("--engine", default="reference", choices=list(ENGINES))
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        forecasts = opts["forecasts"]
        try:
            if opts["artifact"] or opts["forecast_set"]:
                forecasts = forecast_set_table(finished_forecast_set(opts["forecast_set"]) if opts["forecast_set"] else forecast_set_for(
                    artifact=opts["artifact"], symbol=opts["symbol"], timeframe=opts["timeframe"], start=_when(opts["start"]),
                    end=_when(opts["end"])))
            elif forecasts and forecasts != "baseline":
                forecasts = read_forecasts_csv(forecasts)
            _, result = backtest_compute(
                symbol=opts["symbol"], timeframe=opts["timeframe"], strategy=opts["strategy"],
                params=parse_json_object(opts["params"], "--params"), engine=opts["engine"],
                costs={k: opts[k.replace("-", "_")] for k in ("spread_pips", "commission", "leverage", "size", "cash")},
                start=_when(opts["start"]), end=_when(opts["end"]), forecasts=forecasts)
        except FileNotFoundError as exc:
            raise CommandError(f"no such file: {opts['forecasts']}") from exc
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        stats = stats_dict(result.stats)
        if opts["json"]:
            self.stdout.write(json.dumps({"stats": stats, "trades": trades_records(result.trades)}, indent=2))
            return
        for key in ("Start", "End", "Return [%]", "Max. Drawdown [%]", "Sharpe Ratio", "# Trades", "Win Rate [%]", "Equity Final [$]"):
            self.stdout.write(f"{key:>20}: {stats.get(key)}")
