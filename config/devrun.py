"""``make run``: the whole system on one machine, with nothing installed but Python.

Steps: check the port, start Redis (the embedded server unless ``REDIS_URL`` is set), start
PostgreSQL (the embedded server under ``var/postgres`` unless ``DATABASE_URL`` is set) and
migrate, load the demo data into an empty database, then run gunicorn, one Celery worker and
Celery beat until Ctrl-C. Every child runs in its own process group, so stopping (Ctrl-C, SIGTERM,
or one part dying) ends all of them and leaves nothing behind; the embedded PostgreSQL keeps its
data for the next run. Each output line names the part that printed it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import redis

from config import embedded_postgres, embedded_redis
from config.env import (
    BASE_DIR,
    VAR_DIR,
    default_redis_url,
    embedded_postgres_dir,
    embedded_redis_socket,
    redacted_url,
    uses_embedded_postgres,
)

STEPS = 5
HEALTH_TIMEOUT = 300  # seconds from starting the servers until /health/ must answer 200 (a busy machine is slow)
STOP_TIMEOUT = 10  # seconds the parts get to shut down before they are killed
COLOURS = {"web": 32, "worker": 35, "beat": 36, "migrate": 33, "seed": 33, "sms": 31}
PARTS = {
    "web": "web server (gunicorn)",
    "worker": "Celery worker",
    "beat": "Celery beat",
    "redis": "embedded Redis",
    "postgres": "embedded PostgreSQL",
}
LABEL_WIDTH = max(len(label) for label in COLOURS)


class Stop(Exception):
    """Ctrl-C, SIGTERM or SIGHUP arrived; raised only at checkpoints, never mid-way through a start."""


class Failure(Exception):
    """Something went wrong; the message says what, and devrun exits 1."""


_print_lock = threading.Lock()
_stop_requested = False


def request_stop(signum, frame) -> None:
    # Only set a flag: an exception raised here could land between starting a process and
    # recording it, and that process would be left behind.
    global _stop_requested
    _stop_requested = True


def checkpoint() -> None:
    if _stop_requested:
        raise Stop


def pause(seconds: float) -> None:
    checkpoint()
    time.sleep(seconds)  # a signal ends the sleep early only if its handler raises, so keep it short
    checkpoint()


def say(text: str = "") -> None:
    with _print_lock:
        print(text, flush=True)


def step(number: int, text: str) -> None:
    say(f"[{number}/{STEPS}] {text}")


def label(name: str) -> str:
    padded = name.ljust(LABEL_WIDTH)
    if sys.stdout.isatty():
        return f"\033[{COLOURS.get(name, 0)}m{padded} |\033[0m "
    return f"{padded} | "


class Children:
    """The processes devrun started, each the leader of its own process group."""

    def __init__(self):
        self.running: dict[str, subprocess.Popen] = {}
        self.pumps: list[threading.Thread] = []

    def start(self, name: str, *args: str) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, *args],
            cwd=BASE_DIR,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.running[name] = process
        started_processes.add(name, process.pid)
        pump = threading.Thread(target=self._pump, args=(name, process), daemon=True)
        pump.start()
        self.pumps.append(pump)
        return process

    @staticmethod
    def _pump(name: str, process: subprocess.Popen) -> None:
        prefix = label(name)
        for raw in process.stdout:
            line = raw.decode(errors="replace").rstrip()
            with _print_lock:
                sys.stdout.write(f"{prefix}{line}\n")
                sys.stdout.flush()

    def run(self, name: str, *args: str) -> None:
        """Run a setup command to completion, raising Failure if it fails."""
        process = self.start(name, *args)
        while process.poll() is None:
            pause(0.1)
        code = process.returncode
        del self.running[name]
        started_processes.remove(name)
        self.flush_output()
        if code != 0:
            raise Failure(f"`{' '.join(args)}` failed with exit code {code}.")

    def first_dead(self) -> tuple[str, int] | None:
        for name, process in self.running.items():
            if process.poll() is not None:
                return name, process.returncode
        return None

    def stop(self) -> None:
        """Ask every part to stop, wait, then SIGKILL whatever is left of each process group."""
        for process in self.running.values():
            if process.poll() is None:
                process.terminate()  # the leader stops its own workers (gunicorn, Celery's pool)
            else:
                _signal_group(process, signal.SIGTERM)  # a dead leader's orphans
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in self.running.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(max(0.1, deadline - time.monotonic()))
        for process in self.running.values():
            _signal_group(process, signal.SIGKILL)
            process.wait()
        self.running.clear()
        self.flush_output()

    def flush_output(self) -> None:
        """Let the pumps print what the children wrote last."""
        for pump in self.pumps:
            pump.join(timeout=1)
        self.pumps = [pump for pump in self.pumps if pump.is_alive()]


class StartedProcesses:
    """``var/devrun.pids``: every process group this run started, so a run killed with SIGKILL
    (which cannot clean up) is cleaned up by the next one instead of leaving the port and the
    Redis socket taken.

    Each entry is a group leader's pid with its start time: a pid the system has since reused
    for something else has another start time and is left alone.
    """

    def __init__(self, path: Path):
        self.path = path
        self.entries: dict[str, dict] = {}

    def begin(self) -> None:
        self.entries = {"devrun": _identity(os.getpid())}
        self._write()

    def add(self, name: str, pid: int) -> None:
        identity = _identity(pid)
        if identity:
            self.entries[name] = identity
            self._write()

    def remove(self, name: str) -> None:
        if self.entries.pop(name, None):
            self._write()

    def finish(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.entries))
        tmp.replace(self.path)

    def leftovers(self) -> dict[str, int]:
        """The processes a previous run recorded that are still the same processes."""
        try:
            recorded = json.loads(self.path.read_text())
        except (FileNotFoundError, ValueError):
            return {}
        return {
            name: entry["pid"]
            for name, entry in recorded.items()
            if isinstance(entry, dict) and _identity(entry.get("pid", 0)) == entry
        }


def _identity(pid: int) -> dict | None:
    try:
        return {"pid": pid, "started": psutil.Process(pid).create_time()}
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return None


started_processes = StartedProcesses(VAR_DIR / "devrun.pids")


def stop_leftovers() -> None:
    """Stop what a previous run, killed before it could clean up, left running in this VAR_DIR."""
    leftovers = started_processes.leftovers()
    supervisor = leftovers.pop("devrun", None)
    if supervisor:
        raise Failure(
            f"Another `make run` (pid {supervisor}) is running with {VAR_DIR}. "
            f"Stop it first (Ctrl-C in its terminal, or: kill -INT {supervisor})."
        )
    if not leftovers:
        started_processes.finish()
        return
    names = ", ".join(f"{PARTS.get(name, name)} (pid {pid})" for name, pid in leftovers.items())
    say(f"A previous `make run` was killed and left running: {names}. Stopping them…")
    # The database server is not a process group to kill: it is stopped the way it shuts down
    # cleanly, once its clients are gone, and only if no other program (the tests) still uses it.
    postgres = leftovers.pop("postgres", None)
    for pid in leftovers.values():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)
    members = [proc for proc in psutil.process_iter() if _group_of(proc) in leftovers.values()]
    _, alive = psutil.wait_procs(members, timeout=STOP_TIMEOUT)
    for pid in {_group_of(proc) for proc in alive} - {None}:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
    psutil.wait_procs(alive, timeout=STOP_TIMEOUT)
    if postgres:
        try:
            embedded_postgres.Lease().release()
        except embedded_postgres.EmbeddedPostgresError as exc:
            raise Failure(str(exc)) from None
    started_processes.finish()
    say("Stopped the leftovers.")


def _group_of(process: psutil.Process) -> int | None:
    try:
        return os.getpgid(process.pid)
    except (ProcessLookupError, PermissionError):
        return None


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    # The group outlives its leader, so this also reaches stragglers of a child that died.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def check_port(port: int) -> None:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn does
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise Failure(
                f"Port {port} is already in use. Stop the other server or run: PORT={port + 1} make run"
            ) from None


def start_redis() -> tuple[str, subprocess.Popen | None]:
    """Return the Redis URL to use and the embedded server devrun started, if any."""
    url = os.environ.get("REDIS_URL")
    if url:
        try:
            redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3).ping()
        except redis.RedisError as exc:
            raise Failure(
                f"REDIS_URL={redacted_url(url)} does not answer PING ({exc}). "
                "Start that Redis, or unset REDIS_URL to use the embedded one."
            ) from None
        step(1, f"Redis: using REDIS_URL={redacted_url(url)}")
        return url, None
    sock = embedded_redis_socket()
    if _answers_ping(sock):
        redis_cli = os.path.join(os.path.dirname(sys.executable), "redis-cli")
        raise Failure(
            f"A Redis server already answers on {sock}: is another `make run` using {VAR_DIR}? "
            f"If not, a previous run left it behind; stop it with: {redis_cli} -s {sock} shutdown nosave"
        )
    step(1, f"Redis: starting the embedded server on {sock}")
    server = embedded_redis.start(sock)
    started_processes.add("redis", server.pid)
    return default_redis_url(), server


def _answers_ping(sock) -> bool:
    try:
        return sock.exists() and redis.Redis(unix_socket_path=str(sock), socket_timeout=1).ping()
    except redis.RedisError:
        return False  # a stale socket file; embedded_redis.start() replaces it


SQLITE_RETIRED = """\
Note: {old} is the database of an earlier version, which ran on SQLite. SQLite is retired:
the data now lives in PostgreSQL (here the embedded server in {data}), and {old} is not read.
To carry its data over, dump it with a checkout from before the change and load the dump here:
  git worktree add /tmp/vm-sqlite "$(git log --format=%H --diff-filter=A -- config/embedded_postgres.py | tail -1)~1"
  (cd /tmp/vm-sqlite && ln -s {venv} .venv && VAR_DIR={var} .venv/bin/python manage.py dumpdata \\
      --natural-foreign --natural-primary -e contenttypes -e auth.permission -e sessions \\
      -e communities.shiftdaycount -e communities.volunteercount -o {var}/sqlite-dump.json)
  .venv/bin/python manage.py flush --no-input      # with make run going: drops the demo data
  .venv/bin/python manage.py loaddata {var}/sqlite-dump.json
