import json

from django.core.management.base import BaseCommand, CommandError

from conformal.request import PARAM_NAMES, CalibrationRequest
from conformal.services import calibration_compute, intervals_frame
from forecasts.selectors import read_forecasts_csv
from forexgpt_site.serialization import json_value


class Command(BaseCommand):
    help = "Calibrate conformal intervals on a forecasts CSV (timestamp, y_true, y_pred[, q_lo, q_hi, scale])."

    def add_arguments(self, parser):
        parser.add_argument("--forecasts", required=True, help="CSV path")
        parser.add_argument("--method", required=True, choices=CalibrationRequest.METHODS)
        parser.add_argument("--alpha", type=float, default=CalibrationRequest.alpha, help="miss rate: 0.1 -> 90%% intervals")
        parser.add_argument("--cal_size", "--cal-size", type=int, default=None, help="rows used to calibrate (default: the first third)")
        parser.add_argument("--window", type=int, default=None, help="window / aci: scores kept")
        parser.add_argument("--gamma", type=float, default=None, help="aci: step size")
        parser.add_argument("--lr", type=float, default=None, help="pid: step relative to the first quantile")
        parser.add_argument("--score", default=None, choices=CalibrationRequest.SCORES, help="window / aci / pid: the nonconformity score")
        parser.add_argument("--out", default=None, help="write the intervals CSV here")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        try:
            request = CalibrationRequest.from_dict({k: opts[k] for k in ("method", "alpha", *PARAM_NAMES)})
            frame = read_forecasts_csv(opts["forecasts"], time_ordered=True)
            result = calibration_compute(frame=frame, request=request)
        except FileNotFoundError as exc:
            raise CommandError(f"no such file: {opts['forecasts']}") from exc
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if opts["out"]:
            intervals_frame(frame, result).to_csv(opts["out"], index=False)
        report = {"method": result.method, "alpha": result.alpha, "n_calibration": result.n_calibration,
                  "params": result.params, "metrics": json_value(result.metrics)}
        if opts["json"]:
            self.stdout.write(json.dumps(report, indent=2))
            return
        m = result.metrics
        self.stdout.write(f"{result.method}: coverage {m['coverage']:.4f} (target {m['target']:.2f}), mean width {m['mean_width']:.6g}, "
                          f"Winkler {m['winkler']:.6g}, worst {m['rolling_window']}-point coverage {m['rolling_min']}, infinite {m['n_infinite']}")
