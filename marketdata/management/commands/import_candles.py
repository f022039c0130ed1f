import json

from django.core.management.base import BaseCommand, CommandError

from marketdata.engine import CONFLICT_POLICIES, DEFAULT_CONFLICT_POLICY, FORMATS, ImportRejected
from marketdata.services import candles_import_file, rejection_report


class Command(BaseCommand):
    help = "Import a candle export (HistData, MT4, MT5, Dukascopy or CSV) - all rows or none."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--symbol", required=True, help="EURUSD or EUR/USD")
        parser.add_argument("--timeframe", required=True, help="1m, 5m, 15m, 1h, 4h, 1d (or M1, H1, D1)")
        parser.add_argument("--tz", default=None, help="source time zone (IANA), default: the format's")
        parser.add_argument("--format", default="auto", choices=["auto", *FORMATS])
        parser.add_argument("--drop", default="", help="comma list of anomalies to drop: weekend,day_spanning,flat_filler")
        parser.add_argument("--on_conflict", "--on-conflict", dest="on_conflict", default=DEFAULT_CONFLICT_POLICY,
                            choices=list(CONFLICT_POLICIES),
                            help="bars already stored with other values: " + "; ".join(f"{k} = {v}" for k, v in CONFLICT_POLICIES.items())
                            + f" (default {DEFAULT_CONFLICT_POLICY})")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args, **opts):
        drop = [d.strip() for d in opts["drop"].split(",") if d.strip()]
        try:
            report = candles_import_file(
                source=opts["path"], symbol=opts["symbol"], timeframe=opts["timeframe"], tz=opts["tz"],
                format=opts["format"], drop=drop, on_conflict=opts["on_conflict"],
            )
        except FileNotFoundError as exc:
            raise CommandError(f"no such file: {opts['path']}") from exc
        except ImportRejected as exc:
            if opts["json"]:
                self.stdout.write(json.dumps(rejection_report(exc), indent=2))
            raise CommandError(f"rejected: {exc}") from exc
        if opts["json"]:
            self.stdout.write(json.dumps(report, indent=2))
            return
        self.stdout.write(
            f"{report['symbol']} {report['timeframe']} ({report['format']}, {report['timezone']}): "
            f"inserted {report['inserted']:,}, duplicates {report['duplicates']:,}, conflicts {report['conflicts']:,}"
            + (f" ({'kept the stored bars' if report['on_conflict'] == 'keep' else 'replaced the stored bars'})" if report["conflicts"] else "")
            + f", range {report['first']} -> {report['last']} (import #{report['import_id']})"
        )
        for example in report["conflict_examples"][:3]:
            self.stdout.write(f"  conflict {example['ts']}: stored {example['stored']}, file {example['file']}")
        for kind, item in report["anomalies"].items():
            if item["count"]:
                self.stdout.write(f"  anomaly {kind}: {item['count']} (e.g. {item['examples'][:3]})")
        for note in report["notes"]:
            self.stdout.write(self.style.WARNING(f"  note: {note}"))
