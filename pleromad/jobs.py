"""A durable job queue in PostgreSQL.

Work that must survive the request that asked for it (mail, follow import,
account deletion) is queued with :func:`pleromad.store.jobs.enqueue_txn` in
the same transaction as the change that needs it, and run here by kind.

How several daemons share the queue without running a job twice:

- A worker claims a due job with ``SELECT ... FOR UPDATE SKIP LOCKED`` and, in
  the same transaction, takes a *session* advisory lock keyed by the job id
  on its own dedicated connection.  It holds that lock until it records the
  outcome.
- A job left ``running`` whose advisory lock anyone can take has lost its
  worker (the process died and PostgreSQL dropped its session), so every node
  periodically puts such jobs back in the queue.  This is how work that was
  running when a process was killed gets done after a restart.
- ``LISTEN``/``NOTIFY`` wakes workers as soon as a job commits; a slow poll
  covers a lost notification and jobs whose retry time has come.

A failed attempt is retried with exponential backoff until the job's
``max_attempts``; then it stays in the table as ``failed`` for the operator.
A handler that knows better says so: :class:`RetryAt` retries on its own
schedule (a server's Retry-After), :class:`GiveUp` fails the job at once.
If the dedicated connection itself drops while jobs run (a database restart),
their locks are gone and another node may run them again: handlers must be
idempotent, as retries already require.  An outcome is recorded only while
the attempt still owns the row (same node, same attempt number), so a worker
that lost its job this way cannot undo what the new owner does.

Time is the runner's ``clock``: retry times, the polling and rescue loops and
the stop timeout all follow it, so tests drive backoff with a ``Clock``.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from contextvars import ContextVar
from typing import Any

from twisted.application.service import Service
from twisted.internet import defer
from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure
from txpostgres import txpostgres

from pleromad.db.pool import (
    Closed,
    IDatabaseReactor,
    Txn,
    as_interaction,
    connect_kwargs,
    new_connection,
)
from pleromad.deferreds import within
from pleromad.metrics import Metrics
from pleromad.store import jobs as store

log = Logger()

Handler = Callable[[Mapping[str, Any]], Awaitable[None]]

# A job in flight in this process: its id and the attempt it is on.
_Attempt = tuple[int, int]

# The attempt number of the job a handler is running (1 for the first).
_current_attempt: ContextVar[int] = ContextVar("job_attempt")
# The id of the job a handler is running.
_current_job: ContextVar[int] = ContextVar("job_id")

# 2**62 times any sane base is far past any cap; more would overflow a float.
_MAX_DOUBLINGS = 62


class RetryAt(Exception):
    """Raised by a handler: try again in ``delay`` seconds rather than after
    the runner's own backoff (still within the job's ``max_attempts``)."""

    def __init__(self, delay: float, reason: str = "") -> None:
        super().__init__(reason or f"retry in {delay:g} s")
        self.delay = max(0.0, delay)


class GiveUp(Exception):
    """Raised by a handler: this job can never succeed; it is failed at once."""


def current_attempt() -> int:
    """The attempt number of the job the calling handler runs (1, 2, ...),
    for handlers that pace their own retries with :class:`RetryAt`."""
    return _current_attempt.get()


def current_job() -> tuple[int, int] | None:
    """The id and attempt number of the job the calling handler runs (None
    when it is called outside a runner), for handlers that record their
    progress in the job's row (:func:`pleromad.store.jobs.save_progress_txn`)."""
    job_id = _current_job.get(None)
    return None if job_id is None else (job_id, _current_attempt.get())


