"""django-q2 entry points: ids in, nothing but the run row out."""

from forexgpt_site.jobs import job_execute
from marketdata.models import CandleImport
from marketdata.services import candle_import_work
from marketdata.services import uploads_expire as _expire


def candle_import_execute(run_id: int) -> str:
    return job_execute(CandleImport, run_id, candle_import_work)


def uploads_expire_scheduled() -> dict:
    """Scheduled hourly: remove upload files past FOREXGPT_UPLOAD_RETENTION_DAYS."""
    return _expire()
