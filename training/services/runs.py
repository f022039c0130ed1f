"""Training runs: check a request, store it, queue it on the `gpu` cluster, and (the task) watch the
child process that trains it. A failed or cancelled run resumes from its last checkpoint through
`forexgpt_site.jobs.job_requeue` (what `POST /api/training-runs/<id>/resume/` calls)."""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.db import transaction

from forexgpt_site.errors import DomainError, domain_errors
from forexgpt_site.jobs import JobContext, job_enqueue, job_run_child
from forexgpt_site.parsing import range_words
from marketdata.selectors import candles_queryset
from training.models import TrainingRun
from training.request import TrainingRequest

PROCESS_COUNTS = ("cpu_processes", "num_workers")  # the options that start processes (DDP ranks, loader workers)


def check_process_counts(choices: dict, cores: int) -> None:
    """Each option that starts processes at most the machine's cores: more only slows training on
    shared cores, and a user could otherwise make the server start any number of them."""
    for name in PROCESS_COUNTS:
        value = choices.get(name)
        if value is not None and value > cores:
            raise DomainError(f"{name} must be at most this machine's {cores} cores, not {value}")


@domain_errors()  # what the engines refuse for this request's data is a refusal too
@transaction.atomic
def training_run_start(*, user, request: TrainingRequest, enqueue: bool = True) -> TrainingRun:
    """Check the request against the stored bars (enough for a chronological split), store the run,
    queue it on `gpu`. The request checked its own fields."""
    from training.engine import chronological_split

    check_process_counts(request.choices, os.cpu_count() or 1)
    n = candles_queryset(
        symbol=request.symbol, timeframe=request.timeframe, start=request.start, end=request.end
    ).count()
    if not n:
        raise DomainError(
            f"no {request.symbol} {request.timeframe} bars are stored{range_words(request.start, request.end)}: "
            "import them first (the Data page, POST /api/candles/import/ or manage.py import_candles)"
        )
    chronological_split(n, request.patch_len, request.horizon)  # raises when the bars are too few
    run = TrainingRun.of_request(request, owner=user if getattr(user, "is_authenticated", False) else None)
    run.save()
    if enqueue:
        job_enqueue(run)
    return run


def checkpoint_dir(run: TrainingRun) -> Path:
    return Path(settings.FOREXGPT_CHECKPOINT_DIR) / f"training-run-{run.pk}"


def training_run_work(run: TrainingRun, ctx: JobContext) -> str:
    job_run_child(run, ["train_worker", str(run.pk)], checkpoint_dir(run) / f"attempt-{run.attempts + 1}.log")
    run.refresh_from_db()
    return run.message or "trained"
