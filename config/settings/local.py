"""Local development: no configuration needed; secrets are generated under var/."""

from config.env import env, local_secret, new_fernet_key, new_secret_key
from config.settings.base import *  # noqa: F403

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default="") or local_secret("secret_key", new_secret_key)
ID_NUMBER_KEYS = env.list("ID_NUMBER_KEYS", default=[]) or [local_secret("id_number_key", new_fernet_key)]
ID_NUMBER_HASH_KEY = env.str("ID_NUMBER_HASH_KEY", default="") or local_secret("id_number_hash_key", new_secret_key)
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
