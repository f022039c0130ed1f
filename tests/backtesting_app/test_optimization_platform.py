import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from backtesting_app import services
from backtesting_app.models import BacktestRun, OptimizationChunk, OptimizationResult, OptimizationRun, ParetoFront
from backtesting_app.request import OptimizationRequest
from backtesting_app.tasks import optimization_run_execute
from forexgpt_site.jobs import job_requeue
from tests.conftest import qcluster_running, start_qcluster, stop_qcluster, wait_for

SPACE = {
    "entry_threshold": {"low": 0.0, "high": 0.002, "step": 0.0002},
    "stop_loss_pct": {"low": 0.002, "high": 0.01, "step": 0.001},
    "take_profit_pct": {"low": 0.002, "high": 0.015, "step": 0.001},
    "max_hold_bars": {"kind": "int", "low": 2, "high": 30, "step": 1},
}
FIXED = {"confidence_threshold": 0.3}
ALL = {
    "entry_threshold": 0.0005,
    "confidence_threshold": 0.3,
    "stop_loss_pct": 0.005,
    "take_profit_pct": 0.01,
    "max_hold_bars": 12,
}


@pytest.fixture
def bars(fixture_path):
    from marketdata.request import ImportRequest
    from marketdata.services import candles_import_file

    candles_import_file(source=fixture_path("eurusd_h1.csv"), request=ImportRequest(symbol="EURUSD", timeframe="1h"))


def _request(**kw) -> OptimizationRequest:
    return OptimizationRequest.from_dict(
        {
            "symbol": "EURUSD",
            "timeframe": "1h",
            "space": SPACE,
            "fixed_params": FIXED,
            "budget": 120,
            "seed": 7,
            "constraints": {"min_trades": 10},
            "spread_pips": 0.5,
            **kw,
        }
    )


def _start(user, upload=None, **kw):
    return services.optimization_run_start(user=user, enqueue=False, request=_request(**kw), upload=upload)


def _front_keys(run):
    return sorted(r.key for r in OptimizationResult.objects.filter(run=run, rank=0, feasible=True))


