"""Job runs: one abstract model and one small service API for every long job in the platform.

A task receives a run id, calls `job_execute(Model, run_id, work)`; `work(run, ctx)` does the
job, saves its own results and reports through `ctx.progress(...)`, which also raises
`JobCancelled` once a user asked to cancel, and `JobInterrupted` once its worker process was told
to stop (SIGTERM: the cluster is shutting down). Status changes are single-row UPDATEs, so a
failure never overwrites what the work already saved.

The parts, one concern each: `models` (the run row), `queue` (enqueue, cancel, resume, reap),
`runner` (claim, progress, heartbeat, how a run ends), `worker` (a worker process's stop),
`child` (work in a child process), `errors` (what a job raises, what users read of a failure),
`commands` (the `--foreground` / `--queue` of every management command that starts a run; not
imported here).

Naming: a task entry point (`<app>/tasks.py`, what django-q2 calls: a run id in, or nothing) ends in
`_execute`; the service body it hands to `job_execute` (a run and a JobContext in) ends in `_work`; a
task a schedule calls ends in `_scheduled` after the service it runs (`jobs_fail_stale_scheduled`,
`uploads_expire_scheduled`).
"""

from .child import CHILD_CANCELLED, CHILD_STOP_GRACE_S, job_run_child
from .errors import INTERRUPTED_MESSAGE, JobCancelled, JobInterrupted, JobSuperseded, clipped, error_summary
from .models import FINISHED, ChildJobRun, JobRun, JobStatus, request_of
from .queue import job_cancel, job_enqueue, job_requeue, jobs_fail_stale
from .runner import JobContext, job_execute
from .worker import STOP_GRACE_S, job_worker_stop_on_sigterm

__all__ = [
    "CHILD_CANCELLED",
    "CHILD_STOP_GRACE_S",
    "FINISHED",
    "INTERRUPTED_MESSAGE",
    "STOP_GRACE_S",
    "ChildJobRun",
    "JobCancelled",
    "JobContext",
    "JobInterrupted",
    "JobRun",
    "JobStatus",
    "JobSuperseded",
    "clipped",
    "error_summary",
    "job_cancel",
    "job_enqueue",
    "job_execute",
    "job_requeue",
    "job_run_child",
    "job_worker_stop_on_sigterm",
    "jobs_fail_stale",
    "request_of",
]
