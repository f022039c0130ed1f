import json

from django.core.management.base import BaseCommand, CommandError

from backtesting_app.management.commands.backtest import _when
from registry.selectors import version_by_ref
from training import services


class Command(BaseCommand):
    help = "Forecast with a registered model: per bar, pred_return, q05..q95 (horizon end) and confidence; stored for reuse."

    def add_arguments(self, parser):
        parser.add_argument("--artifact", required=True, help="REF: name, name:VERSION or name@alias")
        parser.add_argument("--symbol", required=True)
        parser.add_argument("--timeframe", required=True)
        parser.add_argument("--start", default=None)
        parser.add_argument("--end", default=None)
        parser.add_argument("--samples", type=int, default=100)
        parser.add_argument("--steps", type=int, default=20, help="DDIM steps")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--out", required=True)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        from conformal.selectors import apply_calibration, calibration_for_version

        try:
            version = version_by_ref(opts["artifact"])
            frame = services.forecast_compute(version=version, symbol=opts["symbol"], timeframe=opts["timeframe"],
                                              start=_when(opts["start"]), end=_when(opts["end"]), samples=opts["samples"],
                                              seed=opts["seed"], steps=opts["steps"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        calibration = calibration_for_version(version)
        if calibration is not None:
            frame = apply_calibration(calibration, frame)
        from marketdata.engine import normalize_symbol, normalize_timeframe

        stored = services.forecast_store(version=version, frame=frame, symbol=normalize_symbol(opts["symbol"]),
                                         timeframe=normalize_timeframe(opts["timeframe"]).code, samples=opts["samples"], seed=opts["seed"])
        frame.to_csv(opts["out"], index=False)
        report = {"artifact": version.ref, "rows": len(frame), "first": frame["timestamp"].iloc[0], "last": frame["timestamp"].iloc[-1],
                  "out": opts["out"], "stored_forecast_set": stored.pk, "calibrated": calibration is not None}
        self.stdout.write(json.dumps(report, indent=2) if opts["json"] else f"{len(frame):,} forecasts -> {opts['out']}")
