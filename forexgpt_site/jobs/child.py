"""A job's work in a child process (`manage.py <command>`), watched by its worker and never outliving it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.db import models

from forexgpt_site.processes import die_with_parent

from .errors import JobCancelled
from .models import ChildJobRun
from .runner import JobContext

CHILD_CANCELLED = 3  # exit code of a child that stopped because its run was cancelled
CHILD_STOP_GRACE_S = 10  # a child process told to stop (SIGTERM) is killed after this long


def job_run_child(run: ChildJobRun, command: list[str], log: Path, *, poll_s: float = 1.0) -> int:
    """Run `manage.py <command...>` for a job in a child process (torch work: CUDA does not survive
    fork, DDP starts its own ranks, thread counts are set per process), watch it, stop it on cancel
    or when this worker is stopping, and return its exit code. Its output goes to `log`; a crash
    raises with the log's tail. The child never outlives this call."""
    log.parent.mkdir(parents=True, exist_ok=True)
    type(run).objects.filter(pk=run.pk).update(attempts=models.F("attempts") + 1)
    args = [sys.executable, str(settings.BASE_DIR / "manage.py"), *command]
    with open(log, "w") as out:
        # Its own process group: stopping it reaches the DDP ranks it starts, and not this worker.
        # die_with_parent: a worker killed outright (kill -9) takes its child with it, instead of leaving it
        # computing beside the next job for as long as the run looks alive.
        child = subprocess.Popen(
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=settings.BASE_DIR,
            start_new_session=True,
            env={**os.environ, "TQDM_DISABLE": "1", "PYTHONUNBUFFERED": "1"},
            preexec_fn=die_with_parent,
        )
        watch = JobContext(run)
        try:
            while child.poll() is None:
                time.sleep(poll_s)
                watch.check_cancelled()  # JobInterrupted when this worker stops, JobCancelled on a cancel
        except BaseException:
            _stop_child(child)
            raise
    if child.returncode == CHILD_CANCELLED:
        raise JobCancelled()
    if child.returncode == -signal.SIGKILL:  # nothing of ours sends it to a running child: the kernel's OOM killer
        raise RuntimeError(
            f"the {command[0]} process was killed (SIGKILL), most often by the system when memory runs out"
            f"{_LESS_MEMORY.get(command[0], '')}:\n{log.read_text()[-3000:]}"
        )
    if child.returncode != 0:
        raise RuntimeError(f"the {command[0]} process exited with code {child.returncode}:\n{log.read_text()[-3000:]}")
    return child.returncode


# What needs less memory, by child command (said when one is killed).
_LESS_MEMORY = {
    "train_worker": ": a smaller batch_size, or fewer members, needs less",
    "forecast_worker": ": fewer samples a forecast needs less",
}


def _stop_child(child: subprocess.Popen) -> None:
    """SIGTERM the child's process group, SIGKILL it after CHILD_STOP_GRACE_S (or when the wait is
    itself interrupted), and reap the child."""
    try:
        os.killpg(child.pid, signal.SIGTERM)
        child.wait(timeout=CHILD_STOP_GRACE_S)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    finally:
        if child.poll() is None:
            try:
                os.killpg(child.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            child.wait()
