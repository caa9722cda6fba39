"""The embedded PostgreSQL server: created once, reused by whoever comes second, survives crashes.

initdb is slow, so the tests share one cluster (module fixture) and only
the long-path test makes a second one.  Every server started here is
stopped before the module ends, and the fixture checks no postmaster is left.
"""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.task import deferLater
from twisted.internet.threads import deferToThread
from txpostgres import txpostgres

from pleromad.db.embedded import EmbeddedPostgres, EmbeddedPostgresError, NoCluster
from tests.helpers import process_state

FAST = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


async def query(dsn: str, statement: str) -> list[tuple[Any, ...]]:
    """Run one query over txpostgres, as the daemon would; return its rows."""
    conn = txpostgres.Connection()
    await conn.connect(dsn)
    try:
        return await conn.runQuery(statement)
    finally:
        conn.close()


async def execute(dsn: str, statement: str) -> None:
    """Run one statement that returns no rows over txpostgres."""
    conn = txpostgres.Connection()
    await conn.connect(dsn)
    try:
        await conn.runOperation(statement)
    finally:
        conn.close()


def can_connect(dsn: str) -> bool:
    try:
        psycopg2.connect(dsn, connect_timeout=3).close()
    except psycopg2.OperationalError:
        return False
    return True


def live_processes_mentioning(text: str) -> list[int]:
    """PIDs of live (non-zombie) processes whose command line contains ``text``: our `ps`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline and process_state(int(entry.name)) not in (None, "Z"):
            found.append(int(entry.name))
    return found


def postmaster_pid(root: Path) -> int:
    return int((root / "data" / "postmaster.pid").read_text().splitlines()[0])


@pytest.fixture(scope="module")
def private_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 0700 folder the cluster lives under, like a locked-down home directory."""
    folder = tmp_path_factory.mktemp("embedded") / "private"
    folder.mkdir(mode=0o700)
    folder.chmod(0o700)
    return folder


@pytest.fixture(scope="module")
def root(private_dir: Path) -> Path:
    """The shared cluster's folder, as the daemon computes it: <data_dir>/postgres."""
    return private_dir / "data-dir" / "postgres"


@pytest_twisted.async_yield_fixture(scope="module")
async def server(root: Path) -> AsyncIterator[EmbeddedPostgres]:
    """One cluster for the module, stopped at the end with no postmaster left behind."""
    pg = EmbeddedPostgres(root, settings=FAST)
    yield pg
    await pg.stop()
    assert live_processes_mentioning(str(root)) == []


@pytest_twisted.ensureDeferred
async def test_first_start_creates_cluster_and_serves_a_dsn(
    server: EmbeddedPostgres, root: Path
) -> None:
    """The first start initialises the cluster, starts it and returns a DSN for database pleromad.

    The server listens on no TCP address and its socket folder is private.
    """
    data = root / "data"
    assert not (data / "PG_VERSION").exists()

    dsn = await server.start()

    assert (data / "PG_VERSION").exists()
    assert server.started_here
    assert dsn == server.dsn()
    assert f"host={root / 'run'}" in dsn
    rows = await query(
        dsn, "SELECT current_database(), current_user, current_setting('listen_addresses')"
    )
    assert rows == [("pleromad", "pleromad", "")]
    assert stat.S_IMODE((root / "run").stat().st_mode) == 0o700


@pytest_twisted.ensureDeferred
async def test_start_is_idempotent(server: EmbeddedPostgres, root: Path) -> None:
    """Starting again while running returns the same DSN and keeps ownership of the server."""
    first = await server.start()
    pid = postmaster_pid(root)

    assert await server.start() == first
    assert server.started_here
    assert postmaster_pid(root) == pid


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the cluster to another account")
@pytest_twisted.ensureDeferred
async def test_as_root_the_server_runs_as_postgres_and_ancestors_gain_only_o_x(
    server: EmbeddedPostgres, root: Path, private_dir: Path
) -> None:
    """As root, the server runs as an unprivileged account that owns the cluster.

    That account may traverse, but not list, the folders above the cluster.
    """
    import pwd

    await server.start()
    expected = "postgres" if _has_account("postgres") else "nobody"
    owner = pwd.getpwuid((root / "data").stat().st_uid).pw_name
    assert owner == expected
    assert pwd.getpwuid(_process_uid(postmaster_pid(root))).pw_name == expected
    for folder in (root, root / "run", root / "log"):
        assert pwd.getpwuid(folder.stat().st_uid).pw_name == expected
    assert stat.S_IMODE(private_dir.stat().st_mode) == 0o701
    for folder in root.resolve().parents:
        assert folder.stat().st_mode & stat.S_IXOTH, folder


