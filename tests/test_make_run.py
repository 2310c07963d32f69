"""``make run`` end to end: ``python -m config.devrun`` on the embedded PostgreSQL and Redis.

Each test gives devrun its own VAR_DIR (database, secrets, Redis socket) and a free port, and
strips REDIS_URL and DATABASE_URL so the outcome does not depend on the machine's services.
"""

from __future__ import annotations

import contextlib
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
import urllib.parse
import urllib.request
from pathlib import Path

import psutil
import pytest

from config.env import BASE_DIR

pytestmark = pytest.mark.slow

# A guard against a hang, not a clock: building the venv, migrate, the demo seed and booting
# gunicorn and Celery take 2-3 minutes on a quiet machine.
STARTUP_TIMEOUT = 1200


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


def base_python() -> str:
    """The interpreter this venv was made from: a user's Python, with none of our packages."""
    return getattr(sys, "_base_executable", None) or sys.executable


def fresh_copy() -> Path:
    """The tree as a clone would have it (tracked and new files, nothing ignored) in a new folder."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=BASE_DIR,
        capture_output=True,
        check=True,
    ).stdout.decode()
    # Short on purpose: the embedded Redis socket lands in <copy>/var/ and must stay under ~100 characters.
    copy = Path(tempfile.mkdtemp(prefix="vmrun"))
    for name in filter(None, listed.split("\0")):
        source = BASE_DIR / name
        if source.is_file():
            target = copy / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return copy


def user_env(port: int) -> dict[str, str]:
    """A shell as a new user has it: no virtualenv active, nothing of ours configured."""
    venv_bin = str(Path(sys.executable).parent)
    env = {**os.environ, "PORT": str(port), "PYTHONUNBUFFERED": "1"}
    for name in (
        "VIRTUAL_ENV",
        "PYTHONPATH",
        "PYTHONHOME",
        "REDIS_URL",
        "DATABASE_URL",
        "DJANGO_SETTINGS_MODULE",
        "VAR_DIR",
    ):
        env.pop(name, None)
    env["PATH"] = os.pathsep.join(part for part in env["PATH"].split(os.pathsep) if part != venv_bin)
    return env


class MakeRun:
    """``make run`` in ``copy``, in its own process group as a terminal's foreground job is."""

    def __init__(self, copy: Path, port: int, log_name: str):
        self.copy, self.port = copy, port
        self.log_path = copy / log_name
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                ["make", "run", f"PYTHON={base_python()}"],
                cwd=copy,
                env=user_env(port),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float = STARTUP_TIMEOUT) -> None:
        """Until ``text`` is printed; the deadline only guards against a hang."""
        deadline = time.monotonic() + timeout
        while text not in self.output():
            assert self.process.poll() is None, f"make run exited with {self.process.returncode}:\n{self.output()}"
            assert time.monotonic() < deadline, f"{text!r} not printed within {timeout} s:\n{self.output()}"
            time.sleep(0.5)

    def supervisor(self) -> psutil.Process:
        for child in psutil.Process(self.process.pid).children(recursive=True):
            if child.cmdline()[-2:] == ["-m", "config.devrun"]:
                return child
        raise AssertionError("no config.devrun under make")

    def ctrl_c(self) -> None:
        os.killpg(self.process.pid, signal.SIGINT)  # what the terminal does: the whole foreground group
        self.process.wait(timeout=120)

    def kill(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def processes_in(copy: Path) -> list[psutil.Process]:
    """Live processes started from the copy: its venv's Python, its Redis, or running in it."""
    found = []
    for process in psutil.process_iter():
        try:
            if is_gone(process):
                continue
            if str(copy) in " ".join(process.cmdline()) or process.cwd().startswith(str(copy)):
                found.append(process)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return found


def runtime_python(copy: Path, code: str, port: int) -> subprocess.CompletedProcess:
    env = {**user_env(port), "DJANGO_SETTINGS_MODULE": "config.settings.local"}
    env["REDIS_URL"] = f"unix://{copy / 'var' / 'redis.sock'}?db=0"
    return subprocess.run(
        [str(copy / ".venv" / "bin" / "python"), "-c", code], cwd=copy, env=env, capture_output=True, text=True
    )


# Every module of ours, and every module any of them imports (also inside function bodies), must
# import in the runtime venv: what the web server, the worker, beat and every command can reach.
IMPORT_EVERYTHING = """
import ast, importlib, pathlib, django
django.setup()
names = set()
for package in ("config", "volunteers", "communities"):
    for path in pathlib.Path(package).rglob("*.py"):
        module = ".".join(path.with_suffix("").parts).removesuffix(".__init__")
        if module not in ("config.deploy.gunicorn.conf", "config.settings.production"):
            names.add(module)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names.add(node.module)
failed = {}
for name in sorted(names):
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed[name] = repr(exc)
print(len(names), failed)
"""


def test_make_run_works_from_a_runtime_only_venv_in_a_fresh_copy():
    """The README's first command as a new user meets it.

    A fresh copy of the tree, a shell with no virtualenv, and ``make run`` itself: it builds
    ``.venv`` from requirements.txt alone (pip's wheel cache keeps this quick after the first
    time), serves the app with a worker and beat, and Ctrl-C leaves nothing behind. Then the
    supervisor is killed with SIGKILL and the next ``make run`` stops what it left running.
    """
    copy = fresh_copy()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    runs: list[MakeRun] = []
    try:
        first = MakeRun(copy, port, "make-run-1.log")
        runs.append(first)
        first.wait_for("Ready:")

        # Runtime only: the dev requirements are not there to hide a missing runtime package.
        check = runtime_python(
            copy, "import importlib.util as u; print(u.find_spec('pytest'), u.find_spec('packaging'))", port
        )
        assert check.stdout.split()[0] == "None", check.stdout + check.stderr
        scan = runtime_python(copy, IMPORT_EVERYTHING, port)
        assert scan.returncode == 0, scan.stderr
        count, failed = scan.stdout.split(" ", 1)
        assert int(count) > 100 and failed.strip() == "{}", scan.stdout

        for path in ("/", "/health/", "/api/docs/", "/api/redoc/", "/accounts/login/"):
            status, body = get(f"{base}{path}")
            assert status == 200, f"{path}: {status}\n{body[:500]!r}"
        # The docs' own assets are served from the venv's drf-spectacular-sidecar, not a CDN.
        docs = get(f"{base}/api/docs/")[1].decode()
        assets = [part.split('"')[0] for part in docs.split('src="/static/')[1:]]
        assert assets
        for asset in assets:
            status, body = get(f"{base}/static/{asset}")
            assert status == 200 and len(body) > 1000, asset

        # The demo can be tried with the code log-in: make run prints the code it "texts".
        request = urllib.request.Request(
            f"{base}/api/v1/auth/sms-code/",
            data=json.dumps({"mobile": "13800000001"}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            assert response.status == 202
        first.wait_for("login code for 138****0001: ")

        # A worker runs a task of ours and says so.
        call = runtime_python(
            copy,
            "from config.celery import app;"
            "print(app.send_task('communities.tasks.daily_report_task', args=['2022-03-01']).id)",
            port,
        )
        assert call.returncode == 0, call.stderr
        task_id = call.stdout.strip()
        first.wait_for(f"daily_report_task[{task_id}] succeeded")

        # SIGKILL the supervisor: nothing can clean up, and web, worker, beat and Redis stay.
        first.supervisor().kill()
        first.process.wait(timeout=60)
        leftovers = processes_in(copy)
        assert leftovers, "killing the supervisor should have left its children running"

        second = MakeRun(copy, port, "make-run-2.log")
        runs.append(second)
        second.wait_for("Ready:")
        assert "A previous `make run` was killed and left running:" in second.output()
        assert "skipping seed_demo" in second.output()
        assert not [process for process in leftovers if not is_gone(process)], "the leftovers were not stopped"

        second.ctrl_c()
        assert "Stopped." in second.output()
        _, alive = psutil.wait_procs(processes_in(copy), timeout=30)
        assert not alive, f"left running: {alive}\n{second.output()}"
    finally:
        for run in runs:
            run.kill()
        for process in processes_in(copy):
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        shutil.rmtree(copy, ignore_errors=True)


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


def machine_postgres() -> tuple[str, int] | None:
    """The PostgreSQL this machine runs (DATABASE_URL's server, else 127.0.0.1:5432), if it answers."""
    parsed = urllib.parse.urlparse(os.environ.get("DATABASE_URL", ""))
    host, port = (parsed.hostname, parsed.port or 5432) if parsed.scheme.startswith("postgres") else ("127.0.0.1", 5432)
    try:
        with socket.create_connection((host, port), timeout=3):
            return host, port
    except OSError:
        return None


def devrun_with_database(var_dir: Path, url: str) -> subprocess.CompletedProcess:
    env = {**devrun_env(var_dir, free_port()), "DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "config.devrun"], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=300
    )


def error_lines(result: subprocess.CompletedProcess) -> list[str]:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return [line for line in result.stderr.splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres//db", "is not a usable database URL: use a postgres:// URL"),
        ("postgres://user:s3cret@127.0.0.1:port/db", "Port could not be cast to integer"),
        ("postgres://user@127.0.0.1:5432/", "it names no database after the last '/'"),
    ],
)
def test_make_run_names_a_malformed_database_url_in_one_line(var_dir, url, expected):
    lines = error_lines(devrun_with_database(var_dir, url))
    assert len(lines) == 1 and lines[0].startswith("Error: DATABASE_URL="), lines
    assert expected in lines[0]
    assert "s3cret" not in lines[0]
    assert not processes_using(var_dir)


def test_make_run_says_to_create_a_database_that_does_not_exist(var_dir):
    server = machine_postgres()
    if server is None:
        pytest.skip("no PostgreSQL answers on this machine")
    host, port = server
    lines = error_lines(devrun_with_database(var_dir, f"postgres://postgres@{host}:{port}/vm_never_created"))
    assert lines == [
        f'Error: PostgreSQL at {host}:{port} has no database "vm_never_created". Create it first, '
        f"e.g. createdb -h {host} -p {port} -U postgres vm_never_created"
    ]


def test_make_run_says_which_server_does_not_answer(var_dir):
    port = free_port()  # nothing listens there
    lines = error_lines(devrun_with_database(var_dir, f"postgres://postgres@127.0.0.1:{port}/volunteers"))
    assert lines == [
        f"Error: No PostgreSQL answers at 127.0.0.1:{port} (Connection refused). Start it or correct "
        "DATABASE_URL; without DATABASE_URL, make run starts an embedded PostgreSQL under var/."
    ]


def test_make_run_gives_up_on_a_server_that_accepts_and_never_answers(var_dir):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        lines = error_lines(devrun_with_database(var_dir, f"postgres://postgres@127.0.0.1:{port}/volunteers"))
    assert len(lines) == 1 and lines[0].startswith(f"Error: No PostgreSQL answers at 127.0.0.1:{port} ("), lines
    assert "timeout" in lines[0]
