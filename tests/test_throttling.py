"""config.throttling: request throttles count in Redis, shared by every process, one count per
request even when a burst arrives at once."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.test import RequestFactory
from rest_framework.request import Request

from config.throttling import ScopedRateThrottle

ROOT = Path(__file__).resolve().parent.parent


class AuthView:
    throttle_scope = "auth"


def allowed(address: str) -> bool:
    request = Request(RequestFactory().post("/api/v1/auth/token/", REMOTE_ADDR=address))
    return ScopedRateThrottle().allow_request(request, AuthView())


def test_throttles_count_in_redis():
    assert isinstance(caches["default"], RedisCache)


def test_a_clear_removes_only_this_processs_keys():
    """Another test process on the same Redis database (an xdist worker, a second run) keeps its
    counts when this one clears its own between tests."""
    client = cache._cache.get_client(None, write=True)
    client.set("someone-else:1:throttle_auth_203.0.113.9", "[1]")
    cache.set("mine", 1)
    try:
        cache.clear()
        assert cache.get("mine") is None
        assert client.get("someone-else:1:throttle_auth_203.0.113.9") == b"[1]"
    finally:
        client.delete("someone-else:1:throttle_auth_203.0.113.9")


def test_a_burst_of_sixty_at_once_gets_exactly_the_thirty_allowed():
    barrier = threading.Barrier(60)
    results: list[bool] = []
    lock = threading.Lock()

    def attempt():
        barrier.wait()
        answer = allowed("203.0.113.9")
        with lock:
            results.append(answer)

    threads = [threading.Thread(target=attempt) for _ in range(60)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert (results.count(True), results.count(False)) == (30, 30)
    assert allowed("198.51.100.7") is True


def test_another_process_sees_the_same_count():
    """A gunicorn worker is a process of its own: the 31st request is refused there too."""
    for _ in range(30):
        assert allowed("203.0.113.9") is True
    script = (
        "import django; django.setup();"
        "from tests.test_throttling import allowed;"
        "print(allowed('203.0.113.9'), allowed('198.51.100.7'))"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "REDIS_URL": settings.REDIS_URL,
        "CACHE_KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
    }
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True"]


def test_a_throttle_lets_requests_through_while_redis_is_away(settings):
    """The security limit is the lockout in the database; a Redis outage must not stop log-ins."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "unix:///nonexistent/redis.sock?db=1",
        }
    }
    # (Django's test signals rebuild the cache handler when CACHES changes.)
    assert all(allowed("203.0.113.9") for _ in range(31))


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()
