import io
import json
from pathlib import Path

import pandas as pd
from django.core.management.base import BaseCommand, CommandError

from conformal.request import CalibrationRequest
from conformal.services import calibration_run_start
from conformal.tasks import calibration_run_execute
from forexgpt_site.jobs import JobStatus
from forexgpt_site.jobs.commands import add_run_mode_arguments, job_command_run
from forexgpt_site.parsing import request_options


class Command(BaseCommand):
    help = (
        "Calibrate conformal intervals on a forecasts CSV (timestamp, y_true, y_pred[, q_lo, q_hi, scale]), stored as a "
        "calibration run as the API stores one: in the foreground by default (prints the metrics), or --queue it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--forecasts", required=True, help="CSV path")
        parser.add_argument("--method", required=True, choices=CalibrationRequest.METHODS)
        parser.add_argument(
            "--alpha", type=float, default=CalibrationRequest.alpha, help="miss rate: 0.1 -> 90%% intervals"
        )
        parser.add_argument(
            "--cal_size", "--cal-size", type=int, default=None, help="rows used to calibrate (default: the first third)"
        )
        parser.add_argument("--window", type=int, default=None, help="window / aci: scores kept")
        parser.add_argument("--gamma", type=float, default=None, help="aci: step size")
        parser.add_argument("--lr", type=float, default=None, help="pid: step relative to the first quantile")
        parser.add_argument(
            "--score",
            default=None,
            choices=CalibrationRequest.SCORES,
            help="window / aci / pid: the nonconformity score",
        )
        parser.add_argument("--out", default=None, help="write the intervals CSV here")
        parser.add_argument("--json", action="store_true")
        add_run_mode_arguments(parser, what="calibration")

    def handle(self, *args, **opts):
        try:
            request = CalibrationRequest.from_dict(request_options(CalibrationRequest, opts))
            with open(opts["forecasts"], "rb") as upload:
                run = calibration_run_start(user=None, request=request, upload=upload, enqueue=False)
        except FileNotFoundError as exc:
            raise CommandError(f"no such file: {opts['forecasts']}") from exc
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        run = job_command_run(
            self,
            run,
            opts,
            execute=calibration_run_execute,
            page="conformal:run",
            api="calibration-detail",
            what="calibration run",
        )
        if run is None:
            return
        if run.status != JobStatus.SUCCEEDED:
            raise CommandError(f"calibration {run.status}: {run.message}")
        with run.intervals.open("rb") as fh:
            stored = fh.read()
        if opts["out"]:
            Path(opts["out"]).write_bytes(stored)  # the run's intervals CSV, as its page offers it
        with run.forecasts.open("rb") as fh:
            rows = len(pd.read_csv(fh))
        report = {
            "id": run.pk,
            "method": run.method,
            "alpha": run.alpha,
            "n_calibration": rows - len(pd.read_csv(io.BytesIO(stored))),
            "params": {k: v for k, v in request.params.items() if k != "cal_size"},
            "metrics": run.metrics,
        }
        if opts["json"]:
            self.stdout.write(json.dumps(report, indent=2))
            return
        m = run.metrics
        self.stdout.write(
            f"calibration run {run.pk}, {run.method}: coverage {m['coverage']:.4f} (target {m['target']:.2f}), "
            f"mean width {m['mean_width']:.6g}, Winkler {m['winkler']:.6g}, worst {m['rolling_window']}-point coverage "
            f"{m['rolling_min']}, infinite {m['n_infinite']}"
        )
