"""Stopping workers mid-job (SIGTERM from a supervisor, Ctrl-C through `make run`): the job sees the
stop, every process exits, no transaction outlives its process, and the run can be resumed."""

import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction

from backtesting_app.models import OptimizationRun
from backtesting_app.request import BacktestRequest, OptimizationRequest
from backtesting_app.services import backtest_run_start, optimization_run_start
from forexgpt_site import jobs
from forexgpt_site.jobs import INTERRUPTED_MESSAGE, job_execute, job_requeue, job_run_child
from marketdata.models import CandleImport
from tests.conftest import ROOT, _database_url, start_qcluster, stop_qcluster, wait_for
from training.models import TrainingRun

# No steps: NSGA-II seldom meets a point twice, so each of its 100 generations evaluates ~40 new
# points and reports progress; the 4,000 take a few seconds, enough to be stopped in the middle.
SPACE = {
    "entry_threshold": {"low": 0.0, "high": 0.002},
    "stop_loss_pct": {"low": 0.002, "high": 0.01},
    "take_profit_pct": {"low": 0.002, "high": 0.015},
    "max_hold_bars": {"kind": "int", "low": 2, "high": 30},
}
BUDGET = 4000
PARAMS = {
    "entry_threshold": 0.0005,
    "confidence_threshold": 0.3,
    "stop_loss_pct": 0.005,
    "take_profit_pct": 0.01,
    "max_hold_bars": 12,
}
CLUSTER_ENV = {"FOREXGPT_FRONT_RERUNS": "5"}  # the front's re-run on the reference engine is not what is tested


@pytest.fixture
def bars(fixture_path):
    from marketdata.request import ImportRequest
    from marketdata.services import candles_import_file

    candles_import_file(source=fixture_path("eurusd_h1.csv"), request=ImportRequest(symbol="EURUSD", timeframe="1h"))


def _family(pid: int) -> set[int]:
    """`pid` and every process descended from it, from /proc."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    family, todo = set(), [pid]
    while todo:
        p = todo.pop()
        family.add(p)
        todo += children.get(p, [])
    return family


def _alive(pids: set[int]) -> set[int]:
    """Those of `pids` still running (a zombie has stopped: it only waits to be reaped)."""
    alive = set()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] != "Z":
                    alive.add(pid)
        except OSError:
            pass
    return alive


def _other_sessions(before: frozenset = frozenset()) -> list[tuple]:
    """PostgreSQL sessions on the test database other than this test's own and those in `before`
    (backend pids open before the test started its processes: another thread of this test process,
    e.g. the session-wide live server's, may hold one)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, state, left(query, 80) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [row for row in cursor.fetchall() if row[0] not in before]


def _queued_in_broker() -> int:
    from django_q.brokers import get_broker

    return get_broker().queue_size()


@contextmanager
def _cluster(log):
    """A real qcluster; yields it and the set of its processes (the test adds those it finds); every
    one of them still alive at the end is stopped, then killed."""
    cluster = start_qcluster(log, extra_env=CLUSTER_ENV)
    family = {cluster.pid}
    try:
        yield cluster, family
    finally:
        stop_qcluster(cluster, log)
        for pid in _alive(family):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_sigterm_to_qcluster_stops_its_job_and_workers_and_the_run_resumes(bars, user, tmp_path):
    long_run = optimization_run_start(
        user=user,
        request=OptimizationRequest.from_dict(
            {
                "symbol": "EURUSD",
                "timeframe": "1h",
                "space": SPACE,
                "fixed_params": {"confidence_threshold": 0.3},
                "budget": BUDGET,
                "seed": 5,
                "method": "nsga2",
                "constraints": {"min_trades": 5},
            }
        ),
    )
    # Queued behind it: the cluster's pusher takes it from the broker into the one worker's queue.
    waiting = backtest_run_start(
        user=user,
        request=BacktestRequest.from_dict(
            {
                "symbol": "EURUSD",
                "timeframe": "1h",
                "strategy": "forecast",
                "params": PARAMS,
                "forecasts_source": "baseline",
            }
        ),
    )
    waiting.refresh_from_db()
    first_task = waiting.task_id
    before = frozenset(row[0] for row in _other_sessions()) if connection.vendor == "postgresql" else frozenset()
    with _cluster(tmp_path / "first.log") as (cluster, family):

        def evaluating():
            long_run.refresh_from_db()
            return long_run.status == "running" and long_run.results.exists() and _queued_in_broker() == 0

        assert wait_for(evaluating, timeout=60, interval=0.05), (
            f"the optimization never started evaluating: {long_run.status}"
        )
        family |= _family(cluster.pid)
        assert len(family) >= 5, f"qcluster, sentinel, worker, monitor and pusher: {family}"
        started = time.monotonic()
        cluster.send_signal(signal.SIGTERM)
        stopped = wait_for(lambda: not _alive(family), timeout=20, interval=0.05)
        print(f"\nthe cluster ({len(family)} processes) stopped {time.monotonic() - started:.1f} s after SIGTERM")
        assert stopped, f"processes still running 20 s after SIGTERM: {_alive(family)}"
    long_run.refresh_from_db()
    kept = long_run.results.count()
    assert (long_run.status, long_run.message) == ("failed", INTERRUPTED_MESSAGE)
    assert 0 < kept < BUDGET, "stopped in the middle, with what it evaluated stored"
    waiting.refresh_from_db()
    assert waiting.status == "queued" and waiting.task_id not in ("", first_task), (
        "not started: handed back to the queue"
    )
    if connection.vendor == "postgresql":  # every session ended with its process: none idle in a transaction
        assert wait_for(lambda: not _other_sessions(before), timeout=5), (
            f"sessions left behind: {_other_sessions(before)}"
        )

    job_requeue(run=long_run, user=user, message=OptimizationRun.resume_message)  # what POST .../resume/ does
    with _cluster(tmp_path / "second.log") as (cluster, family):

        def finished():
            long_run.refresh_from_db()
            waiting.refresh_from_db()
            return long_run.is_finished and waiting.is_finished

        assert wait_for(finished, timeout=120, interval=0.2), (long_run.status, waiting.status)
        # kill -9 of the qcluster process alone (a supervisor out of patience) leaves no orphan behind.
        family |= _family(cluster.pid)
        cluster.kill()
        assert wait_for(lambda: not _alive(family), timeout=10, interval=0.05), f"orphans: {_alive(family)}"
    assert long_run.status == "succeeded", (long_run.message, long_run.error)
    assert kept < long_run.results.count() <= BUDGET
    assert waiting.status == "succeeded", (waiting.message, waiting.error)


@pytest.fixture
def worker_process(monkeypatch):
    """This test process set up as a qcluster worker (undone afterwards); yields the Event its
    cluster would set when the whole cluster stops."""
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGALRM)}
    from forexgpt_site.jobs.worker import state

    monkeypatch.setattr(state, "stop_requested", False)
    monkeypatch.setattr(state, "cluster_stopping", None)
    cluster_stopping = threading.Event()
    jobs.job_worker_stop_on_sigterm(cluster_stopping=cluster_stopping)
    yield cluster_stopping
    signal.alarm(0)
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def _sigterm_to_self(after_s: float = 0.0, *, once=lambda: True) -> None:
    """SIGTERM this process from another thread once `once()` holds, `after_s` later."""

    def send():
        if wait_for(once, timeout=60, interval=0.05):
            time.sleep(after_s)
            os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=send, daemon=True).start()


