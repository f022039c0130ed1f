import os
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in the test thread; Django's ORM calls made from that
# thread (fixtures, assertions) are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
os.environ.setdefault("TQDM_DISABLE", "1")

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED_DATA = Path(os.environ.get("FOREXGPT_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture
def fixture_path():
    def _path(name: str) -> Path:
        return FIXTURES / name

    return _path


@pytest.fixture
def shared_file():
    """A full data file from ../shared/data; the test is skipped with the reason when it is absent."""

    def _path(name: str) -> Path:
        path = SHARED_DATA / name
        if not path.exists():
            pytest.skip(f"{path} is absent (the full data files live in ../shared/data beside the checkout)")
        return path

    return _path


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(username="analyst", password="analyst-pass-123")


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user(username="curator", password="curator-pass-123", is_staff=True, is_superuser=True)


@pytest.fixture
def logged_in_client(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def api_client(user):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client
