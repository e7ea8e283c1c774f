"""A throwaway PostgreSQL cluster for tests: `initdb` + `pg_ctl` in a temporary directory, on a
free loopback port, removed afterwards (also when tests fail).

As root the server runs as the `postgres` user (initdb refuses root). Fixtures (registered from
conftest's `pytest_plugins`):
- `pg_server` (session): the running cluster; started once per test session;
- `pg_url` (function): a fresh database on it, as `postgresql://ht@127.0.0.1:PORT/NAME` (trust).

Where the server cannot start, the tests that need it fail with the reason under CI (CI=true)
and are skipped with the reason elsewhere. `python tests/pg_server.py` starts one by hand.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

TEST_ROLE = "ht"  # trusted on loopback
PASSWORD_ROLE = "ht_secret"  # needs its password (scram-sha-256): the "never shown" tests
PASSWORD = "pw-S3NTINEL-9f8e7d"


def find_bindir() -> Path | None:
    """Where initdb and pg_ctl are: PATH first, else the newest /usr/lib/postgresql/*/bin."""
    on_path = shutil.which("initdb")
    if on_path:
        return Path(os.path.realpath(on_path)).parent
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    return Path(found[-1]).parent if found else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PgServer:
    def __init__(self, *, durable: bool = False) -> None:
        bindir = find_bindir()
        if bindir is None:
            raise RuntimeError("PostgreSQL is not installed (no initdb on PATH or in /usr/lib)")
        self.bindir = bindir
        self.durable = durable  # False: fsync off, for fast tests; True: defaults (benchmarks)
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="ht-dash-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self._names = itertools.count(1)

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(
                f"{' '.join(args[:1])} failed ({result.returncode}): "
                f"{(result.stderr or result.stdout).strip()[-2000:]}\n{log}"
            )

    def init(self) -> None:
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
            "--locale=C", "--no-sync",
        )  # fmt: skip
        (self.data / "pg_hba.conf").write_text(
            "local all all trust\n"
            f"host all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256\n"
            "host all all 127.0.0.1/32 trust\n"
        )

    def start(self) -> None:
        options = [
            "-c listen_addresses=127.0.0.1",
            f"-c port={self.port}",
            f"-c unix_socket_directories={self.root}",
        ]
        if not self.durable:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", " ".join(options),
            "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def setup_roles(self) -> None:
        import psycopg

        with psycopg.connect(self.url(user="postgres", db="postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE ROLE {TEST_ROLE} LOGIN SUPERUSER")
            conn.execute(f"CREATE ROLE {PASSWORD_ROLE} LOGIN PASSWORD '{PASSWORD}'")

    def url(
        self, *, user: str = TEST_ROLE, db: str = "postgres", password: str | None = None
    ) -> str:
        auth = f"{user}:{password}" if password else user
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{db}"

    def create_database(self, owner: str = TEST_ROLE) -> str:
        """A new empty database; returns its name."""
        import psycopg

        name = f"t{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(user="postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name} OWNER {owner}")
        return name

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url(user="postgres"), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def destroy(self) -> None:
        with contextlib.suppress(Exception):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def start_server(*, durable: bool = False) -> PgServer:
    server = PgServer(durable=durable)
    try:
        server.init()
        server.start()
        server.setup_roles()
    except BaseException:
        server.destroy()
        raise
    return server


@pytest.fixture(scope="session")
def pg_server():
    try:
        server = start_server()
    except Exception as exc:
        reason = f"cannot start a PostgreSQL server for the tests: {exc}"
        if os.environ.get("CI"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture
def pg_url(pg_server):
    name = pg_server.create_database()
    try:
        yield pg_server.url(db=name)
    finally:
        with contextlib.suppress(Exception):
            pg_server.drop_database(name)


if __name__ == "__main__":  # a server by hand: python tests/pg_server.py
    import signal
    import time

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)  # `kill PID` cleans up too
    server = start_server(durable=True)
    print(f"PostgreSQL on {server.url()} (data in {server.root})")
    print("Ctrl-C (or kill) stops and removes it", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.destroy()
