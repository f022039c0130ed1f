"""The job run model every long job's table extends, and its statuses."""

from __future__ import annotations

from typing import TypeVar

from django.conf import settings
from django.db import models
from django.utils import timezone

from forexgpt_site.parsing import request_from_stored


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINISHED = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class JobRun(models.Model):
    """Fields every long job shares. Subclasses name their task in `TASK` (and `QUEUE` for gpu), and
    the request class of their parameters in `request_class`: a run stores its checked request whole,
    as `request.to_dict()`, in `request`; the request fields that lists, filters, admin or selectors
    use are also columns of the same names (`REQUEST_COLUMNS`), written from the request only."""

    TASK: str = ""
    QUEUE: str | None = None  # django-q2 cluster name; None = the default cluster
    request_class: type | None = None
    REQUEST_COLUMNS: tuple[str, ...] = ()
    # A failed or cancelled run of this kind can be resumed from what it stored (the API's resume and the
    # run page's button), with this message on the run; None: it cannot, start a new one.
    resume_message: str | None = None

    status = models.CharField(max_length=12, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True)
    progress = models.FloatField(default=0.0, help_text="0..1")
    message = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    task_id = models.CharField(max_length=64, blank=True, help_text="django-q2 task id")
    cancel_requested = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="last progress write")
    request = models.JSONField(
        default=dict, blank=True, help_text="what the run was asked to do: its checked request's to_dict()"
    )

    class Meta:  # a subclass without a Meta of its own inherits this one
        abstract = True
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.label

    @classmethod
    def of_request(cls, request, **fields):
        """An unsaved run of a checked `request`: stored whole, and copied into `REQUEST_COLUMNS`."""
        return cls(
            request=request.to_dict(), **{name: getattr(request, name) for name in cls.REQUEST_COLUMNS}, **fields
        )

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


class ChildJobRun(JobRun):
    """A job whose work runs in a child process (`job_run_child`): torch work, which must not start
    in a forked worker. It counts the child processes started for it, one per attempt."""

    attempts = models.PositiveIntegerField(default=0)

    class Meta(JobRun.Meta):
        abstract = True


R = TypeVar("R", bound=JobRun)


def request_of(run: JobRun):
    """The request a run was made from, as its `request_class` object: read back from the stored
    `request`, not checked again (its start checked it; the work trusts it)."""
    return request_from_stored(type(run).request_class, run.request)
