"""``make run`` end to end: ``python -m config.devrun`` on SQLite and the embedded Redis.

Each test gives devrun its own VAR_DIR (database, secrets, Redis socket) and a free port, and
strips REDIS_URL and DATABASE_URL so the outcome does not depend on the machine's services.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from config.env import BASE_DIR

pytestmark = pytest.mark.slow

STARTUP_TIMEOUT = 120  # migrate + the demo seed + booting gunicorn and Celery


@pytest.fixture
def var_dir():
    # Short on purpose: a Unix socket path must stay under ~100 characters.
    path = Path(tempfile.mkdtemp(prefix="vm"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def devrun_env(var_dir: Path, port: int) -> dict[str, str]:
    env = {**os.environ, "VAR_DIR": str(var_dir), "PORT": str(port), "PYTHONUNBUFFERED": "1"}
    for name in ("REDIS_URL", "DATABASE_URL", "DJANGO_SETTINGS_MODULE"):
        env.pop(name, None)
    return env


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def is_gone(process: psutil.Process) -> bool:
    try:
        return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def processes_using(var_dir: Path) -> list[psutil.Process]:
    """Live processes whose environment points at this VAR_DIR, i.e. anything devrun started."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get("VAR_DIR") == str(var_dir) and not is_gone(process):
                found.append(process)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return found


def test_make_run_serves_the_app_and_leaves_nothing_behind_on_ctrl_c(var_dir):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = var_dir / "devrun.log"
    with log_path.open("wb") as log:
        devrun = subprocess.Popen(
            [sys.executable, "-m", "config.devrun"],
            cwd=BASE_DIR,
            env=devrun_env(var_dir, port),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    output = lambda: log_path.read_text(errors="replace")  # noqa: E731
    started = time.monotonic()
    descendants: list[psutil.Process] = []
    try:
        health = None
        while time.monotonic() - started < STARTUP_TIMEOUT:
            assert devrun.poll() is None, f"devrun exited with {devrun.returncode}:\n{output()}"
            try:
                status, body = get(f"{base}/health/")
            except OSError:
                status = None
            if status == 200:
                health = json.loads(body)
                break
            time.sleep(0.5)
        assert health is not None, f"/health/ never answered 200:\n{output()}"
        assert health["checks"]["database"]["ok"] is True
        assert health["checks"]["redis"]["ok"] is True
        print(f"healthy after {time.monotonic() - started:.1f} s")

        # It really used SQLite and the embedded Redis inside its own VAR_DIR.
        assert (var_dir / "db.sqlite3").exists()
        assert (var_dir / "redis.sock").exists()

        assert get(f"{base}/")[0] == 200
        status, css = get(f"{base}/static/admin/css/base.css")  # WhiteNoise, without collectstatic
        assert status == 200 and css

        worker_env = {
            **devrun_env(var_dir, port),
            "REDIS_URL": f"unix://{var_dir / 'redis.sock'}?db=0",
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
        }
        deadline = time.monotonic() + 60
        while True:
            ping = subprocess.run(
                [sys.executable, "-m", "celery", "-A", "config", "inspect", "ping", "--timeout", "3"],
                cwd=BASE_DIR,
                env=worker_env,
                capture_output=True,
                text=True,
            )
            if ping.returncode == 0 and "pong" in ping.stdout:
                break
            assert time.monotonic() < deadline, f"no Celery worker answered:\n{ping.stdout}{ping.stderr}"
            time.sleep(1)

        descendants = psutil.Process(devrun.pid).children(recursive=True)
        commands = [" ".join(child.cmdline()) for child in descendants]
        for part in ("redis-server", "gunicorn", "celery -A config worker", "celery -A config beat"):
            assert any(part in command for command in commands), f"{part} not among {commands}"
        workers = [
            c for c in descendants if c.ppid() == devrun.pid and "celery -A config worker" in " ".join(c.cmdline())
        ]
        assert len(workers) == 1, commands

        devrun.send_signal(signal.SIGINT)
        assert devrun.wait(timeout=60) == 0, output()
    finally:
        if devrun.poll() is None:  # a failed assertion above: clean up, then report
            devrun.send_signal(signal.SIGTERM)
            try:
                devrun.wait(timeout=30)
            except subprocess.TimeoutExpired:
                devrun.kill()
        _, alive = psutil.wait_procs(descendants, timeout=5)
        for process in alive:
            process.kill()

    survivors = [process for process in alive if not is_gone(process)]
    assert not survivors, f"left running: {survivors}\n{output()}"
    assert not processes_using(var_dir), output()
    assert "Stopped." in output()


def test_make_run_refuses_a_port_in_use(var_dir):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "config.devrun"],
            cwd=BASE_DIR,
            env=devrun_env(var_dir, port),
            capture_output=True,
            text=True,
            timeout=60,
        )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert f"Port {port} is already in use" in output
    assert f"PORT={port + 1} make run" in output
    assert time.monotonic() - started < 15
    assert not processes_using(var_dir)
    assert not (var_dir / "redis.sock").exists()
