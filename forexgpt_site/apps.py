from django.apps import AppConfig


class ForexgptSiteConfig(AppConfig):
    """Platform-wide pieces: job runs, dashboard, login, the run/demo commands."""

    name = "forexgpt_site"
    verbose_name = "ForexGPT platform"