@pytest_twisted.ensureDeferred
async def test_second_instance_reuses_running_server_and_leaves_it_up(
    server: EmbeddedPostgres, root: Path
) -> None:
    """A second EmbeddedPostgres on the same root reuses the running server.

    Its stop() leaves the server running: pleromad-ctl must not take the
    database away from the daemon.
    """
    dsn = await server.start()
    pid = postmaster_pid(root)

    other = EmbeddedPostgres(root)
    assert await other.start() == dsn
    assert not other.started_here
    await other.stop()

    assert postmaster_pid(root) == pid
    assert await query(dsn, "SELECT 1") == [(1,)]
    assert server.started_here


@pytest_twisted.ensureDeferred
async def test_the_last_user_stops_the_server_whoever_started_it(
    server: EmbeddedPostgres, root: Path
) -> None:
    """When the starter (say pleromad-ctl) leaves first, the server keeps
    running for the other user, whose stop then stops it."""
    await server.start()
    await server.stop()
    starter, reuser = EmbeddedPostgres(root, settings=FAST), EmbeddedPostgres(root)
    dsn = await starter.start()
    assert await reuser.start() == dsn and not reuser.started_here
    await starter.stop()
    assert await query(dsn, "SELECT 1") == [(1,)]
    await reuser.stop()
    assert not await deferToThread(can_connect, dsn)
    assert live_processes_mentioning(str(root / "data")) == []
    await server.start()


