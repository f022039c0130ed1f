from backtesting_app.models import BacktestRun
from backtesting_app.services import backtest_run_execute as _work
from forexgpt_site.jobs import job_execute


def backtest_run_execute(run_id: int) -> str:
    return job_execute(BacktestRun, run_id, _work)
