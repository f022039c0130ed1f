"""Running a job: claim it once, report progress, notice a cancel or a stop, beat while it works,
and record how it ended on this attempt's row only."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.utils import timezone

from forexgpt_site.errors import DomainError

from .errors import (
    INTERRUPTED_MESSAGE,
    JobCancelled,
    JobInterrupted,
    JobSuperseded,
    clipped,
    error_summary,
    message_line,
)
from .models import JobRun, JobStatus, R
from .queue import send
from .worker import exit_if_stopped_alone, state

logger = logging.getLogger(__name__)


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
        if state.stop_requested:
            raise JobInterrupted()
        now = time.monotonic()
        if not force and now - self._last_write < self.interval_s:
            return False
        self._last_write = now
        values = {"progress": min(max(float(fraction), 0.0), 1.0), "heartbeat_at": timezone.now(), **fields}
        if message is not None:
            values["message"] = clipped(message)
        if not self.model.objects.filter(
            pk=self.run.pk, status=JobStatus.RUNNING, started_at=self.run.started_at
        ).update(**values):
            raise JobSuperseded(
                f"{self.model.__name__} {self.run.pk} is no longer running under this attempt "
                "(reaped as dead, or resumed): it stops and writes nothing more"
            )
        for key, value in values.items():
            setattr(self.run, key, value)
        self.writes += 1
        self.check_cancelled()
        return True

    def check_attempt(self) -> None:
        """JobSuperseded when the run no longer runs under this attempt (reaped as dead, or resumed)."""
        if not self.model.objects.filter(
            pk=self.run.pk, status=JobStatus.RUNNING, started_at=self.run.started_at
        ).exists():
            raise JobSuperseded(
                f"{self.model.__name__} {self.run.pk} is no longer running under this attempt "
                "(reaped as dead, or resumed): it stops and writes nothing more"
            )

    def check_cancelled(self) -> None:
        if state.stop_requested:
            raise JobInterrupted()
        if self.model.objects.filter(pk=self.run.pk, cancel_requested=True).exists():
            raise JobCancelled()


def job_execute(model: type[R], run_id: int, work: Callable[[R, JobContext], str | None]) -> str:
    """Run `work` for a queued run exactly once; returns the final status.

    Claiming is a conditional UPDATE (queued -> running), so the same task delivered twice, or a
    run cancelled before it started, does nothing the second time. A worker that is stopping does
    not start the job: it puts the task back on the queue for the next worker.
    """
    if state.stop_requested:  # a task taken after the stop: the run stays queued, for the next worker
        current = model.objects.filter(pk=run_id).values_list("status", flat=True).first()
        if current == JobStatus.QUEUED:
            model.objects.filter(pk=run_id).update(task_id=send(model, run_id))
            logger.info("%s %s put back on the queue: this worker is stopping", model.__name__, run_id)
        exit_if_stopped_alone()
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
        logger.warning(
            "%s %s interrupted: its worker is stopping (%s)", model.__name__, run_id, str(exc) or "at a progress report"
        )
        connection.close_if_unusable_or_obsolete()  # a stop forced mid-statement may have broken the connection
        mine.update(
            status=JobStatus.FAILED,
            finished_at=timezone.now(),
            message=INTERRUPTED_MESSAGE,
            error="JobInterrupted: the worker process running this job was stopped (SIGTERM)",
        )
        exit_if_stopped_alone()
        return JobStatus.FAILED
    except JobCancelled:
        mine.update(status=JobStatus.CANCELLED, finished_at=timezone.now(), message="cancelled")
        return JobStatus.CANCELLED
    except JobSuperseded as exc:
        logger.warning("%s", exc)
        return model.objects.filter(pk=run_id).values_list("status", flat=True).first() or "missing"
    except Exception as exc:
        if isinstance(exc, DomainError):  # a refusal of what the job asked (a bad file, a range without data)
            logger.warning("%s %s refused: %s", model.__name__, run_id, message_line(exc))
        else:  # a bug: the traceback (server paths, code) goes to the log only; every user reads the run's row
            logger.exception("%s %s failed", model.__name__, run_id)
        mine.update(
            status=JobStatus.FAILED,
            finished_at=timezone.now(),
            message=clipped(f"failed: {message_line(exc) or type(exc).__name__}"),
            error=error_summary(exc),
        )
        return JobStatus.FAILED
    mine.update(
        status=JobStatus.SUCCEEDED, finished_at=timezone.now(), progress=1.0, message=clipped(message or "done")
    )
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
    state.current_run = run
    try:
        if state.stop_requested:  # SIGTERM came between the claim and here
            raise JobInterrupted()
        return work(run, ctx)
    finally:
        state.current_run = None
        if state.stop_requested:
            signal.alarm(0)
