"""``manage.py check --deploy`` is clean under the production settings (secure cookies, HSTS, hosts),
and the gunicorn settings give every worker a listening socket of its own."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings

from tests.waiting import HANG_GUARD as READY_TIMEOUT

ROOT = Path(__file__).resolve().parent.parent


def production_env(tmp_path: Path, **overrides) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "DATABASE_URL"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ID_NUMBER_KEYS": Fernet.generate_key().decode(),
            "ID_NUMBER_HASH_KEY": secrets.token_urlsafe(32),
            "ALLOWED_HOSTS": "example.org",
            "SITE_URL": "https://example.org",
            "NUM_PROXIES": "1",
            "DATABASE_URL": "postgres://deploy@127.0.0.1:5432/deploy",  # never connected to
            "VAR_DIR": str(tmp_path / "var"),
            **PROVIDER_ENV,
        }
    )
    env.update(overrides)
    return env


# A production server texts through a provider, with its signature and a template per kind.
PROVIDER_ENV = {
    "NOTIFY_SMS_BACKEND": "config.sms.providers.AliyunSmsBackend",
    "NOTIFY_SMS_ALIYUN_ACCESS_KEY_ID": "LTAI-example",
    "NOTIFY_SMS_ALIYUN_ACCESS_KEY_SECRET": "secret-example",
    "NOTIFY_SMS_SIGN_NAME": "社区志愿服务",
    "NOTIFY_SMS_ALIYUN_TEMPLATES": ",".join(
        f"{kind}=SMS_{number}" for number, kind in enumerate(settings.NOTIFICATIONS["SMS_TEMPLATES"])
    ),
}


def manage(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=READY_TIMEOUT
    )


def test_check_deploy_is_clean_under_production_settings(tmp_path):
    result = manage(production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."


@pytest.mark.parametrize("site_url", ["", "http://localhost:8000", "http://example.org"])
def test_check_deploy_wants_the_public_https_address_for_texted_links(tmp_path, site_url):
    env = production_env(tmp_path, SITE_URL=site_url)
    if not site_url:
        del env["SITE_URL"]
    result = manage(env, "check", "--deploy")
    assert result.returncode != 0
    assert "communities.E003" in result.stderr + result.stdout


def test_check_deploy_refuses_the_file_and_console_sms_backends(tmp_path):
    for backend in ("config.sms.backends.FileSmsBackend", "config.sms.backends.ConsoleSmsBackend"):
        result = manage(production_env(tmp_path, NOTIFY_SMS_BACKEND=backend), "check", "--deploy")
        assert result.returncode == 1, backend
        assert "communities.E001" in result.stderr
        assert "sends no text to anyone" in result.stderr


def test_check_deploy_takes_the_file_backend_when_allowed_on_purpose(tmp_path):
    env = production_env(
        tmp_path, NOTIFY_SMS_BACKEND="config.sms.backends.FileSmsBackend", SMS_ALLOW_DEVELOPMENT_BACKEND="true"
    )
    result = manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_deploy_names_what_a_provider_is_missing(tmp_path):
    env = production_env(
        tmp_path,
        NOTIFY_SMS_BACKEND="config.sms.providers.TencentSmsBackend",
        NOTIFY_SMS_TENCENT_SECRET_ID="AKID-example",
        NOTIFY_SMS_TENCENT_TEMPLATES="confirmed=1001",
    )
    result = manage(env, "check", "--deploy")
    assert result.returncode == 1
    assert "communities.E002" in result.stderr
    assert "SMS_TENCENT['SECRET_KEY']; SMS_TENCENT['SDK_APP_ID']; NOTIFY_SMS_TENCENT_TEMPLATES for assigned," in (
        result.stderr
    )


def test_check_deploy_catches_a_weak_secret_key(tmp_path):
    result = manage(production_env(tmp_path, SECRET_KEY="short"), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 1
    assert "security.W009" in result.stderr


def test_production_refuses_to_start_without_secrets(tmp_path):
    env = production_env(tmp_path)
    del env["SECRET_KEY"]
    result = manage(env, "check")
    assert result.returncode == 1
    assert "Set the SECRET_KEY environment variable" in result.stderr


def test_production_refuses_to_start_without_a_database_url(tmp_path):
    env = production_env(tmp_path)
    del env["DATABASE_URL"]
    result = manage(env, "check")
    assert result.returncode == 1
    assert "ImproperlyConfigured: Set the DATABASE_URL environment variable" in result.stderr


def test_production_refuses_to_start_without_the_proxy_count(tmp_path):
    env = production_env(tmp_path)
    del env["NUM_PROXIES"]
    result = manage(env, "check")
    assert result.returncode == 1
    assert "ImproperlyConfigured: Set the NUM_PROXIES environment variable" in result.stderr


def test_production_refuses_no_proxy_while_trusting_the_proxys_headers(tmp_path):
    result = manage(production_env(tmp_path, NUM_PROXIES="0"), "check")
    assert result.returncode == 1
    assert "ImproperlyConfigured: NUM_PROXIES=0, but these settings trust a TLS proxy" in result.stderr


def _listening_inodes(port: int) -> set[str]:
    """Inodes of the TCP sockets listening on ``port`` (state 0A in /proc/net/tcp)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as rows:
            next(rows)
            for row in rows:
                fields = row.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
    return inodes


def _socket_inodes(pid: int) -> set[str]:
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                found.add(target[8:-1])
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's /proc")
@pytest.mark.parametrize(("reuse_port", "sockets"), [("true", 2), ("false", 1)])
def test_each_gunicorn_worker_listens_on_a_socket_of_its_own(tmp_path, reuse_port, sockets):
    """config/deploy/gunicorn.conf.py: with reuse_port every worker holds a listening socket of
    its own (the kernel spreads connections over them); GUNICORN_REUSE_PORT=false shares one."""
    import psutil

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = production_env(
        tmp_path,
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_WORKERS="2",
        GUNICORN_THREADS="2",
        GUNICORN_REUSE_PORT=reuse_port,
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "config/deploy/gunicorn.conf.py", "config.wsgi:application"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        workers: list = []
        while time.monotonic() < deadline:
            workers = psutil.Process(server.pid).children()
            if len(workers) == 2 and len(_listening_inodes(port)) == sockets:
                break
            time.sleep(0.2)
        listening = _listening_inodes(port)
        per_worker = [_socket_inodes(worker.pid) & listening for worker in workers]
        assert len(workers) == 2
        assert len(listening) == sockets
        assert all(len(held) == 1 for held in per_worker), per_worker
        assert len(set().union(*per_worker)) == sockets
        # The sockets listen before the workers have imported Django: the kernel holds the
        # connection until a worker is ready, however long a busy machine takes for that.
        with socket.create_connection(("127.0.0.1", port), timeout=READY_TIMEOUT) as client:
            client.sendall(b"GET /health/live/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            assert client.recv(64).startswith(b"HTTP/1.1 ")
    finally:
        server.terminate()
        server.wait(timeout=READY_TIMEOUT)
