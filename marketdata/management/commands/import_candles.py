import json
from functools import partial

from django.core.management.base import BaseCommand, CommandError

from forexgpt_site.jobs import JobStatus, job_execute
from forexgpt_site.jobs.commands import add_run_mode_arguments, job_command_run, queued
from forexgpt_site.parsing import request_options
from marketdata.engine import ImportRejected
from marketdata.models import CandleImport
from marketdata.request import ImportRequest
from marketdata.services import (
    candle_import_path_start,
    candle_import_path_work,
    rejection_report,
)

R = ImportRequest


class Command(BaseCommand):
    help = (
        "Import a candle export (HistData, MT4, MT5, Dukascopy or CSV) - all rows or none - as an import run: in the "
        "foreground by default (the file read where it lies), or --queue it (the file is stored with the run for a worker)."
    )

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--symbol", required=True, help="EURUSD or EUR/USD")
        parser.add_argument("--timeframe", required=True, help="1m, 5m, 15m, 1h, 4h, 1d (or M1, H1, D1)")
        parser.add_argument("--tz", default=R.tz, help="source time zone (IANA), default: the format's")
        parser.add_argument("--format", default=R.format, choices=R.formats())
        parser.add_argument("--drop", default="", help=f"comma list of anomalies to drop: {','.join(R.DROPPABLE)}")
        parser.add_argument(
            "--on_conflict",
            "--on-conflict",
            dest="on_conflict",
            default=R.on_conflict,
            choices=list(R.CONFLICT_POLICIES),
            help="bars already stored with other values: "
            + "; ".join(f"{k} = {v}" for k, v in R.CONFLICT_POLICIES.items())
            + f" (default {R.on_conflict})",
        )
        parser.add_argument("--json", action="store_true", help="print the report as JSON")
        add_run_mode_arguments(parser, what="import")

    def handle(self, *args, **opts):
        try:  # every flag but path and --json is a field of the request, by name
            request = ImportRequest.from_dict(request_options(ImportRequest, opts))
        except ValueError as exc:  # refused like a bad file, before anything is read or stored
            raise self._rejected(ImportRejected(str(exc)), opts) from exc
        try:
            run = candle_import_path_start(user=None, request=request, path=opts["path"], copy=queued(opts))
        except FileNotFoundError as exc:
            raise CommandError(f"no such file: {opts['path']}") from exc
        run = job_command_run(
            self,
            run,
            opts,
            execute=partial(self._execute, opts["path"]),
            page="marketdata:import-detail",
            api="candle-import-detail",
            what="import",
        )
        if run is None:
            return
        report = run.report or {}
        if run.status != JobStatus.SUCCEEDED:
            if "error" not in report:  # failed for another reason than the file's contents, or cancelled
                raise CommandError(f"import {run.status}: {run.message}")
            if opts["json"]:
                self.stdout.write(json.dumps(report, indent=2))
            raise CommandError(f"rejected: {run.error.partition(': ')[2]}")
        if opts["json"]:
            self.stdout.write(json.dumps(report, indent=2))
            return
        self.stdout.write(
            f"{report['symbol']} {report['timeframe']} ({report['format']}, {report['timezone']}): "
            f"inserted {report['inserted']:,}, duplicates {report['duplicates']:,}, conflicts {report['conflicts']:,}"
            + (
                f" ({'kept the stored bars' if report['on_conflict'] == 'keep' else 'replaced the stored bars'})"
                if report["conflicts"]
                else ""
            )
            + f", range {report['first']} -> {report['last']} (import #{report['import_id']})"
        )
        for example in report["conflict_examples"][:3]:
            self.stdout.write(f"  conflict {example['ts']}: stored {example['stored']}, file {example['file']}")
        for kind, item in report["anomalies"].items():
            if item["count"]:
                examples = ", ".join(
                    f"{e['from']} to {e['to']} ({e['trading_hours']:g} trading hours)"
                    if isinstance(e, dict)
                    else str(e)
                    for e in item["examples"][:3]
                )
                self.stdout.write(f"  anomaly {kind}: {item['count']} (e.g. {examples})")
        for note in report["notes"]:
            self.stdout.write(self.style.WARNING(f"  note: {note}"))

    @staticmethod
    def _execute(path: str, run_id: int) -> str:
        """The import's task, run here: the same job as a queued one, reading the file in place."""
        return job_execute(CandleImport, run_id, partial(candle_import_path_work, path))

    def _rejected(self, exc: ImportRejected, opts) -> CommandError:
        if opts["json"]:
            self.stdout.write(json.dumps(rejection_report(exc), indent=2))
        return CommandError(f"rejected: {exc}")
