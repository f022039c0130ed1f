"""Django settings. Environment-dependent values come from `forexgpt_site.env` only."""

from __future__ import annotations

import sys
from datetime import timedelta

import dj_database_url
import plotly
from csp.constants import NONCE, NONE, SELF, UNSAFE_EVAL, UNSAFE_HASHES, UNSAFE_INLINE

from forexgpt_site import env
from forexgpt_site.content_policy import inline_code

BASE_DIR = env.BASE_DIR
SECRET_KEY = env.secret_key()
DEBUG = env.DEBUG
ALLOWED_HOSTS = env.ALLOWED_HOSTS
CSRF_TRUSTED_ORIGINS = env.CSRF_TRUSTED_ORIGINS

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # Before django_q: its `qcluster` command (forexgpt_site/management/commands/qcluster.py) takes the
    # place of django-q2's, so that stopping a cluster stops its running jobs instead of waiting for them.
    "forexgpt_site",
    "django_q",
    "axes",
    "csp",
    "marketdata",
    "training",
    "forecasts",
    "backtesting_app",
    "conformal",
    "registry",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Before the CSRF check, which reads a form's body for its token: an anonymous POST (a 150 MiB upload,
    # say) is sent to the login page unread, instead of being spooled to disk first.
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "forexgpt_site.middleware.LoginRequiredMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "forexgpt_site.middleware.LoginSprayGuard",
    # Last, as django-axes asks: turns a locked-out login into its 429 answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "forexgpt_site.urls"
WSGI_APPLICATION = "forexgpt_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "forexgpt_site.context_processors.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
if env.DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(env.DATABASE_URL, conn_max_age=60)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env.private_sqlite_file(env.DATA_DIR / "forexgpt.sqlite3"),
            "OPTIONS": {
                # The web server and the worker cluster write concurrently: WAL lets readers run
                # beside one writer, IMMEDIATE transactions take the write lock up front (no
                # "database is locked" on upgrade), and the timeout makes a writer wait its turn.
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            # A file, not memory, so that a real qcluster process in the tests shares it.
            "TEST": {"NAME": env.DATA_DIR / "test-forexgpt.sqlite3"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
# django-axes first: it refuses a locked-out login before any password is checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env.LOGIN_FAILURE_LIMIT
# Failed logins from one address across every username (password spraying) before it waits out the cool-off:
FOREXGPT_LOGIN_ADDRESS_FAILURE_LIMIT = env.LOGIN_ADDRESS_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=env.LOGIN_COOLOFF_MINUTES)
# Per username *and* address: one person's typos do not lock out a whole office behind one
# address, and a stranger cannot lock a user out from elsewhere.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "forexgpt_site.auth.client_ip"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

# --- HTTPS and browser protections ----------------------------------------------------------
SECURE_SSL_REDIRECT = env.SECURE_SSL_REDIRECT
SESSION_COOKIE_SECURE = env.SESSION_COOKIE_SECURE
CSRF_COOKIE_SECURE = env.CSRF_COOKIE_SECURE
SECURE_HSTS_SECONDS = env.SECURE_HSTS_SECONDS
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.SECURE_HSTS_INCLUDE_SUBDOMAINS
SECURE_HSTS_PRELOAD = env.SECURE_HSTS_PRELOAD
SECURE_PROXY_SSL_HEADER = env.SECURE_PROXY_SSL_HEADER
_INLINE_CODE = inline_code(BASE_DIR / "templates")
CONTENT_SECURITY_POLICY = {
    # drf-spectacular's Swagger page renders its settings into an inline script of its own.
    "EXCLUDE_URL_PREFIXES": ["/api/docs/"],
    "DIRECTIVES": {
        "default-src": [SELF],
        # Our inline scripts and handlers run by hash (or a nonce); plotly.js compiles its WebGL
        # traces (Scattergl, Parcoords) with `new Function`, hence 'unsafe-eval'.
        "script-src": [
            SELF,
            NONCE,
            UNSAFE_EVAL,
            *sorted(_INLINE_CODE.scripts),
            UNSAFE_HASHES,
            *sorted(_INLINE_CODE.handlers),
        ],
        # style="" attributes in the templates and the styles plotly.js sets.
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:", "blob:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# --- I18N / time ----------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static and media -----------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = env.STATIC_ROOT
STATICFILES_DIRS = [
    BASE_DIR / "static",
    # plotly.js served from the installed plotly package: no CDN, works offline.
    ("plotly", plotly.__path__[0] + "/package_data"),
]
# Collected files get content-hashed names (and WhiteNoise serves those with a year's cache: plotly.js
# is 4.8 MB); `collectstatic` itself writes the manifest. Before it has run, plain names are served - and
# in the test suite, whose pages must render whatever a checkout's old `staticfiles/` holds.
_MANIFEST = (len(sys.argv) > 1 and sys.argv[1] == "collectstatic") or (
    (STATIC_ROOT / "staticfiles.json").exists() and "pytest" not in sys.modules
)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if _MANIFEST
        else "whitenoise.storage.CompressedStaticFilesStorage"
    },
}
# One cache for the processes of a host (the web tier's processes and the workers): a baseline fitted once
# serves every page process, and the login-spray guard counts an address's failures across all of them.
# Redis where the platform has it, a file cache in the data folder otherwise; each test process its own memory.
if "pytest" in sys.modules:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
elif env.REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": env.REDIS_URL,
            "KEY_PREFIX": "forexgpt-cache",
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(env.DATA_DIR / "cache"),
            "OPTIONS": {"MAX_ENTRIES": 5000},
        }
    }
