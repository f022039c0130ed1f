"""django-q2 entry points: ids in, run rows out."""

from backtesting_app import services
from backtesting_app.models import BacktestRun, OptimizationRun
from forexgpt_site.jobs import job_execute


def backtest_run_execute(run_id: int) -> str:
    return job_execute(BacktestRun, run_id, services.backtest_run_work)


def optimization_run_execute(run_id: int) -> str:
    return job_execute(OptimizationRun, run_id, services.optimization_run_work)


def optimization_chunk_execute(chunk_id: int) -> str:
    return services.optimization_chunk_evaluate(chunk_id)
