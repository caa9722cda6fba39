"""The connection pool and its one entry point, ``run_interaction``.

Every query the daemon makes runs inside ``Database.run_interaction(
"description", fn_txn, ...)``: ``fn_txn`` is a coroutine function taking a
:class:`Txn` first, run inside one transaction on one pooled txpostgres
connection.  Serialization failures and deadlocks are retried here and
nowhere else.  Reads that need no transaction (see ``run_reads`` and
``run_query``) skip its BEGIN and COMMIT.  A connection that dies is reconnected in the background by
txpostgres' dead-connection detector; while no connection is alive, callers
fail at once with :class:`DatabaseUnavailable` (the web layer answers 503)
instead of queueing behind a database that is not there.
"""

from __future__ import annotations

import functools
import random
from collections import deque
from collections.abc import Callable, Coroutine, Hashable
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

import psycopg2
import psycopg2.extensions
from twisted.internet import defer, task
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorFDSet, IReactorTime
from twisted.logger import Logger
from txpostgres import reconnection, retrying, txpostgres

from pleromad.db import prepared
from pleromad.deferreds import uncancellable
from pleromad.metrics import Metrics
from pleromad.versioned import Versioned

log = Logger()

P = ParamSpec("P")
R = TypeVar("R")

# SQLSTATEs worth running the whole transaction again for.
_RETRYABLE = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected
_MAX_ATTEMPTS = 5
# SQLSTATEs that mean the server went away rather than the query being wrong.
_GONE_PREFIXES = ("08", "57P")
# Rows kept as objects by their version (see Txn.keep): accounts and posts
# of a few kB each, 20 MB at most.
KEPT_ROWS = 10_000


class DatabaseUnavailable(Exception):
    """The database cannot serve this request now; clients get a 503."""


