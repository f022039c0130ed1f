from forexgpt_site.jobs import job_execute
from training.models import TrainingRun
from training.services import training_run_work


def training_run_execute(run_id: int) -> str:
    return job_execute(TrainingRun, run_id, training_run_work)


def hardware_detect_execute() -> str:
    """Detect this worker host's hardware (in a child process) and store the report - unless a report
    this fresh (FRESH_S) exists: clicks queued while one detection ran then cost nothing each, instead of
    holding the `gpu` queue for a detection apiece."""
    from training.hardware import FRESH_S, hardware_report_age_s, hardware_report_store
    from training.hardware import hardware_detect as detect

    age = hardware_report_age_s()
    if age is not None and age < FRESH_S:
        return f"a report {age:.0f} s old is fresh: not detected again"
    row = hardware_report_store(detect())
    return f"hardware detected on {row.host}"
