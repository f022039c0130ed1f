from forexgpt_site.jobs import job_execute
from training.models import TrainingRun
from training.services import training_run_execute as _work


def training_run_execute(run_id: int) -> str:
    return job_execute(TrainingRun, run_id, _work)
