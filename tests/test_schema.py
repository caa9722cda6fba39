"""Schema migrations: order, idempotence, the advisory lock, newer databases."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import psycopg2
import psycopg2.extensions
import pytest
import pytest_twisted
from twisted.internet import defer, reactor
from twisted.internet.defer import Deferred

from pleromad.db import schema
from pleromad.db.pool import DatabaseUnavailable
from pleromad.db.schema import SchemaError, known_migrations, migrate
from tests.conftest import PgServer
from tests.helpers import query, sleep


def recorded(dsn: str) -> list[tuple[int, str]]:
    return query(dsn, "SELECT version, name FROM schema_migrations ORDER BY version")


def table_exists(dsn: str, name: str) -> bool:
    return query(dsn, "SELECT to_regclass(%s) IS NOT NULL", (name,)) == [(True,)]


@pytest.fixture
def empty_dsn(pg_server: PgServer) -> Iterator[str]:
    """A database of this test's own with no schema at all."""
    name = pg_server.create_database(template=None)
    yield pg_server.dsn_for(name)
    pg_server.drop_database(name)


@pytest_twisted.ensureDeferred
async def test_migrate_applies_every_migration_in_order_once(empty_dsn: str) -> None:
    """On an empty database migrate applies every known migration, in order, and
    records each in schema_migrations; run again, it applies nothing."""
    known = known_migrations()
    applied = await migrate(reactor, empty_dsn)
    assert [(m.version, m.name) for m in applied] == [(m.version, m.name) for m in known]
    assert recorded(empty_dsn) == [(m.version, m.name) for m in known]
    applied_at = query(empty_dsn, "SELECT applied_at FROM schema_migrations ORDER BY version")
    assert applied_at == sorted(applied_at)
    assert table_exists(empty_dsn, "settings") and table_exists(empty_dsn, "jobs")

    assert await migrate(reactor, empty_dsn) == []
    assert recorded(empty_dsn) == [(m.version, m.name) for m in known]


@pytest_twisted.ensureDeferred
async def test_concurrent_migrations_apply_each_migration_once(empty_dsn: str) -> None:
    """Two migrate() runs started together on one empty database both succeed, and
    the advisory lock makes each migration apply exactly once."""
    first, second = await defer.gatherResults(
        [
            Deferred.fromCoroutine(migrate(reactor, empty_dsn)),
            Deferred.fromCoroutine(migrate(reactor, empty_dsn)),
        ]
    )
    versions = [m.version for m in known_migrations()]
    assert sorted(m.version for m in first + second) == versions
    assert [] in (first, second)  # the later one found nothing left to do
    assert [version for version, _ in recorded(empty_dsn)] == versions


@pytest_twisted.ensureDeferred
async def test_database_from_a_newer_pleromad_is_refused(empty_dsn: str) -> None:
    """A database that records a migration this code does not know was upgraded by
    a newer pleromad: migrate refuses with one line saying so, and applies nothing."""
    query(
        empty_dsn,
        "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now());"
        " INSERT INTO schema_migrations (version, name) VALUES (9999, 'from_the_future')",
    )
    with pytest.raises(SchemaError) as raised:
        await migrate(reactor, empty_dsn)
    message = str(raised.value)
    assert "\n" not in message
    assert "9999" in message and "newer pleromad" in message
    assert recorded(empty_dsn) == [(9999, "from_the_future")]
    assert not table_exists(empty_dsn, "settings")


def test_known_migrations_are_well_formed() -> None:
    """Shipped migrations are sorted, their numbers unique, and every file in the
    migrations folder is named NNNN_name.sql (none is silently skipped)."""
    known = known_migrations()
    assert known, "no migration files were found"
    versions = [m.version for m in known]
    assert versions == sorted(versions)
    assert len(set(versions)) == len(versions)
    folder = resources.files("pleromad.db").joinpath("migrations")
    names = sorted(entry.name for entry in folder.iterdir() if entry.name != "__pycache__")
    assert all(re.fullmatch(r"\d{4}_[a-z0-9_]+\.sql", name) for name in names), names
    assert names == [f"{m.version:04d}_{m.name}.sql" for m in known]
    assert all(m.sql.strip() for m in known)


@pytest.mark.parametrize(
    "files",
    [
        ["0001_first.sql", "0002_second.SQL"],
        ["0001_first.sql", "002_second.sql"],
        ["0001_first.sql", "0002_Second.sql"],
        ["0001_first.sql", "0001_again.sql"],
    ],
)
def test_misnamed_or_duplicate_migration_files_are_refused(
    tmp_path: Path, files: list[str]
) -> None:
    """A migration file that does not follow NNNN_name.sql, or reuses a number, stops
    the run with SchemaError naming it, rather than being skipped or run out of order."""
    for name in files:
        (tmp_path / name).write_text("SELECT 1;\n")
    with pytest.raises(SchemaError) as raised:
        known_migrations(tmp_path)
    assert files[1] in str(raised.value)


@pytest_twisted.ensureDeferred
async def test_migrate_whose_connection_dies_fails_cleanly(empty_dsn: str) -> None:
    """When the server drops migrate's connection (here while it waits for the
    lock), migrate fails with DatabaseUnavailable and leaves no connection behind:
    it does not reconnect by itself."""
    dbname = psycopg2.extensions.parse_dsn(empty_dsn)["dbname"]
    holder = psycopg2.connect(empty_dsn)
    holder.autocommit = True
    try:
        with holder.cursor() as cur:
            cur.execute(
                "SELECT pg_advisory_lock(%s, %s), pg_backend_pid()",
                (schema._LOCK_CLASS, schema._LOCK_MIGRATIONS),
            )
            ((_, holder_pid),) = cur.fetchall()
        running = Deferred.fromCoroutine(migrate(reactor, empty_dsn))
        others = (
            "SELECT pid FROM pg_stat_activity WHERE datname = %s"
            " AND backend_type = 'client backend' AND pid NOT IN (pg_backend_pid(), %s)"
        )
        waiting: list[tuple[int]] = []
        deadline = time.monotonic() + 5
        while not waiting:
            assert time.monotonic() < deadline, "migrate never waited for the lock"
            await sleep(0.02)
            waiting = query(
                empty_dsn,
                others + " AND wait_event_type = 'Lock'",
                (dbname, holder_pid),
            )
        query(empty_dsn, "SELECT pg_terminate_backend(%s)", (waiting[0][0],))
        with pytest.raises(DatabaseUnavailable):
            await running
        # A reconnecting connection would be back within the first backoff step.
        await sleep(1.2)
        assert query(empty_dsn, others, (dbname, holder_pid)) == []
        assert not table_exists(empty_dsn, "schema_migrations")
    finally:
        holder.close()