Then move {old} away and this note goes."""


def warn_about_sqlite_database() -> None:
    old = VAR_DIR / "db.sqlite3"
    if old.exists():
        venv = Path(sys.prefix)
        say(SQLITE_RETIRED.format(old=old, data=embedded_postgres_dir(), var=VAR_DIR, venv=venv))


def start_postgres() -> embedded_postgres.Lease | None:
    """The embedded PostgreSQL when ``DATABASE_URL`` is not set: started (or found running) and
    leased for this run; ``None`` with ``DATABASE_URL``."""
    if not uses_embedded_postgres():
        step(2, "Database: using DATABASE_URL; checking that it answers, then migrating…")
        return None
    data = embedded_postgres_dir()
    if embedded_postgres.running_pid(data.resolve()):
        step(2, f"Database: using the embedded PostgreSQL already running in {data}, then migrating…")
    else:
        step(2, f"Database: starting the embedded PostgreSQL in {data} (its data is kept), then migrating…")
    lease = embedded_postgres.Lease()
    try:
        server = embedded_postgres.start()
    except embedded_postgres.EmbeddedPostgresError as exc:
        lease.release()
        raise Failure(str(exc)) from None
    if server.started:
        started_processes.add("postgres", server.pid)
    return lease


def check_database() -> None:
    """Set Django up and make sure the database answers; any problem is one line, not a traceback."""
    import django
    from django.core.exceptions import ImproperlyConfigured

    try:
        django.setup()
    except ImproperlyConfigured as exc:
        raise Failure(str(exc)) from None
    from config.db import connection_problem

    problem = connection_problem()
    if problem:
        raise Failure(problem)


def has_volunteers() -> bool:
    from django.db import connections

    from volunteers.models import Volunteer

    try:
        return Volunteer.objects.exists()
    finally:
        connections.close_all()


def wait_until_healthy(children: Children, url: str) -> None:
    deadline = time.monotonic() + HEALTH_TIMEOUT
    last = "no answer yet"
    while time.monotonic() < deadline:
        check_children(children)
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own http URL
                if response.status == 200:
                    return
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}: {exc.read().decode(errors='replace')}"
        except OSError as exc:
            last = str(exc)
        pause(0.5)
    raise Failure(f"{url} did not answer 200 within {HEALTH_TIMEOUT} s (last answer: {last}).")


def check_children(children: Children) -> None:
    dead = children.first_dead()
    if dead:
        name, code = dead
        how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"
        raise Failure(f"The {PARTS.get(name, name)} {how} unexpectedly; stopping everything.")


class OutboxTail:
    """The log-in codes the file SMS backend writes, printed as they are sent, so the demo can be
    tried with the code log-in. Only lines written after devrun started; only ``login-code:`` keys;
    the number masked. Development only: nothing in the app itself ever prints a code."""

    CODE = re.compile(r"(?<![0-9])[0-9]{6}(?![0-9])")

    def __init__(self, path: Path):
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0

    def new_codes(self) -> list[tuple[str, str]]:
        """``(masked number, code)`` for each log-in code written since the last call."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return []
        if size < self.offset:  # the file was replaced
            self.offset = 0
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            data = handle.read(size - self.offset)
        complete = data[: data.rfind(b"\n") + 1]  # a line still being written waits for the next call
        self.offset += len(complete)
        codes = []
        for line in complete.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a torn line: never sent
            if not str(entry.get("key", "")).startswith("login-code:"):
                continue
            found = self.CODE.search(str(entry.get("text", "")))
            mobile = str(entry.get("to", ""))
            if found:
                codes.append((f"{mobile[:3]}****{mobile[-4:]}" if len(mobile) == 11 else mobile, found.group(0)))
        return codes

    def print_new(self) -> None:
        for mobile, code in self.new_codes():
            say(f"{label('sms')}login code for {mobile}: {code}")


