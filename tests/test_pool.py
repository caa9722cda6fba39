"""The connection pool: transactions, retries, exhaustion and dead connections."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import psycopg2
import psycopg2.errors
import psycopg2.extensions
import pytest
import pytest_twisted
from twisted.internet import defer, reactor
from twisted.internet.defer import Deferred

from pleromad.db import pool
from pleromad.db.pool import Database, DatabaseUnavailable, PoolStats, Txn
from tests.helpers import eventually, query, sleep


def backends(dsn: str) -> set[int]:
    """The server processes connected to ``dsn``'s database, besides our own probe."""
    dbname = psycopg2.extensions.parse_dsn(dsn)["dbname"]
    rows = query(
        dsn,
        "SELECT pid FROM pg_stat_activity WHERE datname = %s"
        " AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
        (dbname,),
    )
    return {pid for (pid,) in rows}


def raise_sqlstate(code: str) -> str:
    return f"DO $$BEGIN RAISE EXCEPTION 'injected' USING ERRCODE = '{code}'; END$$"


async def insert_setting_txn(txn: Txn, key: str) -> None:
    await txn.execute("INSERT INTO settings (key, value) VALUES (%s, 'v')", (key,))


async def count_settings_txn(txn: Txn) -> int:
    return await txn.fetchval("SELECT count(*) FROM settings")


class Holder:
    """A transaction that keeps its connection until released."""

    def __init__(self, db: Database) -> None:
        self.release: Deferred[None] = Deferred()
        self.pid: int | None = None
        self.done = db.run_interaction("hold", self._hold_txn)

    async def _hold_txn(self, txn: Txn) -> int:
        self.pid = pid = await txn.fetchval("SELECT pg_backend_pid()")
        await self.release
        return pid

    async def finish(self) -> int:
        if not self.release.called:
            self.release.callback(None)
        return await self.done


@pytest_twisted.async_yield_fixture
async def small_db(dsn: str) -> AsyncIterator[Database]:
    """A pool of two connections with a short acquire timeout."""
    database = Database(reactor, dsn, 2, acquire_timeout=0.3)
    await database.open()
    yield database
    await database.close()


@pytest_twisted.ensureDeferred
async def test_rows_come_back_as_dicts(db: Database) -> None:
    """Rows are dicts keyed by column name; execute returns the rows it touched."""

    async def txn_fn(txn: Txn) -> Any:
        touched = await txn.execute(
            "INSERT INTO settings (key, value) VALUES ('a', '1'), ('b', '2')"
        )
        rows = await txn.fetchall("SELECT key, value FROM settings ORDER BY key")
        one = await txn.fetchone("SELECT key, value FROM settings WHERE key = 'b'")
        value = await txn.fetchval("SELECT value FROM settings WHERE key = %s", ("a",))
        return touched, rows, one, value

    touched, rows, one, value = await db.run_interaction("dicts", txn_fn)
    assert touched == 2
    assert rows == [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}]
    assert all(type(row) is dict for row in rows)
    assert one == {"key": "b", "value": "2"} and type(one) is dict
    assert value == "1"


@pytest_twisted.ensureDeferred
async def test_run_query_is_one_statement_outside_a_transaction(db: Database) -> None:
    """run_query answers the rows as dicts from one statement sent alone: no
    BEGIN went first (the statement is its transaction's first command, so
    its timestamp is the transaction's); an error reaches the caller and the
    connection goes back to the pool."""
    rows = await db.run_query(
        "alone", "SELECT %s AS x, now() = statement_timestamp() AS alone", (1,)
    )
    assert rows == [{"x": 1, "alone": True}]

    async def in_transaction(txn: Txn) -> Any:
        return await txn.fetchval("SELECT now() = statement_timestamp()")

    assert await db.run_interaction("begun", in_transaction) is False
    with pytest.raises(psycopg2.errors.UndefinedTable):
        await db.run_query("bad", "SELECT * FROM no_such_table")
    assert db.stats().busy == 0


