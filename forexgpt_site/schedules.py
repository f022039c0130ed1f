"""The platform's django-q2 schedules, kept present after every `migrate` (post_migrate)."""

from __future__ import annotations

REAP_SCHEDULE = "forexgpt: reap stale jobs"
REAP_EVERY_MINUTES = 1
EXPIRE_UPLOADS_SCHEDULE = "forexgpt: expire old uploads"
EXPIRE_UPLOADS_EVERY_MINUTES = 60


def ensure_schedules(app_config=None, using="default", **_kwargs) -> None:
    """Create (or repair) the platform's schedules on the default cluster (cluster None: django-q2
    hands those to the default cluster's scheduler only): reaping dead jobs every minute, removing
    expired uploads every hour. As a post_migrate receiver it acts once, for django_q's own signal."""
    if app_config is not None and app_config.label != "django_q":
        return
    from django_q.models import Schedule

    Schedule.objects.using(using).update_or_create(
        name=REAP_SCHEDULE,
        defaults={
            "func": "forexgpt_site.tasks.jobs_fail_stale_scheduled",
            "schedule_type": Schedule.MINUTES,
            "minutes": REAP_EVERY_MINUTES,
            "repeats": -1,
            "cluster": None,
        },
    )
    # By name only: the site package imports no app (FOREXGPT_UPLOAD_RETENTION_DAYS says how long).
    Schedule.objects.using(using).update_or_create(
        name=EXPIRE_UPLOADS_SCHEDULE,
        defaults={
            "func": "marketdata.tasks.uploads_expire_scheduled",
            "schedule_type": Schedule.MINUTES,
            "minutes": EXPIRE_UPLOADS_EVERY_MINUTES,
            "repeats": -1,
            "cluster": None,
        },
    )
