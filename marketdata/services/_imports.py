"""Importing export files: the upload (a queued job), the command, and a refused upload's retry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import IO

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from forexgpt_site.jobs import FINISHED, JobContext, JobStatus, clipped, job_enqueue, request_of
from forexgpt_site.uploads import too_large_message
from marketdata import engine
from marketdata.engine import ImportRejected
from marketdata.models import CandleImport
from marketdata.request import ImportRequest

from ._store import candles_store

ProgressFn = Callable[[float, str], object]


class UploadRefused(ImportRejected):
    """An upload or a retry refused before any import (too large, no stored file to import again)."""


def _noop(fraction: float, message: str) -> None:
    return None


def candles_import_file(
    *,
    source: Path | str | IO,
    request: ImportRequest,
    source_label: str | None = None,
    on_progress: ProgressFn = _noop,
) -> dict:
    """Import one export file now, in this process and outside the job runner (scripts, tests) as `request` asks;
    returns the report.
    `source_label` names the file on its run (default: the file's name).

    Raises ImportRejected, nothing stored, when any row is bad - or ImportConflict when bars are
    already stored with other values and `request.on_conflict` is `refuse`. The import is recorded as
    a CandleImport row with origin `command`, succeeded or failed with its report.

    The report: inserted, duplicates, conflicts (kept / replaced), conflict_examples, on_conflict,
    rejected (0 here), anomalies, dropped, first, last, rows, format, timezone, notes, import_id.
    """
    label = source_label or (
        Path(source).name if isinstance(source, (str, Path)) else getattr(source, "name", None) or "upload"
    )
    now = timezone.now()
    run = CandleImport.of_request(
        request,
        origin=CandleImport.Origin.COMMAND,
        original_name=str(label)[:255],
        status=JobStatus.RUNNING,
        started_at=now,
        heartbeat_at=now,
        message="started",
    )
    run.save()
    finished = CandleImport.objects.filter(pk=run.pk)
    try:
        report = _import(run, request, source, on_progress)
    except ImportRejected as exc:
        finished.update(
            status=JobStatus.FAILED,
            finished_at=timezone.now(),
            report=rejection_report(exc),
            message=clipped(f"failed: {exc}"),
        )
        raise
    except Exception as exc:
        finished.update(
            status=JobStatus.FAILED, finished_at=timezone.now(), message=clipped(f"failed: {exc}"), error=repr(exc)
        )
        raise
    finished.update(
        status=JobStatus.SUCCEEDED,
        finished_at=timezone.now(),
        progress=1.0,
        report=report,
        message=import_summary(report),
    )
    return report


def _import(run: CandleImport, request: ImportRequest, source: Path | str | IO, on_progress: ProgressFn) -> dict:
    """Read, validate and store the file as the run's request asks; the run's report."""
    tf = engine.normalize_timeframe(request.timeframe)
    on_progress(0.05, "reading file")
    parsed = engine.read_candles(source, format=request.format, tz=request.tz or None)
    try:
        on_progress(0.3, f"validating {len(parsed.frame):,} rows")
        rows = engine.validate(parsed)
        engine.check_spacing(rows, tf)
        scan = engine.scan_anomalies(rows, tf)
        rows, dropped = engine.drop_anomalies(rows, scan, list(request.drop))
        on_progress(0.5, f"comparing {len(rows):,} bars with the stored series, then storing")
        stored = candles_store(
            rows=rows,
            candle_import=run,
            on_conflict=request.on_conflict,
            on_progress=lambda fraction, message: on_progress(0.5 + 0.5 * fraction, message),
        )
    except ImportRejected as exc:  # read, then refused: its report names the format it was read as
        exc.format = parsed.format
        raise
    on_progress(1.0, f"stored {stored['inserted']:,} new bars")
    return {
        **stored,
        "rejected": 0,
        "anomalies": scan.report,
        "dropped": dropped,
        "first": rows["ts"].iloc[0].isoformat() if len(rows) else None,
        "last": rows["ts"].iloc[-1].isoformat() if len(rows) else None,
        "rows": int(len(parsed.frame)),
        "symbol": request.symbol,
        "timeframe": request.timeframe,
        "format": parsed.format,
        "timezone": parsed.timezone,
        "notes": parsed.notes,
        "import_id": run.pk,
    }


def import_summary(report: dict) -> str:
    """One line for the run's message: what was written and what was not."""
    text = f"inserted {report['inserted']:,} bars, skipped {report['duplicates']:,} duplicates"
    if report.get("conflicts"):
        settled = "kept the stored bars" if report["on_conflict"] == "keep" else "replaced the stored bars"
        text += f", {report['conflicts']:,} conflicts ({settled})"
    return text


def rejection_report(exc: ImportRejected) -> dict:
    """The import report for a refused file: nothing inserted, the first errors (or conflicts) named."""
    return {"inserted": 0, "duplicates": 0, "conflicts": 0, "rejected": exc.rows or 0, **exc.as_dict()}


@transaction.atomic
def candle_import_start(*, user, request: ImportRequest, upload) -> CandleImport:
    """Save an uploaded file (`upload`, which travels beside the request) and queue its import; an
    upload over FOREXGPT_MAX_UPLOAD_BYTES is refused before anything is saved."""
    if upload.size > settings.FOREXGPT_MAX_UPLOAD_BYTES:
        raise UploadRefused(
            too_large_message(upload.size, settings.FOREXGPT_MAX_UPLOAD_BYTES, "FOREXGPT_MAX_UPLOAD_MB")
        )
    run = CandleImport.of_request(
        request, owner=user if getattr(user, "is_authenticated", False) else None, original_name=upload.name[:255]
    )
    run.file.save(Path(upload.name).name, upload, save=False)
    try:  # the file is written before the row: a failed insert must not leave it behind
        run.save()
    except BaseException:
        run.file.delete(save=False)
        raise
    job_enqueue(run)
    return run


def candle_import_path_start(*, user, request: ImportRequest, path: Path | str, copy: bool) -> CandleImport:
    """Store a queued import of a local file (the `import_candles` command, origin `command`), not yet
    enqueued. `copy`: the file is saved with the run, for a queue worker to read (`candle_import_work`);
    otherwise the run reads it where it lies, in this process (`candle_import_path_work`)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(str(path))
    run = CandleImport.of_request(
        request,
        owner=user if getattr(user, "is_authenticated", False) else None,
        origin=CandleImport.Origin.COMMAND,
        original_name=path.name[:255],
    )
    if not copy:
        run.save()
        return run
    with open(path, "rb") as fh:
        run.file.save(path.name, File(fh, name=path.name), save=False)
    try:  # the file is written before the row: a failed insert must not leave it behind
        run.save()
    except BaseException:
        run.file.delete(save=False)
        raise
    return run


def candle_import_path_work(path: Path | str, run: CandleImport, ctx: JobContext) -> str:
    """Task body of a foreground command import (`functools.partial(candle_import_path_work, path)`):
    the local file read in place; a refused file leaves its report on the run."""
    try:
        report = _import(run, request_of(run), Path(path), ctx.progress)
    except ImportRejected as exc:
        CandleImport.objects.filter(pk=run.pk).update(report=rejection_report(exc))
        raise
    CandleImport.objects.filter(pk=run.pk).update(report=report)
    return import_summary(report)


@transaction.atomic
def candle_import_retry(*, user, run: CandleImport, on_conflict: str) -> CandleImport:
    """Queue the same uploaded file again with another conflict policy (after a refusal)."""
    if run.origin != CandleImport.Origin.UPLOAD:
        raise UploadRefused("only an uploaded file can be imported again from its import page")
    if not run.file:
        raise UploadRefused(
            "this import's file is no longer stored (refused for its contents, or removed after "
            "FOREXGPT_UPLOAD_RETENTION_DAYS); upload it again"
        )
    request = ImportRequest.from_dict({**request_of(run).to_dict(), "on_conflict": on_conflict})
    retry = CandleImport.of_request(
        request,
        owner=user if getattr(user, "is_authenticated", False) else None,
        original_name=run.original_name,
        file=run.file.name,
    )
    retry.save()
    job_enqueue(retry)
    return retry


def candle_import_work(run: CandleImport, ctx: JobContext) -> str:
    """Task body: import the stored upload; a refused file leaves its report on the run."""
    if not run.file:
        raise ImportRejected(
            "this upload was refused for its contents and its file was removed; upload a corrected file"
        )
    request = request_of(run)
    try:
        with run.file.open("rb") as fh:
            report = _import(run, request, fh, ctx.progress)
    except ImportRejected as exc:
        CandleImport.objects.filter(pk=run.pk).update(report=rejection_report(exc))
        if not isinstance(exc, engine.ImportConflict):
            # A file refused for its contents cannot be imported as it is: keep its report, not its bytes.
            # (A file refused for conflicts stays, so it can be imported again with another policy.)
            run.file.delete(save=False)
            CandleImport.objects.filter(pk=run.pk).update(file="")
        raise
    CandleImport.objects.filter(pk=run.pk).update(report=report)
    return import_summary(report)


def uploads_expire(*, days: float | None = None, now=None) -> dict:
    """Remove the stored files of uploads whose import finished more than `days` ago
    (FOREXGPT_UPLOAD_RETENTION_DAYS; 0 keeps them forever). The bars, the report and the row stay;
    a file another import still queued or running reads (a retry) is kept. Returns what it did."""
    days = settings.FOREXGPT_UPLOAD_RETENTION_DAYS if days is None else days
    if days <= 0:
        return {"removed": 0, "kept_forever": True}
    cutoff = (now or timezone.now()) - timedelta(days=days)
    in_use = set(CandleImport.objects.exclude(status__in=FINISHED).exclude(file="").values_list("file", flat=True))
    expired = (
        CandleImport.objects.filter(status__in=FINISHED, finished_at__lt=cutoff)
        .exclude(file="")
        .exclude(file__in=in_use)
    )
    removed = 0
    for run in expired.iterator():
        # The row forgets the file first: a crash between the two leaves an orphan file, never a row
        # pointing at nothing. Rows that shared the file (a retry) forget it with it.
        CandleImport.objects.filter(file=run.file.name).update(file="")
        run.file.storage.delete(run.file.name)
        removed += 1
    return {"removed": removed, "kept_forever": False}