@pytest_twisted.ensureDeferred
async def test_run_reads_runs_each_statement_as_its_own_transaction(db: Database) -> None:
    """run_reads hands a ``*_txn`` a connection in no transaction: each of
    its statements is the first command of its own; an error reaches the
    caller and the connection goes back to the pool."""

    async def reads(txn: Txn) -> list[Any]:
        return [await txn.fetchval("SELECT now() = statement_timestamp()") for _ in range(2)]

    assert await db.run_reads("reads", reads) == [True, True]

    async def bad(txn: Txn) -> None:
        await txn.fetchall("SELECT * FROM no_such_table")

    with pytest.raises(psycopg2.errors.UndefinedTable):
        await db.run_reads("bad", bad)
    assert db.stats().busy == 0


@pytest_twisted.ensureDeferred
async def test_fetchone_and_fetchval_on_no_rows_are_none(db: Database) -> None:
    """fetchone and fetchval give None when the query returns no row; fetchall []."""

    async def txn_fn(txn: Txn) -> Any:
        sql = "SELECT key FROM settings WHERE key = 'missing'"
        return await txn.fetchone(sql), await txn.fetchval(sql), await txn.fetchall(sql)

    assert await db.run_interaction("none", txn_fn) == (None, None, [])


@pytest_twisted.ensureDeferred
async def test_exception_in_fn_txn_rolls_back_everything(db: Database) -> None:
    """An exception raised by fn_txn reaches the caller and undoes all it wrote."""

    class Boom(Exception):
        pass

    async def txn_fn(txn: Txn) -> None:
        await insert_setting_txn(txn, "one")
        await insert_setting_txn(txn, "two")
        raise Boom()

    with pytest.raises(Boom):
        await db.run_interaction("boom", txn_fn)
    assert await db.run_interaction("count", count_settings_txn) == 0
    assert db.stats() == PoolStats(size=4, busy=0, idle=4, dead=0)


@pytest.mark.parametrize("code", ["40001", "40P01"])
@pytest_twisted.ensureDeferred
async def test_serialization_failure_and_deadlock_are_retried(db: Database, code: str) -> None:
    """A serialization failure or deadlock runs the whole transaction again; the
    work of the failed attempts is rolled back, so it is committed exactly once."""
    attempts = 0

    async def txn_fn(txn: Txn) -> str:
        nonlocal attempts
        attempts += 1
        await insert_setting_txn(txn, "k")
        if attempts < 3:
            await txn.execute(raise_sqlstate(code))
        return "done"

    assert await db.run_interaction("retried", txn_fn) == "done"
    assert attempts == 3
    assert await db.run_interaction("count", count_settings_txn) == 1


@pytest_twisted.ensureDeferred
async def test_retries_give_up_after_the_attempt_limit(db: Database) -> None:
    """A transaction that always fails to serialize is tried _MAX_ATTEMPTS times,
    then the caller gets the psycopg2 error itself; nothing is committed."""
    attempts = 0

    async def txn_fn(txn: Txn) -> None:
        nonlocal attempts
        attempts += 1
        await insert_setting_txn(txn, "k")
        await txn.execute(raise_sqlstate("40001"))

    with pytest.raises(psycopg2.errors.SerializationFailure):
        await db.run_interaction("hopeless", txn_fn)
    assert attempts == pool._MAX_ATTEMPTS
    assert await db.run_interaction("count", count_settings_txn) == 0
    assert db.stats().busy == 0


@pytest_twisted.ensureDeferred
async def test_other_errors_are_not_retried(db: Database) -> None:
    """Any other database error (here a unique violation) fails at the first attempt."""
    await db.run_interaction("first", insert_setting_txn, "k")
    attempts = 0

    async def txn_fn(txn: Txn) -> None:
        nonlocal attempts
        attempts += 1
        await insert_setting_txn(txn, "k")

    with pytest.raises(psycopg2.errors.UniqueViolation):
        await db.run_interaction("duplicate", txn_fn)
    assert attempts == 1


