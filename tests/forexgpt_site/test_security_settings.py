"""Settings that protect a deployment: a private database file, and `check --deploy` clean in production."""

import json
import os
import re
import stat
import subprocess
import sys

import pytest
from django.conf import settings

SQLITE_MODES = (
    "import django, json, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'forexgpt_site.settings'; django.setup();"
    "from django.conf import settings; from django.db import connection;"
    "c = connection.cursor(); c.execute('create table t (x)'); c.execute('insert into t values (1)');"
    "d = settings.DATABASES['default']['NAME'].parent;"
    "print(json.dumps({p.name: os.stat(p).st_mode for p in [d, *d.iterdir()]}))"  # while the connection is open
)


def _file_modes(data_dir) -> dict[str, int]:
    environ = {"PATH": os.environ["PATH"], "FOREXGPT_DATA_DIR": str(data_dir), "SECRET_KEY": "k" * 60}
    out = subprocess.run(
        [sys.executable, "-c", SQLITE_MODES],
        env=environ,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
        umask=0o022,
    )
    return {name: stat.S_IMODE(mode) for name, mode in json.loads(out.stdout.splitlines()[-1]).items()}


@pytest.mark.slow
def test_the_sqlite_database_is_created_private(tmp_path):
    modes = _file_modes(tmp_path / "data")
    assert modes == {
        "data": 0o700,
        "forexgpt.sqlite3": 0o600,
        "forexgpt.sqlite3-wal": 0o600,
        "forexgpt.sqlite3-shm": 0o600,
    }


@pytest.mark.slow
def test_an_existing_sqlite_database_open_to_others_is_made_private(tmp_path):
    (tmp_path / "forexgpt.sqlite3").touch(mode=0o644)
    os.chmod(tmp_path / "forexgpt.sqlite3", 0o644)
    assert _file_modes(tmp_path)["forexgpt.sqlite3"] == 0o600


PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "p" * 20 + "-Zq8w3Rk5yT1uX7vN0mB4cL6dF9gH2jK-" + "s" * 20,
    "ALLOWED_HOSTS": "forex.example.com",
    "SECURE_SSL_REDIRECT": "1",
    "SESSION_COOKIE_SECURE": "1",
    "CSRF_COOKIE_SECURE": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1",
    "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https",
}
# drf-spectacular reports API-schema hints (views of other apps) through the same checks; they
# are documentation warnings, not deployment ones.
NOT_DEPLOYMENT = ("drf_spectacular.",)


def _deploy_warnings(tmp_path, environ: dict) -> list[str]:
    environ = {"PATH": os.environ["PATH"], "FOREXGPT_DATA_DIR": str(tmp_path), **environ}
    out = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        env=environ,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    found = re.findall(r"^\S*: \((\w+\.[CEWI]\d+)\)", out.stderr + out.stdout, re.M)
    return [check for check in found if not check.startswith(NOT_DEPLOYMENT)]


@pytest.mark.slow
def test_check_deploy_is_clean_with_a_production_environment(tmp_path):
    assert _deploy_warnings(tmp_path, PRODUCTION) == []


@pytest.mark.slow
def test_the_tls_settings_follow_the_environment(tmp_path):
    laptop = _deploy_warnings(
        tmp_path, {k: v for k, v in PRODUCTION.items() if k in ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS")}
    )
    assert sorted(laptop) == ["security.W004", "security.W008", "security.W012", "security.W016"]
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'forexgpt_site.settings'; django.setup();"
        "from django.conf import settings as s;"
        "print(s.SECURE_HSTS_SECONDS, s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE,"
        " s.SECURE_PROXY_SSL_HEADER, s.AXES_FAILURE_LIMIT, s.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']['user'],"
        " s.REST_FRAMEWORK['NUM_PROXIES'], s.FOREXGPT_BUNDLE_MAX_TOTAL_BYTES)"
    )
    environ = {
        "PATH": os.environ["PATH"],
        "FOREXGPT_DATA_DIR": str(tmp_path),
        **PRODUCTION,
        "FOREXGPT_LOGIN_FAILURE_LIMIT": "7",
        "FOREXGPT_API_RATE_USER": "100/minute",
        "FOREXGPT_NUM_PROXIES": "1",
        "FOREXGPT_BUNDLE_MAX_TOTAL_MB": "10",
    }
    out = subprocess.run(
        [sys.executable, "-c", code], env=environ, cwd=settings.BASE_DIR, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == [
        "31536000",
        "True",
        "True",
        "True",
        "('HTTP_X_FORWARDED_PROTO',",
        "'https')",
        "7",
        "100/minute",
        "1",
        str(10 * 1024 * 1024),
    ]
