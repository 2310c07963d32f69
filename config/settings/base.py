"""Settings shared by every environment. Values come from ``config.env``."""

from __future__ import annotations

from datetime import timedelta

from django.utils.translation import gettext_lazy as _

from config.env import BASE_DIR, VAR_DIR, celery_broker_url, default_redis_url, env

DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "volunteers",
    "communities",
]

MIDDLEWARE = [
    "config.middleware.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}


def tune_database(db: dict) -> dict:
    """SQLite: WAL and immediate transactions, so concurrent writers queue instead of failing."""
    if db["ENGINE"] == "django.db.backends.sqlite3":
        db.setdefault("OPTIONS", {}).update(
            {
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
                "init_command": (
                    "PRAGMA journal_mode=WAL;"
                    "PRAGMA synchronous=NORMAL;"
                    "PRAGMA foreign_keys=ON;"
                    "PRAGMA busy_timeout=30000;"
                ),
            }
        )
    else:
        db.setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
        db.setdefault("CONN_HEALTH_CHECKS", True)
    db["ATOMIC_REQUESTS"] = False
    return db


DATABASES["default"] = tune_database(DATABASES["default"])
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis and Celery -----------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default=default_redis_url())
CELERY_BROKER_URL = celery_broker_url(REDIS_URL)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TIMEZONE = "Asia/Shanghai"
CELERY_BEAT_SCHEDULE: dict = {
    "tally-pending-sweep": {"task": "communities.tallies.tally_pending_sweep_task", "schedule": 60.0},
}
# Task modules outside the apps' tasks.py.
CELERY_IMPORTS = ["communities.tallies"]

# --- Auth -----------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/admin/login/"

# --- Internationalisation -------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").exists() else []
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- REST framework -------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "config.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "config.errors.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Volunteer mobilisation API",
    "DESCRIPTION": "Sign-up, dispatch, check-in and service hours for youth volunteers.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "ENUM_NAME_OVERRIDES": {
        "AssignmentStatusEnum": "communities.models.Assignment.Status",
        "ShiftStatusEnum": "communities.models.Shift.Status",
    },
}

# --- Personal data --------------------------------------------------------------------
# Fernet keys for ID numbers, newest first; older keys still decrypt (see docs/privacy.md).
ID_NUMBER_KEYS: list[str] = []
# Key for the blind index that finds duplicates without decrypting.
ID_NUMBER_HASH_KEY = ""

# --- Programme rules (defaults from docs/domain rules; every number configurable) -----
VOLUNTEER_NUMBER_PREFIX = env.str("VOLUNTEER_NUMBER_PREFIX", default="SZ")
RULES = {
    "MAX_HOURS_PER_DAY": env.float("RULE_MAX_HOURS_PER_DAY", default=10.0),
    "MIN_REST_HOURS": env.float("RULE_MIN_REST_HOURS", default=8.0),
    "DEFAULT_SIGNUP_CLOSES_BEFORE": timedelta(hours=env.float("RULE_SIGNUP_CLOSES_BEFORE_HOURS", default=0)),
    "DEFAULT_CANCEL_CUTOFF_BEFORE": timedelta(hours=env.float("RULE_CANCEL_CUTOFF_HOURS", default=2)),
    "CHECKIN_OPENS_BEFORE": timedelta(minutes=env.int("RULE_CHECKIN_OPENS_MINUTES", default=30)),
    "NO_SHOW_AFTER": timedelta(minutes=env.int("RULE_NO_SHOW_AFTER_MINUTES", default=30)),
    "STAR_THRESHOLDS_HOURS": [100, 300, 600, 1000, 1500],
    # Per started hour: (remainder up to N minutes, credit M minutes); [] credits exact minutes.
    "HOURS_ROUNDING": [(15, 0), (45, 30)],
    "ROTA_MAX_DAYS": env.int("RULE_ROTA_MAX_DAYS", default=62),
    "MINOR_AGE": 18,
    "MIN_VOLUNTEER_AGE": 14,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
