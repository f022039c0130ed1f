from forexgpt_site.jobs import job_execute
from training.models import TrainingRun
from training.services import training_run_execute as _work


def training_run_execute(run_id: int) -> str:
    return job_execute(TrainingRun, run_id, _work)


def hardware_detect() -> str:
    """Detect this worker host's hardware (in a child process) and store the report."""
    from training.hardware import hardware_detect as detect, hardware_report_store

    row = hardware_report_store(detect())
    return f"hardware detected on {row.host}"
