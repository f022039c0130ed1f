import json

from django.core.management.base import BaseCommand, CommandError

from forexgpt_site.jobs import JobStatus
from forexgpt_site.jobs.commands import add_run_mode_arguments, job_command_run
from forexgpt_site.parsing import request_options
from training import services
from training.request import TrainingRequest


class Command(BaseCommand):
    help = (
        "Train the diffusion forecaster as a stored training run: in the foreground by default (in a child process, "
        "as the queue does), or --queue it on the gpu cluster; or --estimate_speedup (measures here, stores nothing)."
    )

    def add_arguments(self, parser):
        R, chosen = TrainingRequest, TrainingRequest.CHOICE_DEFAULTS
        parser.add_argument("--symbol", required=True)
        parser.add_argument("--timeframe", required=True)
        parser.add_argument("--start", default=None)
        parser.add_argument("--end", default=None)
        parser.add_argument("--horizon", type=int, default=R.horizon)
        parser.add_argument("--patch_len", type=int, default=R.patch_len)
        parser.add_argument("--epochs", type=int, default=R.epochs)
        parser.add_argument(
            "--num_gpus", type=int, default=chosen["num_gpus"], help="0 = CPU; default: every detected GPU"
        )
        parser.add_argument(
            "--cpu_processes",
            type=int,
            default=chosen["cpu_processes"],
            help="DDP over CPU processes (gloo) without GPUs",
        )
        parser.add_argument("--num_nodes", type=int, default=chosen["num_nodes"])
        parser.add_argument("--batch_size", type=int, default=R.batch_size)
        parser.add_argument("--precision", default=chosen["precision"], choices=R.PRECISIONS)
        parser.add_argument("--no_compile", action="store_true")
        parser.add_argument("--compile", action="store_true", help="force torch.compile (also on the CPU)")
        parser.add_argument(
            "--compile_mode",
            default=chosen["compile_mode"],
            choices=R.COMPILE_MODES,
            help="torch.compile mode; reduce-overhead adds CUDA graphs",
        )
        parser.add_argument("--gradient_accumulation", type=int, default=chosen["gradient_accumulation"])
        parser.add_argument("--gradient_checkpointing", action="store_true")
        parser.add_argument("--denoiser", default=R.denoiser, choices=R.DENOISERS)
        parser.add_argument("--members", type=int, default=R.members, help="ensemble members (1 = one network)")
        parser.add_argument("--fast_dev_run", action="store_true", help="one batch of training and validation")
        parser.add_argument(
            "--estimate_speedup", action="store_true", help="measure configurations here; train nothing"
        )
        parser.add_argument("--speedup_steps", type=int, default=30)
        parser.add_argument("--seed", type=int, default=R.seed)
        parser.add_argument("--model_name", default=R.model_name)
        parser.add_argument("--json", action="store_true")
        add_run_mode_arguments(parser, what="training", where="the gpu cluster's workers")

    def handle(self, *args, **opts):
        request = self._request(opts)
        if opts["estimate_speedup"]:
            return self._estimate(request, opts)
        try:
            run = services.training_run_start(user=None, request=request, enqueue=False)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        from training.tasks import training_run_execute

        run = job_command_run(
            self,
            run,
            opts,
            execute=training_run_execute,
            page="training:run",
            api="training-run-detail",
            what="training run",
        )
        if run is None:
            return
        report = {
            "id": run.pk,
            "status": run.status,
            "message": run.message,
            "error": run.error[-2000:] if run.error else "",
            "artifact": run.artifact_version.ref if run.artifact_version_id else None,
            "history": run.history,
            "quality": run.quality,
            "optimizations": run.decisions,
        }
        self.stdout.write(
            json.dumps(report, indent=2, default=str) if opts["json"] else f"run {run.pk}: {run.status} - {run.message}"
        )
        if run.status != JobStatus.SUCCEEDED:
            raise CommandError(f"training {run.status}: {run.message}")

    def _request(self, opts) -> TrainingRequest:
        """The flags as a request; the optimization flags left at their defaults stay the hardware's call."""
        choices = TrainingRequest.choices_from(
            {
                **{
                    k: opts[k]
                    for k in (
                        "num_gpus",
                        "precision",
                        "num_nodes",
                        "cpu_processes",
                        "gradient_accumulation",
                        "gradient_checkpointing",
                        "compile_mode",
                    )
                },
                "compile": False if opts["no_compile"] else (True if opts["compile"] else None),
            }
        )
        try:
            return TrainingRequest.from_dict(
                {
                    **request_options(TrainingRequest, opts),
                    "choices": choices,
                }
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc

    def _estimate(self, request: TrainingRequest, opts):
        from marketdata.selectors import candles_frame
        from training.engine import build_config, detect_hardware
        from training.engine.speedup import estimate_speedup
        from training.engine.trainer import model_kwargs, prepare_data

        try:
            candles = candles_frame(
                symbol=request.symbol, timeframe=request.timeframe, start=request.start, end=request.end
            )
            data = prepare_data(candles, patch_len=request.patch_len, horizon=request.horizon)
            hw = detect_hardware()
            cfg = build_config(hw, request.user_choices(), denoiser=request.denoiser)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        kwargs = model_kwargs(data, cfg, denoiser=request.denoiser, members=request.members)
        rows = estimate_speedup(
            kwargs,
            data.x["train"],
            data.y["train"],
            cfg,
            batch_size=request.batch_size,
            epochs=request.epochs,
            steps=opts["speedup_steps"],
        )
        device = ", ".join(g.name for g in hw.gpus) or f"CPU ({hw.cpu_cores} cores)"
        if opts["json"]:
            self.stdout.write(
                json.dumps({"device": device, "rows": rows, "optimizations": cfg.decisions}, indent=2, default=str)
            )
            return
        self.stdout.write(
            f"measured on {device}, batch {request.batch_size}, {opts['speedup_steps']} timed steps per configuration"
        )
        self.stdout.write(
            f"{'configuration':28} {'step ms':>9} {'samples/s':>10} {'peak MB':>9} {'epoch s':>9} {'run s':>9} {'speedup':>8}"
        )
        for r in rows:
            if "error" in r:
                self.stdout.write(f"{r['config']:28} failed: {r['error']}")
                continue
            peak = r["peak_gpu_memory_mb"] if r["peak_gpu_memory_mb"] is not None else float("nan")
            self.stdout.write(
                f"{r['config']:28} {r['step_ms']:9.1f} {r['samples_per_s']:10.0f} {peak:9.0f} {r['epoch_s']:9.1f} {r['run_s']:9.0f} {r['speedup']:7.2f}x"
            )