@pytest.mark.django_db(transaction=True)
def test_a_job_silent_inside_a_transaction_is_stopped_after_the_grace_and_rolled_back(
    worker_process, user, import_run, monkeypatch
):
    monkeypatch.setattr(jobs.worker, "STOP_GRACE_S", 1)
    worker_process.set()  # the whole cluster stops: the worker goes back for what is queued to it
    run = import_run(user)

    def silent(run, ctx):
        with transaction.atomic():
            get_user_model().objects.create(username="written-inside")
            _sigterm_to_self(0.2)
            while True:  # no progress report: only the deadline can stop it
                time.sleep(0.05)

    started = time.monotonic()
    assert job_execute(CandleImport, run.pk, silent) == "failed"
    assert 1 <= time.monotonic() - started < 5  # the 1 s grace, not some later timeout, ended it
    run.refresh_from_db()
    assert (run.status, run.message) == ("failed", INTERRUPTED_MESSAGE)
    assert not get_user_model().objects.filter(username="written-inside").exists(), "its transaction was rolled back"
    assert not connection.in_atomic_block
    if connection.vendor == "postgresql":
        from psycopg.pq import TransactionStatus

        assert connection.connection.info.transaction_status == TransactionStatus.IDLE, "no transaction left open"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_stopped_alone_kills_its_child_process_group_and_exits(worker_process, tmp_path, monkeypatch):
    """The child (here one that ignores SIGTERM) and the process it started (as DDP starts its ranks)
    are gone when the job ends, the run is left to be resumed, and the worker, stopped while its
    cluster runs on, exits for the cluster to start a fresh one."""
    monkeypatch.setattr(jobs.child, "CHILD_STOP_GRACE_S", 1)
    run = TrainingRun.objects.create(symbol="EURUSD", timeframe="1h")
    pids = tmp_path / "pids"
    code = (
        "import os, signal, subprocess, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "rank = subprocess.Popen(['sleep', '60']); "
        f"open({str(pids)!r} + '.tmp', 'w').write(f'{{os.getpid()}} {{rank.pid}}'); os.rename({str(pids)!r} + '.tmp', {str(pids)!r}); "
        "time.sleep(60)"
    )

    def work(run, ctx):
        _sigterm_to_self(once=pids.exists)
        job_run_child(run, ["shell", "-c", code], tmp_path / "child.log", poll_s=0.1)

    with pytest.raises(SystemExit):
        job_execute(TrainingRun, run.pk, work)
    child, rank = map(int, pids.read_text().split())
    assert not _alive({child, rank}), "the child and its own child were killed"
    run.refresh_from_db()
    assert (run.status, run.message, run.attempts) == ("failed", INTERRUPTED_MESSAGE, 1)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_ctrl_c_to_run_platform_stops_every_process_it_started(tmp_path):
    log = tmp_path / "platform.log"
    environ = {**os.environ, "DATABASE_URL": _database_url(connection.settings_dict), "FOREXGPT_Q_WORKERS": "1"}
    with open(log, "w") as out:
        platform = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "manage.py"),
                "run_platform",
                "--no-gpu-cluster",
                "--port",
                "0",
                "--web-workers",
                "1",
            ],
            cwd=ROOT,
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    family = {platform.pid}
    try:
        assert wait_for(lambda: "running." in log.read_text() and "Booting worker" in log.read_text(), timeout=60), (
            log.read_text()
        )
        family = _family(platform.pid)
        platform.send_signal(signal.SIGINT)
        assert platform.wait(timeout=20) == 0, log.read_text()[-3000:]
        assert not _alive(family), f"run_platform exited before these: {_alive(family)}"
    finally:
        for pid in _alive(family):
            os.kill(pid, signal.SIGKILL)
    assert "stopping: running jobs stop at their next progress report" in log.read_text()
