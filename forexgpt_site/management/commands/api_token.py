import json
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from knox.settings import knox_settings

from forexgpt_site.auth import issue_token


class Command(BaseCommand):
    help = (
        "Make a new API token for USER and print it (the database keeps only its hash: it cannot be shown "
        "again). It expires after FOREXGPT_API_TOKEN_TTL_HOURS unless --hours says otherwise; the user's other "
        "tokens stay valid up to FOREXGPT_API_TOKENS_PER_USER, the newest kept (revoke them with POST "
        "/api/token/logout-all/ or in Django admin)."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--hours", type=float, help="lifetime in hours, 0 = never expires (default FOREXGPT_API_TOKEN_TTL_HOURS)"
        )
        parser.add_argument("--json", action="store_true", help="print {username, token, expiry}")

    def handle(self, *args, **opts):
        try:
            user = get_user_model().objects.get_by_natural_key(opts["username"])
        except get_user_model().DoesNotExist:
            raise CommandError(f"no user named {opts['username']!r}") from None
        if not user.is_active:
            raise CommandError(f"user {opts['username']!r} is inactive: the API would refuse its token")
        hours = opts["hours"]
        if hours is not None and hours < 0:
            raise CommandError("--hours must be 0 (never expires) or a positive number of hours")
        ttl = knox_settings.TOKEN_TTL if hours is None else (timedelta(hours=hours) if hours else None)
        instance, token = issue_token(user, ttl)
        expiry = instance.expiry.isoformat() if instance.expiry else None
        if opts["json"]:
            self.stdout.write(json.dumps({"username": user.get_username(), "token": token, "expiry": expiry}))
        else:
            self.stdout.write(token)  # alone on stdout, for TOKEN=$(python manage.py api_token USER)
            self.stderr.write(f"expires {expiry}" if expiry else "never expires")
