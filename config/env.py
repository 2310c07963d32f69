"""The only place that reads the process environment.

Everything configurable comes through here, so a reader can see every knob in one file.
Local development needs no configuration at all: secrets that are missing are generated
once and kept under ``var/``, which git ignores, and without ``DATABASE_URL`` the database is
the embedded PostgreSQL server under ``var/postgres`` (config/embedded_postgres.py).
"""

from __future__ import annotations

import hashlib
import secrets
import tempfile
import warnings
from pathlib import Path
from urllib.parse import quote, urlparse

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
SUPPORTED_DATABASE_ENGINES = {"django.db.backends.postgresql"}
# The embedded server (config/embedded_postgres.py): its superuser and the app's database.
EMBEDDED_POSTGRES_USER = "postgres"
EMBEDDED_POSTGRES_DATABASE = "volunteers"
# It listens on no TCP port; the port only names its socket file, ``.s.PGSQL.5432``.
EMBEDDED_POSTGRES_PORT = 5432
UNIX_SOCKET_PATH_MAX = 100  # sun_path holds 108 bytes on Linux, 104 on macOS


def uses_embedded_postgres() -> bool:
    """No ``DATABASE_URL``: ``make run`` and the tests start the embedded PostgreSQL server."""
    return not env.str("DATABASE_URL", default="")


def embedded_postgres_dir() -> Path:
    return VAR_DIR / "postgres"


def embedded_postgres_socket_dir() -> Path:
    """Where the embedded server's Unix socket lives: its data directory, or a short folder under
    the temporary directory when that path would be too long for a socket."""
    data = embedded_postgres_dir().resolve()
    if len(str(data / f".s.PGSQL.{EMBEDDED_POSTGRES_PORT}.lock")) <= UNIX_SOCKET_PATH_MAX:
        return data
    digest = hashlib.sha256(str(data).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"vm-pg-{digest}"


def embedded_database_url() -> str:
    """The embedded server's app database, reached through its socket (``postgres://user@/<dir>/name``)."""
    return (
        f"postgres://{EMBEDDED_POSTGRES_USER}@/{quote(str(embedded_postgres_socket_dir()))}"
        f"/{EMBEDDED_POSTGRES_DATABASE}"
    )


def redacted_url(url: str) -> str:
    """The URL with its password replaced, fit for a message or a log."""
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(f":{parsed.password}@", ":***@", 1)
    return url


def database_settings(default: str) -> dict:
    """``DATABASE_URL`` (or ``default``) as Django's DATABASES entry; a malformed URL says why."""
    url = env.str("DATABASE_URL", default="") or default
    problem = None
    try:
        with warnings.catch_warnings():  # django-environ's warning would print the URL, password and all
            warnings.simplefilter("ignore")
            config = environ.Env.db_url_config(url)
    except (ValueError, KeyError) as exc:
        config, problem = {}, str(exc)
    engine = config.get("ENGINE")
    if problem is None and engine not in SUPPORTED_DATABASE_ENGINES:
        problem = "use a postgres:// URL (or no DATABASE_URL at all for the embedded PostgreSQL)"
    elif problem is None and not config.get("NAME"):
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
