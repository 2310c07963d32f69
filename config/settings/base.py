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
    "config.middleware.NulByteMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "config.middleware.LazyMessageMiddleware",
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
                "volunteers.context_processors.navigation",
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
        if db["ENGINE"] == "django.db.backends.postgresql":
            # The same backend with a health check that polls the socket before it sends SELECT 1
            # (config/postgresql/base.py).
            db["ENGINE"] = "config.postgresql"
        db.setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
        db.setdefault("CONN_HEALTH_CHECKS", True)
        # Parameters bound by the server and statements prepared once per connection: PostgreSQL
        # stops parsing and planning the hot queries again (a sign-up's backend CPU fell from 2.9
        # to 1.1 ms; docs/performance.md). Behind a pooler in transaction mode (PgBouncer before
        # 1.21), set DATABASE_PREPARE_THRESHOLD= (empty) to turn preparing off.
        threshold = env.str("DATABASE_PREPARE_THRESHOLD", default="5")
        db.setdefault("OPTIONS", {}).update(
            {"server_side_binding": True, "prepare_threshold": int(threshold) if threshold else None}
        )
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
# With the broker down a request must not hang: give up publishing quickly. The work is marked
# in the database and the minute sweeps pick it up once Redis is back.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.2}
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "socket_connect_timeout": 2, "socket_timeout": 5}
CELERY_TIMEZONE = "Asia/Shanghai"
# How often the sweeps over database state run (seconds); drills shorten it.
SWEEP_SECONDS = env.float("SWEEP_SECONDS", default=60.0)
CELERY_BEAT_SCHEDULE: dict = {
    "tally-pending-sweep": {"task": "communities.tallies.tally_pending_sweep_task", "schedule": SWEEP_SECONDS},
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
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# --- Log-in lockout and throttling (volunteers.auth; docs/privacy.md) -----------------
# The lockout backend is a ModelBackend, so it alone also serves sessions and permissions;
# keeping ModelBackend after it would only check every failed password twice.
AUTHENTICATION_BACKENDS = ["volunteers.auth.LockoutModelBackend"]
LOGIN_LOCKOUT = {
    "USERNAME_FAILURES": env.int("LOGIN_LOCKOUT_USERNAME_FAILURES", default=5),
    "IP_FAILURES": env.int("LOGIN_LOCKOUT_IP_FAILURES", default=20),
    "WINDOW_SECONDS": env.int("LOGIN_LOCKOUT_WINDOW_SECONDS", default=15 * 60),
    # Reverse proxies in front of the app whose X-Forwarded-For entry is trusted (0: none).
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}
# Request throttles count in process memory: a coarse flood guard that needs neither Redis
# nor a cache table. The security limit is the lockout above, kept in the database.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "default"}}
# --- end of log-in lockout and throttling ----------------------------------------------

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
        "volunteers.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # JSON with a size and nesting limit (config/parsers.py); forms and uploads as DRF parses them.
    "DEFAULT_PARSER_CLASSES": [
        "config.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "config.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "config.errors.api_exception_handler",
    # Anonymous token requests (volunteers.api.TokenView); see LOGIN_LOCKOUT.
    "DEFAULT_THROTTLE_RATES": {"auth": env.str("THROTTLE_AUTH_RATE", default="30/min")},
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Volunteer mobilisation API",
    "DESCRIPTION": "Sign-up, dispatch, check-in and service hours for youth volunteers.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.openapi.add_error_responses",
    ],
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
# On PostgreSQL a volunteer's own sign-up runs as one database function with the same rules
# (communities/migrations/0011_self_sign_up_function.py, docs/concurrency.md); false runs the
# Python form there too. SQLite always runs the Python form.
SIGN_UP_IN_DATABASE = env.bool("SIGN_UP_IN_DATABASE", default=True)

# --- Notifications (communities.notifications; see docs/notifications.md) -------------
# Every message is a Notification row keyed by (assignment, kind, channel, recipient); a
# minute sweep creates the time-driven ones and sends whatever is due. No ETA tasks.
NOTIFICATIONS = {
    # communities.sms.FileSmsBackend (default: one JSON line per message, idempotent by key),
    # communities.sms.ConsoleSmsBackend, or communities.sms.HttpSmsBackend (the provider).
    "SMS_BACKEND": env.str("NOTIFY_SMS_BACKEND", default="communities.sms.FileSmsBackend"),
    "SMS_FILE": env.str("NOTIFY_SMS_FILE", default=str(VAR_DIR / "sms" / "outbox.jsonl")),
    "SMS_FILE_DELAY": env.float("NOTIFY_SMS_FILE_DELAY", default=0.0),  # seconds per message (tests)
    "SMS_FILE_FSYNC": env.bool("NOTIFY_SMS_FILE_FSYNC", default=True),
    "SMS_HTTP_URL": env.str("NOTIFY_SMS_HTTP_URL", default=""),
    "SMS_HTTP_KEY": env.str("NOTIFY_SMS_HTTP_KEY", default=""),
    "SMS_HTTP_TIMEOUT": env.float("NOTIFY_SMS_HTTP_TIMEOUT", default=10.0),
    "EMAIL_FROM": env.str("NOTIFY_EMAIL_FROM", default=""),  # empty: DEFAULT_FROM_EMAIL
    "MESSAGE_ID_DOMAIN": env.str("NOTIFY_MESSAGE_ID_DOMAIN", default="volunteers.localhost"),
    "LANGUAGE": env.str("NOTIFY_LANGUAGE", default="zh-hans"),
    # Keys committed by web requests within this many seconds go to the broker as one send task
    # (communities/send_batching.py); 0 publishes one task per commit, on the committing thread.
    "SEND_BATCH_SECONDS": env.float("NOTIFY_SEND_BATCH_SECONDS", default=0.2),
    # Local time; no SMS between them unless urgent (an empty value turns quiet hours off).
    "QUIET_HOURS_START": env.str("NOTIFY_QUIET_HOURS_START", default="22:00"),
    "QUIET_HOURS_END": env.str("NOTIFY_QUIET_HOURS_END", default="07:00"),
    "REMINDER_LEADS": [
        timedelta(minutes=m) for m in env.list("NOTIFY_REMINDER_LEAD_MINUTES", cast=int, default=[24 * 60, 120])
    ],
    "NUDGE_AFTER": timedelta(minutes=env.int("NOTIFY_NUDGE_AFTER_MINUTES", default=10)),
    "ESCALATE_AFTER": timedelta(minutes=env.int("NOTIFY_ESCALATE_AFTER_MINUTES", default=30)),
    "MAX_ATTEMPTS": env.int("NOTIFY_MAX_ATTEMPTS", default=5),
    "RETRY_BACKOFF": timedelta(seconds=env.int("NOTIFY_RETRY_BACKOFF_SECONDS", default=60)),  # doubles per attempt
    "RETRY_BACKOFF_MAX": timedelta(hours=1),
    # A row claimed longer ago than this is taken to belong to a dead worker and claimed again.
    "LEASE": timedelta(seconds=env.int("NOTIFY_LEASE_SECONDS", default=600)),
    "BATCH_SIZE": env.int("NOTIFY_BATCH_SIZE", default=500),
    "DRAIN_SECONDS": env.int("NOTIFY_DRAIN_SECONDS", default=50),  # one send task's time budget
    "DRAIN_TASKS": env.int("NOTIFY_DRAIN_TASKS", default=2),  # send tasks a sweep starts at most
    "QUEUE": env.str("NOTIFY_QUEUE", default="") or None,  # None: Celery's default queue
}
_notify_options = {"expires": 55, **({"queue": NOTIFICATIONS["QUEUE"]} if NOTIFICATIONS["QUEUE"] else {})}
CELERY_BEAT_SCHEDULE.update(
    {
        "notifications-sweep": {
            "task": "communities.tasks.notifications_sweep",
            "schedule": SWEEP_SECONDS,
            "options": _notify_options,
        },
        "no-show-sweep": {
            "task": "communities.tasks.no_show_sweep",
            "schedule": SWEEP_SECONDS,
            "options": _notify_options,
        },
    }
)
# --- End of notifications -------------------------------------------------------------

# --- Statistics, daily reports and nightly recount (communities.reports; docs/statistics.md) ---
from celery.schedules import crontab  # noqa: E402


def _at(value: str) -> dict:
    hour, minute = (int(part) for part in value.split(":"))
    return {"hour": hour, "minute": minute}


# Local time (CELERY_TIMEZONE) at which the day's report is written, and the tallies rebuilt.
DAILY_REPORT_TIME = env.str("DAILY_REPORT_TIME", default="21:00")
TALLIES_RECOUNT_TIME = env.str("TALLIES_RECOUNT_TIME", default="03:00")
CELERY_IMPORTS = [*CELERY_IMPORTS, "communities.reports"]
CELERY_BEAT_SCHEDULE.update(
    {
        "daily-report": {
            "task": "communities.reports.daily_report_task",
            "schedule": crontab(**_at(DAILY_REPORT_TIME)),
        },
        "tallies-recount-all": {
            "task": "communities.tallies.tallies_recount_all_task",
            "schedule": crontab(**_at(TALLIES_RECOUNT_TIME)),
        },
    }
)
# --- End of statistics and daily reports ---------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "config.jsonlog.JsonFormatter"},
    },
    # Masks mobile and ID numbers in every record before any handler writes it (config/logging.py).
    "filters": {"redact_personal_data": {"()": "config.logging.RedactPersonalData"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            # LOG_FORMAT=json: one JSON object per line, for log shippers (docs/deployment.md).
            "formatter": env.str("LOG_FORMAT", default="plain"),
            "filters": ["redact_personal_data"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
