"""Login throttling glue: django-axes counts failed logins, DRF answers the token endpoint's lockout."""

from __future__ import annotations

from axes.helpers import get_cool_off, get_lockout_message
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle


def client_ip(request) -> str | None:
    """The client address, the way DRF's throttles see it (honouring FOREXGPT_NUM_PROXIES)."""
    return BaseThrottle().get_ident(request)


def refuse_locked_out_api_login(sender, request=None, **kwargs) -> None:
    """django-axes' `user_locked_out` receiver: a locked-out `/api/token/` login answers 429.

    django-axes turns a page login's lockout into a response in its middleware; DRF wraps the
    request, so the API's answer comes from an exception instead (as django-axes' docs advise).
    """
    if isinstance(request, Request):
        cool_off = get_cool_off(request)
        raise Throttled(wait=cool_off.total_seconds() if cool_off else None, detail=str(get_lockout_message()))
