import json

from django.core.management.base import BaseCommand, CommandError

from registry.services import RegistryError, artifacts_prune


class Command(BaseCommand):
    help = "Keep the newest N versions of each model; never removes aliased or production-tagged versions."

    def add_arguments(self, parser):
        parser.add_argument("--keep", type=int, required=True)
        parser.add_argument("--model", default=None, help="only this registered model")
        parser.add_argument("--dry_run", "--dry-run", action="store_true")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        try:
            refs = artifacts_prune(keep=opts["keep"], dry_run=opts["dry_run"], model_name=opts["model"])
        except RegistryError as exc:
            raise CommandError(str(exc)) from exc
        if opts["json"]:
            self.stdout.write(json.dumps({"dry_run": opts["dry_run"], "removed": refs}, indent=2))
            return
        verb = "would remove" if opts["dry_run"] else "removed"
        self.stdout.write(f"{verb} {len(refs)} version(s)" + (": " + ", ".join(refs) if refs else ""))
