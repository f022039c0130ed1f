"""A long search stays alive and obedient: it reports, and honours a cancel, every `max_batch` new points -
a large grid included - and an attempt the reaper marked dead writes nothing more."""

import pytest

from backtesting_app.engine.optimize import BudgetExhausted, SearchState, optimize_grid, parse_constraints
from backtesting_app.models import OptimizationRun
from backtesting_app.tasks import optimization_run_execute
from forexgpt_site.jobs import JobStatus
from tests.backtesting_app.test_optimization_platform import _start, bars  # noqa: F401 (the fixture)
from tests.backtesting_app.test_optimizer import problem  # noqa: F401 (the fixture)


def _grid_state(problem, budget, **kw):
    from backtesting_app.engine.optimize import InProcessEvaluator, default_space

    return SearchState(
        default_space(),
        ["return", "drawdown", "sharpe"],
        parse_constraints({}),
        InProcessEvaluator(problem),
        budget,
        **kw,
    )


def test_a_large_grid_reports_every_slice_and_stops_between_slices(problem):  # noqa: F811
    reports = []
    state = _grid_state(
        problem, 250, max_batch=40, on_batch=lambda records, s: reports.append((len(records), len(s.records)))
    )
    optimize_grid(state, 4)  # 4^5 = 1,024 grid points, 250 within the budget
    assert reports == [(40, 40 * k) for k in range(1, 7)] + [(10, 250)]
    assert len(state.hv_history) == 1  # one hypervolume per batch: it ranks every record

    seen = []
    stopping = _grid_state(
        problem,
        250,
        max_batch=40,
        on_batch=lambda records, s: seen.append(len(s.records)),
        should_stop=lambda: len(seen) >= 2,
    )
    with pytest.raises(BudgetExhausted, match="stopped"):
        optimize_grid(stopping, 4)
    assert seen == [40, 80] and len(stopping.records) == 80  # stopped after the second slice, not at the batch's end


@pytest.mark.django_db
def test_an_attempt_reaped_while_it_searches_writes_nothing_more(bars, user, monkeypatch, settings):  # noqa: F811
    from backtesting_app.services import optimizations

    run = _start(user, budget=120, method="grid")
    calls = []

    class ReapedMidway(optimizations.InProcessEvaluator):
        def __call__(self, batch):
            calls.append(len(batch))
            if len(calls) == 2:  # the reaper marks the run dead while its second slice is computed
                OptimizationRun.objects.filter(pk=run.pk).update(status=JobStatus.FAILED, error="worker lost")
            return super().__call__(batch)

    monkeypatch.setattr(optimizations, "InProcessEvaluator", ReapedMidway)
    settings.FOREXGPT_OPTIMIZATION_BATCH = 50
    assert optimization_run_execute(run.pk) == JobStatus.FAILED
    run.refresh_from_db()
    assert len(calls) == 2 and run.results.count() == 50  # the first slice only: the second was never written
    assert run.error == "worker lost" and run.progress < 1 and not run.front.exists() and run.evidence is None


@pytest.mark.django_db
def test_a_cancel_during_a_large_grid_takes_effect_at_the_next_slice(bars, user, monkeypatch, settings):  # noqa: F811
    from backtesting_app.services import optimizations

    run = _start(user, budget=120, method="grid")
    calls = []

    class CancelledMidway(optimizations.InProcessEvaluator):
        def __call__(self, batch):
            calls.append(len(batch))
            if len(calls) == 1:
                OptimizationRun.objects.filter(pk=run.pk).update(cancel_requested=True)
            return super().__call__(batch)

    monkeypatch.setattr(optimizations, "InProcessEvaluator", CancelledMidway)
    settings.FOREXGPT_OPTIMIZATION_BATCH = 50
    assert optimization_run_execute(run.pk) == JobStatus.CANCELLED
    run.refresh_from_db()
    assert calls == [50] and run.results.count() == 50  # the slice in hand is kept (a resume skips it), no other starts