class JobRunner(Service):
    """Runs queued jobs of the kinds it has handlers for."""

    def __init__(
        self,
        reactor: IDatabaseReactor,
        dsn: str,
        handlers: Mapping[str, Handler],
        *,
        clock: IReactorTime | None = None,
        concurrency: int = 4,
        poll_interval: float = 5.0,
        rescue_interval: float = 30.0,
        backoff_base: float = 5.0,
        backoff_cap: float = 3600.0,
        stop_timeout: float = 10.0,
        metrics: Metrics | None = None,
    ) -> None:
        self.node = uuid.uuid4().hex
        self._metrics = metrics or Metrics()
        self._reactor = reactor
        self._clock: IReactorTime = clock or reactor
        self._dsn = dsn
        self._handlers = dict(handlers)
        self._concurrency = concurrency
        self._poll_interval = poll_interval
        self._rescue_interval = rescue_interval
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._stop_timeout = stop_timeout
        self._session: txpostgres.Connection | None = None
        self._loops: list[LoopingCall] = []
        self._running: dict[_Attempt, Deferred[None]] = {}
        self._filling = False
        self._wanted = False
        # The latest claiming round and rescue, for stop() to wait on.
        self._fill_d: Deferred[None] | None = None
        self._rescue_d: Deferred[None] | None = None

    async def start(self) -> None:
        """Connect, listen and start working; the daemon awaits this at start."""
        if self.running:
            raise RuntimeError("the job runner is already running")
        session = new_connection(self._reactor, listening=True)
        await session.connect(**connect_kwargs(self._dsn))
        try:
            await session.runOperation(f"LISTEN {store.CHANNEL}")
        except BaseException:
            _close_for_good(session)
            raise
        self._session = session
        session.addNotifyObserver(lambda _notify: self.wake())
        session.detector.addRecoveryHandler(self._recovered)
        self.startService()
        for interval, work in (
            (self._rescue_interval, self._rescue),
            (self._poll_interval, self.wake),
        ):
            loop = LoopingCall(work)
            loop.clock = self._clock
            loop.start(interval, now=True).addErrback(lambda f: log.failure("job loop stopped", f))
            self._loops.append(loop)

    async def stop(self) -> None:
        """Stop claiming, give running jobs ``stop_timeout``, then let go of the rest.

        Jobs still running when the session closes lose their locks and are
        picked up again by whichever node rescues next.
        """
        if not self.running:
            return
        self.stopService()
        for loop in self._loops:
            if loop.running:
                loop.stop()
        self._loops.clear()
        try:
            await within(self._clock, self._stop_timeout, Deferred.fromCoroutine(self._settle()))
        except defer.TimeoutError:
            log.warn(
                "{n} jobs still running at shutdown; they will be run again",
                n=len(self._running),
            )
        session, self._session = self._session, None
        if session is not None:
            session.detector.removeRecoveryHandler(self._recovered)
            _close_for_good(session)

    async def _settle(self) -> None:
        # A claim in flight may still start one job: wait for it first.
        await _all_settled([d for d in (self._fill_d, self._rescue_d) if d is not None])
        await _all_settled(list(self._running.values()))

    def wake(self) -> None:
        """Claim due jobs until the worker is busy or the queue is empty."""
        if not self.running or self._session is None or not self._handlers:
            return
        if self._filling:
            self._wanted = True
            return
        self._fill_d = Deferred.fromCoroutine(self._fill()).addErrback(
            self._log_failure, "claiming jobs failed"
        )

    async def _fill(self) -> None:
        self._filling = True
        try:
            self._wanted = True
            while self._wanted:
                self._wanted = False
                while self.running and len(self._running) < self._concurrency:
                    job = await self._in_session(
                        store.claim_txn, self.node, list(self._handlers), self._clock.seconds()
                    )
                    if job is None:
                        break
                    self._wanted = True
                    self._start_job(job)
        finally:
            self._filling = False

    def _start_job(self, job: dict[str, Any]) -> None:
        key = (job["id"], job["attempts"])
        d = Deferred.fromCoroutine(self._execute(job))
        self._running[key] = d
        d.addErrback(self._log_failure, "recording job {id} failed", id=job["id"])
        d.addBoth(lambda _: self._job_done(key))

    def _job_done(self, key: _Attempt) -> None:
        self._running.pop(key, None)
        self.wake()

    async def _execute(self, job: dict[str, Any]) -> None:
        handler = self._handlers[job["kind"]]
        attempt = job["attempts"]
        _current_attempt.set(attempt)
        _current_job.set(job["id"])
        fields = {"id": job["id"], "kind": job["kind"], "attempt": attempt}
        try:
            await handler(job["payload"])
        except GiveUp as e:
            self._metrics.job_failures.labels(job["kind"]).inc()
            log.info("job {id} ({kind}) attempt {attempt} gave up: {reason}", reason=e, **fields)
            await self._record(job, store.fail_txn, self.node, attempt, f"gave up: {e}", None)
        except Exception as e:
            self._metrics.job_failures.labels(job["kind"]).inc()
            retry_at = None
            if attempt < job["max_attempts"]:
                delay = e.delay if isinstance(e, RetryAt) else self._backoff(attempt)
                retry_at = self._clock.seconds() + delay
            if isinstance(e, RetryAt):
                log.info("job {id} ({kind}) attempt {attempt}: {reason}", reason=e, **fields)
            else:
                log.failure("job {id} ({kind}) attempt {attempt} failed", **fields)
            await self._record(
                job, store.fail_txn, self.node, attempt, f"{type(e).__name__}: {e}", retry_at
            )
        else:
            await self._record(job, store.finish_txn, self.node, attempt)

    def _backoff(self, attempt: int) -> float:
        """Seconds to wait before retrying after failed attempt number ``attempt``."""
        doublings = min(attempt - 1, _MAX_DOUBLINGS)
        return min(self._backoff_cap, self._backoff_base * 2.0**doublings)

    async def _record(
        self, job: dict[str, Any], fn_txn: Callable[..., Coroutine[Any, Any, bool]], *args: Any
    ) -> None:
        if self._session is None:
            log.warn(
                "job {id} ({kind}) ended after shutdown; its outcome is lost"
                " and it will be run again",
                id=job["id"],
                kind=job["kind"],
            )
            return
        if not await self._in_session(fn_txn, job["id"], *args):
            log.warn(
                "job {id} ({kind}) attempt {attempt} ended after this node lost it"
                " (its database session dropped); outcome not recorded",
                id=job["id"],
                kind=job["kind"],
                attempt=job["attempts"],
            )

    def _rescue(self) -> Deferred[None]:
        async def rescue() -> None:
            rescued = await self._in_session(self._rescue_txn)
            if rescued:
                log.info("requeued jobs {ids} whose worker stopped", ids=rescued)
                self.wake()

        self._rescue_d = Deferred.fromCoroutine(rescue()).addErrback(
            self._log_failure, "rescuing jobs failed"
        )
        return self._rescue_d

    async def _rescue_txn(self, txn: Txn) -> list[int]:
        # Which jobs are ours is read when the transaction runs, not when it
        # is queued: a claim queued ahead of it on the session may add one,
        # and this session could take that job's lock again.
        return await store.rescue_txn(txn, {job_id for job_id, _ in self._running})

    def _log_failure(self, failure: Failure, /, message: str, **fields: Any) -> None:
        if self.running:
            log.failure(message, failure, **fields)
        else:
            # Closing the session at shutdown cuts short what it was doing.
            log.info(message + " at shutdown: {error}", error=failure.value, **fields)

    async def _in_session(self, fn_txn: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> Any:
        if self._session is None:
            raise RuntimeError("the job runner is stopped")
        return await self._session.runInteraction(as_interaction(fn_txn, *args))

    async def _recovered(self) -> None:
        """The session came back: listen again and catch up on missed wake-ups."""
        if self._session is None:
            return
        await self._session.runOperation(f"LISTEN {store.CHANNEL}")
        self.wake()


def _close_for_good(session: txpostgres.Connection) -> None:
    """Close the session so that its dead-connection detector never reopens it
    (it would, were a reconnection under way or an interaction cut short)."""
    session.detector.reconnectable = Closed()
    session.close()


def _all_settled(ds: list[Deferred[Any]]) -> Deferred[None]:
    return DeferredList(ds, consumeErrors=True).addCallback(lambda _: None)
