import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings as _settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from pytest_django.fixtures import validate_django_db

# Playwright's sync API runs an event loop in the test thread; Django's ORM calls made from that
# thread (fixtures, assertions) are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
os.environ.setdefault("TQDM_DISABLE", "1")
# Torch (not yet imported: Django's setup loads no torch) takes a thread per core by default; three
# test workers share this 2-core machine, and each worker's threads waited on the others': the two
# loss-falls tests took 40 s beside one busy process, 16 s with one thread. One thread per worker,
# as FOREXGPT_TORCH_THREADS gives the platform's own torch processes (the processes tests start inherit it).
os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED_DATA = Path(os.environ.get("FOREXGPT_SHARED_DATA", ROOT.parent / "shared" / "data"))


def _worker_redis_url(url: str, worker: str) -> str:
    """Under pytest-xdist each worker has a database of its own (pytest-django names it); the Redis
    broker needs the same, or one worker's qcluster takes the other's queued jobs (and runs them on
    the wrong database) and each worker's session start purges the other's queue. Worker gwN uses
    the Redis database N below the configured one (15 -> 15, 14, ...)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    db = base - int(worker.removeprefix("gw"))
    if db < 0:
        raise pytest.UsageError(
            f"REDIS_URL {url}: pytest-xdist worker {worker} would need Redis database {db}; "
            "use a higher database number or fewer workers (-n)"
        )
    return urlunsplit(parts._replace(path=f"/{db}"))


if os.environ.get("PYTEST_XDIST_WORKER") and os.environ.get("REDIS_URL"):
    # Django's settings (and django-q2's Conf) were read before this file: set all three places the
    # URL lives - the environment the qcluster processes started by tests inherit, and this process.
    from django_q.conf import Conf as _Conf

    os.environ["REDIS_URL"] = _worker_redis_url(os.environ["REDIS_URL"], os.environ["PYTEST_XDIST_WORKER"])
    _settings.Q_CLUSTER["redis"] = _Conf.REDIS = os.environ["REDIS_URL"]


class FastPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """Django's PBKDF2 at 1,000 iterations instead of 1,000,000: one hash took 0.4 s here, and the
    suite makes one for every user it creates and every password login. The algorithm's name is
    Django's own, so a process started by a test, with the default hasher, still checks these hashes."""

    iterations = 1_000


_settings.PASSWORD_HASHERS = ["tests.conftest.FastPBKDF2PasswordHasher"]  # read lazily: nothing has hashed yet


def _database_use(item) -> int:
    """pytest-django's order for a test (its marker read by its own parser): 0 uses the database in a
    transaction rolled back, 1 commits (transactional, reset sequences, live server), 2 does not touch it."""
    fixtures = set(getattr(item, "fixturenames", ()))
    marker = item.get_closest_marker("django_db")
    transaction, reset_sequences, *_ = validate_django_db(marker) if marker else (False, False)
    if transaction or reset_sequences or fixtures & {"transactional_db", "live_server"}:
        return 1
    return 0 if marker or "db" in fixtures else 2


def pytest_collection_modifyitems(config, items):
    """The long tests (marked slow) first: with `--maxschedchunk 1` (pytest.ini) pytest-xdist hands
    each worker one test at a time in this order, so the workers end together on short ones. (Its
    default hands out chunks of up to a sixth of what is left; with the slow tests side by side one
    worker took them in one chunk and ran alone for the last 7 of 14 minutes.) pytest-django's groups,
    sorted before this hook, are kept (a test that commits empties the database for those after it);
    the slow tests without a database, which can run anywhere, go first of all."""

    def order(item):
        slow = item.get_closest_marker("slow") is not None
        group = _database_use(item)
        return (-1 if slow and group == 2 else group, not slow)

    items.sort(key=order)


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache: keys made of row ids would otherwise outlive the rows."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Uploaded and registry files of each test go to its own folder, never to data/media."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


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
    return django_user_model.objects.create_user(
        username="curator", password="curator-pass-123", is_staff=True, is_superuser=True
    )


