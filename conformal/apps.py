from django.apps import AppConfig


class ConformalConfig(AppConfig):
    """Conformal prediction intervals and coverage metrics (filled by the conformal issue)."""

    name = "conformal"
