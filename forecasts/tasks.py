from forecasts.models import ForecastSet
from forecasts.services import forecast_set_work
from forexgpt_site.jobs import job_execute


def forecast_set_execute(set_id: int) -> str:
    return job_execute(ForecastSet, set_id, forecast_set_work)
