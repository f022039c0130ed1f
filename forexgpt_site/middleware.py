from django.conf import settings
from django.contrib.auth.middleware import LoginRequiredMiddleware as _DjangoLoginRequired
from django.http import JsonResponse
from django.shortcuts import render


class LoginRequiredMiddleware(_DjangoLoginRequired):
    """Every page needs a logged-in user.

    The API is left to DRF, which authenticates sessions *and* tokens and answers 401/403
    instead of redirecting a script to an HTML login page.
    """

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path_info.startswith("/api/"):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


LOGIN_PATHS = ("/login/", "/api/token/")


class LoginSprayGuard:
    """An address with FOREXGPT_LOGIN_ADDRESS_FAILURE_LIMIT failed logins in the cool-off, across any
    usernames, gets 429 on every login until the count expires - the page and the token endpoint alike.
    (django-axes locks a username at an address; spraying one password over many usernames slipped by.)
    Counts live in the cache: per server process with the default local-memory cache."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method == "POST" and request.path_info in LOGIN_PATHS:
            from forexgpt_site.auth import address_failures

            if address_failures(request) >= settings.FOREXGPT_LOGIN_ADDRESS_FAILURE_LIMIT:
                wait = int(settings.AXES_COOLOFF_TIME.total_seconds())
                message = f"too many failed logins from this address; try again in {wait // 60} minutes"
                if request.path_info.startswith("/api/"):
                    response = JsonResponse({"detail": message}, status=429)
                else:
                    response = render(request, "registration/locked_out.html", {"message": message}, status=429)
                response["Retry-After"] = str(wait)
                return response
        return self.get_response(request)
