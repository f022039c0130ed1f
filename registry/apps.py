from django.apps import AppConfig


class RegistryConfig(AppConfig):
    """Versioned, tagged model artifacts (filled by the registry issue)."""

    name = "registry"
