import json

from django.core.management.base import BaseCommand

from training.engine import UserChoices, build_config, detect_hardware


class Command(BaseCommand):
    help = "Detect GPUs, CUDA/cuDNN/NCCL, NVLink, flash-attn/DALI/apex, CPU and RAM, and the optimizations that follow."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true")
        parser.add_argument(
            "--no_store", action="store_true", help="print only; do not store the report for the Hardware page"
        )

    def handle(self, *args, **opts):
        hw = detect_hardware()
        cfg = build_config(hw, UserChoices())
        report = {"hardware": hw.as_dict(), "optimizations": cfg.decisions}
        if not opts["no_store"]:
            from training.hardware import hardware_report_store

            hardware_report_store(json.loads(json.dumps(report, default=str)))
        if opts["json"]:
            self.stdout.write(json.dumps(report, indent=2, default=str))
            return
        self.stdout.write(
            f"GPUs: {hw.gpu_count}  CUDA: {hw.cuda_version}  CPU cores: {hw.cpu_cores}  RAM: {hw.ram_gb} GB"
        )
        for d in cfg.decisions:
            self.stdout.write(f"  {d['name']}: {d['value']} - {d['reason']}")
