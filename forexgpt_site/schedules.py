"""The platform's django-q2 schedules, kept present after every `migrate` (post_migrate)."""

from __future__ import annotations

REAP_SCHEDULE = "forexgpt: reap stale jobs"
REAP_EVERY_MINUTES = 1
EXPIRE_UPLOADS_SCHEDULE = "forexgpt: expire old uploads"
EXPIRE_UPLOADS_EVERY_MINUTES = 60
# (name, function, every N minutes). Functions by name only: the site package imports no app.
SCHEDULES = (
    (REAP_SCHEDULE, "forexgpt_site.tasks.jobs_fail_stale_scheduled", REAP_EVERY_MINUTES),
    (EXPIRE_UPLOADS_SCHEDULE, "marketdata.tasks.uploads_expire_scheduled", EXPIRE_UPLOADS_EVERY_MINUTES),
)


def ensure_schedules(app_config=None, using="default", **_kwargs) -> None:
    """Create (or repair) the platform's schedules on the default cluster (cluster None: django-q2
    hands those to the default cluster's scheduler only): reaping dead jobs every minute, removing
    expired uploads every hour. As a post_migrate receiver it acts once, for django_q's own signal."""
    if app_config is not None and app_config.label != "django_q":
        return
    from django_q.models import Schedule

    for name, func, minutes in SCHEDULES:
        Schedule.objects.using(using).update_or_create(
            name=name,
            defaults={
                "func": func,
                "schedule_type": Schedule.MINUTES,
                "minutes": minutes,
                "repeats": -1,
                "cluster": None,
            },
        )
