"""Job runs: one abstract model and one small service API for every long job in the platform.

A task receives a run id, calls `job_execute(Model, run_id, work)`; `work(run, ctx)` does the
job, saves its own results and reports through `ctx.progress(...)`, which also raises
`JobCancelled` once a user asked to cancel, and `JobInterrupted` once its worker process was told
to stop (SIGTERM: the cluster is shutting down). Status changes are single-row UPDATEs, so a
failure never overwrites what the work already saved.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from datetime import timedelta
from typing import Callable, TypeVar

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from forexgpt_site.processes import die_with_parent

logger = logging.getLogger(__name__)


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINISHED = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class JobRun(models.Model):
    """Fields every long job shares. Subclasses name their task in `TASK` (and `QUEUE` for gpu)."""

    TASK: str = ""
    QUEUE: str | None = None  # django-q2 cluster name; None = the default cluster

    status = models.CharField(max_length=12, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True)
    progress = models.FloatField(default=0.0, help_text="0..1")
    message = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    task_id = models.CharField(max_length=64, blank=True, help_text="django-q2 task id")
    cancel_requested = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="last progress write")

    class Meta:  # a subclass without a Meta of its own inherits this one
        abstract = True
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        """How pages and admin name the run; subclasses say more."""
        return f"#{self.pk}"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    @property
    def is_succeeded(self) -> bool:
        return self.status == JobStatus.SUCCEEDED

    @property
    def duration_s(self) -> float | None:
        if not self.started_at:
            return None
        return ((self.finished_at or timezone.now()) - self.started_at).total_seconds()

    def status_dict(self) -> dict:
        """The small JSON that pages poll."""
        return {
            "id": self.pk,
            "status": self.status,
            "progress": round(self.progress, 4),
            "message": self.message,
            "error": self.error,
            "finished": self.is_finished,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


R = TypeVar("R", bound=JobRun)

_TRACEBACK = "Traceback (most recent call last):"


def _message_line(exc: BaseException) -> str:
    """The first line of an exception's message; one that carries a child process's traceback (its
    log tail) gets the traceback's last line, the child's own exception, appended."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else ""
    if _TRACEBACK in str(exc) and len(lines) > 1 and lines[-1] != _TRACEBACK:
        text = f"{text.rstrip(':')}: {lines[-1]}"
    return text


def error_summary(exc: BaseException, *, max_chars: int = 1000) -> str:
    """What users see of a failure: `Type: one line of the message`, never a traceback."""
    return f"{type(exc).__name__}: {_message_line(exc)}"[:max_chars]


class JobCancelled(Exception):
    """Raised inside a job when its run was asked to cancel."""


class JobSuperseded(Exception):
    """Raised inside a job whose run no longer runs under it: reaped as dead (its heartbeat went
    stale) or resumed by another attempt. The attempt stops and writes nothing more."""


class JobInterrupted(BaseException):
    """Raised inside a job when its worker process is stopping (SIGTERM). A BaseException, as
    KeyboardInterrupt is, so that no `except Exception` in a job swallows it; `job_execute` leaves
    the run failed, to be resumed from what it stored."""


INTERRUPTED_MESSAGE = "interrupted: its worker was stopped; resume it to continue from what it stored"

# A job gets this long after SIGTERM to reach its next progress report; then JobInterrupted is raised
# wherever it is (SIGALRM, as django-q2's own task timeout does), so that no transaction outlives the stop.
STOP_GRACE_S = 15

# The state of a qcluster worker process (set up by `job_worker_stop_on_sigterm`).
_stop_requested = False  # SIGTERM came: the running job stops, and no other starts here
_cluster_stopping = None  # an Event its cluster sets when the whole cluster stops
_current_run: JobRun | None = None  # the run this process is working on


def job_worker_stop_on_sigterm(*, cluster_stopping) -> None:
    """In a qcluster worker process: SIGTERM stops the running job at its next progress report
    (JobInterrupted: the run is left failed, to be resumed) instead of killing it mid-write or
    letting it run to its end. `cluster_stopping`, an Event the cluster sets when it stops, tells
    the two stops apart: while the cluster stops, the worker hands each task still queued to it
    back to the broker and exits with the cluster; a SIGTERM to this worker alone makes it exit
    after its job, for the cluster to start a fresh one."""
    global _cluster_stopping
    _cluster_stopping = cluster_stopping
    signal.signal(signal.SIGTERM, _on_stop_signal)


