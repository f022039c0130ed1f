import re
import subprocess
import sys

import pytest
from django.conf import settings

from forexgpt_site import env


def test_queue_timeout_is_below_retry_for_every_cluster():
    q = settings.Q_CLUSTER
    assert q["timeout"] < q["retry"]
    assert q["ALT_CLUSTERS"]["gpu"]["timeout"] < q["ALT_CLUSTERS"]["gpu"]["retry"]
    assert q["daemonize_workers"] is False


def test_secret_key_is_generated_once_and_kept_out_of_git(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setattr(env, "DATA_DIR", tmp_path)
    first = env.secret_key()
    assert len(first) > 40 and env.secret_key() == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    ignored = subprocess.run(["git", "check-ignore", "-q", "data/secret_key"], cwd=settings.BASE_DIR)
    assert ignored.returncode == 0


@pytest.mark.slow
def test_settings_follow_the_environment(tmp_path):
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='forexgpt_site.settings'; django.setup();"
        "from django.conf import settings as s;"
        "print(s.DATABASES['default']['ENGINE'], s.DATABASES['default']['NAME'], s.Q_CLUSTER.get('redis'), 'orm' in s.Q_CLUSTER, s.SECRET_KEY)"
    )
    environ = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": "postgres://u@db.example:5432/fx",
        "REDIS_URL": "redis://cache:6379/2",
        "SECRET_KEY": "from-the-env",
        "FOREXGPT_DATA_DIR": str(tmp_path),
    }
    out = subprocess.run(
        [sys.executable, "-c", code], env=environ, cwd=settings.BASE_DIR, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == [
        "django.db.backends.postgresql",
        "fx",
        "redis://cache:6379/2",
        "False",
        "from-the-env",
    ]


@pytest.mark.slow
def test_collected_static_files_get_hashed_names_and_a_long_cache(tmp_path):
    """plotly.js is 4.8 MB: once `collectstatic` has run, pages name content-hashed files, served for a year."""
    environ = {
        "PATH": "/usr/bin:/bin",
        "FOREXGPT_DATA_DIR": str(tmp_path / "data"),
        "STATIC_ROOT": str(tmp_path / "static"),
    }
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        env=environ,
        cwd=settings.BASE_DIR,
        check=True,
        capture_output=True,
    )
    code = (
        "import django, os, re; os.environ['DJANGO_SETTINGS_MODULE']='forexgpt_site.settings'; django.setup();"
        "from django.test.utils import setup_test_environment; setup_test_environment();"
        "from django.test import Client; c = Client();"
        "src = re.search(r'src=\"(/static/js/poll[^\"]+)\"', c.get('/login/').content.decode()).group(1);"
        "print(src, c.get(src)['Cache-Control'])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=environ, cwd=settings.BASE_DIR, capture_output=True, text=True, check=True
    )
    src, cache_control = out.stdout.split(maxsplit=1)
    assert re.fullmatch(r"/static/js/poll\.[0-9a-f]{12}\.js", src)
    assert "max-age=315360000" in cache_control and "immutable" in cache_control
