"""Schema migrations: numbered, append-only ``.sql`` files in ``migrations/``.

Each file runs in its own transaction and is recorded in ``schema_migrations``.
The whole run holds a PostgreSQL advisory lock, so daemons (and
``pleromad-ctl migrate``) starting together apply each migration once.  A
database that has migrations this code does not know was upgraded by a newer
pleromad; running against it could corrupt data, so it is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

import psycopg2
from twisted.internet.interfaces import IReactorFDSet
from twisted.logger import Logger
from txpostgres import txpostgres

from pleromad.db.pool import (
    DatabaseUnavailable,
    Txn,
    as_interaction,
    connect_kwargs,
    is_connection_failure,
    one_line,
)

log = Logger()

# Two-int advisory keys live apart from the one-bigint keys used for job ids.
_LOCK_CLASS = 0x706C_7264  # "plrd"
_LOCK_MIGRATIONS = 1

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class SchemaError(Exception):
    """The database schema cannot be brought to what this code expects."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def known_migrations(folder: Traversable | None = None) -> list[Migration]:
    """The migrations in ``folder`` (by default those shipped with this code), in order.

    Every ``.sql`` file there must be named ``NNNN_name.sql`` with a number of
    its own: a misnamed file would otherwise be skipped without a word.
    """
    if folder is None:
        folder = resources.files("pleromad.db").joinpath("migrations")
    found: dict[int, Migration] = {}
    files: dict[int, str] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.lower().endswith(".sql"):
            continue
        match = _NAME.match(entry.name)
        if not match:
            raise SchemaError(
                f"migration file {entry.name} is not named NNNN_name.sql"
                " (four digits, then lower-case letters, digits and _)"
            )
        version = int(match[1])
        if version in found:
            raise SchemaError(
                f"migration files {files[version]} and {entry.name} share the number {version:04d}"
            )
        files[version] = entry.name
        found[version] = Migration(version, match[2], entry.read_text(encoding="utf-8"))
    return [found[version] for version in sorted(found)]


async def migrate(reactor: IReactorFDSet, dsn: str) -> list[Migration]:
    """Apply every pending migration; returns those applied by this call.

    Losing the server on the way raises DatabaseUnavailable.
    """
    # A plain connection, without the pool's dead-connection detector: one
    # that died must stay dead, not reconnect in the background after this
    # returns.  Closing it also releases the session's advisory lock.
    conn = txpostgres.Connection(reactor=reactor)
    try:
        await conn.connect(**connect_kwargs(dsn))
    except psycopg2.Error as e:
        raise DatabaseUnavailable(one_line(e)) from e
    try:
        await conn.runOperation("SELECT pg_advisory_lock(%s, %s)", (_LOCK_CLASS, _LOCK_MIGRATIONS))
        done = await _apply_pending(conn)
        await conn.runOperation(
            "SELECT pg_advisory_unlock(%s, %s)", (_LOCK_CLASS, _LOCK_MIGRATIONS)
        )
        return done
    except (psycopg2.Error, txpostgres.RollbackFailed) as e:
        if is_connection_failure(e):
            raise DatabaseUnavailable(f"migrating: {one_line(e)}") from e
        raise
    finally:
        conn.close()


async def _apply_pending(conn: txpostgres.Connection) -> list[Migration]:
    await conn.runOperation(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version integer PRIMARY KEY, name text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())"
    )
    rows = await conn.runQuery("SELECT version FROM schema_migrations")
    applied = {row["version"] for row in rows}
    known = known_migrations()
    unknown = applied - {m.version for m in known}
    if unknown:
        newest = max(m.version for m in known) if known else 0
        raise SchemaError(
            f"the database has migration {max(unknown)} but this pleromad knows "
            f"only up to {newest}: it was upgraded by a newer pleromad"
        )
    done = []
    for migration in known:
        if migration.version in applied:
            continue
        await conn.runInteraction(as_interaction(_apply_txn, migration))
        log.info(
            "applied migration {version} {name}",
            version=migration.version,
            name=migration.name,
        )
        done.append(migration)
    return done


async def _apply_txn(txn: Txn, migration: Migration) -> None:
    await txn.execute(migration.sql)
    await txn.execute(
        "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
        (migration.version, migration.name),
    )
