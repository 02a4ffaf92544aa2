"""Portolan settings, all taken from the environment.

No variables set means the embedded default: a SQLite file and keys kept in
``PORTAL_DATA_DIR``, a local-memory cache and background work run in-process.
``DATABASE_URL`` selects PostgreSQL and ``REDIS_URL`` the Celery broker and cache.
"""

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from portal.env import (
    env_bool,
    env_int,
    env_list,
    env_str,
    generate_fernet_key,
    generate_secret_key,
    kept_secret,
)

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("PORTAL_DATA_DIR", str(BASE_DIR / "var"))).resolve()

DEBUG = env_bool("PORTAL_DEBUG", False)
SECRET_KEY = kept_secret("SECRET_KEY", DATA_DIR / "secret_key", generate_secret_key)
# Comma-separated Fernet keys: the first encrypts, all decrypt (key rotation).
CREDENTIALS_KEYS = [
    key.strip()
    for key in kept_secret(
        "PORTAL_CREDENTIALS_KEY", DATA_DIR / "credentials_key", generate_fernet_key
    ).split(",")
    if key.strip()
]
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# The address people and Docker hosts use to reach the portal (token realm, webhooks).
PORTAL_URL = env_str("PORTAL_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_htmx",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "portal",
    "registries",
    "library",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "portal.middleware.CurrentProjectMiddleware",
    "portal.middleware.HtmxLoginRedirectMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

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
                "portal.context_processors.current_project",
            ],
        },
    },
]

_database_url = env_str("DATABASE_URL")
if _database_url:
    try:
        DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=60)}
    except Exception as exc:  # dj_database_url raises several types
        raise ImproperlyConfigured(f"DATABASE_URL is not usable: {exc}") from exc
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "portal.sqlite3",
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "portolan"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery: with no broker, tasks run in-process when they are enqueued.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = False
# Without a broker, tasks run on this many threads of the web process (0: inline).
PORTAL_INPROCESS_THREADS = env_int("PORTAL_INPROCESS_THREADS", 2, minimum=0)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 3600, minimum=10)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 5
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 60}
# Celery beat (`celery -A portal worker -B`) looks for due crawls this often.
CELERY_BEAT_SCHEDULE = {
    "library-crawl-due": {
        "task": "library.crawl_due",
        "schedule": float(env_int("LIBRARY_SCHEDULE_SECONDS", 60, minimum=5)),
    },
}

# The crawler and the Library search.
LIBRARY_CRAWL_CONCURRENCY = env_int("LIBRARY_CRAWL_CONCURRENCY", 8, minimum=1)
LIBRARY_CRAWL_ATTEMPTS = env_int("LIBRARY_CRAWL_ATTEMPTS", 3, minimum=1)
# A running crawl whose worker has not reported for this long is taken over.
LIBRARY_CRAWL_STALE_SECONDS = env_int("LIBRARY_CRAWL_STALE_SECONDS", 300, minimum=5)
LIBRARY_CRAWL_QUEUED_STALE_SECONDS = env_int(
    "LIBRARY_CRAWL_QUEUED_STALE_SECONDS", 3600, minimum=60
)
LIBRARY_EVENT_RETENTION_DAYS = env_int("LIBRARY_EVENT_RETENTION_DAYS", 7, minimum=1)
# Registries without a catalog (Docker Hub) are searched live with this timeout.
LIBRARY_LIVE_SEARCH_TIMEOUT = float(
    env_int("LIBRARY_LIVE_SEARCH_TIMEOUT", 3, minimum=1)
)
LIBRARY_LIVE_SEARCH_CACHE_SECONDS = env_int(
    "LIBRARY_LIVE_SEARCH_CACHE_SECONDS", 300, minimum=0
)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
# WhiteNoise warns on every start when the folder is missing; an empty one is fine.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if env_bool("PORTAL_COLLECTED_STATIC", False)
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Serve straight from the app folders until collectstatic has been run.
WHITENOISE_USE_FINDERS = not env_bool("PORTAL_COLLECTED_STATIC", False)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.server": {"level": "WARNING"}},
}

# Portolan behaviour.
PORTOLAN_CREATE_DOCKER_HUB = env_bool("PORTOLAN_CREATE_DOCKER_HUB", True)
# Docker Hub's hub/registry/auth/index URLs; None uses the real ones (tests use fakes).
DOCKER_HUB_URLS = None
REGISTRY_CONNECT_TIMEOUT = float(env_int("REGISTRY_CONNECT_TIMEOUT", 5, minimum=1))
REGISTRY_READ_TIMEOUT = float(env_int("REGISTRY_READ_TIMEOUT", 20, minimum=1))

