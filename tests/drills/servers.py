"""What the drills share: a gunicorn of the project on a free port, and a small HTTP client."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.waiting import HANG_GUARD

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(url: str, token: str, method: str = "GET", data: dict | None = None) -> tuple[int, dict]:
    headers = {"Authorization": f"Token {token}"}
    body = None
    if data is not None:
        body, headers["Content-Type"] = json.dumps(data).encode(), "application/json"
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=HANG_GUARD) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def start_gunicorn(env: dict, log_path: Path) -> tuple[subprocess.Popen, str]:
    """One worker, two threads, logging to ``log_path``; returns the process and its base URL."""
    port = free_port()
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [
                *(sys.executable, "-m", "gunicorn", "config.wsgi:application", "-b", f"127.0.0.1:{port}"),
                *("-w", "1", "--threads", "2", "--timeout", "60", "--no-control-socket"),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return server, f"http://127.0.0.1:{port}"


def wait_healthy(base: str, token: str, log_path: Path, seconds: float = HANG_GUARD) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if request(f"{base}/health/", token)[0] == 200:
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, log_path.read_text(errors="replace")[-2000:]
        time.sleep(0.3)
