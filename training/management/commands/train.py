import json

from django.core.management.base import BaseCommand, CommandError

from forexgpt_site.jobs import JobStatus
from forexgpt_site.parsing import parse_utc
from training import services
from training.models import TrainingRun


class Command(BaseCommand):
    help = "Train the diffusion forecaster (in a child process, as the queue does), or --estimate_speedup."

    def add_arguments(self, parser):
        parser.add_argument("--symbol", required=True)
        parser.add_argument("--timeframe", required=True)
        parser.add_argument("--start", default=None)
        parser.add_argument("--end", default=None)
        parser.add_argument("--horizon", type=int, default=12)
        parser.add_argument("--patch_len", type=int, default=64)
        parser.add_argument("--epochs", type=int, default=30)
        parser.add_argument("--num_gpus", type=int, default=None, help="0 = CPU; default: every detected GPU")
        parser.add_argument("--cpu_processes", type=int, default=1, help="DDP over CPU processes (gloo) without GPUs")
        parser.add_argument("--num_nodes", type=int, default=1)
        parser.add_argument("--batch_size", type=int, default=64)
        parser.add_argument("--precision", default=None, choices=["32-true", "16-mixed", "bf16-mixed"])
        parser.add_argument("--no_compile", action="store_true")
        parser.add_argument("--compile", action="store_true", help="force torch.compile (also on the CPU)")
        parser.add_argument("--compile_mode", default=None, choices=["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"],
                            help="torch.compile mode; reduce-overhead adds CUDA graphs")
        parser.add_argument("--gradient_accumulation", type=int, default=1)
        parser.add_argument("--gradient_checkpointing", action="store_true")
        parser.add_argument("--denoiser", default="transformer", choices=["transformer", "unet"])
        parser.add_argument("--fast_dev_run", action="store_true", help="one batch of training and validation")
        parser.add_argument("--estimate_speedup", action="store_true", help="measure configurations here; train nothing")
        parser.add_argument("--speedup_steps", type=int, default=30)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--model_name", default="")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        choices = {k: v for k, v in {
            "num_gpus": opts["num_gpus"], "precision": opts["precision"], "num_nodes": opts["num_nodes"],
            "cpu_processes": opts["cpu_processes"], "gradient_accumulation": opts["gradient_accumulation"],
            "gradient_checkpointing": opts["gradient_checkpointing"] or None,
            "compile": False if opts["no_compile"] else (True if opts["compile"] else None), "compile_mode": opts["compile_mode"],
        }.items() if v is not None}
        if choices.get("num_nodes") == 1:
            choices.pop("num_nodes")
        if choices.get("cpu_processes") == 1:
            choices.pop("cpu_processes")
        if choices.get("gradient_accumulation") == 1:
            choices.pop("gradient_accumulation")
        if opts["estimate_speedup"]:
            return self._estimate(opts, choices)
        try:
            run = services.training_run_start(
                user=None, symbol=opts["symbol"], timeframe=opts["timeframe"], horizon=opts["horizon"],
                patch_len=opts["patch_len"], epochs=opts["epochs"], batch_size=opts["batch_size"], denoiser=opts["denoiser"],
                choices=choices, start=parse_utc(opts["start"], "--start"), end=parse_utc(opts["end"], "--end"), fast_dev_run=opts["fast_dev_run"],
                seed=opts["seed"], model_name=opts["model_name"], enqueue=False)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        from training.tasks import training_run_execute

        training_run_execute(run.pk)
        run = TrainingRun.objects.get(pk=run.pk)
        report = {"id": run.pk, "status": run.status, "message": run.message, "error": run.error[-2000:] if run.error else "",
                  "artifact": run.artifact_version.ref if run.artifact_version_id else None, "history": run.history,
                  "quality": run.quality, "optimizations": run.decisions}
        self.stdout.write(json.dumps(report, indent=2, default=str) if opts["json"] else f"run {run.pk}: {run.status} - {run.message}")
        if run.status != JobStatus.SUCCEEDED:
            raise CommandError(f"training {run.status}: {run.message}")

    def _estimate(self, opts, choices):
        from marketdata.selectors import candles_frame
        from training.engine import build_config, detect_hardware
        from training.engine.speedup import estimate_speedup
        from training.engine.trainer import model_kwargs, prepare_data

        try:
            candles = candles_frame(symbol=opts["symbol"], timeframe=opts["timeframe"], start=parse_utc(opts["start"], "--start"), end=parse_utc(opts["end"], "--end"))
            data = prepare_data(candles, patch_len=opts["patch_len"], horizon=opts["horizon"])
            hw = detect_hardware()
            cfg = build_config(hw, services.parse_choices(choices), denoiser=opts["denoiser"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        rows = estimate_speedup(model_kwargs(data, cfg, denoiser=opts["denoiser"]), data.x["train"], data.y["train"], cfg,
                                batch_size=opts["batch_size"], epochs=opts["epochs"], steps=opts["speedup_steps"])
        device = ", ".join(g.name for g in hw.gpus) or f"CPU ({hw.cpu_cores} cores)"
        if opts["json"]:
            self.stdout.write(json.dumps({"device": device, "rows": rows, "optimizations": cfg.decisions}, indent=2, default=str))
            return
        self.stdout.write(f"measured on {device}, batch {opts['batch_size']}, {opts['speedup_steps']} timed steps per configuration")
        self.stdout.write(f"{'configuration':28} {'step ms':>9} {'samples/s':>10} {'peak MB':>9} {'epoch s':>9} {'run s':>9} {'speedup':>8}")
        for r in rows:
            if "error" in r:
                self.stdout.write(f"{r['config']:28} failed: {r['error']}")
                continue
            peak = r["peak_gpu_memory_mb"] if r["peak_gpu_memory_mb"] is not None else float("nan")
            self.stdout.write(f"{r['config']:28} {r['step_ms']:9.1f} {r['samples_per_s']:10.0f} {peak:9.0f} {r['epoch_s']:9.1f} {r['run_s']:9.0f} {r['speedup']:7.2f}x")