@pytest.fixture
def logged_in_client(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def api_client(user):
    from knox.models import AuthToken
    from rest_framework.test import APIClient

    client = APIClient()
    _, token = AuthToken.objects.create(user=user)  # (row, token): only the hash is stored
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def _database_url(settings_dict) -> str:
    engine = settings_dict["ENGINE"].rsplit(".", 1)[-1]
    if engine == "sqlite3":
        return f"sqlite:///{settings_dict['NAME']}"
    user = settings_dict.get("USER") or ""
    password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"postgres://{user}{password}@{host}{port}/{settings_dict['NAME']}"


def start_qcluster(log_path, *, workers: int = 1, extra_env=None):
    """A real `manage.py qcluster` process on the test database and the configured broker."""
    import subprocess
    import sys

    from django.conf import settings
    from django.db import connection

    environ = {
        **os.environ,
        "DATABASE_URL": _database_url(connection.settings_dict),
        "FOREXGPT_Q_WORKERS": str(workers),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        **(extra_env or {}),
    }
    with open(log_path, "w") as out:
        return subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "qcluster"],
            cwd=ROOT,
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def qcluster_running(log_path) -> bool:
    """Whether a cluster started by `start_qcluster` says it runs (its workers are up and polling)."""
    return " running." in open(log_path).read()


def stop_qcluster(proc, log_path) -> None:
    import subprocess

    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    print(open(log_path).read()[-3000:])


@pytest.fixture
def qcluster(transactional_db, tmp_path):
    log = tmp_path / "qcluster.log"
    proc = start_qcluster(log)
    try:
        yield proc
    finally:
        stop_qcluster(proc, log)


def on_another_connection(work, timeout=30.0):
    """What a concurrent web request would get: `work()` in a thread on a database connection of its
    own (closed after). Returns its value, or the exception it raised."""
    import threading

    from django.db import connection

    out = {"value": TimeoutError(f"still running after {timeout} s")}

    def run():
        try:
            out["value"] = work()
        except Exception as exc:  # noqa: BLE001 - handed to the test
            out["value"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout)
    return out["value"]


@pytest.fixture
def sqlite_only():
    """For tests of SQLite's single database-wide write lock: skipped on other databases."""
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("the lock this guards against is SQLite's single database-wide write lock")


def wait_for(predicate, timeout=60.0, interval=0.25):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


@pytest.fixture(scope="session", autouse=True)
def _empty_queue(django_db_setup, django_db_blocker):
    """Tasks left in a shared Redis by an earlier, interrupted run must not reach this run's workers."""
    from django.conf import settings

    if "redis" in settings.Q_CLUSTER:
        from django_q.brokers import get_broker

        with django_db_blocker.unblock():
            get_broker().purge_queue()


CHANNELS = ["ret_open", "ret_high", "ret_low", "ret_close"]


@pytest.fixture
def artifact_files(tmp_path):
    """Real artifact files: a tiny torch checkpoint, config, stats and history, as a trainer writes them."""

    import torch

    def _make(seed: int = 0) -> dict:
        torch.manual_seed(seed)
        net = torch.nn.Sequential(torch.nn.Linear(len(CHANNELS), 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
        ckpt = tmp_path / f"model-{seed}.ckpt"
        torch.save({"state_dict": net.state_dict(), "epoch": 3}, ckpt)
        stats = io.BytesIO()
        rng = np.random.default_rng(seed)
        np.savez(stats, mu=rng.normal(size=len(CHANNELS)), sigma=rng.uniform(0.5, 2, size=len(CHANNELS)))
        return {
            "checkpoint": ckpt,
            "config": {"patch_len": 64, "horizon_bars": 12, "seed": seed},
            "stats": stats.getvalue(),
            "history": json.dumps(
                {"epoch": [1, 2, 3], "train_loss": [1.0, 0.7, 0.5 + seed / 100], "val_loss": [1.1, 0.8, 0.6]}
            ).encode(),
        }

    return _make


@pytest.fixture
def register(artifact_files):
    from registry.services import artifact_register

    def _register(name="eurusd-1h-h12", seed=0, **kwargs):
        params = {
            "symbol": "EUR/USD",
            "timeframe": "1h",
            "horizon_bars": 12,
            "channel_order": CHANNELS,
            "metrics": {"crps": 0.001 + seed / 1000, "mae": 0.002},
            **kwargs,
        }
        return artifact_register(model_name=name, files=artifact_files(seed), **params)

    return _register
