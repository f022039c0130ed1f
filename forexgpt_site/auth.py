"""Logins: django-axes counts failed logins (page and API), DRF answers the token endpoint's lockout, and
the API's token views (django-rest-knox: hashed, expiring tokens)."""

from __future__ import annotations

from axes.helpers import get_cool_off, get_lockout_message
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from drf_spectacular.utils import extend_schema, inline_serializer
from knox import views as knox_views
from knox.models import get_token_model
from knox.settings import knox_settings
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.exceptions import Throttled
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle


def client_ip(request) -> str | None:
    """The client address, the way DRF's throttles see it (honouring FOREXGPT_NUM_PROXIES)."""
    return BaseThrottle().get_ident(request)


def _address_key(request) -> str:
    return f"login-failures-from:{client_ip(request)}"


def count_failed_login(sender, credentials=None, request=None, **kwargs) -> None:
    """`user_login_failed` receiver: one more failed login from the request's address, whatever the
    username (django-axes counts per username and address; this catches one address trying many)."""
    if request is None:
        return
    key = _address_key(request)
    if not cache.add(key, 1, timeout=settings.AXES_COOLOFF_TIME.total_seconds()):
        try:
            cache.incr(key)
        except ValueError:  # expired between the two calls
            cache.add(key, 1, timeout=settings.AXES_COOLOFF_TIME.total_seconds())


def address_failures(request) -> int:
    return int(cache.get(_address_key(request)) or 0)


def refuse_locked_out_api_login(sender, request=None, **kwargs) -> None:
    """django-axes' `user_locked_out` receiver: a locked-out `/api/token/` login answers 429.

    django-axes turns a page login's lockout into a response in its middleware; DRF wraps the
    request, so the API's answer comes from an exception instead (as django-axes' docs advise).
    """
    if isinstance(request, Request):
        cool_off = get_cool_off(request)
        raise Throttled(wait=cool_off.total_seconds() if cool_off else None, detail=str(get_lockout_message()))


_ISSUED_TOKEN = inline_serializer(
    "IssuedToken",
    {
        "token": serializers.CharField(help_text="send as `Authorization: Token <token>`; shown this once"),
        "expiry": serializers.DateTimeField(allow_null=True, help_text="null: the token never expires"),
    },
)


def issue_token(user, ttl):
    """A new API token for `user` (knox: only its hash is stored) living `ttl` (None: never expires);
    the user's tokens beyond the newest FOREXGPT_API_TOKENS_PER_USER are revoked in the same
    transaction, oldest first. Returns (instance, token)."""
    tokens = get_token_model().objects
    with transaction.atomic():
        instance, token = tokens.create(user=user, expiry=ttl, prefix=knox_settings.TOKEN_PREFIX)
        keep = (
            tokens.filter(user=user)
            .order_by("-created", "-pk")
            .values_list("pk", flat=True)[: settings.FOREXGPT_API_TOKENS_PER_USER]
        )
        tokens.filter(user=user).exclude(pk__in=list(keep)).delete()
    return instance, token


class TokenLoginView(knox_views.LoginView):
    """A new API token for a username and password (form or JSON), and when it expires."""

    # (DRF shows the docstring above to anyone who sends OPTIONS: the internals stay in this comment.)
    # knox's own LoginView needs a caller already logged in; here the body's password is checked by
    # `django.contrib.auth.authenticate` (DRF's AuthTokenSerializer), so django-axes counts each failure
    # and a locked-out pair gets 429 (`refuse_locked_out_api_login`). Nothing is read from a session or
    # a header, so no CSRF check applies; the anonymous-rate throttle does.

    authentication_classes = ()
    permission_classes = ()
    renderer_classes = (JSONRenderer,)

    @extend_schema(
        request=AuthTokenSerializer,
        responses=_ISSUED_TOKEN,
        auth=[],
        description=(
            "A new API token for `username` and `password` (form or JSON), and when it expires. Send it as "
            "`Authorization: Token <token>`; only its hash is stored, so it is shown this once. Repeated wrong "
            "passwords lock the username at this address out (429 with Retry-After)."
        ),
    )
    def post(self, request, format=None):
        credentials = AuthTokenSerializer(data=request.data, context=self.get_context())
        credentials.is_valid(raise_exception=True)
        request.user = credentials.validated_data["user"]  # the user knox's LoginView issues the token to
        return super().post(request, format=format)

    def create_token(self):
        return issue_token(self.request.user, self.get_token_ttl())


class TokenLogoutView(knox_views.LogoutView):
    """`POST /api/token/logout/`: revokes the token this request was sent with."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request, format=None):
        return super().post(request, format=format)


class TokenLogoutAllView(knox_views.LogoutAllView):
    """`POST /api/token/logout-all/`: revokes every token of the caller."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request, format=None):
        return super().post(request, format=format)
