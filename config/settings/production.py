"""Production: every secret must come from the environment; refuse to start without it."""

from django.core.exceptions import ImproperlyConfigured

from config.env import DATABASE_URL_EXAMPLE, env, trusted_proxy_count, uses_embedded_postgres
from config.settings.base import *  # noqa: F403

if uses_embedded_postgres():
    # The embedded server is for make run and the tests; production names its PostgreSQL.
    raise ImproperlyConfigured(
        f"Set the DATABASE_URL environment variable to the production PostgreSQL (14 or later), "
        f"e.g. {DATABASE_URL_EXAMPLE}"
    )

DEBUG = False
SECRET_KEY = env.str("SECRET_KEY")
ID_NUMBER_KEYS = env.list("ID_NUMBER_KEYS")
ID_NUMBER_HASH_KEY = env.str("ID_NUMBER_HASH_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Trusting the proxy's X-Forwarded-Proto means there is a proxy: say how many (docs/deployment.md).
NUM_PROXIES = trusted_proxy_count(behind_proxy=bool(SECURE_PROXY_SSL_HEADER))
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SECURE = True
# tests/test_deploy_check.py runs ``manage.py check --deploy --fail-level WARNING`` on this file.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
