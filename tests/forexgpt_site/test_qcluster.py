"""A job goes through the real broker (ORM by default, Redis when REDIS_URL is set) to a real worker process."""

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from marketdata.models import Candle, CandleImport
from marketdata.request import ImportRequest
from marketdata.services import candle_import_start
from tests.conftest import wait_for


@pytest.mark.slow
def test_a_queued_import_is_run_by_a_qcluster_process(qcluster, user, fixture_path):
    broker = "redis" if "redis" in settings.Q_CLUSTER else "orm"
    upload = SimpleUploadedFile("mt4.csv", fixture_path("mt4_eurusd_h1.csv").read_bytes())
    run = candle_import_start(
        user=user, upload=upload, request=ImportRequest(symbol="EURUSD", timeframe="1h", tz="Europe/Helsinki")
    )

    def finished():
        run.refresh_from_db()
        return run.is_finished

    assert wait_for(finished, timeout=90), f"run still {run.status} via the {broker} broker"
    assert run.status == "succeeded", run.error
    assert run.task_id, "the queue's task id is recorded"
    assert run.report["inserted"] == Candle.objects.count() == 400
    assert CandleImport.objects.get(pk=run.pk).started_at is not None


@pytest.mark.slow
def test_the_default_cluster_reaps_a_dead_job_on_its_own(qcluster, user, import_run):
    """A job whose worker died (kill -9: no end recorded, no heartbeat) is marked failed by the
    schedule that every `migrate` keeps, with nobody calling jobs_fail_stale_scheduled. The default cluster's
    sentinel calls django-q2's `scheduler` every 30 s; the test makes that same call once (so it waits
    seconds, not half a minute) and a real worker of the default cluster runs the task it queues."""
    from datetime import timedelta

    from django.utils import timezone
    from django_q.brokers import get_broker
    from django_q.models import Schedule
    from django_q.scheduler import scheduler

    from forexgpt_site.schedules import REAP_SCHEDULE

    schedule = Schedule.objects.get(name=REAP_SCHEDULE)
    assert (schedule.func, schedule.schedule_type, schedule.minutes, schedule.cluster) == (
        "forexgpt_site.tasks.jobs_fail_stale_scheduled",
        Schedule.MINUTES,
        1,
        None,
    )
    dead, alive = import_run(user), import_run(user)
    CandleImport.objects.filter(pk=dead.pk).update(status="running", heartbeat_at=timezone.now() - timedelta(hours=1))
    CandleImport.objects.filter(pk=alive.pk).update(status="running", heartbeat_at=timezone.now() + timedelta(hours=1))

    def reaped():
        dead.refresh_from_db()
        return dead.status == "failed"

    scheduler(broker=get_broker())  # what the sentinel does on its 30-second beat
    assert wait_for(reaped, timeout=120), "the dead job is still running: nothing reaped it"
    assert "worker stopped reporting" in dead.message
    alive.refresh_from_db()
    assert alive.status == "running"
