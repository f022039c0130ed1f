from django.apps import AppConfig


class TrainingConfig(AppConfig):
    """Diffusion forecaster, hardware detection and training runs (filled by the training issue)."""

    name = "training"