def sms_outbox_tail() -> OutboxTail | None:
    """The tail of the file backend's outbox, when that is the SMS backend (the default)."""
    backend = os.environ.get("NOTIFY_SMS_BACKEND", "config.sms.backends.FileSmsBackend")
    if backend != "config.sms.backends.FileSmsBackend":
        return None  # the console backend prints every text itself; a provider texts a phone
    return OutboxTail(Path(os.environ.get("NOTIFY_SMS_FILE") or VAR_DIR / "sms" / "outbox.jsonl"))


def banner(base: str) -> None:
    from communities.demo import DEMO_LOGINS, DEMO_PASSWORD

    width = max(len(username) for _, username, _, _ in DEMO_LOGINS)
    role_width = max(len(role) for role, _, _, _ in DEMO_LOGINS)
    lines = [
        "",
        f"  Ready:     {base}/",
        f"  Admin:     {base}/admin/",
        f"  API docs:  {base}/api/docs/",
        "",
        "  Demo logins: the code texted to the mobile (printed below as it is sent), or the",
        f"  username with the password {DEMO_PASSWORD}:",
    ]
    lines += [
        f"    {role:<{role_width}}  {mobile or '-':<11}  {username:<{width}}  {what}"
        for role, username, mobile, what in DEMO_LOGINS
    ]
    lines += ["", "  Press Ctrl-C to stop.", ""]
    say("\n".join(lines))


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    port = int(os.environ.get("PORT", "8000"))
    base = f"http://127.0.0.1:{port}"

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, request_stop)

    redis_server = None
    postgres_lease = None
    children = Children()
    try:
        stop_leftovers()
        started_processes.begin()
        check_port(port)
        redis_url, redis_server = start_redis()
        os.environ["REDIS_URL"] = redis_url  # for every child

        warn_about_sqlite_database()
        postgres_lease = start_postgres()
        check_database()
        children.run("migrate", "manage.py", "migrate", "--no-input")

        checkpoint()
        if has_volunteers():
            step(3, "Demo data: the database already has volunteers; skipping seed_demo.")
        else:
            step(3, "Demo data: loading (takes up to half a minute)…")
            children.run("seed", "manage.py", "seed_demo")

        step(4, "Starting the web server, a Celery worker and Celery beat…")
        children.start(
            "web",
            *("-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}"),
            *("--workers", "2", "--threads", "2", "--graceful-timeout", "5", "--access-logfile", "-"),
            "--no-control-socket",  # gunicorn's default socket in ~/.gunicorn would clash between checkouts
        )
        children.start("worker", "-m", "celery", "-A", "config", "worker", "-l", "info", "--concurrency", "2")
        schedule = str(VAR_DIR / "celerybeat-schedule")
        children.start("beat", "-m", "celery", "-A", "config", "beat", "-l", "info", "--schedule", schedule)

        outbox = sms_outbox_tail()
        step(5, f"Waiting for {base}/health/ …")
        wait_until_healthy(children, f"{base}/health/")
        banner(base)
        while True:
            check_children(children)
            if outbox is not None:
                outbox.print_new()
            pause(0.5)
    except Stop:
        say("\nStopping…")
        return 0
    except Failure as exc:
        with _print_lock:
            print(f"\nError: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        # From here on signals only set the flag again, so a second Ctrl-C cannot cut the cleanup short.
        started = bool(children.running or redis_server or postgres_lease)
        children.stop()
        if redis_server:
            embedded_redis.stop(redis_server)
        if postgres_lease:
            release_postgres(postgres_lease)
        if started_processes.entries:
            started_processes.finish()
        if started:
            say("Stopped.")


def release_postgres(lease: embedded_postgres.Lease) -> None:
    try:
        if not lease.release() and embedded_postgres.running_pid(lease.data):
            say("The embedded PostgreSQL keeps running: another program (the tests?) still uses it.")
    except embedded_postgres.EmbeddedPostgresError as exc:
        with _print_lock:
            print(f"\nError: {exc}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
