import json

from django.core.management.base import BaseCommand, CommandError

from marketdata.engine import CONFLICT_POLICIES, DEFAULT_CONFLICT_POLICY, ImportRejected
from marketdata.services import candles_resample


class Command(BaseCommand):
    help = "Aggregate a stored series into a coarser timeframe (e.g. 1m -> 1h) and store it."

    def add_arguments(self, parser):
        parser.add_argument("--symbol", required=True)
        parser.add_argument("--from", dest="source", required=True, help="stored timeframe, e.g. 1m")
        parser.add_argument("--to", dest="target", required=True, help="coarser timeframe, e.g. 1h")
        parser.add_argument(
            "--on_conflict",
            "--on-conflict",
            dest="on_conflict",
            default=DEFAULT_CONFLICT_POLICY,
            choices=list(CONFLICT_POLICIES),
            help="target bars written by other imports with other values (an earlier resample's are always recomputed)",
        )
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        try:
            report = candles_resample(
                symbol=opts["symbol"],
                source_timeframe=opts["source"],
                target_timeframe=opts["target"],
                on_conflict=opts["on_conflict"],
            )
        except (ImportRejected, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        if opts["json"]:
            self.stdout.write(json.dumps(report, indent=2))
        else:
            self.stdout.write(
                f"{report['symbol']} {report['timeframe']}: {report['bars']:,} bars, inserted {report['inserted']:,}, "
                f"updated {report['updated']:,}, conflicts {report['conflicts']:,}"
            )
