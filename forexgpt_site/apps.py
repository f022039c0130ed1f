from django.apps import AppConfig


class ForexgptSiteConfig(AppConfig):
    """Platform-wide pieces: job runs, dashboard, login, the run/demo commands."""

    name = "forexgpt_site"
    verbose_name = "ForexGPT platform"

    def ready(self):
        from axes.signals import user_locked_out

        from forexgpt_site.auth import refuse_locked_out_api_login

        user_locked_out.connect(refuse_locked_out_api_login, dispatch_uid="forexgpt-api-lockout")
