import json

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand

from forexgpt_site.jobs import JobRun, jobs_fail_stale


class Command(BaseCommand):
    help = (f"Mark running jobs whose worker died as failed (no progress for FOREXGPT_JOB_STALE_MINUTES, "
            f"now {settings.FOREXGPT_JOB_STALE_MINUTES:g} min). Safe to run from cron.")

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        failed = {m._meta.label: jobs_fail_stale(m) for m in apps.get_models() if issubclass(m, JobRun)}
        self.stdout.write(json.dumps(failed) if opts["json"] else ", ".join(f"{k}: {v}" for k, v in failed.items()))
