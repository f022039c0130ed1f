"""django-q2 entry points: ids in, nothing but the run row out."""

from forexgpt_site.jobs import job_execute
from marketdata.models import CandleImport
from marketdata.services import candle_import_run


def candle_import_execute(run_id: int) -> str:
    return job_execute(CandleImport, run_id, candle_import_run)
