import json
from datetime import UTC

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from marketdata.engine import ImportRejected
from marketdata.services import candles_delete


def _utc(text: str | None):
    if not text:
        return None
    value = parse_datetime(text)
    if value is None:
        raise CommandError(f"{text!r} is not a date/time such as 2017-06-01T00:00Z")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


class Command(BaseCommand):
    help = "Delete a stored series, or its bars from --start to --end (UTC, inclusive)."

    def add_arguments(self, parser):
        parser.add_argument("--symbol", required=True)
        parser.add_argument("--timeframe", required=True)
        parser.add_argument("--start", default=None, help="first bar to delete (UTC); default: the series' first")
        parser.add_argument("--end", default=None, help="last bar to delete (UTC); default: the series' last")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        try:
            result = candles_delete(
                user=None,
                symbol=opts["symbol"],
                timeframe=opts["timeframe"],
                start=_utc(opts["start"]),
                end=_utc(opts["end"]),
            )
        except ImportRejected as exc:
            raise CommandError(str(exc)) from exc
        if opts["json"]:
            self.stdout.write(json.dumps(result, indent=2))
        else:
            self.stdout.write(f"deleted {result['deleted']:,} {result['symbol']} {result['timeframe']} bars")