class DictRowCursor(psycopg2.extensions.cursor):
    """A cursor whose rows are plain dicts keyed by column name.

    What ``RealDictCursor`` answers, built by one ``zip`` per row instead of
    its Python ``__setitem__`` per column, which cost a fifth of the CPU of
    serving a page of statuses (about 1,300 cells).
    """

    def _dicts(self, rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
        # description is set: rows are only read after a query that returns them
        names = [column.name for column in self.description or ()]
        return [dict(zip(names, row, strict=False)) for row in rows]

    def fetchone(self) -> dict[str, Any] | None:  # type: ignore[override]
        row = super().fetchone()
        return None if row is None else self._dicts([row])[0]

    def fetchmany(self, size: int | None = None) -> list[dict[str, Any]]:  # type: ignore[override]
        return self._dicts(super().fetchmany(self.arraysize if size is None else size))

    def fetchall(self) -> list[dict[str, Any]]:  # type: ignore[override]
        return self._dicts(super().fetchall())

    def __iter__(self) -> Any:
        return iter(self.fetchall())


class Txn:
    """The cursor of one unit of work (a transaction, or reads outside one,
    see :meth:`Database.run_reads`), with the few row helpers stores need.

    Rows come back as dicts keyed by column name (:class:`DictRowCursor`).
    Outside a transaction (``autocommit``, see :meth:`Database.run_reads`) a
    statement run with ``prepared=True`` is prepared on its connection (see
    :mod:`pleromad.db.prepared`); inside one it is run as it is.
    """

    def __init__(
        self,
        cursor: txpostgres.Cursor,
        kept_rows: Versioned | None = None,
        *,
        autocommit: bool = False,
    ) -> None:
        self._cursor = cursor
        self._kept_rows = kept_rows
        self._autocommit = autocommit

    def kept(self, kind: str, ident: int, version: Hashable) -> Any:
        """What an earlier read made of the row ``kind`` ``ident`` at
        ``version`` (see :meth:`keep`), or None."""
        return None if self._kept_rows is None else self._kept_rows.get(kind, ident, version)

    def keep(self, kind: str, ident: int, version: Hashable, value: Any) -> None:
        """Keep ``value``, made of a row read at ``version``, for later reads
        of the database (shared by every connection of the pool; never to be
        changed).  Only outside a transaction, which reads committed rows
        only: a row written twice inside one has one version, its xmin, for
        two contents."""
        if self._kept_rows is not None and self._autocommit:
            self._kept_rows.put(kind, ident, version, value)

    async def execute(self, sql: str, args: Any = None) -> int:
        """Run a statement; returns the number of rows it touched."""
        await self._cursor.execute(sql, args)
        count: int = self._cursor.rowcount
        return count

    async def fetchall(
        self, sql: str, args: Any = None, *, prepared: bool = False
    ) -> list[dict[str, Any]]:
        if prepared and self._autocommit:
            await self._execute_prepared(sql, args)
        else:
            await self._cursor.execute(sql, args)
        rows: list[dict[str, Any]] = self._cursor.fetchall()
        return rows

    async def _execute_prepared(self, sql: str, args: Any) -> None:
        session = prepared.statements(self._cursor.connection)
        text, keys = prepared.positional(sql)
        name = prepared.name_for(sql)
        if not session.holds(sql):
            if session.full():
                await self._forget(session)
            try:
                await self._cursor.execute(f"PREPARE {name} AS {text}")
            except psycopg2.Error as e:
                if e.pgcode != prepared.ALREADY_PREPARED:
                    raise
            session.add(sql)
        try:
            await self._cursor.execute(
                prepared.execute_call(name, len(keys)), prepared.arguments(keys, args)
            )
        except psycopg2.Error as e:
            if e.pgcode not in prepared.FORGOTTEN:
                raise
            await self._forget(session)
            await self._cursor.execute(sql, args)

    async def _forget(self, session: prepared.Statements) -> None:
        await self._cursor.execute("DEALLOCATE ALL")
        session.clear()

    async def fetchone(self, sql: str, args: Any = None) -> dict[str, Any] | None:
        await self._cursor.execute(sql, args)
        row: dict[str, Any] | None = self._cursor.fetchone()
        return row

    async def fetchval(self, sql: str, args: Any = None) -> Any:
        """The first column of the first row, or None when there is no row."""
        row = await self.fetchone(sql, args)
        return None if row is None else next(iter(row.values()))


@dataclass(frozen=True)
class PoolStats:
    size: int
    busy: int
    idle: int
    dead: int
    waiting: int = 0  # interactions queued for a free connection


def _reconnect_delays() -> Any:
    # Quick enough that the healthcheck turns green within seconds of the
    # database returning, slow enough not to hammer a server that is starting.
    return retrying.simpleBackoffIterator(
        initialDelay=0.5, maxDelay=2.0, factor=1.5, maxRetries=0, now=True
    )


def is_connection_failure(err: BaseException) -> bool:
    """True when ``err`` says the server is gone, not that the SQL was wrong."""
    if isinstance(err, (reconnection.ConnectionDead, txpostgres.RollbackFailed)):
        return True
    if isinstance(err, (psycopg2.OperationalError, psycopg2.InterfaceError)):
        code = err.pgcode
        return code is None or code.startswith(_GONE_PREFIXES)
    return False


class IDatabaseReactor(IReactorFDSet, IReactorTime):
    """What a connection needs of the reactor: it watches the socket and
    times the reconnections."""


def new_connection(reactor: IDatabaseReactor, *, listening: bool = False) -> txpostgres.Connection:
    """A txpostgres connection that reconnects by itself after the server dies;
    ``listening`` for one that LISTENs and must see every NOTIFY at once."""
    detector = reconnection.DeadConnectionDetector(
        deathChecker=lambda f: is_connection_failure(f.value),
        reconnectionIterator=_reconnect_delays,
        reactor=reactor,
    )
    cls = ListeningConnection if listening else txpostgres.Connection
    return cls(reactor=reactor, detector=detector)


class ListeningConnection(txpostgres.Connection):  # type: ignore[misc]  # txpostgres is untyped
    """A txpostgres connection that hands a NOTIFY to its observers as soon as
    the query it was read with ends.

    A NOTIFY the server sends just after a query's ReadyForQuery can be read
    in the same recv() as that query's result (the reactor was busy, so both
    waited in the socket).  psycopg2 moves libpq's notifications into
    ``connection.notifies`` right after reading, but libpq parses this one
    only later, while psycopg2 collects the results: it stays in libpq's
    list, the socket is empty so no doRead comes, and txpostgres' check of
    ``notifies`` when the query ends finds nothing.  It would wait for the
    next query on the connection.
    """

    def cursorFinished(self, cursor: txpostgres.Cursor) -> None:
        # One more poll() moves libpq's pending notifications into
        # ``notifies``; txpostgres then dispatches them as usual.  It is safe
        # only here, with no query in flight: txpostgres runs one query at a
        # time and the next has not been sent yet.  A poll() once another
        # query is under way would take that query's result from its cursor,
        # whose Deferred would then never fire.  On an idle connection poll()
        # only reads what is there and returns POLL_OK, as txpostgres' own
        # doRead does on every NOTIFY.
        if not self._connection.closed:
            try:
                self._connection.poll()
            except psycopg2.Error:
                pass  # the connection broke: the next query on it reports that
        super().cursorFinished(cursor)


def as_interaction(
    fn_txn: Callable[..., Coroutine[Any, Any, R]],
    *args: Any,
    kept_rows: Versioned | None = None,
    **kwargs: Any,
) -> Callable[[txpostgres.Cursor], Deferred[R]]:
    """Adapt a ``*_txn`` coroutine function to txpostgres' runInteraction;
    its Txn looks up ``kept_rows`` (see :meth:`Txn.kept`)."""

    def interaction(cursor: txpostgres.Cursor) -> Deferred[R]:
        return Deferred.fromCoroutine(fn_txn(Txn(cursor, kept_rows), *args, **kwargs))

    return interaction


def connect_kwargs(dsn: str) -> dict[str, Any]:
    return {"dsn": dsn, "cursor_factory": DictRowCursor}


class Database:
    """A fixed-size pool of txpostgres connections to one database."""

    def __init__(
        self,
        reactor: IDatabaseReactor,
        dsn: str,
        size: int,
        *,
        acquire_timeout: float = 10.0,
        metrics: Metrics | None = None,
    ) -> None:
        self.dsn = dsn
        self.metrics = metrics or Metrics()
        self.size = size
        self._reactor = reactor
        self._acquire_timeout = acquire_timeout
        self._connections: list[txpostgres.Connection] = []
        self._free: deque[txpostgres.Connection] = deque()
        self._waiters: deque[Deferred[txpostgres.Connection]] = deque()
        # What the stores made of rows, by version, for every connection.
        self.kept_rows = Versioned(KEPT_ROWS)

    async def open(self) -> None:
        """Connect every pool slot; a database that cannot be reached at all
        raises DatabaseUnavailable so the daemon refuses to start."""
        for _ in range(self.size):
            conn = new_connection(self._reactor)
            try:
                await conn.connect(**connect_kwargs(self.dsn))
            except psycopg2.Error as e:
                await self.close()
                raise DatabaseUnavailable(one_line(e)) from e
            conn.detector.addRecoveryHandler(functools.partial(self._recovered, conn))
            self._connections.append(conn)
            self._free.append(conn)

    async def close(self) -> None:
        # An errback runs the waiter's own cleanup, which removes it from the
        # queue: fail a copy, from an emptied queue.
        waiting = list(self._waiters)
        self._waiters.clear()
        for waiter in waiting:
            waiter.errback(DatabaseUnavailable("the database is shutting down"))
        for conn in self._connections:
            detector = conn.detector
            # Stop a reconnection loop from reviving a connection we close.
            detector.reconnectable = Closed()
            try:
                conn.close()
            except Exception:
                pass
        self._connections.clear()
        self._free.clear()

    def stats(self) -> PoolStats:
        dead = sum(1 for c in self._connections if c.detector.connectionIsDead)
        idle = sum(1 for c in self._free if not c.detector.connectionIsDead)
        busy = len(self._connections) - len(self._free)
        return PoolStats(
            size=self.size, busy=busy, idle=idle, dead=dead, waiting=len(self._waiters)
        )

    def ping(self) -> Deferred[None]:
        """One trivial round trip (no transaction around it), for the healthcheck."""
        return self.run_query("ping", "SELECT 1").addCallback(lambda _: None)

    def run_interaction(
        self,
        description: str,
        fn_txn: Callable[Concatenate[Txn, P], Coroutine[Any, Any, R]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> Deferred[R]:
        """Run ``fn_txn(txn, *args, **kwargs)`` in one transaction.

        Retried from the start on serialization failure or deadlock, so
        ``fn_txn`` must do nothing but database work.  Cancelling the
        result (the client went away) does not cancel the transaction:
        txpostgres would cancel with a blocking libpq call, and the connection
        must not return to the pool mid-transaction.
        """
        work = self._run_interaction(description, fn_txn, args, kwargs)
        return uncancellable(Deferred.fromCoroutine(self._timed(description, work)))

    def run_query(
        self, description: str, sql: str, args: Any = None, *, prepared: bool = False
    ) -> Deferred[list[dict[str, Any]]]:
        """The rows of one read-only statement, run outside any transaction
        (the connection is in autocommit mode): one round trip, where
        :meth:`run_interaction` takes three (BEGIN, the work, COMMIT).  For
        the hottest single-statement reads, such as a request's
        authentication; anything that writes, or reads twice and needs both
        reads to agree, belongs in :meth:`run_interaction`.  ``prepared``:
        see :class:`Txn`."""
        work = self._run_query(description, sql, args, prepared)
        return uncancellable(Deferred.fromCoroutine(self._timed(description, work)))

    def run_reads(
        self,
        description: str,
        fn_txn: Callable[Concatenate[Txn, P], Coroutine[Any, Any, R]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> Deferred[R]:
        """Run ``fn_txn(txn, *args, **kwargs)``, which only reads, on one
        connection outside any transaction: each statement is a round trip,
        without :meth:`run_interaction`'s BEGIN and COMMIT.

        Under READ COMMITTED (the pool's level) every statement of a
        transaction takes its own snapshot, so reads that need no more than
        that (each statement consistent in itself, later ones seeing what
        committed since) lose nothing outside one.  Reads that must agree
        with each other, and anything that writes, belong in
        :meth:`run_interaction`.  Nothing is retried: a lone read can meet
        neither a serialization failure nor a deadlock."""
        work = self._run_reads(description, fn_txn, args, kwargs)
        return uncancellable(Deferred.fromCoroutine(self._timed(description, work)))

    async def _timed(self, description: str, work: Coroutine[Any, Any, R]) -> R:
        started = self._reactor.seconds()
        try:
            return await work
        finally:
            elapsed = self._reactor.seconds() - started
            self.metrics.db_seconds.labels(description).observe(elapsed)

    async def _run_query(
        self, description: str, sql: str, args: Any, prepared: bool
    ) -> list[dict[str, Any]]:
        return await self._run_reads(description, Txn.fetchall, (sql, args), {"prepared": prepared})

    async def _run_reads(
        self,
        description: str,
        fn_txn: Callable[..., Coroutine[Any, Any, R]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> R:
        conn = await self._acquire()
        try:
            # A txpostgres connection is asynchronous, hence in autocommit
            # mode: its cursor's statements run one by one, in no transaction.
            return await fn_txn(
                Txn(conn.cursor(), self.kept_rows, autocommit=True), *args, **kwargs
            )
        except psycopg2.Error as e:
            if is_connection_failure(e):
                raise DatabaseUnavailable(one_line(e)) from e
            raise
        except reconnection.ConnectionDead as e:
            raise DatabaseUnavailable(f"{description}: connection lost") from e
        finally:
            self._release(conn)

    async def _run_interaction(
        self,
        description: str,
        fn_txn: Callable[..., Coroutine[Any, Any, R]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> R:
        interaction = as_interaction(fn_txn, *args, kept_rows=self.kept_rows, **kwargs)
        for attempt in range(1, _MAX_ATTEMPTS + 1):
            conn = await self._acquire()
            try:
                result: R = await conn.runInteraction(interaction)
                return result
            except psycopg2.Error as e:
                if e.pgcode not in _RETRYABLE or attempt == _MAX_ATTEMPTS:
                    if is_connection_failure(e):
                        raise DatabaseUnavailable(one_line(e)) from e
                    raise
                log.info(
                    "{description}: {code} on attempt {attempt}, retrying",
                    description=description,
                    code=e.pgcode,
                    attempt=attempt,
                )
            except (reconnection.ConnectionDead, txpostgres.RollbackFailed) as e:
                raise DatabaseUnavailable(f"{description}: connection lost") from e
            finally:
                self._release(conn)
            # Back off without holding the connection, so others can use it.
            await _sleep(self._reactor, random.uniform(0.01, 0.05) * attempt)
        raise AssertionError("unreachable")

    async def _acquire(self) -> txpostgres.Connection:
        alive = [c for c in self._connections if not c.detector.connectionIsDead]
        if not alive:
            raise DatabaseUnavailable("no database connection is alive")
        for conn in self._free:
            if not conn.detector.connectionIsDead:
                self._free.remove(conn)
                return conn
        waiter: Deferred[txpostgres.Connection] = Deferred()
        self._waiters.append(waiter)
        waiter.addTimeout(self._acquire_timeout, self._reactor)
        try:
            return await waiter
        except defer.TimeoutError:
            raise DatabaseUnavailable("every database connection is busy") from None
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def _recovered(self, conn: txpostgres.Connection) -> None:
        # A free connection that was dead is usable again: callers queued
        # meanwhile must not wait for a busy one, or time out, to get it.
        if conn in self._free:
            self._free.remove(conn)
            self._release(conn)

    def _release(self, conn: txpostgres.Connection) -> None:
        if conn not in self._connections:
            return  # the pool was closed meanwhile
        while self._waiters and not conn.detector.connectionIsDead:
            waiter = self._waiters.popleft()
            if not waiter.called:
                waiter.callback(conn)
                return
        self._free.append(conn)


class Closed:
    """Stands in for a closed connection (or job session) in its detector, so
    that the detector never reopens it: reconnecting "succeeds" at once,
    which ends its retry loop quietly."""

    def close(self) -> None:
        pass

    def connect(self, *args: Any, **kwargs: Any) -> Deferred[None]:
        return defer.succeed(None)


def one_line(err: BaseException) -> str:
    """A database error as one line of a log or a start failure."""
    return " ".join(str(err).split()) or type(err).__name__


def _sleep(clock: IReactorTime, seconds: float) -> Deferred[None]:
    return task.deferLater(clock, seconds, lambda: None)
