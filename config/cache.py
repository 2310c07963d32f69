"""A Redis cache whose ``clear()`` removes only its own keys.

Django's ``RedisCache.clear()`` flushes the whole Redis database. Where several processes share
one database (the test suite's xdist workers, two test runs on one machine's Redis), one
process's clear would wipe the others' throttle counts in the middle of a test. This cache
deletes only the keys under its ``KEY_PREFIX``, found with ``SCAN`` (never ``KEYS``).
"""

from __future__ import annotations

from django.core.cache.backends.redis import RedisCache


class PrefixedRedisCache(RedisCache):
    def clear(self) -> bool:
        client = self._cache.get_client(None, write=True)
        batch: list[bytes] = []
        for key in client.scan_iter(match=self.make_key("*"), count=1000):  # "<prefix>:<version>:*"
            batch.append(key)
            if len(batch) == 1000:
                client.delete(*batch)
                batch = []
        if batch:
            client.delete(*batch)
        return True
