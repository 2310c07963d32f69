"""The only place that reads the process environment.

Everything configurable comes through here, so a reader can see every knob in one file.
Local development needs no configuration at all: secrets that are missing are generated
once and kept under ``var/``, which git ignores.
"""

from __future__ import annotations

import secrets
import warnings
from pathlib import Path
from urllib.parse import urlparse

import environ
from django.core.exceptions import ImproperlyConfigured

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


def redis_url_with_db(redis_url: str, db: int) -> str:
    """The same Redis server, another database number (``redis://h:6379/0`` -> ``.../1``)."""
    parsed = urlparse(redis_url)
    if parsed.scheme == "unix":
        query = [part for part in parsed.query.split("&") if part and not part.startswith("db=")]
        return f"unix://{parsed.path}?{'&'.join([*query, f'db={db}'])}"
    return parsed._replace(path=f"/{db}").geturl()


def celery_broker_url(redis_url: str) -> str:
    """Celery (kombu) spells a Unix-socket Redis URL differently from redis-py."""
    parsed = urlparse(redis_url)
    if parsed.scheme == "unix":
        return f"redis+socket://{parsed.path}"
    return redis_url


DATABASE_URL_EXAMPLE = "postgres://user:password@127.0.0.1:5432/volunteers"
SUPPORTED_DATABASE_ENGINES = {"django.db.backends.postgresql", "django.db.backends.sqlite3"}


def redacted_url(url: str) -> str:
    """The URL with its password replaced, fit for a message or a log."""
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(f":{parsed.password}@", ":***@", 1)
    return url


def database_settings(default: str) -> dict:
    """``DATABASE_URL`` (or ``default``) as Django's DATABASES entry; a malformed URL says why."""
    url = env.str("DATABASE_URL", default=default)
    problem = None
    try:
        with warnings.catch_warnings():  # django-environ's warning would print the URL, password and all
            warnings.simplefilter("ignore")
            config = environ.Env.db_url_config(url)
    except (ValueError, KeyError) as exc:
        config, problem = {}, str(exc)
    engine = config.get("ENGINE")
    if problem is None and engine not in SUPPORTED_DATABASE_ENGINES:
        problem = "use a postgres:// URL (or sqlite:// for one-machine use)"
    elif problem is None and engine == "django.db.backends.postgresql" and not config.get("NAME"):
        problem = "it names no database after the last '/'"
    if problem:
        raise ImproperlyConfigured(
            f"DATABASE_URL={redacted_url(url)!r} is not a usable database URL: {problem}. "
            f"Expected e.g. {DATABASE_URL_EXAMPLE}"
        )
    return config


def trusted_proxy_count(*, behind_proxy: bool) -> int:
    """``NUM_PROXIES``: how many reverse proxies in front of the app append to X-Forwarded-For.

    Lockouts and throttles count per client address (``config/client.py``); behind a proxy
    whose count is not set, every client would share the proxy's address, so twenty wrong
    passwords from anyone would lock everyone out. Settings that trust a proxy's headers
    (``SECURE_PROXY_SSL_HEADER``) therefore refuse to start without an explicit count of 1 or more.
    """
    raw = env.str("NUM_PROXIES", default="").strip()
    if not raw:
        if behind_proxy:
            raise ImproperlyConfigured(
                "Set the NUM_PROXIES environment variable: these settings trust a TLS proxy's "
                "X-Forwarded-Proto header (SECURE_PROXY_SSL_HEADER), so say how many proxies stand in "
                "front of the app (usually 1). Without it every client shares the proxy's address and "
                "one client's failed log-ins lock everybody out."
            )
        return 0
    try:
        count = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"NUM_PROXIES must be a whole number, not {raw!r}.") from None
    if count < 0:
        raise ImproperlyConfigured(f"NUM_PROXIES must not be negative, not {count}.")
    if behind_proxy and count < 1:
        raise ImproperlyConfigured(
            "NUM_PROXIES=0, but these settings trust a TLS proxy's X-Forwarded-Proto header "
            "(SECURE_PROXY_SSL_HEADER): set it to the number of proxies in front of the app (usually 1)."
        )
    return count
