"""The stop of a qcluster worker process: SIGTERM ends its job at the job's next progress report."""

from __future__ import annotations

import logging
import os
import signal
from dataclasses import dataclass

from .errors import JobInterrupted

logger = logging.getLogger(__name__)

# A job gets this long after SIGTERM to reach its next progress report; then JobInterrupted is raised
# wherever it is (SIGALRM, as django-q2's own task timeout does), so that no transaction outlives the stop.
STOP_GRACE_S = 15


@dataclass
class WorkerState:
    """This process's part in its cluster (set up by `job_worker_stop_on_sigterm`)."""

    stop_requested: bool = False  # SIGTERM came: the running job stops, and no other starts here
    cluster_stopping: object = None  # an Event its cluster sets when the whole cluster stops
    current_run: object = None  # the run this process is working on


state = WorkerState()


def job_worker_stop_on_sigterm(*, cluster_stopping) -> None:
    """In a qcluster worker process: SIGTERM stops the running job at its next progress report
    (JobInterrupted: the run is left failed, to be resumed) instead of killing it mid-write or
    letting it run to its end. `cluster_stopping`, an Event the cluster sets when it stops, tells
    the two stops apart: while the cluster stops, the worker hands each task still queued to it
    back to the broker and exits with the cluster; a SIGTERM to this worker alone makes it exit
    after its job, for the cluster to start a fresh one."""
    state.cluster_stopping = cluster_stopping
    signal.signal(signal.SIGTERM, _on_stop_signal)


def _on_stop_signal(signum, frame) -> None:
    if state.stop_requested:
        return
    state.stop_requested = True
    logger.info("worker %s stopping: its job stops at its next progress report", os.getpid())
    if state.current_run is not None:
        signal.signal(signal.SIGALRM, _on_stop_overdue)
        signal.alarm(STOP_GRACE_S)


def _on_stop_overdue(signum, frame) -> None:
    if state.current_run is not None:
        raise JobInterrupted(f"no progress report within {STOP_GRACE_S} s of the stop")


def exit_if_stopped_alone() -> None:
    """After a stopped job is recorded: a worker told to stop while its cluster runs on exits."""
    if not state.cluster_stopping.wait(1.0):  # the cluster's own stop sets it at once
        logger.info("worker %s exits: it was stopped on its own", os.getpid())
        raise SystemExit(0)
