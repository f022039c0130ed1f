"""The one place that reads the process environment.

Every setting that varies between a laptop and a production host comes from here, with a safe
embedded default: SQLite in a local data folder, django-q2's ORM broker, a generated secret key.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if not raw:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


DATA_DIR = Path(os.environ.get("FOREXGPT_DATA_DIR", BASE_DIR / "data")).resolve()
DEBUG = _bool("DEBUG", False)
ALLOWED_HOSTS = _list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = _list("CSRF_TRUSTED_ORIGINS", [])
DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", DATA_DIR / "media")).resolve()
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles")).resolve()
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
# Minimum seconds between two progress writes of one job run.
JOB_PROGRESS_INTERVAL_S = float(os.environ.get("FOREXGPT_PROGRESS_INTERVAL_S", "1.0"))
# A running job with no progress report for this long is taken as dead (its worker was lost).
JOB_STALE_MINUTES = float(os.environ.get("FOREXGPT_JOB_STALE_MINUTES", "2"))
JOB_HEARTBEAT_S = float(os.environ.get("FOREXGPT_JOB_HEARTBEAT_S", "20"))
# Upper bound on an uploaded candle file, in megabytes.
MAX_UPLOAD_MB = int(os.environ.get("FOREXGPT_MAX_UPLOAD_MB", "200"))
# Days an uploaded data file is kept after its import finished (its bars and report stay); 0 keeps it forever.
UPLOAD_RETENTION_DAYS = float(os.environ.get("FOREXGPT_UPLOAD_RETENTION_DAYS", "30"))
# Largest single file accepted inside an imported registry bundle, in megabytes.
BUNDLE_MAX_MEMBER_MB = int(os.environ.get("FOREXGPT_BUNDLE_MAX_MEMBER_MB", "2048"))
# Largest sum of uncompressed file sizes in one imported bundle (its upload is capped the same), in
# megabytes: a bundle of a few hundred kilobytes can unpack to gigabytes of zeros.
BUNDLE_MAX_TOTAL_MB = int(os.environ.get("FOREXGPT_BUNDLE_MAX_TOTAL_MB", "4096"))
# Most rows one API page returns (`?limit=` above it gets this many), and most bars a pattern scan reads.
API_MAX_PAGE = int(os.environ.get("FOREXGPT_API_MAX_PAGE", "10000"))
PATTERN_SCAN_MAX_BARS = int(os.environ.get("FOREXGPT_PATTERN_SCAN_MAX_BARS", "250000"))
# Parameter sets per django-q2 task when an optimization is distributed over workers.
OPTIMIZATION_CHUNK_SIZE = int(os.environ.get("FOREXGPT_OPTIMIZATION_CHUNK_SIZE", "25"))
OPTIMIZATION_BATCH = int(os.environ.get("FOREXGPT_OPTIMIZATION_BATCH", "100"))
# Front points re-run on the reference engine at the end of an optimization (seconds each on long series):
# each objective's extremes first, then the most isolated by crowding distance.
FRONT_RERUNS = int(os.environ.get("FOREXGPT_FRONT_RERUNS", "50"))
CHECKPOINT_DIR = Path(os.environ.get("FOREXGPT_CHECKPOINT_DIR", DATA_DIR / "checkpoints")).resolve()
# Threads of each torch process (forecast children): one beside a busy web server and worker keeps
# the 2-core default from oversubscribing (measured 289 ms a training step with 1 thread, 866 with 2).
TORCH_THREADS = max(1, int(os.environ.get("FOREXGPT_TORCH_THREADS", "1")))
Q_WORKERS = int(os.environ.get("FOREXGPT_Q_WORKERS", "2"))
# Longest a task may run (seconds) before django-q2 kills it; `retry` is always set above it.
Q_TIMEOUT_S = int(os.environ.get("FOREXGPT_Q_TIMEOUT_S", str(6 * 3600)))
GPU_Q_TIMEOUT_S = int(os.environ.get("FOREXGPT_GPU_Q_TIMEOUT_S", str(72 * 3600)))
Q_SYNC = _bool("FOREXGPT_Q_SYNC", False)

# --- Logins and API rates ---
# Wrong passwords in a row (per username and client address) before logins are refused, on the
# login page and on /api/token/ alike; the lock lifts after the cool-off (a new failure restarts it).
LOGIN_FAILURE_LIMIT = int(os.environ.get("FOREXGPT_LOGIN_FAILURE_LIMIT", "5"))
LOGIN_COOLOFF_MINUTES = float(os.environ.get("FOREXGPT_LOGIN_COOLOFF_MINUTES", "15"))
LOGIN_ADDRESS_FAILURE_LIMIT = int(os.environ.get("FOREXGPT_LOGIN_ADDRESS_FAILURE_LIMIT", "30"))
# Lifetime of an API token from POST /api/token/ or `manage.py api_token`, in hours; 0 = never expires.
# 30 days: a script or notebook keeps one token through a month of work and the longest job it may
# poll (a 72-hour training run), while a leaked token stops working within a month.
API_TOKEN_TTL_HOURS = float(os.environ.get("FOREXGPT_API_TOKEN_TTL_HOURS", "720"))
if API_TOKEN_TTL_HOURS < 0:
    raise ValueError("FOREXGPT_API_TOKEN_TTL_HOURS must be 0 (tokens never expire) or a positive number of hours")
# The most API tokens one user holds: a new one (a login, `manage.py api_token`) beyond that revokes
# the user's oldest, so a script that logs in on every run without logging out leaves at most this
# many working tokens behind, and nobody is ever refused a token (as knox's own limit would).
API_TOKENS_PER_USER = int(os.environ.get("FOREXGPT_API_TOKENS_PER_USER", "20"))
if API_TOKENS_PER_USER < 1:
    raise ValueError("FOREXGPT_API_TOKENS_PER_USER must be at least 1")
# API requests per client (DRF rate strings: N/second|minute|hour|day). Counted per process.
API_RATE_ANON = os.environ.get("FOREXGPT_API_RATE_ANON", "60/minute")
API_RATE_USER = os.environ.get("FOREXGPT_API_RATE_USER", "600/minute")
# Reverse proxies in front of the app that append to X-Forwarded-For: 0 takes the client address
# from the connection (a client cannot spoof it); set 1 behind one proxy.
NUM_PROXIES = int(os.environ.get("FOREXGPT_NUM_PROXIES", "0"))

# --- HTTPS (all off for a laptop on http://localhost; turn on behind TLS) ---
SECURE_SSL_REDIRECT = _bool("SECURE_SSL_REDIRECT", False)
SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = _bool("CSRF_COOKIE_SECURE", False)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = _bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = _bool("SECURE_HSTS_PRELOAD", False)
# The header a TLS-terminating proxy sets, as `HTTP_X_FORWARDED_PROTO,https`; only set it when the
# proxy always overwrites that header (otherwise a client could claim https).
SECURE_PROXY_SSL_HEADER = tuple(_list("SECURE_PROXY_SSL_HEADER", [])) or None
if SECURE_PROXY_SSL_HEADER is not None and len(SECURE_PROXY_SSL_HEADER) != 2:
    raise ValueError("SECURE_PROXY_SSL_HEADER must be `HEADER,value`, such as HTTP_X_FORWARDED_PROTO,https")


def secret_key() -> str:
    """`SECRET_KEY` from the environment, else one generated once and kept in the data folder."""
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    path = DATA_DIR / "secret_key"
    if path.exists():
        return path.read_text().strip()
    DATA_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    # Create with owner-only permissions; never in the repository (data/ is git-ignored).
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process (web or worker) won the race: use its key
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def private_sqlite_file(path: Path) -> Path:
    """`path` for SQLite, readable by its owner only: created empty with mode 0600 when absent (SQLite
    gives its -wal and -shm files the same mode), tightened when an older one is open to others.
    The database holds password hashes, sessions and API token hashes."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            info = file.stat()
        except FileNotFoundError:
            continue
        if info.st_mode & 0o077 and info.st_uid == os.getuid():
            os.chmod(file, 0o600)
    return path
