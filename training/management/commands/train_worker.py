import sys

from django.core.management.base import BaseCommand

from training.services import training_child_main


class Command(BaseCommand):
    help = "Internal: the child process that trains one TrainingRun (started by the training task)."

    def add_arguments(self, parser):
        parser.add_argument("run_id", type=int)

    def handle(self, *args, **opts):
        sys.exit(training_child_main(opts["run_id"]))
