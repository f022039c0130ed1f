from django.apps import AppConfig


class ForexgptSiteConfig(AppConfig):
    """Platform-wide pieces: job runs, dashboard, login, the run/demo commands."""

    name = "forexgpt_site"
    verbose_name = "ForexGPT platform"

    def ready(self):
        from axes.signals import user_locked_out
        from django.contrib.auth.signals import user_login_failed
        from django.db.models.signals import post_migrate

        from forexgpt_site.auth import count_failed_login, refuse_locked_out_api_login
        from forexgpt_site.schedules import ensure_schedules

        user_locked_out.connect(refuse_locked_out_api_login, dispatch_uid="forexgpt-api-lockout")
        user_login_failed.connect(count_failed_login, dispatch_uid="forexgpt-login-failures-per-address")
        # post_migrate is sent per app (with models) once every app is migrated
        post_migrate.connect(ensure_schedules, dispatch_uid="forexgpt-schedules")