def _on_stop_signal(signum, frame) -> None:
    global _stop_requested
    if _stop_requested:
        return
    _stop_requested = True
    logger.info("worker %s stopping: its job stops at its next progress report", os.getpid())
    if _current_run is not None:
        signal.signal(signal.SIGALRM, _on_stop_overdue)
        signal.alarm(STOP_GRACE_S)


def _on_stop_overdue(signum, frame) -> None:
    if _current_run is not None:
        raise JobInterrupted(f"no progress report within {STOP_GRACE_S} s of the stop")


def _exit_if_stopped_alone() -> None:
    """After a stopped job is recorded: a worker told to stop while its cluster runs on exits."""
    if not _cluster_stopping.wait(1.0):  # the cluster's own stop sets it at once
        logger.info("worker %s exits: it was stopped on its own", os.getpid())
        raise SystemExit(0)


def _send(model: type[JobRun], pk) -> str:
    """Put the run's task on the queue; returns the task id."""
    from django_q.tasks import async_task

    options = {"task_name": f"{model._meta.label_lower}:{pk}"}
    if model.QUEUE:
        options["cluster"] = model.QUEUE
    return str(async_task(model.TASK, pk, q_options=options) or "")[:64]


def job_enqueue(run: JobRun) -> None:
    """Hand the run to the queue once the surrounding transaction commits."""
    model, pk = type(run), run.pk
    transaction.on_commit(lambda: model.objects.filter(pk=pk, task_id="").update(task_id=_send(model, pk)))


def _stale_before():
    return timezone.now() - timedelta(minutes=settings.FOREXGPT_JOB_STALE_MINUTES)


@transaction.atomic
def job_cancel(*, run: JobRun, user=None) -> JobRun:
    """Cancel a run (its owner or staff). A queued run, or a running one whose worker stopped
    reporting, is cancelled at once; a live one stops at its next progress report."""
    from django.core.exceptions import PermissionDenied

    if user is not None and not (user.is_staff or (run.owner_id is not None and run.owner_id == user.pk)):
        raise PermissionDenied("only the run's owner or staff may cancel it")
    model = type(run)
    now = timezone.now()
    done = model.objects.filter(pk=run.pk, status=JobStatus.QUEUED).update(
        status=JobStatus.CANCELLED, finished_at=now, message="cancelled before it started", cancel_requested=True)
    if not done:
        done = model.objects.filter(pk=run.pk, status=JobStatus.RUNNING, heartbeat_at__lt=_stale_before()).update(
            status=JobStatus.CANCELLED, finished_at=now, message="cancelled (its worker had stopped reporting)", cancel_requested=True)
    if not done:
        model.objects.filter(pk=run.pk, status=JobStatus.RUNNING).update(cancel_requested=True)
    run.refresh_from_db()
    return run


@transaction.atomic
def job_requeue(*, run: JobRun, user, message: str = "resuming") -> JobRun:
    """Start a failed or cancelled run again (its owner or staff); a run whose worker died is first
    marked failed. The task then continues from whatever the run stored (results, checkpoints)."""
    from django.core.exceptions import PermissionDenied

    if user is not None and not (user.is_staff or (run.owner_id is not None and run.owner_id == user.pk)):
        raise PermissionDenied("only the run's owner or staff may resume it")
    model = type(run)
    jobs_fail_stale(model)
    if not model.objects.filter(pk=run.pk, status__in=[JobStatus.FAILED, JobStatus.CANCELLED]).update(
            status=JobStatus.QUEUED, cancel_requested=False, task_id="", finished_at=None, message=message):
        run.refresh_from_db()
        raise ValueError(f"only a failed or cancelled run can be resumed (this one is {run.status})")
    run.refresh_from_db()
    job_enqueue(run)
    return run


