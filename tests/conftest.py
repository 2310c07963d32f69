import os
import re
from pathlib import Path

import psutil
import pytest
from django.conf import settings
from rest_framework.test import APIClient

from config import embedded_postgres, embedded_redis
from config.env import uses_embedded_postgres

EMBEDDED_POSTGRES_LEASE = pytest.StashKey[embedded_postgres.Lease]()


def pytest_configure(config):
    """Without DATABASE_URL the suite runs on the embedded PostgreSQL under var/postgres: started
    here, once, in the main process (with xdist: the controller, before any worker exists; each
    worker then gets its own test database from pytest-django)."""
    if hasattr(config, "workerinput") or not uses_embedded_postgres():
        return
    lease = embedded_postgres.Lease()
    config.stash[EMBEDDED_POSTGRES_LEASE] = lease
    try:
        server = embedded_postgres.start()
    except embedded_postgres.EmbeddedPostgresError as exc:
        lease.release()
        raise pytest.UsageError(str(exc)) from None
    drop_test_databases_of_killed_runs(server.socket_dir)


def drop_test_databases_of_killed_runs(socket_dir: Path) -> None:
    """Test databases are named after their run's main process (config/settings/test.py); a run
    that was killed could not drop its own."""
    from psycopg import sql

    pattern = re.compile(rf"test_{re.escape(settings.DATABASES['default']['NAME'])}_(\d+)(_gw\d+)?")
    with embedded_postgres.connect(socket_dir) as conn:
        for (name,) in conn.execute("SELECT datname FROM pg_database").fetchall():
            found = pattern.fullmatch(name)
            if found and not psutil.pid_exists(int(found.group(1))):
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def pytest_unconfigure(config):
    """Stop the embedded server at the end, unless another program (make run) still uses it."""
    lease = config.stash.get(EMBEDDED_POSTGRES_LEASE, None)
    if lease is not None:
        lease.release()


@pytest.fixture(scope="session", autouse=True)
def redis_server():
    """The machine's Redis when REDIS_URL is set, else a real embedded redis-server for this run."""
    if os.environ.get("REDIS_URL"):
        yield settings.REDIS_URL
        return
    process = embedded_redis.start(Path(settings.TEST_REDIS_SOCKET))
    yield settings.REDIS_URL
    embedded_redis.stop(process)


@pytest.fixture(autouse=True)
def fresh_cache():
    """Throttle counts live in the cache (this run's Redis, a database apart from the broker's);
    no test inherits another's."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def default_language():
    """Every test starts in the default language. LocaleMiddleware activates the request's
    language on the thread and leaves it there, so without this a test would render its own
    text in whatever language an earlier test's request asked for."""
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.deactivate()


@pytest.fixture
def api_client():
    return APIClient()
