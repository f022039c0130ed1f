import sys

from django.core.management.base import BaseCommand

from forecasts.services import forecast_child_main


class Command(BaseCommand):
    help = "Internal: the child process that makes one forecast set's forecasts (started by its task)."

    def add_arguments(self, parser):
        parser.add_argument("set_id", type=int)

    def handle(self, *args, **opts):
        sys.exit(forecast_child_main(opts["set_id"]))
