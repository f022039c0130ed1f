import json

from django.conf import settings
from django.core.management.base import BaseCommand

from forexgpt_site.tasks import jobs_fail_stale_scheduled


class Command(BaseCommand):
    help = (
        f"Mark running jobs whose worker died as failed (no progress for FOREXGPT_JOB_STALE_MINUTES, "
        f"now {settings.FOREXGPT_JOB_STALE_MINUTES:g} min). The default cluster also runs this every minute "
        f"(django-q2 schedule 'forexgpt: reap stale jobs')."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        failed = jobs_fail_stale_scheduled()
        self.stdout.write(json.dumps(failed) if opts["json"] else ", ".join(f"{k}: {v}" for k, v in failed.items()))
