import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from registry.services import OPERATOR, RegistryError, bundle_import


class Command(BaseCommand):
    help = "Import a .zip bundle; everything is verified before anything is written."

    def add_arguments(self, parser):
        parser.add_argument("bundle")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        path = Path(opts["bundle"])
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        try:
            version, created = bundle_import(source=path, user=OPERATOR)
        except RegistryError as exc:
            if opts["json"]:
                self.stdout.write(json.dumps({"created": False, "error": str(exc)}, indent=2))
            raise CommandError(f"refused: {exc}") from exc
        report = {"ref": version.ref, "created": created, "content_sha256": version.content_sha256}
        if opts["json"]:
            self.stdout.write(json.dumps(report, indent=2))
        elif created:
            self.stdout.write(f"imported as {version.ref}")
        else:
            self.stdout.write(f"already present as {version.ref}; nothing created")