@pytest.mark.django_db
def test_command_runs_and_stores_everything(bars, capsys):
    call_command(
        "optimize",
        "--symbol",
        "EURUSD",
        "--timeframe",
        "1h",
        "--space",
        json.dumps(SPACE),
        "--fixed",
        json.dumps(FIXED),
        "--budget",
        "80",
        "--constraints",
        json.dumps({"min_trades": 10, "max_drawdown_pct": 5}),
        "--seed",
        "3",
        "--json",
    )
    out = json.loads(capsys.readouterr().out)
    run = OptimizationRun.objects.get()
    assert out["status"] == "succeeded" and out["evaluations"] == run.results.count() <= 80
    assert (
        set(out["phase_counts"]) == {"grid", "nsga2", "local"}
        and sum(out["phase_counts"].values()) == out["evaluations"]
    )
    assert out["front"] and ParetoFront.objects.filter(run=run).count() == len(out["front"])
    for point in out["front"]:  # every stored front point satisfies the constraints, on the reference engine too
        assert point["metrics"]["n_trades"] >= 10 and point["metrics"]["max_drawdown_pct"] <= 5
        assert point["reference"]["# Trades"] == point["metrics"]["n_trades"]
        assert point["reference"]["Max. Drawdown [%]"] == pytest.approx(point["metrics"]["max_drawdown_pct"])
    assert [h[1] for h in run.hv_history] == sorted(h[1] for h in run.hv_history)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "args, message",
    [
        (["--space", json.dumps({"stop_loss_pct": {"low": 0.02, "high": 0.01}})], "stop_loss_pct: empty range"),
        (
            ["--space", json.dumps({"stop_loss_pct": {"low": 0.01, "high": 0.02, "step": 0.5}})],
            "step 0.5 is larger than the range",
        ),
        (["--space", json.dumps({"lot_size": {"low": 1, "high": 2}})], "unknown parameter 'lot_size'"),
        (["--objectives", "return,happiness"], "unknown objective\\(s\\) happiness"),
        (["--constraints", json.dumps({"min_luck": 3})], "unknown constraint 'min_luck'"),
        (["--budget", "3"], "budget must be a whole number from 10 to 1,000,000"),
        (["--walk-forward", "4000"], "--walk-forward takes IN_SAMPLE,OUT_OF_SAMPLE"),
    ],
)
def test_bad_requests_are_refused(bars, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("optimize", "--symbol", "EURUSD", "--timeframe", "1h", *args)
    assert OptimizationRun.objects.count() == 0


@pytest.mark.django_db
def test_a_run_whose_worker_died_resumes_without_re_evaluating(bars, user, monkeypatch):
    from backtesting_app.engine.optimize import InProcessEvaluator
    from backtesting_app.services import optimizations

    reference = _start(user)
    assert optimization_run_execute(reference.pk) == "succeeded"

    asked = []

    class Dying(InProcessEvaluator):
        def __call__(self, batch):
            if len(asked) >= 50:
                raise MemoryError("the worker was killed")
            asked.extend(json.dumps(p, sort_keys=True) for p in batch)
            return super().__call__(batch)

    monkeypatch.setattr(optimizations, "InProcessEvaluator", Dying)
    run = _start(user)
    assert optimization_run_execute(run.pk) == "failed"
    stored = run.results.count()
    assert 0 < stored == len(asked) < 120

    class Counting(InProcessEvaluator):
        def __call__(self, batch):
            asked.extend(json.dumps(p, sort_keys=True) for p in batch)
            return super().__call__(batch)

    monkeypatch.setattr(optimizations, "InProcessEvaluator", Counting)
    job_requeue(run=run, user=user, message=OptimizationRun.resume_message)  # what POST .../resume/ does
    assert optimization_run_execute(run.pk) == "succeeded"
    assert len(asked) == len(set(asked)) == run.results.count()  # nothing evaluated twice
    assert sorted(run.results.values_list("key", flat=True)) == sorted(reference.results.values_list("key", flat=True))
    assert _front_keys(run) == _front_keys(reference)


@pytest.mark.django_db
def test_api_and_pages(api_client, logged_in_client, bars, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        response = api_client.post(
            "/api/optimizations/",
            {
                "symbol": "EURUSD",
                "timeframe": "1h",
                "space": SPACE,
                "fixed_params": FIXED,
                "budget": 60,
                "constraints": {"min_trades": 5},
                "method": "nsga2",
            },
            format="json",
        )
    assert response.status_code == 202, response.json()
    run_id = response.json()["id"]
    assert optimization_run_execute(run_id) == "succeeded"
    front = api_client.get(f"/api/optimizations/{run_id}/front/").json()
    results = api_client.get(f"/api/optimizations/{run_id}/results/", {"limit": 500}).json()
    assert results["count"] <= 60 and front and all(p["metrics"]["n_trades"] >= 5 for p in front)
    assert api_client.post(f"/api/optimizations/{run_id}/resume/").status_code == 400  # it succeeded: nothing to resume
    bad = api_client.post(
        "/api/optimizations/",
        {"symbol": "EURUSD", "timeframe": "1h", "space": {"max_hold_bars": {"low": 9, "high": 2}}},
        format="json",
    )
    assert bad.status_code == 400 and "empty range" in bad.json()["detail"]
    shown = api_client.get(f"/api/optimizations/{run_id}/").json()
    assert shown["objectives"] == ["return", "drawdown", "sharpe"]
    fields = ("symbol", "timeframe", "space", "fixed_params", "objectives", "constraints", "budget", "method")
    with django_capture_on_commit_callbacks(execute=False):
        again = api_client.post("/api/optimizations/", {k: shown[k] for k in fields}, format="json")
    assert again.status_code == 202, again.json()  # a run as the API shows it is a request it takes
    assert OptimizationRun.objects.get(pk=again.json()["id"]).request["objectives"] == shown["objectives"]
    not_names = api_client.post(
        "/api/optimizations/", {**{k: shown[k] for k in fields}, "objectives": [1]}, format="json"
    )
    assert not_names.status_code == 400 and "must be a list of names" in str(not_names.json())

    page = logged_in_client.get(f"/optimizations/runs/{run_id}/").content.decode()
    for marker in (
        'id="projections-figure"',
        'id="scatter3d-figure"',
        'id="parallel-figure"',
        'id="hv-chart-figure"',
        'id="front-table"',
    ):
        assert marker in page, marker
    with django_capture_on_commit_callbacks(execute=False):
        opened = logged_in_client.post(f"/optimizations/runs/{run_id}/results/{front[0]['id']}/backtest/")
    backtest = BacktestRun.objects.get()
    assert opened["Location"] == f"/backtests/runs/{backtest.pk}/"
    assert backtest.request["params"] == {**FIXED, **front[0]["params"]} and backtest.engine == "reference"
    assert logged_in_client.get("/optimizations/").status_code == 200


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_qcluster_processes_share_the_chunks_and_match_the_in_process_run(bars, user, tmp_path):
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    extra = {"FOREXGPT_OPTIMIZATION_CHUNK_SIZE": "4"}
    clusters = [start_qcluster(log, workers=2, extra_env=extra) for log in logs]
    try:
        # Both up before the run starts: on a loaded machine one cluster took every chunk before the other ran.
        assert wait_for(lambda: all(qcluster_running(log) for log in logs), timeout=120)
        distributed = services.optimization_run_start(
            user=user, request=_request(budget=100, seed=11, evaluator="distributed")
        )

        def finished():
            distributed.refresh_from_db()
            return distributed.is_finished

        assert wait_for(finished, timeout=240), distributed.message
        assert distributed.status == "succeeded", distributed.error
    finally:
        for proc, log in zip(clusters, logs):
            stop_qcluster(proc, log)
    chunks = OptimizationChunk.objects.filter(run=distributed)
    cluster_pids = {c.worker.split(":")[1] for c in chunks}
    assert chunks.count() > 10 and all(c.done for c in chunks)
    assert len(cluster_pids) == 2, cluster_pids  # chunks taken by both qcluster processes
    local = services.optimization_run_start(user=user, request=_request(budget=100, seed=11), enqueue=False)
    assert optimization_run_execute(local.pk) == "succeeded"
    as_dict = lambda run: {r.key: r.metrics for r in run.results.all()}  # noqa: E731
    assert as_dict(distributed) == as_dict(local)
    assert _front_keys(distributed) == _front_keys(local)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body, message",
    [
        ({"seed": -1}, "seed must be a whole number from 0"),
        ({"bugdet": 60}, "unknown field(s) bugdet; known: artifact, budget, cash,"),
        (
            {"walk_forward": {"in_sample": 10, "out_of_sample": 100}},
            "walk-forward in_sample must be a whole number of bars",
        ),
        ({"walk_forward": {"in_sample": 400}}, "needs both in_sample and out_of_sample, or neither"),
        ({"walk_forward": {"in_sample": 100000, "out_of_sample": 100}}, "bars are too few for one walk-forward window"),
        (
            {"space": {"stop_loss_pct": {"low": 0, "high": 0.01}}, "fixed_params": {**ALL, "stop_loss_pct": None}},
            "the space reaches invalid parameters: stop_loss_pct",
        ),
        (
            {
                "space": {"confidence_threshold": {"low": 0, "high": 1.5}},
                "fixed_params": {**ALL, "confidence_threshold": None},
            },
            "the space reaches invalid parameters: confidence_threshold",
        ),
        ({"space": 5}, "the space must be an object"),
        ({"space": {"stop_loss_pct": 5}}, "stop_loss_pct: give an object"),
        ({"constraints": [1]}, "constraints must be a JSON object"),
        ({"fixed_params": [1]}, "fixed_params must be a JSON object"),
        ({"walk_forward": [1]}, "walk_forward must be a JSON object"),
        ({"evaluator": "pool", "workers": 4000}, "workers must be between 0"),
        ({"evaluator": "pool", "workers": 100000}, "workers must be a whole number from 0 to 4,096"),
    ],
)
def test_bad_optimization_requests_are_400s_before_anything_runs(api_client, bars, body, message):
    if "fixed_params" in body and isinstance(body["fixed_params"], dict):
        body = {**body, "fixed_params": {k: v for k, v in body["fixed_params"].items() if v is not None}}
    response = api_client.post(
        "/api/optimizations/", {"symbol": "EURUSD", "timeframe": "1h", "budget": 50, **body}, format="json"
    )
    assert response.status_code == 400 and message in response.json()["detail"], response.json()
    assert OptimizationRun.objects.count() == 0


@pytest.mark.django_db
def test_a_failing_chunk_fails_the_distributed_run_at_once(bars, user, monkeypatch):
    import io

    import django_q.tasks

    from backtesting_app.engine import momentum_forecasts
    from backtesting_app.services import load_bars

    csv = momentum_forecasts(load_bars(symbol="EURUSD", timeframe="1h")).to_csv(index=False).encode()
    upload = io.BytesIO(csv)
    upload.name = "f.csv"
    run = _start(user, evaluator="distributed", forecasts_source="csv", upload=upload)
    from backtesting_app.services import optimizations

    def on_another_machine(func, chunk_id, **kw):
        """A worker that cannot see the coordinator's disk: the forecasts file is not there."""
        optimizations._problem_of_run.cache_clear()
        if run.forecasts.storage.exists(run.forecasts.name):
            run.forecasts.storage.delete(run.forecasts.name)
        try:
            services.optimization_chunk_evaluate(chunk_id)
        except FileNotFoundError:
            pass  # django-q2 records the task failure; the chunk row records it for the coordinator

    monkeypatch.setattr(django_q.tasks, "async_task", on_another_machine)
    assert optimization_run_execute(run.pk) == "failed"
    run.refresh_from_db()
    assert "failed on" in run.error and "FileNotFoundError" in run.error
    assert OptimizationChunk.objects.filter(run=run, error__startswith="FileNotFoundError").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("evaluator", ["inprocess", "pool", "distributed"])
def test_every_evaluator_stores_the_engine_s_metrics_and_the_front(bars, user, evaluator, monkeypatch):
    import django_q.tasks

    from backtesting_app.services import optimizations

    if evaluator == "distributed":  # the chunks run inline; a real qcluster is the slow test above
        monkeypatch.setattr(
            django_q.tasks, "async_task", lambda func, chunk_id, **kw: services.optimization_chunk_evaluate(chunk_id)
        )
    run = _start(user, budget=60, evaluator=evaluator, workers=2 if evaluator == "pool" else 0)
    assert optimization_run_execute(run.pk) == "succeeded", OptimizationRun.objects.get(pk=run.pk).error
    run.refresh_from_db()
    problem = services.search_problem(run, services.run_space(run))  # the bars the search saw: the range less its tail
    results = list(run.results.all())
    assert len(results) == sum(run.phase_counts.values()) == 60
    for row in results:  # what was stored is what the engine computes for those parameters
        assert row.metrics == pytest.approx(problem.evaluate(row.params)), row.params
    assert {r.worker for r in results} == {optimizations.worker_id()}  # this process (coordinator, or inline chunks)
    front = ParetoFront.objects.filter(run=run).select_related("result")
    assert front and all(
        p.result.rank == 0 and p.result.stats["# Trades"] == p.result.metrics["n_trades"] for p in front
    )
    if evaluator == "distributed":
        assert OptimizationChunk.objects.filter(run=run, done=True).count() > 1


@pytest.mark.django_db
def test_a_chunk_worker_keeps_the_problems_of_its_last_runs_only(bars, user, monkeypatch):
    from backtesting_app.services import optimizations

    built = []
    monkeypatch.setattr(
        optimizations, "search_problem", lambda run, space: built.append(run.pk) or f"problem of {run.pk}"
    )
    optimizations._problem_of_run.cache_clear()
    try:
        runs = [_start(user, budget=10).pk for _ in range(optimizations.PROBLEMS_KEPT + 1)]
        for run_id in runs + runs[-1:]:
            assert optimizations._problem_of_run(run_id) == f"problem of {run_id}"
        assert built == runs  # the last run's second chunk found its problem loaded
        assert optimizations._problem_of_run.cache_info().currsize == optimizations.PROBLEMS_KEPT
        optimizations._problem_of_run(runs[0])
        assert built == runs + runs[:1]  # the oldest had been let go: loaded again
    finally:
        optimizations._problem_of_run.cache_clear()  # no stand-in problem outlives the test


@pytest.mark.django_db
def test_parameter_sets_with_equal_objectives_are_one_front_point(bars, user):
    """A front once listed three rows of 2.139% / 0.846% / 4.535 / 45 trades that differed only in
    parameters that changed nothing. max_hold_bars beyond every trade's life changes nothing here."""
    space = {
        "max_hold_bars": {"kind": "int", "low": 400, "high": 410, "step": 1},
        "stop_loss_pct": {"low": 0.004, "high": 0.006, "step": 0.001},
    }
    run = _start(
        user,
        space=space,
        fixed_params={"entry_threshold": 0.0, "confidence_threshold": 0.0, "take_profit_pct": 0.004},
        method="grid",
        budget=33,
        constraints={},
    )
    assert optimization_run_execute(run.pk) == "succeeded", OptimizationRun.objects.get(pk=run.pk).error
    from backtesting_app.selectors import optimization_summary

    summary = optimization_summary(run)
    vectors = [
        tuple(round(p["metrics"][k], 10) for k in ("return_pct", "max_drawdown_pct", "sharpe"))
        for p in summary["front"]
    ]
    assert len(vectors) == len(set(vectors)) == ParetoFront.objects.filter(run=run).count()  # each vector once
    assert any(p["parameter_sets"] > 1 for p in summary["front"])  # ... with the sets that reach it
    for p in summary["front"]:
        assert len(p["equivalent"]) == p["parameter_sets"] - 1 and p["params"] not in p["equivalent"]
    assert f"front of {len(vectors)} (" in OptimizationRun.objects.get(pk=run.pk).message


@pytest.mark.django_db
def test_the_front_re_run_is_bounded_to_its_extremes_and_most_isolated_points(bars, user, settings, logged_in_client):
    from backtesting_app.selectors import optimization_summary

    settings.FOREXGPT_FRONT_RERUNS = 2
    run = _start(user, budget=150)
    assert optimization_run_execute(run.pk) == "succeeded"
    run.refresh_from_db()
    summary = optimization_summary(run)
    front = summary["front"]
    assert len(front) > 2, "the test needs a front larger than the bound"
    rerun = [p for p in front if p["rerun"]]
    assert (
        len(rerun) == summary["front_reruns"] == 2
        and f"front of {len(front)} (2 re-run on the reference engine)" in run.message
    )
    # the re-run points are the ones with infinite crowding distance (each objective's extremes)
    entries = {e.result_id: e.crowding_distance for e in ParetoFront.objects.filter(run=run)}
    assert all(entries[p["id"]] is None for p in rerun)
    assert all(p["reference"]["# Trades"] == p["metrics"]["n_trades"] for p in rerun)
    assert all(p["reference"]["# Trades"] is None for p in front if not p["rerun"])
    page = logged_in_client.get(f"/optimizations/runs/{run.pk}/").content.decode()
    assert f"({len(front)} points, 2 re-run on the reference engine)" in page and ">fast</small>" in page


@pytest.mark.django_db
def test_an_attempt_reaped_while_re_running_its_front_writes_nothing(bars, user, monkeypatch):
    """The reaper marked the run failed (no heartbeat) while this attempt was still re-running its
    front: the attempt finds the run no longer its own and stores no front, and the run stays failed."""
    from django.utils import timezone

    from backtesting_app.services import optimizations

    run = _start(user)
    backtest = optimizations.run_backtest

    def reaped_meanwhile(*args, **kwargs):
        OptimizationRun.objects.filter(pk=run.pk).update(
            status="failed", message="failed: the worker stopped reporting", finished_at=timezone.now()
        )
        return backtest(*args, **kwargs)

    monkeypatch.setattr(optimizations, "run_backtest", reaped_meanwhile)
    assert optimization_run_execute(run.pk) == "failed"
    run.refresh_from_db()
    assert run.status == "failed" and run.message == "failed: the worker stopped reporting"
    assert ParetoFront.objects.filter(run=run).count() == 0
    assert not OptimizationResult.objects.filter(run=run, stats__isnull=False).exists()


@pytest.mark.django_db
def test_a_distributed_wait_ends_on_cancel_and_on_its_worker_stopping(bars, user, monkeypatch):
    """The coordinator waits for chunks no worker takes here; a cancel, or the SIGTERM flag of its own
    worker, ends the wait at the next poll rather than after the chunk timeout."""
    import django_q.tasks

    from backtesting_app.services.optimizations import DistributedEvaluator
    from forexgpt_site import jobs

    monkeypatch.setattr(django_q.tasks, "async_task", lambda *a, **kw: None)  # queued nowhere: no worker will answer
    run = _start(user, evaluator="distributed")
    ctx = jobs.JobContext(run)
    OptimizationRun.objects.filter(pk=run.pk).update(cancel_requested=True)
    with pytest.raises(jobs.JobCancelled):
        DistributedEvaluator(run, ctx=ctx, timeout_s=30)([{"stop_loss_pct": 0.005}])
    OptimizationRun.objects.filter(pk=run.pk).update(cancel_requested=False)
    monkeypatch.setattr(jobs.worker.state, "stop_requested", True)
    with pytest.raises(jobs.JobInterrupted):
        DistributedEvaluator(run, ctx=ctx, timeout_s=30)([{"stop_loss_pct": 0.005}])


@pytest.mark.django_db
def test_the_walk_forward_says_how_many_evaluations_each_window_had(bars, user, logged_in_client):
    """Each window searches with a quarter of the budget, at least 50: beside the run's budget, so the
    page says so (a budget of 40 showed '40 evaluations' while the windows ran 50 each)."""
    from backtesting_app.tasks import optimization_run_execute

    run = _start(user, budget=40, constraints={}, walk_forward={"in_sample": 200, "out_of_sample": 40})
    assert optimization_run_execute(run.pk) == "succeeded"
    run.refresh_from_db()
    walk = run.walk_forward_result
    assert walk["budget_per_window"] == 50 and len(walk["windows"]) >= 2
    page = logged_in_client.get(run.get_absolute_url()).content.decode()
    assert (
        f"Each of the {len(walk['windows'])} windows re-optimized on its own 200 in-sample bars with 50 evaluations "
        "(beside the run's budget of 40), then tested on the next 40." in page
    )