def jobs_fail_stale(model: type[JobRun]) -> int:
    """Mark runs whose worker died (no progress report for FOREXGPT_JOB_STALE_MINUTES) as failed."""
    cutoff = _stale_before()
    return model.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=cutoff).update(
        status=JobStatus.FAILED, finished_at=timezone.now(),
        message=f"failed: the worker stopped reporting (no progress since before {cutoff:%Y-%m-%d %H:%M} UTC)",
        error="worker lost: the process running this job stopped without recording an end")


class JobContext:
    """What a running job uses to report progress and notice cancellation. Writes are throttled."""

    def __init__(self, run: JobRun, *, interval_s: float | None = None):
        self.run = run
        self.model = type(run)
        self.interval_s = settings.FOREXGPT_JOB_PROGRESS_INTERVAL_S if interval_s is None else interval_s
        self._last_write = float("-inf")
        self.writes = 0

    def progress(self, fraction: float, message: str | None = None, *, force: bool = False, **fields) -> bool:
        """Record progress (0..1) at most once per interval; raise JobCancelled if asked to cancel,
        JobInterrupted (at every call, throttled or not) once the worker process is stopping.

        Extra keyword fields are written to the run row with the same throttled UPDATE.
        Returns whether a write happened.
        """
        if _stop_requested:
            raise JobInterrupted()
        now = time.monotonic()
        if not force and now - self._last_write < self.interval_s:
            return False
        self._last_write = now
        values = {"progress": min(max(float(fraction), 0.0), 1.0), "heartbeat_at": timezone.now(), **fields}
        if message is not None:
            values["message"] = message[:255]
        if not self.model.objects.filter(pk=self.run.pk, status=JobStatus.RUNNING, started_at=self.run.started_at).update(**values):
            raise JobSuperseded(f"{self.model.__name__} {self.run.pk} is no longer running under this attempt "
                                "(reaped as dead, or resumed): it stops and writes nothing more")
        for key, value in values.items():
            setattr(self.run, key, value)
        self.writes += 1
        self.check_cancelled()
        return True

    def check_attempt(self) -> None:
        """JobSuperseded when the run no longer runs under this attempt (reaped as dead, or resumed)."""
        if not self.model.objects.filter(pk=self.run.pk, status=JobStatus.RUNNING, started_at=self.run.started_at).exists():
            raise JobSuperseded(f"{self.model.__name__} {self.run.pk} is no longer running under this attempt "
                                "(reaped as dead, or resumed): it stops and writes nothing more")

    def check_cancelled(self) -> None:
        if _stop_requested:
            raise JobInterrupted()
        if self.model.objects.filter(pk=self.run.pk, cancel_requested=True).exists():
            raise JobCancelled()


