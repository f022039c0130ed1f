"""Optimization runs: validate, queue, search (in-process, a process pool, or django-q2 chunks),
persist every evaluation once, resume from stored results, rank the front, walk forward."""

from __future__ import annotations

import json
import os
import socket
import time
from collections import defaultdict
from dataclasses import replace
from functools import lru_cache

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from backtesting_app.engine import align_forecasts, momentum_forecasts, run_backtest
from backtesting_app.engine.optimize import (
    REFERENCE_POINT,
    BacktestProblem,
    HybridOptimizer,
    InProcessEvaluator,
    ParameterSpace,
    PoolEvaluator,
    Record,
    SearchState,
    bars_range,
    model_value,
    objective_vector,
    optimize_grid,
    optimize_nsga2,
    parse_constraints,
    pick_point,
    selection_statistics,
    split_holdout,
    walk_forward,
)
from backtesting_app.models import OptimizationChunk, OptimizationResult, OptimizationRun, ParetoFront
from backtesting_app.request import OptimizationRequest
from forexgpt_site.errors import DomainError, domain_errors
from forexgpt_site.jobs import JobContext, JobStatus, JobSuperseded, job_enqueue, request_of

from .backtests import backtest_prepare, forecasts_of_run, keep_forecasts, request_forecasts, stats_dict


def run_space(run: OptimizationRun) -> ParameterSpace:
    """The space a stored run searches (checked when it was started). Parsed once per task; the
    parsed space is passed down to what needs it."""
    return request_of(run).parameter_space


def build_problem(run: OptimizationRun, space: ParameterSpace) -> BacktestProblem:
    """The run's bars, forecasts, costs and fixed parameters."""
    request = request_of(run)
    prep = backtest_prepare(request.backtest(space.middle()), forecasts_of_run(run))
    return BacktestProblem(
        prep["ohlc"],
        prep["strategy"],
        prep["costs"],
        pred_return=prep["pred_return"],
        confidence=prep["confidence"],
        fixed=request.fixed_params,
    )


def search_problem(run: OptimizationRun, space: ParameterSpace) -> BacktestProblem:
    """The bars the run's search sees: its range less the held-out tail."""
    return split_holdout(build_problem(run, space), request_of(run).holdout)[0]


