"""Uploads stop at their limit, name size and limit exactly, and leave nothing behind when refused."""

import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from forexgpt_site.uploads import too_large_message
from marketdata.models import CandleImport
from marketdata.tasks import candle_import_execute

pytestmark = pytest.mark.django_db
LIMIT = 2**20  # 1 MB for the tests


def _media_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_an_upload_over_the_limit_is_refused_before_it_is_stored(api_client, settings):
    settings.FOREXGPT_MAX_UPLOAD_BYTES = LIMIT
    before = _media_files(settings)
    upload = SimpleUploadedFile("big.csv", b"x" * (LIMIT + 200_000))
    response = api_client.post(
        "/api/candles/import/", {"file": upload, "symbol": "EURUSD", "timeframe": "1h"}, format="multipart"
    )
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert (
        detail.startswith("the upload is 1.2 MB (")
        and "the limit is 1 MB (1,048,576 bytes, FOREXGPT_MAX_UPLOAD_MB)" in detail
    )
    assert CandleImport.objects.count() == 0 and _media_files(settings) == before


def test_the_page_says_why_an_upload_was_refused(logged_in_client, settings):
    settings.FOREXGPT_MAX_UPLOAD_BYTES = LIMIT
    upload = SimpleUploadedFile("big.csv", b"x" * (LIMIT + 200_000))
    response = logged_in_client.post("/data/", {"file": upload, "symbol": "EURUSD", "timeframe": "1h"})
    assert response.status_code == 400
    assert "the limit is 1 MB (1,048,576 bytes, FOREXGPT_MAX_UPLOAD_MB)" in response.content.decode()
    assert CandleImport.objects.count() == 0


def test_reading_stops_at_the_limit_when_the_length_is_not_known(rf, settings):
    """A body without a truthful Content-Length: the handler stops once the file passes the limit."""
    from django.core.files.uploadhandler import MemoryFileUploadHandler
    from django.http.multipartparser import MultiPartParser

    from forexgpt_site.uploads import SizeLimitUploadHandler, UploadTooLarge

    settings.FOREXGPT_MAX_UPLOAD_BYTES = LIMIT
    boundary = "BOUNDARY"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()

    class Endless(io.RawIOBase):
        read_bytes = 0

        def readable(self):
            return True

        def readinto(self, buffer):
            chunk = (head if self.read_bytes == 0 else b"x" * len(buffer))[: len(buffer)]
            buffer[: len(chunk)] = chunk
            self.read_bytes += len(chunk)
            return len(chunk)

    stream = Endless()
    request = rf.post("/api/candles/import/")
    handlers = [SizeLimitUploadHandler(request), MemoryFileUploadHandler(request)]
    meta = {"CONTENT_TYPE": f"multipart/form-data; boundary={boundary}", "CONTENT_LENGTH": "1000"}
    with pytest.raises(UploadTooLarge):
        MultiPartParser(meta, io.BufferedReader(stream), handlers).parse()
    assert stream.read_bytes < 2 * LIMIT  # stopped near the limit, not at the end of an endless body


def test_sizes_are_rounded_up_so_an_oversized_file_never_reads_as_the_limit():
    limit = 200 * 2**20
    assert too_large_message(limit + 1, limit, "FOREXGPT_MAX_UPLOAD_MB") == (
        "the upload is 200.1 MB (209,715,201 bytes); the limit is 200 MB (209,715,200 bytes, FOREXGPT_MAX_UPLOAD_MB)"
    )


def test_a_file_refused_for_its_contents_is_removed_and_its_report_kept(
    api_client, settings, django_capture_on_commit_callbacks
):
    upload = SimpleUploadedFile("bad.csv", b"2020.01.06,10:00,1.1,1.2,1.0,1.1,5\n2020.01.06,11:00,abc,1.2,1.0,1.1,5\n")
    with django_capture_on_commit_callbacks(execute=False):
        response = api_client.post(
            "/api/candles/import/", {"file": upload, "symbol": "EURUSD", "timeframe": "1h"}, format="multipart"
        )
    run = CandleImport.objects.get(pk=response.json()["id"])
    stored = Path(run.file.path)
    assert stored.exists()
    candle_import_execute(run.pk)
    run.refresh_from_db()
    assert run.status == "failed" and run.report["errors"] == [{"line": 2, "reason": "open 'abc' is not a number"}]
    assert not stored.exists() and not run.file


def _finished_upload(name: str, *, days_ago: float, status: str = "succeeded") -> CandleImport:
    from datetime import timedelta

    from django.core.files.base import ContentFile
    from django.utils import timezone

    run = CandleImport(
        original_name=name,
        symbol="EURUSD",
        timeframe="1h",
        status=status,
        finished_at=timezone.now() - timedelta(days=days_ago),
    )
    run.file.save(name, ContentFile(b"bars"), save=True)
    return run


def test_uploads_past_their_retention_lose_their_file_and_keep_their_row(settings):
    from marketdata.services import candle_import_retry, uploads_expire
    from marketdata.tasks import uploads_expire_scheduled

    settings.FOREXGPT_UPLOAD_RETENTION_DAYS = 30
    old = _finished_upload("old.csv", days_ago=31)
    recent = _finished_upload("recent.csv", days_ago=29)
    refused = _finished_upload("refused.csv", days_ago=40, status="failed")
    CandleImport.objects.create(original_name="refused.csv", symbol="EURUSD", timeframe="1h", file=refused.file.name)
    old_path = Path(old.file.path)

    assert uploads_expire_scheduled() == {"removed": 1, "kept_forever": False}
    old.refresh_from_db(), recent.refresh_from_db(), refused.refresh_from_db()
    assert not old.file and not old_path.exists() and CandleImport.objects.filter(pk=old.pk).exists()
    assert recent.file and Path(recent.file.path).exists()
    assert refused.file and Path(refused.file.path).exists(), "a queued retry still reads it"
    with pytest.raises(Exception, match="FOREXGPT_UPLOAD_RETENTION_DAYS"):
        old.origin = CandleImport.Origin.UPLOAD
        candle_import_retry(user=None, run=old, on_conflict="skip")

    settings.FOREXGPT_UPLOAD_RETENTION_DAYS = 0
    assert uploads_expire(now=None) == {"removed": 0, "kept_forever": True}
    assert Path(recent.file.path).exists()
    assert uploads_expire(days=1)["removed"] == 1  # an explicit retention wins over the setting


def test_the_upload_expiry_is_scheduled_hourly():
    from django_q.models import Schedule

    from forexgpt_site.schedules import EXPIRE_UPLOADS_SCHEDULE, ensure_schedules

    ensure_schedules()
    schedule = Schedule.objects.get(name=EXPIRE_UPLOADS_SCHEDULE)
    assert schedule.func == "marketdata.tasks.uploads_expire_scheduled" and schedule.minutes == 60
