from django.apps import AppConfig


class BacktestingAppConfig(AppConfig):
    """Strategies, backtests and the hybrid optimizer (filled by the backtesting issues)."""

    name = "backtesting_app"
    verbose_name = "Backtesting"
