"""What a failed run shows every user: the error's message, never a traceback or a server path."""

import logging
import sys

import pytest
from django.conf import settings
from django.core.files.base import ContentFile

from forexgpt_site.jobs import job_execute
from marketdata.models import CandleImport

pytestmark = pytest.mark.django_db

CHILD_LOG = """the forecast process exited with code 1:
Traceback (most recent call last):
  File "/srv/forexgpt/forecasts/management/commands/forecast.py", line 40, in handle
    run_forecast(request)
ValueError: no candles for EUR/USD 1h before 2024-01-01
"""


def _load_bars():
    raise RuntimeError("the data source returned no bars")


def _failed_run(owner, error: Exception | None = None) -> CandleImport:
    """A run failed by an exception raised a few frames deep (or by `error`)."""
    run = CandleImport(owner=owner, original_name="x.csv", symbol="EURUSD", timeframe="1h")
    run.file.save("x.csv", ContentFile(b""), save=False)
    run.save()

    def work(r, ctx):
        if error is not None:
            raise error
        _load_bars()

    assert job_execute(CandleImport, run.pk, work) == "failed"
    return CandleImport.objects.get(pk=run.pk)


def _assert_no_disclosure(text: str) -> None:
    assert "Traceback" not in text and 'File "' not in text
    for path in {str(settings.BASE_DIR), sys.prefix, __file__}:
        assert path not in text, f"{path} is disclosed"


def test_a_failed_runs_api_json_has_no_traceback_for_a_non_staff_user(staff_user, api_client):
    run = _failed_run(staff_user)  # started by someone else: every logged-in user reads every run
    detail = api_client.get(f"/api/candle-imports/{run.pk}/")
    listing = api_client.get("/api/candle-imports/")
    assert detail.status_code == listing.status_code == 200
    assert detail.json()["error"] == "RuntimeError: the data source returned no bars"
    assert detail.json()["message"] == "failed: the data source returned no bars"
    _assert_no_disclosure(detail.content.decode())
    _assert_no_disclosure(listing.content.decode())


def test_the_traceback_goes_to_the_log(user, caplog):
    with caplog.at_level(logging.ERROR, logger="forexgpt_site.jobs"):
        _failed_run(user)
    record = next(r for r in caplog.records if r.name.startswith("forexgpt_site.jobs"))
    assert record.exc_info and "Traceback" in caplog.text and "in _load_bars" in caplog.text


def test_a_refused_request_is_logged_as_a_line_not_as_a_bug(user, caplog):
    """A bad file (ImportRejected) or any DomainError is what the user asked, not a fault of the code:
    one warning line in the worker's log, no traceback; the run fails with the message as any other."""
    from marketdata.engine import ImportRejected

    with caplog.at_level(logging.WARNING, logger="forexgpt_site.jobs"):
        run = _failed_run(user, ImportRejected("1 bad row(s) in 3; nothing was imported: line 3: high is missing"))
    records = [r for r in caplog.records if r.name.startswith("forexgpt_site.jobs")]
    assert [(r.levelname, r.getMessage()) for r in records] == [
        ("WARNING", f"CandleImport {run.pk} refused: 1 bad row(s) in 3; nothing was imported: line 3: high is missing")
    ]
    assert not records[0].exc_info and "Traceback" not in caplog.text
    assert run.message == "failed: 1 bad row(s) in 3; nothing was imported: line 3: high is missing"


def test_a_childs_traceback_is_summarized_by_its_last_line(user):
    run = _failed_run(user, RuntimeError(CHILD_LOG))
    summary = "the forecast process exited with code 1: ValueError: no candles for EUR/USD 1h before 2024-01-01"
    assert (run.error, run.message) == (f"RuntimeError: {summary}", f"failed: {summary}")
    _assert_no_disclosure(run.error + run.message)
    assert "/srv/forexgpt" not in run.error + run.message
