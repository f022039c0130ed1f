import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from registry.selectors import version_by_ref
from registry.services import RegistryError, bundle_export


class Command(BaseCommand):
    help = "Export a model version as a verified .zip bundle. REF: name, name:VERSION or name@alias."

    def add_arguments(self, parser):
        parser.add_argument("ref")
        parser.add_argument("out", help="path of the .zip to write")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        try:
            version = version_by_ref(opts["ref"])
            data = bundle_export(version=version)
        except RegistryError as exc:
            raise CommandError(str(exc)) from exc
        out = Path(opts["out"])
        if out.is_dir():
            raise CommandError(
                f"{out} is a folder: give the path of the .zip to write (e.g. {out / (version.ref.replace(':', '-v') + '.zip')})"
            )
        tmp = out.with_name(out.name + ".partial")
        try:
            tmp.write_bytes(data)
            tmp.replace(out)  # never leave a half-written bundle under the final name
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise CommandError(f"cannot write {out}: {exc.strerror or exc}") from exc
        report = {"ref": version.ref, "path": str(out), "bytes": len(data), "content_sha256": version.content_sha256}
        self.stdout.write(
            json.dumps(report, indent=2) if opts["json"] else f"exported {version.ref} to {out} ({len(data):,} bytes)"
        )