@pytest_twisted.ensureDeferred
async def test_real_serialization_conflict_is_retried(db: Database) -> None:
    """Two SERIALIZABLE transactions that both read a counter, then both increment
    it, conflict; the loser is retried, so both succeed and the counter is 2."""
    await db.run_interaction(
        "setup",
        lambda txn: txn.execute(
            "CREATE TABLE counter (id int PRIMARY KEY, n int NOT NULL);"
            " INSERT INTO counter VALUES (1, 0)"
        ),
    )
    attempts: Counter[str] = Counter()
    both_read: Deferred[None] = Deferred()
    readers = 0

    async def increment_txn(txn: Txn, name: str) -> int:
        nonlocal readers
        attempts[name] += 1
        await txn.execute("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
        n = await txn.fetchval("SELECT n FROM counter WHERE id = 1")
        if attempts[name] == 1:
            # Both first attempts read before either writes.
            readers += 1
            if readers == 2:
                both_read.callback(None)
            await both_read
        await txn.execute("UPDATE counter SET n = %s WHERE id = 1", (n + 1,))
        return n + 1

    results = await defer.gatherResults(
        [
            db.run_interaction("increment", increment_txn, "a"),
            db.run_interaction("increment", increment_txn, "b"),
        ]
    )
    assert sorted(results) == [1, 2]
    assert sorted(attempts.values()) == [1, 2]  # exactly one conflict, one retry
    final = await db.run_interaction(
        "read", lambda txn: txn.fetchval("SELECT n FROM counter WHERE id = 1")
    )
    assert final == 2


@pytest_twisted.ensureDeferred
async def test_exhausted_pool_makes_callers_wait_for_a_connection(db: Database) -> None:
    """With every connection busy another transaction waits, and runs as soon as
    one is released, on the released connection."""
    holders = [Holder(db) for _ in range(db.size)]
    try:
        assert db.stats() == PoolStats(size=4, busy=4, idle=0, dead=0)
        waiting = db.run_interaction("waiting", lambda txn: txn.fetchval("SELECT pg_backend_pid()"))
        await sleep(0.2)
        assert not waiting.called
        released_pid = await holders[0].finish()
        assert await waiting == released_pid
        assert db.stats().busy == 3
    finally:
        for holder in holders:
            await holder.finish()
    assert db.stats() == PoolStats(size=4, busy=0, idle=4, dead=0)


@pytest_twisted.ensureDeferred
async def test_exhausted_pool_gives_up_after_acquire_timeout(small_db: Database) -> None:
    """A caller that cannot get a connection within acquire_timeout gets
    DatabaseUnavailable (a 503), and the pool is unharmed."""
    holders = [Holder(small_db) for _ in range(small_db.size)]
    try:
        started = time.monotonic()
        with pytest.raises(DatabaseUnavailable):
            await small_db.run_interaction("starved", lambda txn: txn.fetchval("SELECT 1"))
        assert 0.25 <= time.monotonic() - started < 2.0
    finally:
        for holder in holders:
            await holder.finish()
    assert small_db.stats() == PoolStats(size=2, busy=0, idle=2, dead=0)
    assert await small_db.run_interaction("ok", lambda txn: txn.fetchval("SELECT 1")) == 1


@pytest_twisted.ensureDeferred
async def test_closing_fails_every_caller_still_waiting(dsn: str) -> None:
    """Closing the pool while callers wait for a connection fails each of
    them with DatabaseUnavailable, once."""
    database = Database(reactor, dsn, 1, acquire_timeout=30.0)
    await database.open()
    holder = Holder(database)
    waiting = [database.run_interaction("waits", count_settings_txn) for _ in range(3)]
    await database.close()
    for caller in waiting:
        with pytest.raises(DatabaseUnavailable):
            await caller
    holder.release.callback(None)
    with pytest.raises(DatabaseUnavailable):  # its connection was closed under it
        await holder.done


@pytest_twisted.ensureDeferred
async def test_stats_count_busy_and_idle_connections(db: Database) -> None:
    """stats() says how many connections are held by transactions and how many are free."""
    assert db.stats() == PoolStats(size=4, busy=0, idle=4, dead=0)
    holders = [Holder(db) for _ in range(3)]
    try:
        assert db.stats() == PoolStats(size=4, busy=3, idle=1, dead=0)
        await holders[0].finish()
        assert db.stats() == PoolStats(size=4, busy=2, idle=2, dead=0)
    finally:
        for holder in holders:
            await holder.finish()
    assert db.stats() == PoolStats(size=4, busy=0, idle=4, dead=0)


@pytest_twisted.ensureDeferred
async def test_cancelling_the_caller_does_not_cancel_the_transaction(db: Database) -> None:
    """Cancelling run_interaction's Deferred (the client went away) fails it at once
    with CancelledError, but the transaction runs on, commits, and gives its
    connection back to the pool."""
    gate: Deferred[None] = Deferred()

    async def txn_fn(txn: Txn) -> None:
        await insert_setting_txn(txn, "k")
        await gate

    result = db.run_interaction("abandoned", txn_fn)
    await sleep(0.05)  # let the INSERT reach the server
    result.cancel()
    with pytest.raises(defer.CancelledError):
        await result
    assert db.stats().busy == 1
    gate.callback(None)
    await eventually(lambda: db.stats() == PoolStats(size=4, busy=0, idle=4, dead=0))
    assert await db.run_interaction("count", count_settings_txn) == 1


@pytest_twisted.ensureDeferred
async def test_connection_killed_by_the_server_is_replaced(db: Database, dsn: str) -> None:
    """A pool connection whose backend the server terminates is noticed and
    reconnected by itself; afterwards every connection works again."""
    holders = [Holder(db) for _ in range(db.size)]
    pids = {await holder.finish() for holder in holders}
    assert len(pids) == 4 and pids == backends(dsn)
    victim = min(pids)
    assert query(dsn, "SELECT pg_terminate_backend(%s)", (victim,)) == [(True,)]

    def replaced() -> bool:
        current = backends(dsn)
        return victim not in current and len(current) == 4 and db.stats().dead == 0

    await eventually(replaced)
    holders = [Holder(db) for _ in range(db.size)]
    assert db.stats() == PoolStats(size=4, busy=4, idle=0, dead=0)
    new_pids = {await holder.finish() for holder in holders}
    assert len(new_pids) == 4 and victim not in new_pids
    assert pids - {victim} < new_pids


@pytest_twisted.ensureDeferred
async def test_waiting_caller_gets_a_connection_that_came_back(dsn: str) -> None:
    """A caller waiting for a connection is served as soon as a connection that
    died under a transaction has reconnected, not only when another is released."""
    database = Database(reactor, dsn, 2, acquire_timeout=3.0)
    await database.open()
    holders = [Holder(database) for _ in range(2)]
    try:
        await eventually(lambda: all(holder.pid for holder in holders))
        waiting = database.run_interaction(
            "waiting", lambda txn: txn.fetchval("SELECT pg_backend_pid()")
        )
        victim = holders[0]
        query(dsn, "SELECT pg_terminate_backend(%s)", (victim.pid,))
        await eventually(lambda: database.stats().dead == 0 and len(backends(dsn)) == 2)
        with pytest.raises(DatabaseUnavailable):
            await victim.finish()  # its transaction was lost with the backend
        started = time.monotonic()
        pid = await waiting
        assert time.monotonic() - started < 1.0
        assert pid not in (victim.pid, holders[1].pid)
    finally:
        for holder in holders:
            try:
                await holder.finish()
            except DatabaseUnavailable:
                pass
        await database.close()
