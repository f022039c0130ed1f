"""`manage.py qcluster`: django-q2's worker cluster, stopped without waiting for running jobs.

django-q2 stops a cluster (SIGTERM or SIGINT to the qcluster process) by queueing a STOP message
for each worker and waiting until every worker has finished its task: a six-hour optimization keeps
the cluster up for six hours, until a supervisor kills the qcluster process and leaves its sentinel
and workers running on as orphans. Here the sentinel first sends each worker SIGTERM, which
`forexgpt_site.jobs` turns into `JobInterrupted` at the job's next progress report: the run is left
failed and resumable, its child process stopped, its transaction ended, and the worker exits.
This command takes the place of django-q2's because forexgpt_site comes before django_q in
INSTALLED_APPS.
"""

import os
import signal
import threading
import time

from django_q import cluster
from django_q.management.commands.qcluster import Command as QclusterCommand
from django_q.signals import post_spawn

from forexgpt_site.jobs import job_worker_stop_on_sigterm


class JobSentinel(cluster.Sentinel):
    """django-q2's sentinel, whose stop first tells the workers to stop their jobs. A SIGTERM to the
    sentinel itself (a whole process group stopped at once, as systemd does) or the death of the
    qcluster process above it (kill -9) starts the same stop, so its workers are never left behind."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, start=False, **kwargs)
        self.stop_signalled = False
        post_spawn.connect(self._set_up_worker, dispatch_uid="forexgpt-worker-stop")  # sent in each new worker
        signal.signal(signal.SIGTERM, self._on_sigterm)
        threading.Thread(target=self._stop_when_told_or_orphaned, name="stop-watch", daemon=True).start()
        self.start()

    def _set_up_worker(self, **kwargs) -> None:
        job_worker_stop_on_sigterm(cluster_stopping=self.event_out)

    def _on_sigterm(self, signum, frame) -> None:
        # No locks in a signal handler: the watch thread sets the (lock-guarded) stop event.
        self.stop_signalled = True

    def _stop_when_told_or_orphaned(self) -> None:
        while not (self.stop_signalled or os.getppid() != self.parent_pid):
            time.sleep(0.2)
        self.stop_event.set()

    def spawn_process(self, target, *args):
        # The pusher and the monitor keep the default SIGTERM; a worker sets its own (post_spawn).
        handler = signal.signal(signal.SIGTERM, signal.SIG_DFL)
        try:
            return super().spawn_process(target, *args)
        finally:
            signal.signal(signal.SIGTERM, handler)

    def stop(self) -> None:
        self.event_out.set()  # first: the pusher takes no more tasks, and workers know the cluster stops
        for process in self.pool:
            if process.is_alive():
                process.terminate()  # SIGTERM: forexgpt_site.jobs stops the worker's job, if any
        super().stop()


class Command(QclusterCommand):
    help = (
        "Starts a django-q2 cluster. SIGTERM or SIGINT stops it: running jobs stop at their next progress "
        "report (within forexgpt_site.jobs.STOP_GRACE_S) and are left failed, to be resumed."
    )

    def handle(self, *args, **options):
        cluster.Sentinel = JobSentinel  # django-q2's Cluster.start starts the class this name holds
        super().handle(*args, **options)
