"""Platform-wide scheduled work (django-q2 schedules, made by `schedules.ensure_schedules`)."""

from __future__ import annotations

from django.apps import apps

from forexgpt_site.jobs import JobRun, jobs_fail_stale


def jobs_fail_stale_scheduled() -> dict[str, int]:
    """Mark running jobs whose worker died (no progress for FOREXGPT_JOB_STALE_MINUTES) as failed,
    every job kind; returns how many of each. Scheduled every minute on the default cluster."""
    return {m._meta.label: jobs_fail_stale(m) for m in apps.get_models() if issubclass(m, JobRun)}
