"""Putting runs on the queue, cancelling and resuming them, and reaping runs whose worker died."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from forexgpt_site.errors import DomainError

from .models import JobRun, JobStatus


def send(model: type[JobRun], pk) -> str:
    """Put the run's task on the queue; returns the task id."""
    from django_q.tasks import async_task

    options = {"task_name": f"{model._meta.label_lower}:{pk}"}
    if model.QUEUE:
        options["cluster"] = model.QUEUE
    return str(async_task(model.TASK, pk, q_options=options) or "")[:64]


def job_enqueue(run: JobRun) -> None:
    """Hand the run to the queue once the surrounding transaction commits."""
    model, pk = type(run), run.pk
    transaction.on_commit(lambda: model.objects.filter(pk=pk, task_id="").update(task_id=send(model, pk)))


def _stale_before():
    return timezone.now() - timedelta(minutes=settings.FOREXGPT_JOB_STALE_MINUTES)


@transaction.atomic
def job_cancel(*, run: JobRun, user=None) -> JobRun:
    """Cancel a run (its owner or staff). A queued run, or a running one whose worker stopped
    reporting, is cancelled at once; a live one stops at its next progress report; a finished one is
    a DomainError (nothing to cancel)."""
    from django.core.exceptions import PermissionDenied

    if user is not None and not (user.is_staff or (run.owner_id is not None and run.owner_id == user.pk)):
        raise PermissionDenied("only the run's owner or staff may cancel it")
    model = type(run)
    now = timezone.now()
    done = model.objects.filter(pk=run.pk, status=JobStatus.QUEUED).update(
        status=JobStatus.CANCELLED, finished_at=now, message="cancelled before it started", cancel_requested=True
    )
    if not done:
        done = model.objects.filter(pk=run.pk, status=JobStatus.RUNNING, heartbeat_at__lt=_stale_before()).update(
            status=JobStatus.CANCELLED,
            finished_at=now,
            message="cancelled (its worker had stopped reporting)",
            cancel_requested=True,
        )
    if not done and not model.objects.filter(pk=run.pk, status=JobStatus.RUNNING).update(cancel_requested=True):
        run.refresh_from_db()
        raise DomainError(f"only a queued or running run can be cancelled (this one is {run.status})")
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
        status=JobStatus.QUEUED, cancel_requested=False, task_id="", finished_at=None, message=message
    ):
        run.refresh_from_db()
        raise DomainError(f"only a failed or cancelled run can be resumed (this one is {run.status})")
    run.refresh_from_db()
    job_enqueue(run)
    return run


def jobs_fail_stale(model: type[JobRun]) -> int:
    """Mark runs whose worker died (no progress report for FOREXGPT_JOB_STALE_MINUTES) as failed."""
    cutoff = _stale_before()
    return model.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=cutoff).update(
        status=JobStatus.FAILED,
        finished_at=timezone.now(),
        message=f"failed: the worker stopped reporting (no progress since before {cutoff:%Y-%m-%d %H:%M} UTC)",
        error="worker lost: the process running this job stopped without recording an end",
    )
