"""The stored hardware report: detected in a child process on the `gpu` worker (or by
`manage.py hardware`, or by a training run as it starts on that worker), read by the Hardware page
and the API without detecting anything."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from forexgpt_site.jobs import JobStatus
from training.models import HardwareReport, TrainingRun

TASK = "training.tasks.hardware_detect_execute"


FRESH_S = 60  # a report younger than this is not detected again (a burst of "Detect again" clicks runs once)
WAIT_S = 15 * 60  # the page reloads itself this long at most, waiting for a report it asked for


def hardware_report_latest() -> HardwareReport | None:
    return HardwareReport.objects.first()


def hardware_report_age_s() -> float | None:
    latest = hardware_report_latest()
    return None if latest is None else (timezone.now() - latest.detected_at).total_seconds()


def hardware_detect() -> dict:
    """Run `manage.py hardware --json` in a child process (this process never initializes CUDA)."""
    out = subprocess.run(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "hardware", "--json", "--no_store"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=settings.BASE_DIR,
    )
    if out.returncode != 0:
        raise RuntimeError(f"hardware detection failed: {out.stderr[-500:]}")
    return json.loads(out.stdout)


def hardware_report_store(report: dict) -> HardwareReport:
    return HardwareReport.objects.create(host=socket.gethostname()[:255], report=report)


def hardware_training_busy() -> TrainingRun | None:
    """The training run holding the `gpu` worker now, if any: a detection asked meanwhile waits for it."""
    return TrainingRun.objects.filter(status=JobStatus.RUNNING).order_by("-started_at").first()


def hardware_request_state(requested_at: float | None, latest: HardwareReport | None) -> str | None:
    """Where a "Detect again" asked at `requested_at` (epoch seconds) stands: "waiting" until a report
    newer than the request is stored (for up to WAIT_S), then None."""
    if requested_at is None:
        return None
    if latest is not None and latest.detected_at.timestamp() >= requested_at:
        return None
    return "waiting" if timezone.now().timestamp() - requested_at < WAIT_S else None


def hardware_detect_enqueue() -> None:
    """Ask the `gpu` worker - where training runs - to detect its hardware, once the transaction commits."""
    from django_q.tasks import async_task

    transaction.on_commit(lambda: async_task(TASK, q_options={"cluster": "gpu", "task_name": "hardware-detect"}))
