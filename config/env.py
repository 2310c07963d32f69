"""The only place that reads the process environment.

Everything configurable comes through here, so a reader can see every knob in one file.
Local development needs no configuration at all: secrets that are missing are generated
once and kept under ``var/``, which git ignores.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from urllib.parse import urlparse

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
env_file = BASE_DIR / ".env"
if env_file.exists():
    environ.Env.read_env(str(env_file))


def local_secret(name: str, factory) -> str:
    """Return a secret kept in ``var/<name>``, creating it on first use (local use only)."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    path = VAR_DIR / name
    if not path.exists():
        path.write_text(factory())
        path.chmod(0o600)
    return path.read_text().strip()


def new_fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def new_secret_key() -> str:
    return secrets.token_urlsafe(50)


def embedded_redis_socket() -> Path:
    return VAR_DIR / "redis.sock"


def default_redis_url() -> str:
    return f"unix://{embedded_redis_socket()}?db=0"


def celery_broker_url(redis_url: str) -> str:
    """Celery (kombu) spells a Unix-socket Redis URL differently from redis-py."""
    parsed = urlparse(redis_url)
    if parsed.scheme == "unix":
        return f"redis+socket://{parsed.path}"
    return redis_url
