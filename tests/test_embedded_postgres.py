"""The embedded PostgreSQL (config/embedded_postgres.py): the database when DATABASE_URL is not set.

The server tests run in a child process with a VAR_DIR of their own, so they never touch the
server this test run itself uses.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config import devrun, env
from config.env import BASE_DIR


def test_without_database_url_the_database_is_the_embedded_servers_socket(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr(env, "VAR_DIR", tmp_path)
    config = env.database_settings(default=env.embedded_database_url())
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["NAME"], config["USER"], config["HOST"]) == ("volunteers", "postgres", str(tmp_path / "postgres"))


def test_a_socket_path_too_long_moves_to_a_short_folder(monkeypatch, tmp_path):
    deep = tmp_path / ("x" * 60) / ("y" * 60)
    monkeypatch.setattr(env, "VAR_DIR", deep)
    folder = env.embedded_postgres_socket_dir()
    assert folder.parent == Path(tempfile.gettempdir()) and folder.name.startswith("vm-pg-")
    assert len(str(folder / ".s.PGSQL.5432.lock")) <= env.UNIX_SOCKET_PATH_MAX
    monkeypatch.setattr(env, "VAR_DIR", tmp_path)
    assert env.embedded_postgres_socket_dir() == (tmp_path / "postgres").resolve()


@pytest.mark.parametrize("url", ["sqlite:///var/db.sqlite3", "mysql://user@127.0.0.1/volunteers"])
def test_a_database_url_that_is_not_postgresql_is_refused(monkeypatch, url):
    monkeypatch.setenv("DATABASE_URL", url)
    with pytest.raises(ImproperlyConfigured, match="use a postgres:// URL"):
        env.database_settings(default=env.embedded_database_url())


def test_make_run_explains_what_to_do_with_an_old_sqlite_database(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(devrun, "VAR_DIR", tmp_path)
    devrun.warn_about_sqlite_database()
    assert capsys.readouterr().out == ""
    (tmp_path / "db.sqlite3").write_bytes(b"SQLite format 3\0")
    devrun.warn_about_sqlite_database()
    note = capsys.readouterr().out
    assert f"Note: {tmp_path / 'db.sqlite3'} is the database of an earlier version" in note
    assert "manage.py dumpdata" in note and "manage.py loaddata" in note


LEASES = """
    from config import embedded_postgres as pg
    from config.env import embedded_postgres_dir

    data = embedded_postgres_dir().resolve()
    first = pg.Lease()
    server = pg.start()
    assert server.started and pg.running_pid(data) == server.pid
    with pg.connect(server.socket_dir, "volunteers") as conn:
        assert conn.execute("SHOW server_version").fetchone()[0].startswith("18.")
        assert conn.execute("SHOW listen_addresses").fetchone()[0] == ""
    second = pg.Lease()  # another program (make test next to make run)
    assert not pg.start().started  # found running: reused, not started twice
    assert first.release() is False and pg.running_pid(data) == server.pid  # the other still uses it
    assert second.release() is True and pg.running_pid(data) is None  # the last one stops it
    third = pg.Lease()
    again = pg.start()  # the data is kept: started again on it
    assert again.started
    with pg.connect(again.socket_dir, "volunteers") as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert third.release() is True
    print("ok")
"""


@pytest.mark.slow
def test_the_last_program_using_the_server_stops_it_and_the_data_stays():
    var_dir = Path(tempfile.mkdtemp(prefix="vmpg"))
    try:
        result = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(LEASES)],
            cwd=BASE_DIR,
            env={**{k: v for k, v in os.environ.items() if k != "DATABASE_URL"}, "VAR_DIR": str(var_dir)},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0 and result.stdout.strip() == "ok", result.stdout + result.stderr
        if os.geteuid() == 0:  # PostgreSQL refuses root: the server ran as a user of its own
            assert (var_dir / "postgres").stat().st_uid != 0
    finally:
        subprocess.run(
            [sys.executable, "-m", "config.embedded_postgres", "stop"],
            cwd=BASE_DIR,
            env={**os.environ, "VAR_DIR": str(var_dir)},
            capture_output=True,
        )
        shutil.rmtree(var_dir, ignore_errors=True)
