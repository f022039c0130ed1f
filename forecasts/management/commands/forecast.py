import json

from django.core.management.base import BaseCommand, CommandError

from forecasts import selectors, services
from forecasts.request import ForecastRequest
from forexgpt_site.jobs import JobStatus
from forexgpt_site.jobs.commands import add_run_mode_arguments, job_command_run
from forexgpt_site.parsing import request_options


class Command(BaseCommand):
    help = (
        "Forecast with a registered model: per bar, pred_return, q05..q95 (horizon end) and confidence, stored as a "
        "forecast set. Runs in the foreground by default (in a child process, as the queue does), or --queue it on the "
        "gpu cluster."
    )

    def add_arguments(self, parser):
        parser.add_argument("--artifact", required=True, help="REF: name, name:VERSION or name@alias")
        parser.add_argument("--symbol", required=True, help="EURUSD or EUR/USD")
        parser.add_argument("--timeframe", required=True)
        parser.add_argument(
            "--start", default=None, help="first bar to forecast (UTC); default: the first with enough context"
        )
        parser.add_argument("--end", default=None, help="last bar (UTC); default: the last stored")
        parser.add_argument("--samples", type=int, default=ForecastRequest.samples)
        parser.add_argument(
            "--steps", type=int, default=ForecastRequest.steps, help="model evaluations per sample path"
        )
        parser.add_argument("--sampler", default=ForecastRequest.sampler, help="dpmpp2m (default), unipc or ddim")
        parser.add_argument("--seed", type=int, default=ForecastRequest.seed)
        parser.add_argument(
            "--out", default=None, help="also write the forecasts (with part, in_sample, y_true, lo/hi) to this CSV"
        )
        parser.add_argument("--json", action="store_true")
        add_run_mode_arguments(parser, what="forecast set", where="the gpu cluster's workers")

    def handle(self, *args, **opts):
        try:
            request = ForecastRequest.from_dict(request_options(ForecastRequest, opts))
            fs = services.forecast_set_start(user=None, request=request, enqueue=False)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        from forecasts.tasks import forecast_set_execute

        fs = job_command_run(
            self,
            fs,
            opts,
            execute=forecast_set_execute,
            page="forecasts:detail",
            api="forecast-set-detail",
            what="forecast set",
        )
        if fs is None:
            return
        report = {
            "forecast_set": fs.pk,
            "status": fs.status,
            "message": fs.message,
            "artifact": fs.artifact_ref,
            "rows": fs.rows,
            "first": fs.first,
            "last": fs.last,
            "in_sample": fs.in_sample,
            "sample_label": fs.sample_label,
            "overlap": fs.overlap,
        }
        if opts["out"] and fs.status == JobStatus.SUCCEEDED:
            selectors.forecast_frame(fs, labelled=True).to_csv(opts["out"], index=False)
            report["out"] = opts["out"]
        self.stdout.write(
            json.dumps(report, indent=2, default=str)
            if opts["json"]
            else f"forecast set {fs.pk}: {fs.status} - {fs.message} ({fs.sample_label})"
            + (f" -> {opts['out']}" if report.get("out") else "")
        )
        if fs.status != JobStatus.SUCCEEDED:
            raise CommandError(f"forecasts {fs.status}: {fs.message}")
