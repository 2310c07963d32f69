"""Encryption at rest for ID numbers.

``MultiFernet`` encrypts with the first key of ``settings.ID_NUMBER_KEYS`` and decrypts with
any of them, so keys rotate without downtime (``manage.py rotate_id_keys``). A keyed HMAC of
the normalised number (the blind index) finds duplicates without decrypting anything.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise RuntimeError("ID_NUMBER_KEYS is empty: set it in the environment.")
    return MultiFernet([Fernet(key.encode()) for key in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.ID_NUMBER_KEYS))


def encrypt(value: str) -> str:
    return fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    return fernet().decrypt(token.encode()).decode()


def rotate(token: str) -> str:
    return fernet().rotate(token.encode()).decode()


def blind_index(value: str) -> str:
    key = settings.ID_NUMBER_HASH_KEY.encode()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def keyed_hash(purpose: str, value: str) -> str:
    """A keyed HMAC of ``value`` under a key of its own per ``purpose``, derived from the blind
    index key, so a hash made for one use (a log-in code) never matches one made for another."""
    key = hmac.new(settings.ID_NUMBER_HASH_KEY.encode(), purpose.encode(), hashlib.sha256).digest()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
