"""Settings for the test suite: fixed keys, fast hashing, and the database from DATABASE_URL."""

from config.settings.base import *  # noqa: F403

DEBUG = False
SECRET_KEY = "test-secret-key-not-for-production"  # noqa: S105
ID_NUMBER_KEYS = ["hSfnH9OOfJh-yyZiWBtfDIhkTZNwddQQA3SCQ0VBFaQ="]
ID_NUMBER_HASH_KEY = "test-id-number-hash-key"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Tests run tasks in-process; a server or worker a drill starts sets CELERY_EAGER=0.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
ALLOWED_HOSTS = ["*"]

# Without REDIS_URL the suite starts the embedded Redis on this socket (tests/conftest.py).
# Each xdist worker gets its own server so tests never share a broker.
import hashlib as _hashlib  # noqa: E402
import os as _os  # noqa: E402
import tempfile as _tempfile  # noqa: E402

from config.env import BASE_DIR as _BASE_DIR  # noqa: E402
from config.env import celery_broker_url as _broker_url  # noqa: E402
from config.env import env as _env  # noqa: E402
from config.env import redis_url_with_db as _redis_db  # noqa: E402

# Per checkout and per process, so two test runs at once never share a database or a broker.
_tag = f"{_hashlib.sha256(str(_BASE_DIR).encode()).hexdigest()[:8]}-{_os.getpid()}"
TEST_REDIS_SOCKET = (
    f"{_tempfile.gettempdir()}/vm-redis-{_os.getuid()}-{_tag}-{_os.environ.get('PYTEST_XDIST_WORKER', 'main')}.sock"
)
REDIS_URL = _env.str("REDIS_URL", default=f"unix://{TEST_REDIS_SOCKET}?db=0")
CELERY_BROKER_URL = _broker_url(REDIS_URL)
# The cache (throttle counts) under a key prefix of its own per test process, cleared key by key
# (config/cache.py): one xdist worker's, or another test run's, cache.clear() between tests never
# resets this one's counts on a shared Redis (CI's REDIS_URL), whichever database it uses.
_worker = _os.environ.get("PYTEST_XDIST_WORKER", "main")
_cache_db = 1 + (int(_worker[2:]) % 15 if _worker.startswith("gw") and _worker[2:].isdigit() else 0)
CACHES["default"]["LOCATION"] = _env.str("CACHE_REDIS_URL", default=_redis_db(REDIS_URL, _cache_db))  # noqa: F405
CACHES["default"]["BACKEND"] = "config.cache.PrefixedRedisCache"  # noqa: F405
# (A process a test starts to share the counts is given the prefix: CACHE_KEY_PREFIX.)
CACHES["default"]["KEY_PREFIX"] = _env.str("CACHE_KEY_PREFIX", default=f"vm-{_tag}-{_worker}")  # noqa: F405

# Without DATABASE_URL the suite runs on the embedded PostgreSQL under var/postgres, started once
# for the whole run (tests/conftest.py); pytest-django creates a test database per xdist worker.
# Named after the run's main process (an xdist worker's parent), so two runs in one checkout
# never share one; tests/conftest.py drops those of runs that were killed.
from config.env import uses_embedded_postgres as _embedded  # noqa: E402

if _embedded():
    _run = _os.getppid() if _os.environ.get("PYTEST_XDIST_WORKER") else _os.getpid()
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{_run}"}  # noqa: F405

# Each test run writes its SMS to its own file, never to var/ (ids restart with each database).
if not _os.environ.get("NOTIFY_SMS_FILE"):
    NOTIFICATIONS = {**NOTIFICATIONS, "SMS_FILE": f"{_tempfile.gettempdir()}/vm-sms-{_os.getuid()}-{_tag}.jsonl"}  # noqa: F405

CELERY_TASK_ALWAYS_EAGER = _env.bool("CELERY_EAGER", default=True)
# Sends are published at commit, on the committing thread, so tests see them at once; servers a
# drill starts set NOTIFY_SEND_BATCH_SECONDS to batch them as production does.
NOTIFICATIONS = {**NOTIFICATIONS, "SEND_BATCH_SECONDS": _env.float("NOTIFY_SEND_BATCH_SECONDS", default=0.0)}

# Log-in codes are handed to the SMS backend on the committing thread, so a test reads the outbox
# as soon as the request has answered (volunteers/login_codes.py).
LOGIN_CODE = {**LOGIN_CODE, "SEND_IN_BACKGROUND": _env.bool("LOGIN_CODE_SEND_IN_BACKGROUND", default=False)}  # noqa: F405
# Tests read the live board afresh after each change (communities/selectors/live.py).
LIVE_BOARD_CACHE_SECONDS = 0

# Proof files of each test run in a directory of their own.
PRIVATE_MEDIA_ROOT = f"{_tempfile.gettempdir()}/vm-private-{_os.getuid()}-{_tag}"
