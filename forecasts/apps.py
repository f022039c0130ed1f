from django.apps import AppConfig


class ForecastsConfig(AppConfig):
    """Forecast sets: a model version's forecasts for a series and range, made as a job on the `gpu`
    queue, stored row by row, scored against the realized returns, and used by calibrations,
    backtests and optimizations."""

    name = "forecasts"
