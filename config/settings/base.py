"""Settings shared by every environment. Values come from ``config.env``."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils.translation import gettext_lazy as _

from config.env import (
    BASE_DIR,
    VAR_DIR,
    celery_broker_url,
    database_settings,
    default_redis_url,
    embedded_database_url,
    env,
    redis_url_with_db,
    trusted_proxy_count,
)

DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    # Before django.contrib.auth: its changepassword command (which also revokes the account's
    # API tokens) replaces Django's. It has no templates, static files or catalogue to shadow.
    "volunteers",
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
    "drf_spectacular_sidecar",
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
# Django's form renderer with the plain widgets written in Python (config/form_renderer.py).
FORM_RENDERER = "config.form_renderer.FormRenderer"
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
                "communities.views.context_processors.inbox",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
# PostgreSQL 14 or later: DATABASE_URL, or without it the embedded server under var/postgres
# that make run and the tests start (config/embedded_postgres.py).
VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {"default": database_settings(default=embedded_database_url())}


def tune_database(db: dict) -> dict:
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
    # No JIT compilation: it pays off for long analytical queries, not for a web request. The
    # rule filters (docs/rules.md) are estimated above jit_above_cost on a few thousand rows and
    # spent seconds compiling what runs in well under one.
    db["OPTIONS"].setdefault("options", "-c jit=off")
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
# How often the sweeps over database state run (seconds); drills shorten it.
SWEEP_SECONDS = env.float("SWEEP_SECONDS", default=60.0)
CELERY_BEAT_SCHEDULE: dict = {
    "tally-pending-sweep": {"task": "communities.tasks.tally_pending_sweep_task", "schedule": SWEEP_SECONDS},
}
# Task modules outside the apps' tasks.py.
CELERY_IMPORTS = ["communities.services.tallies"]

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
AUTHENTICATION_BACKENDS = ["volunteers.auth.LockoutModelBackend", "volunteers.login_codes.LoginCodeBackend"]
# Django's database sessions, read with a query compiled once per process (config/sessions.py).
SESSION_ENGINE = "config.sessions"
# Log-in by a texted code (volunteers/login_codes.py). Limits per number do the real work; the
# per-address limits only stop a flood, and must let a crowd behind one carrier NAT or company
# network through (hundreds at a mobilisation call). Each limit is (count, seconds).
LOGIN_CODE = {
    "DIGITS": 6,
    "VALID_SECONDS": env.int("LOGIN_CODE_VALID_SECONDS", default=5 * 60),
    "MAX_ATTEMPTS": env.int("LOGIN_CODE_MAX_ATTEMPTS", default=5),
    "PER_NUMBER": [(1, 60), (5, 60 * 60), (10, 24 * 60 * 60)],
    "PER_IP": [
        (env.int("LOGIN_CODE_IP_PER_MINUTE", default=300), 60),
        (env.int("LOGIN_CODE_IP_PER_HOUR", default=3000), 60 * 60),
    ],
    # Hand the text to the SMS backend on a background thread after commit, so the provider's
    # answer time never tells a known number from an unknown one; the test settings send inline.
    "SEND_IN_BACKGROUND": env.bool("LOGIN_CODE_SEND_IN_BACKGROUND", default=True),
}
LOGIN_LOCKOUT = {
    # Failures of one account from one client address before that pair is locked for the window.
    "CLIENT_FAILURES": env.int("LOGIN_LOCKOUT_CLIENT_FAILURES", default=5),
    # Failures from one address, over every account, before the address is locked.
    "IP_FAILURES": env.int("LOGIN_LOCKOUT_IP_FAILURES", default=20),
    # Failures of one account from every address before its password checks are spaced out.
    "ACCOUNT_FAILURES": env.int("LOGIN_LOCKOUT_ACCOUNT_FAILURES", default=10),
    "ACCOUNT_DELAY_SECONDS": env.int("LOGIN_LOCKOUT_ACCOUNT_DELAY_SECONDS", default=60),
    "WINDOW_SECONDS": env.int("LOGIN_LOCKOUT_WINDOW_SECONDS", default=15 * 60),
}
# Reverse proxies in front of the app that append to X-Forwarded-For (0: none, the app is reached
# directly). config/client.py reads the client's address from it for lockouts, throttles and logs;
# production requires it (config/env.trusted_proxy_count).
NUM_PROXIES = trusted_proxy_count(behind_proxy=False)
# Request throttles (config/throttling.py) count in Redis, shared by every worker and machine,
# in a database of their own so that clearing the cache never touches the broker's queues. Short
# timeouts: while Redis is away a throttle lets requests through rather than holding them.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env.str("CACHE_REDIS_URL", default=redis_url_with_db(REDIS_URL, 1)),
        "KEY_PREFIX": "vm",
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
}
# --- end of log-in lockout and throttling ----------------------------------------------

# --- Internationalisation -------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Shanghai")
# Beat reads its crontabs (the daily report, the nightly rebuild) in the programme's own time zone.
CELERY_TIMEZONE = TIME_ZONE
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
    "DEFAULT_THROTTLE_RATES": {
        "auth": env.str("THROTTLE_AUTH_RATE", default="30/min"),
        # Log-ins by texted code (volunteers/login_codes.py): a crowd behind one address.
        "auth_code": env.str("THROTTLE_AUTH_CODE_RATE", default="600/min"),
        # A recruitment call's public page and API (docs/recruitment.md): a poster in a WeChat
        # group brings a crowd behind one carrier NAT, so per address and generous; answering
        # also needs a texted code, which has its own per-number limits.
        "public_call": env.str("THROTTLE_PUBLIC_CALL_RATE", default="600/min"),
        "public_call_apply": env.str("THROTTLE_PUBLIC_CALL_APPLY_RATE", default="120/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Volunteer mobilisation API",
    "DESCRIPTION": "Sign-up, dispatch, check-in and service hours for youth volunteers.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The UI assets come from drf-spectacular-sidecar via our static files, never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No validator badge: Swagger UI would load it from validator.swagger.io.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.openapi.add_error_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "AssignmentStatusEnum": "communities.models.Assignment.Status",
        "ShiftStatusEnum": "communities.models.Shift.Status",
        "CallStatusEnum": "volunteers.models.RecruitmentCall.Status",
        "ApplicationStatusEnum": "volunteers.models.CallApplication.Status",
        "ChangeRequestKindEnum": "volunteers.models.ChangeRequest.Kind",
        "VolunteerStatusEnum": "volunteers.models.Volunteer.Status",
        "ImportKindEnum": "communities.services.imports.KINDS",
    },
}

# --- Personal data --------------------------------------------------------------------
# Fernet keys for ID numbers, newest first; older keys still decrypt (see docs/privacy.md).
ID_NUMBER_KEYS: list[str] = []
# Key for the blind index that finds duplicates without decrypting.
ID_NUMBER_HASH_KEY = ""

# --- Programme rules (defaults from docs/domain rules; every number configurable) -----
VOLUNTEER_NUMBER_PREFIX = env.str("VOLUNTEER_NUMBER_PREFIX", default="SZ")
# A font file with Chinese glyphs for the PNG poster of a recruitment call (communities/render/
# posters.py); empty: the Noto Sans SC the PDFs embed (communities/render/fonts.py).
POSTER_FONT = env.str("POSTER_FONT", default="")
RULES = {
    "MAX_HOURS_PER_DAY": env.float("RULE_MAX_HOURS_PER_DAY", default=10.0),
    "MIN_REST_HOURS": env.float("RULE_MIN_REST_HOURS", default=8.0),
    "DEFAULT_SIGNUP_CLOSES_BEFORE": timedelta(hours=env.float("RULE_SIGNUP_CLOSES_BEFORE_HOURS", default=0)),
    "DEFAULT_CANCEL_CUTOFF_BEFORE": timedelta(hours=env.float("RULE_CANCEL_CUTOFF_HOURS", default=2)),
    "CHECKIN_OPENS_BEFORE": timedelta(minutes=env.int("RULE_CHECKIN_OPENS_MINUTES", default=30)),
    "NO_SHOW_AFTER": timedelta(minutes=env.int("RULE_NO_SHOW_AFTER_MINUTES", default=30)),
    # Wrong check-in codes: per volunteer and code step (a minute), then wait for the next step;
    # per assignment in all, then its code check-in is locked and its coordinators are told.
    "CHECKIN_CODE_TRIES_PER_STEP": env.int("RULE_CHECKIN_CODE_TRIES_PER_STEP", default=5),
    "CHECKIN_CODE_LOCK_AFTER": env.int("RULE_CHECKIN_CODE_LOCK_AFTER", default=10),
    "STAR_THRESHOLDS_HOURS": [100, 300, 600, 1000, 1500],
    # Per started hour: (remainder up to N minutes, credit M minutes); [] credits exact minutes.
    "HOURS_ROUNDING": [(15, 0), (45, 30)],
    "ROTA_MAX_DAYS": env.int("RULE_ROTA_MAX_DAYS", default=62),
    # One rota creates at most this many shifts (days × daily slots); a larger one is refused.
    "ROTA_MAX_SHIFTS": env.int("RULE_ROTA_MAX_SHIFTS", default=500),
    # The most volunteers one community request may ask for (docs/mobilisation.md).
    "COMMUNITY_REQUEST_MAX_VOLUNTEERS": env.int("RULE_COMMUNITY_REQUEST_MAX_VOLUNTEERS", default=500),
    "MINOR_AGE": 18,
    "MIN_VOLUNTEER_AGE": 14,
}
# A volunteer's own sign-up runs as one database function with the same rules
# (communities/migrations/0011_self_sign_up_function.py, docs/concurrency.md); false runs the
# Python form instead.
SIGN_UP_IN_DATABASE = env.bool("SIGN_UP_IN_DATABASE", default=True)

# The address people reach the site at, for links in texts sent without a request to build them
# from (a call-out's short link /m/<id>/ in its SMS; docs/mobilisation.md).
SITE_URL = env.str("SITE_URL", default="http://localhost:8000").rstrip("/")

# --- Notifications (communities.notifications.outbox; see docs/notifications.md) -------------
# Every message is a Notification row keyed by (assignment, kind, channel, recipient); a
# minute sweep creates the time-driven ones and sends whatever is due. No ETA tasks.
NOTIFICATIONS = {
    # config.sms.backends.FileSmsBackend (default: one JSON line per message, idempotent by key),
    # config.sms.backends.ConsoleSmsBackend, config.sms.backends.HttpSmsBackend (a generic HTTP
    # gateway), or the Chinese providers config.sms.providers.AliyunSmsBackend and
    # config.sms.providers.TencentSmsBackend (templates only).
    "SMS_BACKEND": env.str("NOTIFY_SMS_BACKEND", default="config.sms.backends.FileSmsBackend"),
    "SMS_FILE": env.str("NOTIFY_SMS_FILE", default=str(VAR_DIR / "sms" / "outbox.jsonl")),
    "SMS_FILE_DELAY": env.float("NOTIFY_SMS_FILE_DELAY", default=0.0),  # seconds per message (tests)
    "SMS_FILE_FSYNC": env.bool("NOTIFY_SMS_FILE_FSYNC", default=True),
    "SMS_HTTP_URL": env.str("NOTIFY_SMS_HTTP_URL", default=""),
    "SMS_HTTP_KEY": env.str("NOTIFY_SMS_HTTP_KEY", default=""),
    "SMS_HTTP_TIMEOUT": env.float("NOTIFY_SMS_HTTP_TIMEOUT", default=10.0),
    # The file and console backends send nothing to anyone: production refuses them
    # (a `check --deploy` error, communities/checks.py) unless this is set on purpose.
    "SMS_ALLOW_DEVELOPMENT_BACKEND": env.bool("SMS_ALLOW_DEVELOPMENT_BACKEND", default=False),
    # Chinese providers (config/sms/providers.py): an approved signature (签名) and, per
    # notification kind, an approved template and its named parameters, in the order Tencent
    # numbers them ({1}, {2} …). docs/sms-templates.md has the texts to submit for approval.
    "SMS_SIGN_NAME": env.str("NOTIFY_SMS_SIGN_NAME", default=""),
    # A call-out's estimated cost: the price of one billed SMS part (docs/sms-templates.md).
    "SMS_PRICE_YUAN": Decimal(env.str("NOTIFY_SMS_PRICE_YUAN", default="0.045")),
    "SMS_TEMPLATES": {
        kind: {
            "params": params,
            "aliyun": env.dict("NOTIFY_SMS_ALIYUN_TEMPLATES", default={}).get(kind, ""),
            "tencent": env.dict("NOTIFY_SMS_TENCENT_TEMPLATES", default={}).get(kind, ""),
        }
        for kind, params in {
            "confirmed": ("community", "post", "time"),
            "assigned": ("community", "post", "time"),
            "waitlisted": ("position", "community", "post", "time"),
            "promoted": ("community", "post", "time"),
            "cancelled": ("community", "post", "time"),
            "shift_changed": ("community", "post", "time"),
            "shift_cancelled": ("community", "post", "time"),
            "no_show": ("community", "post", "time"),
            "reminder": ("community", "post", "time"),
            "checkin_nudge": ("community", "post", "start"),
            "escalation": ("minutes", "name", "community", "post", "start"),
            "checkin_locked": ("name", "community", "post", "start"),
            "dispatched": ("community", "time", "contact"),
            "arriving": ("count", "community", "time"),
            "recalled": ("community",),
            "recall_leaving": ("count", "community"),
            "login_code": ("code", "minutes"),
            "request_filed": ("community", "wanted"),
            "request_dispatched": ("dispatched", "community", "missing"),
            "request_fulfilled": ("community", "wanted"),
            "request_declined": ("community", "reason"),
            "broadcast": ("message", "code"),
            "register_code": ("code", "minutes"),
            "application_approved": ("call", "organization"),
            "application_rejected": ("call", "reason"),
            "mobile_code": ("code", "minutes"),
            "change_approved": ("item",),
            "change_rejected": ("item",),
            "expiry_notice": ("item", "date", "days"),
            "expiry_digest": ("count",),
            "correction_reported": ("community", "time"),
            "correction_corrected": ("community", "time"),
            "correction_declined": ("community", "time"),
        }.items()
    },
    # Rate limits (flow control) defer a text without counting an attempt: it waits this long,
    # doubling per deferral up to RETRY_BACKOFF_MAX.
    "SMS_DEFER_BACKOFF": timedelta(seconds=env.int("NOTIFY_SMS_DEFER_BACKOFF_SECONDS", default=300)),
    "SMS_ALIYUN": {
        "ACCESS_KEY_ID": env.str("NOTIFY_SMS_ALIYUN_ACCESS_KEY_ID", default=""),
        "ACCESS_KEY_SECRET": env.str("NOTIFY_SMS_ALIYUN_ACCESS_KEY_SECRET", default=""),
        "ENDPOINT": env.str("NOTIFY_SMS_ALIYUN_ENDPOINT", default="dysmsapi.aliyuncs.com"),
        "PROTOCOL": env.str("NOTIFY_SMS_ALIYUN_PROTOCOL", default="https"),
        "PARAM_MAX_LENGTH": env.int("NOTIFY_SMS_ALIYUN_PARAM_MAX_LENGTH", default=35),
        # The delivery receipt URL carries it: /api/v1/sms/receipts/aliyun/?token=…
        "RECEIPT_TOKEN": env.str("NOTIFY_SMS_ALIYUN_RECEIPT_TOKEN", default=""),
    },
    "SMS_TENCENT": {
        "SECRET_ID": env.str("NOTIFY_SMS_TENCENT_SECRET_ID", default=""),
        "SECRET_KEY": env.str("NOTIFY_SMS_TENCENT_SECRET_KEY", default=""),
        "SDK_APP_ID": env.str("NOTIFY_SMS_TENCENT_SDK_APP_ID", default=""),
        "REGION": env.str("NOTIFY_SMS_TENCENT_REGION", default="ap-guangzhou"),
        "ENDPOINT": env.str("NOTIFY_SMS_TENCENT_ENDPOINT", default="sms.tencentcloudapi.com"),
        "PROTOCOL": env.str("NOTIFY_SMS_TENCENT_PROTOCOL", default="https"),
        # Enterprise-verified accounts have no limit per variable; personal ones 12 characters.
        "PARAM_MAX_LENGTH": env.int("NOTIFY_SMS_TENCENT_PARAM_MAX_LENGTH", default=35),
        "RECEIPT_TOKEN": env.str("NOTIFY_SMS_TENCENT_RECEIPT_TOKEN", default=""),
    },
    "SMS_PROVIDER_TIMEOUT": env.float("NOTIFY_SMS_PROVIDER_TIMEOUT", default=10.0),
    "EMAIL_FROM": env.str("NOTIFY_EMAIL_FROM", default=""),  # empty: DEFAULT_FROM_EMAIL
    "MESSAGE_ID_DOMAIN": env.str("NOTIFY_MESSAGE_ID_DOMAIN", default="volunteers.localhost"),
    "LANGUAGE": env.str("NOTIFY_LANGUAGE", default="zh-hans"),
    # Days before an insurance or a qualification expires when the volunteer is told (once each).
    "EXPIRY_NOTICE_DAYS": env.list("NOTIFY_EXPIRY_NOTICE_DAYS", cast=int, default=[30, 7]),
    # Keys committed by web requests within this many seconds go to the broker as one send task
    # (communities/notifications/batching.py); 0 publishes one task per commit, on the committing thread.
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

# --- Statistics, daily reports and nightly recount (communities.services.reports; docs/statistics.md) ---
from celery.schedules import crontab  # noqa: E402


def _at(value: str) -> dict:
    hour, minute = (int(part) for part in value.split(":"))
    return {"hour": hour, "minute": minute}


# Local time (CELERY_TIMEZONE) at which the day's report is written, and the tallies rebuilt.
DAILY_REPORT_TIME = env.str("DAILY_REPORT_TIME", default="21:00")
TALLIES_RECOUNT_TIME = env.str("TALLIES_RECOUNT_TIME", default="03:00")
CELERY_IMPORTS = [*CELERY_IMPORTS, "communities.services.reports"]
CELERY_BEAT_SCHEDULE.update(
    {
        "daily-report": {
            "task": "communities.tasks.daily_report_task",
            "schedule": crontab(**_at(DAILY_REPORT_TIME)),
        },
        "tallies-recount-all": {
            "task": "communities.tasks.tallies_recount_all_task",
            "schedule": crontab(**_at(TALLIES_RECOUNT_TIME)),
        },
    }
)
# Expiry notices to volunteers (daily) and the staff's digest (weekly, on EXPIRY_DIGEST_WEEKDAY,
# 1 = Monday), local time (communities.notifications.records; docs/notifications.md).
EXPIRY_SWEEP_TIME = env.str("EXPIRY_SWEEP_TIME", default="09:00")
EXPIRY_DIGEST_WEEKDAY = env.int("EXPIRY_DIGEST_WEEKDAY", default=1)
CELERY_BEAT_SCHEDULE.update(
    {
        "expiry-sweep": {"task": "communities.tasks.expiry_sweep", "schedule": crontab(**_at(EXPIRY_SWEEP_TIME))},
        "expiry-digest": {
            "task": "communities.tasks.expiry_digest",
            "schedule": crontab(day_of_week=EXPIRY_DIGEST_WEEKDAY, **_at(EXPIRY_SWEEP_TIME)),
        },
    }
)
# Answers to recruitment calls that made no volunteer (rejected, or never reviewed on a closed
# call) keep their personal data this many days after the decision, then lose it to a daily
# sweep at APPLICATION_RETENTION_TIME, local time (communities.services.privacy; docs/recruitment.md).
APPLICATION_RETENTION_DAYS = env.int("APPLICATION_RETENTION_DAYS", default=30)
APPLICATION_RETENTION_TIME = env.str("APPLICATION_RETENTION_TIME", default="04:00")
CELERY_BEAT_SCHEDULE.update(
    {
        "applications-retention": {
            "task": "communities.tasks.applications_retention_sweep",
            "schedule": crontab(**_at(APPLICATION_RETENTION_TIME)),
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

# --- Uploads and imports (config.uploads, communities.services.imports; docs/deployment.md) ------------
# The import file as uploaded, and every stage of reading it: bounded by what is read, not by
# what is kept (a file of blank rows keeps nothing).
IMPORT_MAX_BYTES = 20 * 1024 * 1024
IMPORT_MAX_UNPACKED_BYTES = 64 * 1024 * 1024  # an XLSX's parts once inflated (a full file: ~14 MB)
IMPORT_MAX_LINES = 25000  # rows read, blank ones and the header included
IMPORT_MAX_COLUMNS = 64  # the widest template has 12
IMPORT_MAX_CELLS = 400000  # cells in a sheet (20,000 rows of 12 columns are 240,000)
IMPORT_MAX_ROWS = 20000  # data rows
# A request body: the largest import file and the form around it. A larger one is refused with
# 413 `file_too_large` before any of it is read (config.uploads); the proxy in front refuses it
# too (nginx: client_max_body_size 21m). Uploaded files above FILE_UPLOAD_MAX_MEMORY_SIZE go to
# a temporary file, not memory; the form's other fields may take DATA_UPLOAD_MAX_MEMORY_SIZE.
UPLOAD_MAX_BYTES = IMPORT_MAX_BYTES + 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# Proof of a qualification or an insurance (a photo or a PDF): at most this large, stored under
# PRIVATE_MEDIA_ROOT, which no web server serves (docs/privacy.md, "Proof files").
PROOF_MAX_BYTES = env.int("PROOF_MAX_BYTES", default=5 * 1024 * 1024)
PRIVATE_MEDIA_ROOT = env.str("PRIVATE_MEDIA_ROOT", default=str(BASE_DIR / "var" / "private"))
# --- end of uploads and imports ----------------------------------------------------------------
# Right after the language is chosen, before anything (the CSRF check) reads the body.
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.locale.LocaleMiddleware") + 1, "config.uploads.UploadLimitMiddleware"
)

# --- The live operations board (docs/mobilisation.md) ----------------------------------------
LIVE_BOARD_POLL_SECONDS = env.int("LIVE_BOARD_POLL_SECONDS", default=15)
# The city's figures are worked out once per this many seconds and shared by every open board.
LIVE_BOARD_CACHE_SECONDS = env.int("LIVE_BOARD_CACHE_SECONDS", default=10)
