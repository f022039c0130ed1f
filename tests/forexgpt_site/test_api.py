"""The API pieces every endpoint shares: authentication, the exception handler, cancel."""

import pytest
from rest_framework.settings import api_settings
from rest_framework.test import APIClient

from forexgpt_site.api import exception_handler

pytestmark = pytest.mark.django_db


def _raised(fn) -> Exception:
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - the test inspects what was raised
        return exc
    raise AssertionError("nothing was raised")


def test_the_exception_handler_is_the_one_drf_uses():
    assert api_settings.EXCEPTION_HANDLER is exception_handler


def test_a_value_error_from_a_service_is_a_400_with_its_message():
    from marketdata.models import CandleImport
    from marketdata.services import candle_import_retry

    command_import = CandleImport(origin=CandleImport.Origin.COMMAND, symbol="EURUSD", timeframe="1h")
    response = exception_handler(
        _raised(lambda: candle_import_retry(user=None, run=command_import, on_conflict="keep")), {}
    )
    assert (response.status_code, response.data) == (
        400,
        {"detail": "only an uploaded file can be imported again from its import page"},
    )


def test_a_value_error_from_the_shared_parsing_of_typed_values_is_a_400():
    from forexgpt_site.parsing import parse_json_object

    response = exception_handler(_raised(lambda: parse_json_object("[1]", "params")), {})
    assert (response.status_code, response.data) == (400, {"detail": "params must be a JSON object"})


def test_a_value_error_from_a_selector_and_a_registry_error_are_400s():
    from registry.selectors import version_by_ref
    from registry.services import RegistryError

    error = _raised(lambda: version_by_ref("no-such-model"))
    assert isinstance(error, RegistryError)
    response = exception_handler(error, {})
    assert (response.status_code, response.data) == (400, {"detail": str(error)})


def test_a_value_error_that_is_no_domain_error_stays_a_500():
    """A ValueError from a view's own code or a library it calls directly is a bug, not a refusal; so is
    any ValueError no request or service boundary said was a refusal (the handler reads no traceback)."""
    from forexgpt_site.errors import DomainError, domain_errors
    from marketdata.engine import normalize_symbol

    assert exception_handler(_raised(lambda: int("not a number")), {}) is None
    assert exception_handler(_raised(lambda: normalize_symbol("??")), {}) is None

    def boundary():
        with domain_errors():  # what a request's from_dict or a start service does with an engine's ValueError
            normalize_symbol("??")

    refused = _raised(boundary)
    assert isinstance(refused, DomainError) and isinstance(refused.__cause__, ValueError)
    assert (exception_handler(refused, {}).status_code, str(refused)) == (400, str(refused.__cause__))


def test_django_permission_denied_is_a_403_with_its_message():
    from forexgpt_site.permissions import require_staff

    response = exception_handler(_raised(lambda: require_staff(None, "attach calibrations")), {})
    assert (response.status_code, response.data) == (403, {"detail": "only staff may attach calibrations"})


@pytest.mark.parametrize(
    "method, url",
    [
        ("get", "/api/registry/versions/"),
        ("get", "/api/registry/models/"),
        ("post", "/api/registry/import/"),
        ("get", "/api/calibrations/"),
        ("post", "/api/calibrations/"),
        ("post", "/api/candles/import/"),
        ("post", "/api/candle-imports/1/cancel/"),
        ("get", "/api/registry/versions/1/export/"),
    ],
)
def test_anonymous_callers_are_refused_everywhere(method, url):
    assert getattr(APIClient(), method)(url).status_code in (401, 403)


def test_only_the_owner_or_staff_cancel(api_client, user, staff_user, django_user_model, import_run):
    other = django_user_model.objects.create_user(username="other", password="other-pass-123")
    theirs = import_run(other)
    refused = api_client.post(f"/api/candle-imports/{theirs.pk}/cancel/")
    assert refused.status_code == 403
    assert refused.json() == {"detail": "only the run's owner or staff may cancel it"}
    theirs.refresh_from_db()
    assert theirs.status == "queued"
    mine = import_run(user)
    assert api_client.post(f"/api/candle-imports/{mine.pk}/cancel/").json()["status"] == "cancelled"
    staff = APIClient()
    staff.force_authenticate(staff_user)
    assert staff.post(f"/api/candle-imports/{theirs.pk}/cancel/").json()["status"] == "cancelled"
