import json
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from forexgpt_site import env
from marketdata.services import demo_data_load


def _password(name: str) -> str:
    """A generated password kept in the (untracked) data folder, so reruns print the same one."""
    path = env.DATA_DIR / f"{name}-password"
    if not path.exists():
        env.DATA_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(12))
        path.chmod(0o600)
    return path.read_text().strip()


class Command(BaseCommand):
    help = "Embedded demo only: load the demo EURUSD series and create the demo and admin users."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        User = get_user_model()
        users = {}
        for username, staff in (("demo", False), ("admin", True)):
            password = _password(username)
            user, _ = User.objects.get_or_create(username=username)
            user.is_staff = user.is_superuser = staff
            user.set_password(password)
            user.save()
            users[username] = password
        data = demo_data_load()
        report = {"users": users, "demo_data": data}
        if opts["json"]:
            self.stdout.write(json.dumps(report, indent=2))
            return
        self.stdout.write(
            f"Demo data: EURUSD 1h from backtesting.test.EURUSD, inserted {data['inserted']}, already there {data['duplicates']}"
        )
        self.stdout.write(self.style.SUCCESS(f"Log in as  demo / {users['demo']}   (staff: admin / {users['admin']})"))
