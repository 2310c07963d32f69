"""Production settings with the stack-floor endpoints of ``bench/floor_urls.py`` added."""

from config.settings.production import *  # noqa: F403

ROOT_URLCONF = "bench.floor_urls"
