"""A throwaway PostgreSQL server for the store's tests: Debian's `postgresql` (scripts/setup_env.sh installs it),
a new cluster in a temporary folder, on a free port of 127.0.0.1, for as long as a block needs it.

    with postgres_server() as server:
        url = server.create_database("kits")   # postgresql+psycopg://postgres@127.0.0.1:<port>/kits

The cluster lives in a new folder of the system's temporary folder, removed at the end. PostgreSQL refuses to run
as root (CI and the development machines are root): then initdb and the server run as `nobody`, in a folder handed
to it (under /tmp itself: pytest's tmp_path lies under folders only root may enter). Nothing is synced to disk (a
test's database lives seconds): initdb and the start take about a second, not minutes. Stopped with a fast shutdown
(SIGINT: open sessions are closed) at the end.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tools.processes import child_service

BIN_GLOB = "/usr/lib/postgresql/*/bin"
UNPRIVILEGED = "nobody"  # who runs the server when we are root
SUPERUSER = "postgres"  # the new cluster's superuser (trust authentication, on 127.0.0.1 only)
READY_INTERVAL_S = 0.1
# Durability is worth nothing in a test's database and costs most of the time initdb and each commit take.
NO_SYNC = ("-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")


class PostgresMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    started_s: float  # initdb and start, seconds

    def url(self, database: str = SUPERUSER) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@{self.host}:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new, empty database on this server; its SQLAlchemy URL."""
        with psycopg.connect(host=self.host, port=self.port, user=SUPERUSER, dbname=SUPERUSER, autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def binaries() -> Path:
    """The newest installed PostgreSQL's bin folder."""
    found = sorted(glob.glob(BIN_GLOB), key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0)
    if not found or not Path(found[-1], "initdb").is_file():
        raise PostgresMissing(f"no PostgreSQL server binaries ({BIN_GLOB}/initdb): run scripts/setup_env.sh, which "
                              "installs Debian's postgresql")
    return Path(found[-1])


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@contextmanager
def postgres_server(*, timeout_s: float = 60.0, host: str = "127.0.0.1") -> Iterator[PostgresServer]:
    """A new PostgreSQL cluster, served until the block ends (`timeout_s` bounds initdb and the start)."""
    start = time.monotonic()
    bin_dir = binaries()
    folder = Path(tempfile.mkdtemp(prefix="adgenesis-postgres-"))
    try:
        with _served(bin_dir, folder, host, timeout_s, start) as server:
            yield server
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def _served(bin_dir: Path, folder: Path, host: str, timeout_s: float, start: float) -> Iterator[PostgresServer]:
    data = folder / "data"
    as_user: dict = {}
    if os.geteuid() == 0:
        user = pwd.getpwnam(UNPRIVILEGED)
        os.chown(folder, user.pw_uid, user.pw_gid)
        as_user = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    env = {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C", "TZ": "UTC"}
    initdb = subprocess.run([str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
                             "--locale=C", "--no-sync", "--no-instructions"],
                            capture_output=True, text=True, timeout=timeout_s, env=env, cwd=folder, **as_user)
    if initdb.returncode != 0:
        raise RuntimeError(f"initdb failed ({initdb.returncode}): {(initdb.stdout + initdb.stderr)[-2000:]}")
    port = free_port(host)

    def ready() -> bool:
        try:
            psycopg.connect(host=host, port=port, user=SUPERUSER, dbname=SUPERUSER, connect_timeout=1).close()
            return True
        except psycopg.OperationalError:
            return False

    # -k '': no Unix socket (its default folder belongs to Debian's own postgres user); TCP on `host` only.
    args = [str(bin_dir / "postgres"), "-D", str(data), "-h", host, "-p", str(port), "-k", "", *NO_SYNC]
    remaining = max(1.0, timeout_s - (time.monotonic() - start))
    with child_service("postgres", args, ready, folder / "postgres.log", timeout_s=remaining,
                       interval_s=READY_INTERVAL_S, stop_signal=signal.SIGINT, env=env, cwd=folder, **as_user):
        yield PostgresServer(host=host, port=port, started_s=time.monotonic() - start)
