"""One convention for every management command that starts a job run: `--foreground` (the default)
runs the stored run in this process through its task entry point (`job_execute`, as a queue worker
would: claim, heartbeat, progress, cancel) and prints its result; `--queue` hands it to the qcluster
workers and returns at once, printing the run's id, its page and its API URL.

A command starts its run with its start service without enqueueing it (`enqueue=False`), then calls
`job_command_run`; nothing here waits in a loop - a job that waits for others (a distributed
optimization's chunks) does so in its own code."""

from __future__ import annotations

import json
from collections.abc import Callable

from django.urls import reverse

from .models import JobRun
from .queue import job_enqueue

FOREGROUND, QUEUE = "foreground", "queue"


def add_run_mode_arguments(parser, *, what: str, where: str = "the qcluster workers") -> None:
    """`--foreground` and `--queue`, mutually exclusive, into `opts["run_mode"]` (default foreground)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--foreground",
        dest="run_mode",
        action="store_const",
        const=FOREGROUND,
        help=f"run the {what} in this process, through its task as a queue worker would, store it as a run "
        "and print its result (the default)",
    )
    group.add_argument(
        "--queue",
        dest="run_mode",
        action="store_const",
        const=QUEUE,
        help=f"store the {what} as a queued run for {where} and return at once, printing the run's id, "
        "its page and its API URL",
    )
    parser.set_defaults(run_mode=FOREGROUND)


def queued(opts: dict) -> bool:
    return opts.get("run_mode") == QUEUE


def run_links(run: JobRun, *, page: str, api: str) -> dict:
    """Where to follow a run: its page's URL path and its API detail path (reverse()d URL names)."""
    return {"page": reverse(page, args=[run.pk]), "api": reverse(api, args=[run.pk])}


def job_command_run(
    command, run: JobRun, opts: dict, *, execute: Callable[[int], str], page: str, api: str, what: str
) -> JobRun | None:
    """Queue a stored, queued `run` (`--queue`: enqueue it, print how to follow it, return None) or run
    it here (`--foreground`: `execute(run.pk)`, the task entry point; return the run re-read, finished)."""
    if queued(opts):
        job_enqueue(run)  # at once outside a transaction; on its commit inside one
        links = run_links(run, page=page, api=api)
        if opts.get("json"):
            command.stdout.write(json.dumps({"id": run.pk, "status": run.status, **links}, indent=2))
        else:
            command.stdout.write(f"{what} {run.pk} queued: follow it at {links['page']} or GET {links['api']}")
        return None
    execute(run.pk)
    return type(run).objects.get(pk=run.pk)