def job_execute(model: type[R], run_id: int, work: Callable[[R, JobContext], str | None]) -> str:
    """Run `work` for a queued run exactly once; returns the final status.

    Claiming is a conditional UPDATE (queued -> running), so the same task delivered twice, or a
    run cancelled before it started, does nothing the second time. A worker that is stopping does
    not start the job: it puts the task back on the queue for the next worker.
    """
    if _stop_requested:  # a task taken after the stop: the run stays queued, for the next worker
        current = model.objects.filter(pk=run_id).values_list("status", flat=True).first()
        if current == JobStatus.QUEUED:
            model.objects.filter(pk=run_id).update(task_id=_send(model, run_id))
            logger.info("%s %s put back on the queue: this worker is stopping", model.__name__, run_id)
        _exit_if_stopped_alone()
        return current or "missing"
    claimed = model.objects.filter(pk=run_id, status=JobStatus.QUEUED, cancel_requested=False).update(
        status=JobStatus.RUNNING, started_at=timezone.now(), heartbeat_at=timezone.now(), message="started", error=""
    )
    if not claimed:
        current = model.objects.filter(pk=run_id).values_list("status", flat=True).first()
        logger.info("%s %s not started: status is %s", model.__name__, run_id, current)
        return current or "missing"
    run = model.objects.get(pk=run_id)
    ctx = JobContext(run)
    heartbeat = _Heartbeat(model, run_id, run.started_at)
    # This attempt's own row: a later attempt (after this one was reaped as dead and the run
    # resumed) has another started_at, so a late finish here cannot overwrite its status.
    mine = model.objects.filter(pk=run_id, status=JobStatus.RUNNING, started_at=run.started_at)
    try:
        with heartbeat:
            message = _work_once(run, ctx, work)
    except JobInterrupted as exc:
        logger.warning("%s %s interrupted: its worker is stopping (%s)", model.__name__, run_id, str(exc) or "at a progress report")
        connection.close_if_unusable_or_obsolete()  # a stop forced mid-statement may have broken the connection
        mine.update(status=JobStatus.FAILED, finished_at=timezone.now(), message=INTERRUPTED_MESSAGE,
                    error="JobInterrupted: the worker process running this job was stopped (SIGTERM)")
        _exit_if_stopped_alone()
        return JobStatus.FAILED
    except JobCancelled:
        mine.update(status=JobStatus.CANCELLED, finished_at=timezone.now(), message="cancelled")
        return JobStatus.CANCELLED
    except JobSuperseded as exc:
        logger.warning("%s", exc)
        return model.objects.filter(pk=run_id).values_list("status", flat=True).first() or "missing"
    except Exception as exc:
        # The traceback (server paths, code) goes to the log only; every user reads the run's row.
        logger.exception("%s %s failed", model.__name__, run_id)
        mine.update(
            status=JobStatus.FAILED,
            finished_at=timezone.now(),
            message=f"failed: {_message_line(exc) or type(exc).__name__}"[:255],
            error=error_summary(exc),
        )
        return JobStatus.FAILED
    mine.update(status=JobStatus.SUCCEEDED, finished_at=timezone.now(), progress=1.0, message=(message or "done")[:255])
    return JobStatus.SUCCEEDED


class _Heartbeat(threading.Thread):
    """While a job runs, a thread of its worker stamps the run's heartbeat every
    FOREXGPT_JOB_HEARTBEAT_S, whatever the job is doing (a long parse, a child process, one big
    computation): the heartbeat says the worker lives, so a worker's death shows within
    FOREXGPT_JOB_STALE_MINUTES and is reaped then. It writes only this attempt's row."""

    def __init__(self, model: type[JobRun], run_id, started_at):
        super().__init__(name=f"heartbeat {model.__name__} {run_id}", daemon=True)
        self.row = model.objects.filter(pk=run_id, status=JobStatus.RUNNING, started_at=started_at)
        self.interval_s = settings.FOREXGPT_JOB_HEARTBEAT_S
        self.done = threading.Event()

    def run(self) -> None:
        try:
            while not self.done.wait(self.interval_s):
                try:
                    self.row.update(heartbeat_at=timezone.now())
                except Exception:  # a locked or lost database: the next beat tries again
                    logger.warning("heartbeat of %s not written", self.name, exc_info=True)
        finally:
            connection.close()  # this thread's own connection

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        self.join(timeout=5)


def _work_once(run: R, ctx: JobContext, work: Callable[[R, JobContext], str | None]) -> str | None:
    """`work(run, ctx)` as this process's current job: SIGTERM arms the stop deadline only meanwhile."""
    global _current_run
    _current_run = run
    try:
        if _stop_requested:  # SIGTERM came between the claim and here
            raise JobInterrupted()
        return work(run, ctx)
    finally:
        _current_run = None
        if _stop_requested:
            signal.alarm(0)


CHILD_CANCELLED = 3  # exit code of a child that stopped because its run was cancelled
CHILD_STOP_GRACE_S = 10  # a child process told to stop (SIGTERM) is killed after this long


def job_run_child(run: JobRun, command: list[str], log: Path, *, poll_s: float = 1.0) -> int:
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
        child = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, cwd=settings.BASE_DIR, start_new_session=True,
                                 env={**os.environ, "TQDM_DISABLE": "1", "PYTHONUNBUFFERED": "1"}, preexec_fn=die_with_parent)
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
    if child.returncode != 0:
        raise RuntimeError(f"the {command[0]} process exited with code {child.returncode}:\n{log.read_text()[-3000:]}")
    return child.returncode


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
