"""Settings read from the environment reach everything that depends on them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_celery_beat_runs_in_the_configured_time_zone():
    """The daily report's crontab is read in CELERY_TIMEZONE: it must be the programme's
    TIME_ZONE, not a fixed Asia/Shanghai (21:00 there is 14:00 in Berlin)."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "TIME_ZONE": "Europe/Berlin"}
    script = (
        "import json, django; django.setup();"
        "from django.conf import settings; from config.celery import app;"
        "print(json.dumps([settings.TIME_ZONE, settings.CELERY_TIMEZONE, str(app.timezone)]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == ["Europe/Berlin"] * 3