# The built-in registry (manage.py builtin_registry config|serve); the portal is
# its token service at PORTAL_URL/auth/token. Always HTTPS: a certificate the
# operator provides (both _TLS_CERT and _TLS_KEY) or one from the portal's CA.
BUILTIN_REGISTRY_ADDRESS = env_str("BUILTIN_REGISTRY_ADDRESS", "127.0.0.1:5000")
if BUILTIN_REGISTRY_ADDRESS.lower().startswith("http://"):
    raise ImproperlyConfigured(
        "BUILTIN_REGISTRY_ADDRESS must not be http://: the built-in registry is "
        "always served over HTTPS."
    )
BUILTIN_REGISTRY_LISTEN = env_str("BUILTIN_REGISTRY_LISTEN", "")
BUILTIN_REGISTRY_DIR = env_str("BUILTIN_REGISTRY_DIR", "")  # "" = DATA_DIR/registry
BUILTIN_REGISTRY_SERVICE = env_str("BUILTIN_REGISTRY_SERVICE", "portolan-registry")
BUILTIN_REGISTRY_ISSUER = env_str("BUILTIN_REGISTRY_ISSUER", "portolan")
BUILTIN_REGISTRY_TOKEN_TTL = env_int("BUILTIN_REGISTRY_TOKEN_TTL", 300, minimum=60)
BUILTIN_REGISTRY_TOKEN_ALGORITHM = env_str("BUILTIN_REGISTRY_TOKEN_ALGORITHM", "RS256")
if BUILTIN_REGISTRY_TOKEN_ALGORITHM not in ("RS256", "ES256"):
    raise ImproperlyConfigured(
        f"BUILTIN_REGISTRY_TOKEN_ALGORITHM={BUILTIN_REGISTRY_TOKEN_ALGORITHM!r}: "
        "use RS256 or ES256."
    )
BUILTIN_REGISTRY_TLS_CERT = env_str("BUILTIN_REGISTRY_TLS_CERT", "")
BUILTIN_REGISTRY_TLS_KEY = env_str("BUILTIN_REGISTRY_TLS_KEY", "")
BUILTIN_REGISTRY_TLS_CA = env_str("BUILTIN_REGISTRY_TLS_CA", "")
if bool(BUILTIN_REGISTRY_TLS_CERT) != bool(BUILTIN_REGISTRY_TLS_KEY):
    raise ImproperlyConfigured(
        "Set both BUILTIN_REGISTRY_TLS_CERT and BUILTIN_REGISTRY_TLS_KEY, or neither "
        "(the portal then issues a certificate from its own CA)."
    )
# Failed sign-ins at the token service per username and address before a pause.
BUILTIN_REGISTRY_AUTH_MAX_FAILURES = env_int(
    "BUILTIN_REGISTRY_AUTH_MAX_FAILURES", 5, minimum=1
)
BUILTIN_REGISTRY_AUTH_LOCKOUT_SECONDS = env_int(
    "BUILTIN_REGISTRY_AUTH_LOCKOUT_SECONDS", 300, minimum=1
)
# ... and per address whatever the username (one password tried on many users).
BUILTIN_REGISTRY_AUTH_MAX_FAILURES_PER_ADDRESS = env_int(
    "BUILTIN_REGISTRY_AUTH_MAX_FAILURES_PER_ADDRESS", 20, minimum=1
)
# Reverse proxies in front of the portal: the client's address is then taken
# from X-Forwarded-For, that many entries from the right (0: REMOTE_ADDR only,
# so the header cannot be forged).
PORTAL_PROXY_COUNT = env_int("PORTAL_PROXY_COUNT", 0, minimum=0)


def _api_rate(name: str, default: str) -> str | None:
    """Return a DRF rate such as ``600/minute``, or None for "off"."""
    raw = env_str(name, default).strip().lower()
    if raw in {"", "off", "none"}:
        return None
    count, _, period = raw.partition("/")
    if not count.isdigit() or period not in {"second", "minute", "hour", "day"}:
        raise ImproperlyConfigured(
            f"{name}={raw!r} is not a rate; write e.g. 600/minute, or off."
        )
    return raw


REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "portal.api.schema.PortalAutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: its scheme names the WWW-Authenticate header of 401s.
        "portal.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["portal.api.parsers.JSONParser"],
    "DEFAULT_THROTTLE_CLASSES": [
        "portal.api.throttling.ApiUserRateThrottle",
        "portal.api.throttling.ApiAnonRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": _api_rate("API_RATE_USER", "1200/minute"),
        "anon": _api_rate("API_RATE_ANON", "60/minute"),
    },
    "EXCEPTION_HANDLER": "portal.api.exceptions.api_exception_handler",
    "URL_FORMAT_OVERRIDE": None,
    # OPTIONS is not part of the API: answer it 405 like any undeclared method.
    "DEFAULT_METADATA_CLASS": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Portolan API",
    "DESCRIPTION": "Registries, projects, search and the deploy guard.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Separate request and response components, so read-only fields are not inputs.
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"RoleEnum": "portal.models.Role"},
}