def walk_forward_sizes(bars: int, walk: dict) -> dict:
    """A walk-forward spec with its window sizes: as given, or fitted to the range - five rolling
    windows, each optimizing on 3/8 of the bars and testing on the next 1/8."""
    if walk.get("in_sample") is not None:
        return walk
    out_of_sample = max(10, bars // 8)
    return {**walk, "in_sample": max(50, bars - 5 * out_of_sample), "out_of_sample": out_of_sample}


@domain_errors()  # what the engines refuse for this request's data is a refusal too
def optimization_run_start(*, user, request: OptimizationRequest, upload=None, enqueue: bool = True) -> OptimizationRun:
    """Check the whole request (its search settings were checked when it was made; here the bars, the
    forecast coverage, the machine's cores), store the run and queue it (`enqueue=False`: the caller
    runs it in-process, as the command does). `upload` is the forecasts CSV of source `csv`. Only the
    insert is a transaction: loading and aligning the bars happens before it."""
    max_workers = os.cpu_count() or 1
    if request.workers > max_workers:
        raise DomainError(
            f"workers must be between 0 (all cores) and this machine's {max_workers} cores, not {request.workers}"
        )
    backtest, forecasts = request_forecasts(request.backtest(), upload)
    if backtest.forecast_set != request.forecast_set:
        request = request.with_forecast_set(backtest.forecast_set)
    prep = backtest_prepare(backtest, forecasts)
    split_holdout(
        BacktestProblem(
            prep["ohlc"],
            backtest.strategy,
            prep["costs"],
            pred_return=prep["pred_return"],
            confidence=prep["confidence"],
        ),
        request.holdout,
    )  # both parts long enough
    walk = walk_forward_sizes(len(prep["ohlc"]), request.walk_forward) if request.walk_forward else None
    if walk and walk["in_sample"] + walk["out_of_sample"] > len(prep["ohlc"]):
        raise DomainError(
            f"{len(prep['ohlc'])} bars are too few for one walk-forward window of "
            f"{walk['in_sample']} + {walk['out_of_sample']} bars"
        )
    run = OptimizationRun.of_request(
        replace(request, walk_forward=walk),
        owner=user if getattr(user, "is_authenticated", False) else None,
        reference_point=[REFERENCE_POINT[o] for o in request.objectives],
    )
    keep_forecasts(run, upload, request.forecast_set)
    with transaction.atomic():
        run.save()
        if enqueue:
            job_enqueue(run)
    return run


def _key(x) -> str:
    return json.dumps([round(v, 12) for v in x])


def _stored_records(run: OptimizationRun) -> list[Record]:
    return [
        Record(tuple(json.loads(r.key)), r.params, r.metrics, r.phase, r.generation) for r in run.results.order_by("id")
    ]


def worker_id() -> str:
    """host:parent pid:pid - the parent is the qcluster's sentinel, so chunks show which cluster ran them."""
    return f"{socket.gethostname()}:{os.getppid()}:{os.getpid()}"


class DistributedEvaluator:
    """Splits each batch into chunks, queues them as django-q2 tasks (any qcluster on any machine may
    take them) and waits for all to finish. The coordinator only waits; workers evaluate."""

    def __init__(
        self,
        run: OptimizationRun,
        *,
        ctx: JobContext | None = None,
        chunk_size: int | None = None,
        poll_s: float = 0.1,
        timeout_s: float = 3600,
    ):
        self.run, self.ctx, self.poll_s, self.timeout_s = run, ctx, poll_s, timeout_s
        self.chunk_size = chunk_size or settings.FOREXGPT_OPTIMIZATION_CHUNK_SIZE
        last = run.chunks.order_by("-batch").values_list("batch", flat=True).first()
        self.batch = last or 0

    def __call__(self, batch: list[dict]) -> list[dict]:
        from django_q.tasks import async_task

        self.batch += 1
        chunks = [
            OptimizationChunk.objects.create(
                run=self.run, batch=self.batch, index=i, params=batch[s : s + self.chunk_size]
            )
            for i, s in enumerate(range(0, len(batch), self.chunk_size))
        ]
        for chunk in chunks:
            async_task(
                "backtesting_app.tasks.optimization_chunk_execute",
                chunk.pk,
                q_options={"task_name": f"optimization:{self.run.pk}:{self.batch}:{chunk.index}"},
            )
        deadline = time.monotonic() + self.timeout_s
        ids = [c.pk for c in chunks]
        beat = 0.0
        while OptimizationChunk.objects.filter(pk__in=ids, done=False).exists():
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"chunks of batch {self.batch} did not finish within {self.timeout_s:.0f} s: are workers running?"
                )
            if self.ctx is not None:
                self.ctx.check_cancelled()  # a cancel, or its worker stopping (SIGTERM)
            if time.monotonic() - beat > 10:  # waiting is work: keep the run from looking dead
                OptimizationRun.objects.filter(pk=self.run.pk).update(heartbeat_at=timezone.now())
                beat = time.monotonic()
            time.sleep(self.poll_s)
        done = OptimizationChunk.objects.filter(pk__in=ids).order_by("index")
        failed = next((c for c in done if c.error), None)
        if failed is not None:
            raise RuntimeError(f"chunk {failed.index} of batch {self.batch} failed on {failed.worker}: {failed.error}")
        self.chunk_workers = {c.index: c.worker for c in done}
        return [m for c in done for m in c.metrics]


PROBLEMS_KEPT = 4  # problems a worker process keeps loaded: those of the runs whose chunks it took last


@lru_cache(maxsize=PROBLEMS_KEPT)
def _problem_of_run(run_id: int) -> BacktestProblem:
    """One load per worker process and run (a failed load is not kept: the next chunk tries again)."""
    run = OptimizationRun.objects.get(pk=run_id)
    return search_problem(run, run_space(run))


def optimization_chunk_evaluate(chunk_id: int) -> str:
    """Evaluate one chunk (a django-q2 task). Repeated delivery is harmless: a done chunk is skipped."""
    chunk = OptimizationChunk.objects.get(pk=chunk_id)
    if chunk.done:
        return "already done"
    try:
        problem = _problem_of_run(chunk.run_id)
        metrics = [problem.evaluate(params) for params in chunk.params]
    except Exception as exc:  # recorded, so the coordinator fails the run now instead of waiting out its timeout
        OptimizationChunk.objects.filter(pk=chunk_id).update(
            error=f"{type(exc).__name__}: {exc}"[:2000], worker=worker_id(), done=True
        )
        raise
    OptimizationChunk.objects.filter(pk=chunk_id).update(metrics=metrics, worker=worker_id(), done=True)
    return f"{len(metrics)} evaluations"