@pytest_twisted.ensureDeferred
async def test_a_server_left_by_a_killed_user_is_stopped_by_the_next(tmp_path: Path) -> None:
    """A process killed while using the server leaves it running; whoever
    uses it next stops it at its own stop, since no live user is left."""
    root = tmp_path / "postgres"
    script = (
        "import sys; from twisted.internet import task, defer;"
        "from pleromad.db.embedded import EmbeddedPostgres\n"
        "async def main(reactor):\n"
        f"    await EmbeddedPostgres(sys.argv[1], settings={FAST!r}).start()\n"
        "    print('ready', flush=True)\n"
        "    await defer.Deferred()\n"
        "task.react(lambda r: defer.Deferred.fromCoroutine(main(r)))\n"
    )
    user = subprocess.Popen(
        [sys.executable, "-c", script, str(root)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert await deferToThread(user.stdout.readline) == "ready\n"
    finally:
        user.kill()
        user.wait()
    pid = postmaster_pid(root)
    assert process_state(pid) not in (None, "Z")

    pg = EmbeddedPostgres(root)
    dsn = await pg.start()
    assert not pg.started_here and postmaster_pid(root) == pid
    await pg.stop()
    assert not await deferToThread(can_connect, dsn)
    assert live_processes_mentioning(str(root)) == []


@pytest_twisted.ensureDeferred
async def test_without_create_a_missing_cluster_is_refused(tmp_path: Path) -> None:
    """start(create=False) on a folder without a cluster refuses and makes none."""
    root = tmp_path / "postgres"
    with pytest.raises(NoCluster, match="no database cluster in "):
        await EmbeddedPostgres(root).start(create=False)
    assert not (root / "data" / "PG_VERSION").exists()


@pytest_twisted.ensureDeferred
async def test_stop_then_start_reuses_the_cluster(server: EmbeddedPostgres, root: Path) -> None:
    """Stopping and starting again keeps the cluster and its data: no second initdb."""
    dsn = await server.start()
    await execute(dsn, "CREATE TABLE IF NOT EXISTS survivor (note text)")
    await execute(dsn, "INSERT INTO survivor VALUES ('still here')")
    [(identifier,)] = await query(dsn, "SELECT system_identifier FROM pg_control_system()")

    await server.stop()
    assert not server.started_here
    assert not await deferToThread(can_connect, dsn)
    assert not (root / "data" / "postmaster.pid").exists()

    assert await server.start() == dsn
    assert server.started_here
    assert await query(dsn, "SELECT system_identifier FROM pg_control_system()") == [(identifier,)]
    assert ("still here",) in await query(dsn, "SELECT note FROM survivor")


@pytest_twisted.ensureDeferred
async def test_stop_of_an_instance_that_started_nothing_is_a_no_op(
    server: EmbeddedPostgres, root: Path
) -> None:
    """stop() on an object that never started the server does nothing."""
    await server.start()
    await EmbeddedPostgres(root).stop()
    assert await query(server.dsn(), "SELECT 1") == [(1,)]


@pytest_twisted.ensureDeferred
async def test_start_after_the_postmaster_was_killed(server: EmbeddedPostgres, root: Path) -> None:
    """After kill -9 of the postmaster, its stale postmaster.pid does not prevent the next start."""
    dsn = await server.start()
    await execute(dsn, "CREATE TABLE IF NOT EXISTS crashed (n int)")
    # Committed for real: the module's synchronous_commit=off may lose the last commits on a crash.
    await execute(dsn, "SET synchronous_commit = on; INSERT INTO crashed VALUES (1)")
    pid = postmaster_pid(root)
    children = [p for p in _all_pids() if _parent_pid(p) == pid]

    os.kill(pid, signal.SIGKILL)
    # Backends notice their postmaster's death and exit on their own.
    for victim in [pid, *children]:
        deadline = time.monotonic() + 30
        while process_state(victim) not in (None, "Z") and time.monotonic() < deadline:
            await deferLater(reactor, 0.05, lambda: None)
    assert (root / "data" / "postmaster.pid").exists()

    assert await server.start() == dsn
    assert server.started_here
    assert postmaster_pid(root) != pid
    assert await query(dsn, "SELECT n FROM crashed") == [(1,)]


@pytest_twisted.ensureDeferred
async def test_failed_start_explains_itself_in_one_line_with_the_log_in_detail(
    server: EmbeddedPostgres, root: Path
) -> None:
    """A server that will not start gives a one-line reason; the log's tail is in ``detail``."""
    await server.start()
    await server.stop()
    broken = EmbeddedPostgres(root, settings={"shared_buffers": "plenty"})
    try:
        with pytest.raises(EmbeddedPostgresError) as caught:
            await broken.start()
    finally:
        await server.start()

    assert "\n" not in str(caught.value)
    assert "shared_buffers" in str(caught.value)
    assert str(root / "log" / "postgres.log") in str(caught.value)
    assert "shared_buffers" in caught.value.detail
    assert not broken.started_here


@pytest_twisted.ensureDeferred
async def test_long_root_uses_a_short_private_socket_dir(tmp_path: Path) -> None:
    """A socket path over 100 bytes moves to a short private (0700) folder in the temp dir."""
    root = tmp_path / ("d" * 60) / ("e" * 60) / "postgres"
    assert len(str(root / "run" / ".s.PGSQL.5432")) > 100
    pg = EmbeddedPostgres(root, settings=FAST)
    try:
        dsn = await pg.start()
        host = re.search(r"host=(\S+)", dsn).group(1)
        assert host.startswith(tempfile.gettempdir())
        assert len(os.path.join(host, ".s.PGSQL.5432")) <= 100
        assert stat.S_IMODE(os.stat(host).st_mode) == 0o700
        assert os.path.exists(os.path.join(host, ".s.PGSQL.5432"))
        assert await query(dsn, "SELECT current_database()") == [("pleromad",)]
        assert EmbeddedPostgres(root).dsn() == dsn  # every process finds the same socket
    finally:
        await pg.stop()
    assert live_processes_mentioning(str(root)) == []
    os.rmdir(host)


@pytest_twisted.ensureDeferred
async def test_cluster_of_another_major_version_is_refused_in_one_line(tmp_path: Path) -> None:
    """A cluster of a major version no installed server has fails in one line naming both."""
    root = tmp_path / "postgres"
    (root / "data").mkdir(parents=True)
    (root / "data" / "PG_VERSION").write_text("9\n")

    with pytest.raises(EmbeddedPostgresError) as caught:
        await EmbeddedPostgres(root).start()

    message = str(caught.value)
    assert "\n" not in message
    assert "PostgreSQL 9 " in message
    assert re.search(r"PostgreSQL 1\d", message)


def test_dsn_quotes_paths_with_spaces() -> None:
    """The DSN is key=value libpq syntax, quoting values that need it."""
    pg = EmbeddedPostgres(Path("/srv/my data/postgres"))
    expected = "host='/srv/my data/postgres/run' port=5432 user=pleromad dbname=other"
    assert pg.dsn("other") == expected
    assert not pg.started_here


def test_settings_may_not_move_the_socket() -> None:
    """Settings the DSN depends on (port, socket folder, TCP) are not the caller's to change."""
    with pytest.raises(ValueError):
        EmbeddedPostgres(Path("/srv/pg"), settings={"port": "5433"})
    with pytest.raises(ValueError):
        EmbeddedPostgres(Path("/srv/pg"), settings={"bad name": "x"})


def _has_account(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _process_uid(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid line for {pid}")


def _all_pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def _parent_pid(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])
    except (OSError, IndexError, ValueError):
        return None