# Before `collectstatic` has run (tests, a quick dev start) serve straight from the app folders.
WHITENOISE_USE_FINDERS = not STATIC_ROOT.exists()
MEDIA_ROOT = env.MEDIA_ROOT
MEDIA_URL = "media/"
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
# Uploads stop at their limit (forexgpt_site/uploads.py), then go to memory or a temporary file.
FILE_UPLOAD_HANDLERS = [
    "forexgpt_site.uploads.SizeLimitUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
FOREXGPT_MAX_UPLOAD_BYTES = env.MAX_UPLOAD_MB * 1024 * 1024
FOREXGPT_UPLOAD_RETENTION_DAYS = env.UPLOAD_RETENTION_DAYS
FOREXGPT_BUNDLE_MAX_MEMBER_BYTES = env.BUNDLE_MAX_MEMBER_MB * 1024 * 1024
FOREXGPT_BUNDLE_MAX_TOTAL_BYTES = env.BUNDLE_MAX_TOTAL_MB * 1024 * 1024
FOREXGPT_JOB_PROGRESS_INTERVAL_S = env.JOB_PROGRESS_INTERVAL_S
FOREXGPT_JOB_STALE_MINUTES = env.JOB_STALE_MINUTES
FOREXGPT_JOB_HEARTBEAT_S = env.JOB_HEARTBEAT_S
FOREXGPT_OPTIMIZATION_CHUNK_SIZE = env.OPTIMIZATION_CHUNK_SIZE
FOREXGPT_OPTIMIZATION_BATCH = env.OPTIMIZATION_BATCH
FOREXGPT_FRONT_RERUNS = env.FRONT_RERUNS
FOREXGPT_CHECKPOINT_DIR = env.CHECKPOINT_DIR
FOREXGPT_TORCH_THREADS = env.TORCH_THREADS
FOREXGPT_API_MAX_PAGE = env.API_MAX_PAGE
FOREXGPT_PATTERN_SCAN_MAX_BARS = env.PATTERN_SCAN_MAX_BARS

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "EXCEPTION_HANDLER": "forexgpt_site.api.exception_handler",
    # Tokens first: DRF answers a missing or refused credential with the first class's challenge, so
    # a script with an expired or revoked token gets 401 `WWW-Authenticate: Token` (the session has none: 403).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "knox.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "forexgpt_site.pagination.Pagination",
    "DEFAULT_PARSER_CLASSES": [
        "forexgpt_site.parsers.TextJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "PAGE_SIZE": 500,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {"anon": env.API_RATE_ANON, "user": env.API_RATE_USER},
    "NUM_PROXIES": env.NUM_PROXIES,
}
# API tokens (django-rest-knox): the database keeps a SHA-512 hash of each token, never the token, and
# each token expires FOREXGPT_API_TOKEN_TTL_HOURS after it was made (0: never). Sent as
# `Authorization: Token <token>`, as DRF's plain-text tokens were.
FOREXGPT_API_TOKENS_PER_USER = env.API_TOKENS_PER_USER  # forexgpt_site.auth.issue_token keeps each user's newest
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=env.API_TOKEN_TTL_HOURS) if env.API_TOKEN_TTL_HOURS else None,
    "AUTH_HEADER_PREFIX": "Token",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ForexGPT API",
    "DESCRIPTION": "Market data, training, backtests, optimization, conformal calibration and the model registry.",
    "VERSION": "1.0.0",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI's files from the sidecar package: the docs work offline, no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

# --- Background jobs (django-q2) ------------------------------------------------------------
# `retry` must exceed `timeout`: a task still running when `retry` passes is handed out again.
Q_CLUSTER = {
    "name": "forexgpt",
    "workers": env.Q_WORKERS,
    "timeout": env.Q_TIMEOUT_S,
    "retry": env.Q_TIMEOUT_S + 600,
    "max_attempts": 1,
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 500,
    "label": "Background jobs",
    # Tasks may start child processes (the trainer, DDP ranks): workers must not be daemons.
    "daemonize_workers": False,
    # Hold no more tasks than there are workers, so other clusters get their share of a batch.
    "queue_limit": env.Q_WORKERS,
    "sync": env.Q_SYNC,
    "poll": 0.5,
    # Training runs on their own queue: `Q_CLUSTER_NAME=gpu python manage.py qcluster`.
    "ALT_CLUSTERS": {
        "gpu": {
            "workers": 1,
            "timeout": env.GPU_Q_TIMEOUT_S,
            "retry": env.GPU_Q_TIMEOUT_S + 600,
        },
    },
}
if env.REDIS_URL:
    Q_CLUSTER["redis"] = env.REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- Logging --------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.LOG_LEVEL},
    # django-axes says "AXES: BEGIN ..." at every start of every command; its lockouts are warnings.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}
