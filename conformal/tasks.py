from conformal.models import CalibrationRun
from conformal.services import calibration_run_work
from forexgpt_site.jobs import job_execute


def calibration_run_execute(run_id: int) -> str:
    return job_execute(CalibrationRun, run_id, calibration_run_work)
