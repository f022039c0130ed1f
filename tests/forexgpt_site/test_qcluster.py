"""A job goes through the real broker (ORM by default, Redis when REDIS_URL is set) to a real worker process."""

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from marketdata.models import Candle, CandleImport
from marketdata.services import candle_import_start
from tests.conftest import wait_for


@pytest.mark.slow
def test_a_queued_import_is_run_by_a_qcluster_process(qcluster, user, fixture_path):
    broker = "redis" if "redis" in settings.Q_CLUSTER else "orm"
    upload = SimpleUploadedFile("mt4.csv", fixture_path("mt4_eurusd_h1.csv").read_bytes())
    run = candle_import_start(user=user, upload=upload, symbol="EURUSD", timeframe="1h", tz="Europe/Helsinki")

    def finished():
        run.refresh_from_db()
        return run.is_finished

    assert wait_for(finished, timeout=90), f"run still {run.status} via the {broker} broker"
    assert run.status == "succeeded", run.error
    assert run.task_id, "the queue's task id is recorded"
    assert run.report["inserted"] == Candle.objects.count() == 400
    assert CandleImport.objects.get(pk=run.pk).started_at is not None