def _evaluator(run: OptimizationRun, problem: BacktestProblem, ctx: JobContext):
    if run.evaluator == "pool":
        return PoolEvaluator(problem, request_of(run).workers or None)
    if run.evaluator == "distributed":
        return DistributedEvaluator(run, ctx=ctx)
    return InProcessEvaluator(problem)


def _persist(run: OptimizationRun, ctx: JobContext | None, evaluator):
    counts = dict(run.phase_counts or {})

    def on_batch(records: list[Record], state: SearchState) -> None:
        # A distributed batch names each chunk's worker; otherwise this process evaluated it (itself or its pool).
        worker = worker_id()
        chunk_workers = evaluator.chunk_workers if isinstance(evaluator, DistributedEvaluator) else None
        rows = []
        for i, r in enumerate(records):
            G = [c.violation(r.metrics) for c in state.constraints]
            who = chunk_workers.get(i // evaluator.chunk_size, "") if chunk_workers else worker
            rows.append(
                OptimizationResult(
                    run=run,
                    key=_key(r.x),
                    params=r.params,
                    metrics=r.metrics,
                    phase=r.phase,
                    generation=r.generation,
                    feasible=all(g <= 0 for g in G),
                    worker=who,
                )
            )
            counts[r.phase] = counts.get(r.phase, 0) + 1
        if ctx:
            ctx.check_attempt()  # an attempt reaped as dead (or resumed by another) writes nothing more
        OptimizationResult.objects.bulk_create(rows, ignore_conflicts=True)
        fields = {"phase_counts": counts, "hv_history": [list(h) for h in state.hv_history], "phase": records[-1].phase}
        if ctx:
            ctx.progress(
                len(state.records) / state.budget,
                f"{records[-1].phase}: {len(state.records)} of {state.budget} evaluations",
                force=True,
                **fields,
            )
        else:
            OptimizationRun.objects.filter(pk=run.pk).update(**fields)

    return on_batch


def optimization_search(
    run: OptimizationRun, problem: BacktestProblem, space: ParameterSpace, *, evaluator, ctx: JobContext | None = None
) -> SearchState:
    """The search itself, resumable: stored results are preloaded and never evaluated again."""
    request = request_of(run)
    state = SearchState(
        space,
        list(request.objectives),
        parse_constraints(request.constraints),
        evaluator,
        request.budget,
        on_batch=_persist(run, ctx, evaluator),
        max_batch=max(1, settings.FOREXGPT_OPTIMIZATION_BATCH),
    )
    state.preload(_stored_records(run))
    if request.method == "grid":
        divisions = 2
        while len(space.grid(divisions + 1)) <= request.budget and divisions < 1000:
            divisions += 1
        optimize_grid(state, divisions)
    elif request.method == "nsga2":
        optimize_nsga2(state, seed=request.seed)
    else:
        HybridOptimizer(seed=request.seed).run(state)
    return state


def front_reruns(front: list[tuple], limit: int) -> set[int]:
    """Which of the front's points (row, crowding distance) are re-run on the reference engine: at most
    `limit`, by crowding distance - each objective's extremes (infinite) first, then the most isolated,
    so the re-run points span the front."""
    order = sorted(range(len(front)), key=lambda i: -front[i][1])
    return set(order[: max(0, limit)])


AttemptSuperseded = JobSuperseded  # this attempt's run no longer runs under it (reaped as dead, or resumed)


def _store_front(
    run: OptimizationRun, state: SearchState, problem: BacktestProblem, ctx: JobContext | None = None
) -> int:
    """Rank every result and store the front, with full reference-engine stats for at most
    FOREXGPT_FRONT_RERUNS of its points (`front_reruns`); returns the front's size.

    The re-runs (seconds a point) come first, outside any transaction: SQLite has one write lock, and
    holding it that long fails every other writer. Between points, progress (the heartbeat) and
    cancellation are checked; a cancelled run keeps its results and writes no ranks, so a resume
    redoes this step. The write happens only while the run is still this attempt's (not reaped)."""
    request = request_of(run)
    rank, crowd = state.ranks()
    by_key = {r.key: r for r in run.results.all()}
    rows = []
    for record, k, d in zip(state.records, rank, crowd):
        row = by_key.get(_key(record.x))
        if row is not None:
            row.rank = int(k)
            rows.append((row, d))
    # Parameter sets with the same objective vector are one front point (the first found stands for
    # them; the summary lists the others): the front's size and its re-runs count each vector once.
    distinct = {}
    for row, d in rows:
        if row.rank == 0 and row.feasible:
            distinct.setdefault(objective_vector(row.metrics, request.objectives), (row, d))
    front = list(distinct.values())
    chosen = front_reruns(front, settings.FOREXGPT_FRONT_RERUNS)
    for n, i in enumerate(sorted(chosen)):  # the re-run on the reference engine, full stats stored
        row = front[i][0]
        message = f"re-running front point {n + 1} of {len(chosen)} on the reference engine (front of {len(front)})"
        if ctx and not ctx.progress(0.97 + 0.01 * n / len(chosen), message):
            ctx.check_cancelled()  # progress writes are throttled; the cancel check is not
        # the engine checks the point (the request checked every point its space reaches)
        result = run_backtest(
            problem.ohlc,
            run.strategy,
            {**request.fixed_params, **row.params},
            problem.costs,
            pred_return=problem.pred,
            confidence=problem.conf,
            engine="reference",
        )
        row.stats = stats_dict(result.stats)
    for i, (row, _) in enumerate(front):
        if i not in chosen:
            row.stats = None  # not re-run: the page shows its fast-engine metrics, marked as such
    if ctx:
        ctx.check_cancelled()
    with transaction.atomic():
        still_mine = (
            OptimizationRun.objects.select_for_update()
            .filter(pk=run.pk, status=JobStatus.RUNNING, started_at=run.started_at)
            .exists()
        )
        if not still_mine:
            raise AttemptSuperseded(
                f"optimization {run.pk} is no longer running under this attempt (reaped as dead or "
                "resumed): its front was not written"
            )
        _write_ranks(rows)
        ParetoFront.objects.filter(run=run).delete()
        OptimizationResult.objects.bulk_update([row for row, _ in front], ["stats"])
        ParetoFront.objects.bulk_create(
            [
                ParetoFront(run=run, result=row, rank=0, crowding_distance=None if d == float("inf") else float(d))
                for row, d in front
            ]
        )
    return len(front)


RANK_IDS_PER_UPDATE = 10_000  # under SQLite's 32,766 bound parameters a statement


def _write_ranks(rows: list[tuple]) -> None:
    """One UPDATE per rank (and per RANK_IDS_PER_UPDATE rows): bulk_update's CASE WHEN per row is
    built in Python at ~7,000 rows/s, and its transaction, which holds the run's row lock, sat
    'idle in transaction' for minutes on a large run; this writes ~70,000 rows/s on PostgreSQL."""
    by_rank = defaultdict(list)
    for row, _ in rows:
        by_rank[row.rank].append(row.pk)
    for rank, ids in by_rank.items():
        for start in range(0, len(ids), RANK_IDS_PER_UPDATE):
            OptimizationResult.objects.filter(pk__in=ids[start : start + RANK_IDS_PER_UPDATE]).update(rank=rank)


def _baseline_arrays(problem: BacktestProblem, part: BacktestProblem) -> tuple[np.ndarray, np.ndarray]:
    """The momentum baseline's forecasts on `part`'s bars, computed on the whole range (so the held-out
    tail's first forecasts have their history)."""
    pred, conf = align_forecasts(problem.ohlc, momentum_forecasts(problem.ohlc))
    at = problem.ohlc.index.get_loc(part.ohlc.index[0])
    return pred[at : at + len(part.ohlc)], conf[at : at + len(part.ohlc)]


def _store_evidence(
    run: OptimizationRun,
    state: SearchState,
    problem: BacktestProblem,
    search: BacktestProblem,
    held: BacktestProblem | None,
    ctx: JobContext,
) -> dict:
    """The front re-run on the held-out tail, the chosen point (the front's best Sharpe, the walk-forward's
    rule), the statistics of choosing it among every tried set, and what its forecasts add over the
    baseline's and over random entries - on the held-out tail when there is one. Written only while the
    run is still this attempt's."""
    request = request_of(run)
    front = list(OptimizationResult.objects.filter(run=run, front_entry__isnull=False).order_by("id"))
    if held is not None:
        ctx.progress(0.985, f"re-running {len(front)} front points on the held-out tail", force=True)
        for row in front:
            row.holdout_metrics = held.evaluate(row.params)
    evidence = {
        "search": bars_range(search),
        "holdout": bars_range(held) if held is not None else None,
        "holdout_share": request.holdout,
        "chosen": None,
        "selection": None,
        "model_value": None,
    }
    chosen = pick_point(state, "max_sharpe")
    if chosen is not None:
        row = next((r for r in front if r.key == _key(chosen.x)), None)
        evidence["chosen"] = {
            "rule": "max_sharpe",
            "result_id": row.pk if row else None,
            "params": chosen.params,
            "in_sample": chosen.metrics,
            "holdout": row.holdout_metrics if row else None,
        }
        ctx.progress(0.99, f"overfitting statistics over {len(state.records)} tried parameter sets", force=True)
        params = [r.params for r in state.records]
        evidence["selection"] = selection_statistics(search, params, state.records.index(chosen), seed=request.seed)
        ctx.check_cancelled()
        if search.pred is not None:
            part = held if held is not None else search
            baseline = None if run.forecasts_source == "baseline" else _baseline_arrays(problem, part)
            ctx.progress(0.995, "the chosen point against the baseline and random entries", force=True)
            evidence["model_value"] = model_value(part, chosen.params, baseline=baseline, seed=request.seed) | {
                "part": "holdout" if held is not None else "search"
            }
    with transaction.atomic():
        if not OptimizationRun.objects.filter(pk=run.pk, status=JobStatus.RUNNING, started_at=run.started_at).update(
            evidence=evidence
        ):
            raise AttemptSuperseded(
                f"optimization {run.pk} is no longer running under this attempt: its evidence was not written"
            )
        OptimizationResult.objects.bulk_update(front, ["holdout_metrics"])
    return evidence


def optimization_run_work(run: OptimizationRun, ctx: JobContext) -> str:
    ctx.progress(0.0, "loading bars and forecasts", force=True)
    request = request_of(run)
    space = request.parameter_space
    problem = build_problem(run, space)
    search, held = split_holdout(problem, request.holdout)
    evaluator = _evaluator(run, search, ctx)
    try:
        state = optimization_search(run, search, space, evaluator=evaluator, ctx=ctx)
        ctx.progress(0.97, "re-running the front on the reference engine", force=True)
        n_front = _store_front(run, state, search, ctx)
        evidence = _store_evidence(run, state, problem, search, held, ctx)
        if request.walk_forward:
            spec = request.walk_forward
            result = walk_forward(
                problem,
                space,
                request.objectives,
                state.constraints,
                in_sample=int(spec["in_sample"]),
                out_of_sample=int(spec["out_of_sample"]),
                budget=max(50, request.budget // 4),
                rule=spec.get("rule", "max_sharpe"),
                seed=request.seed,
                on_window=lambda k, w: ctx.progress(0.98, f"walk-forward window {k}", force=True),
            )
            OptimizationRun.objects.filter(pk=run.pk).update(walk_forward_result=result)
    finally:
        if isinstance(evaluator, PoolEvaluator):
            evaluator.close()
    hv = state.hv_history[-1][1] if state.hv_history else state.hypervolume()
    reran = min(n_front, max(0, settings.FOREXGPT_FRONT_RERUNS))
    message = (
        f"{len(state.records)} evaluations ({state.evaluations} new), front of {n_front} ({reran} re-run on the "
        f"reference engine), hypervolume {hv:,.0f}"
    )
    chosen, selection = evidence["chosen"], evidence["selection"]
    if chosen and chosen["holdout"]:
        message += f"; best Sharpe point: {chosen['holdout']['return_pct']:+.2f}% on the held-out tail"
    if selection:
        message += f", deflated Sharpe {selection['dsr']['dsr']:.2f}" if selection["dsr"].get("dsr") is not None else ""
        message += f", PBO {selection['pbo']['pbo']:.2f}" if selection["pbo"].get("pbo") is not None else ""
    return message
