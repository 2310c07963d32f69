import os
from pathlib import Path

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from config import embedded_redis


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
