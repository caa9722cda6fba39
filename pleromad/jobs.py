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
If the dedicated connection itself drops while jobs run (a database restart),
their locks are gone and another node may run them again: handlers must be
idempotent, as retries already require.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from twisted.application.service import Service
from twisted.internet import defer
from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.interfaces import IReactorFDSet, IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from txpostgres import txpostgres

from pleromad.db.pool import as_interaction, connect_kwargs, new_connection
from pleromad.deferreds import within
from pleromad.store import jobs as store

log = Logger()

Handler = Callable[[Mapping[str, Any]], Awaitable[None]]


class JobRunner(Service):
    """Runs queued jobs of the kinds it has handlers for."""

    def __init__(
        self,
        reactor: IReactorFDSet,
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
    ) -> None:
        self.node = uuid.uuid4().hex
        self._reactor = reactor
        self._clock: IReactorTime = clock or reactor  # type: ignore[assignment]
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
        self._running: dict[int, Deferred[None]] = {}
        self._filling = False
        self._wanted = False

    async def start(self) -> None:
        """Connect, listen and start working; the daemon awaits this at start."""
        self.startService()
        session = new_connection(self._reactor)
        await session.connect(**connect_kwargs(self._dsn))
        self._session = session
        session.addNotifyObserver(lambda _notify: self.wake())
        session.detector.addRecoveryHandler(self._listen)
        await self._listen()
        for interval, work in (
            (self._rescue_interval, self._rescue),
            (self._poll_interval, self.wake),
        ):
            loop = LoopingCall(work)
            loop.clock = self._clock
            loop.start(interval, now=True).addErrback(
                lambda f: log.failure("job loop stopped", f)
            )
            self._loops.append(loop)

    async def stop(self) -> None:
        """Stop claiming, give running jobs a moment, then let go of the rest.

        Jobs still running when the session closes lose their locks and are
        picked up again by whichever node rescues next.
        """
        self.stopService()
        for loop in self._loops:
            if loop.running:
                loop.stop()
        self._loops.clear()
        if self._running:
            try:
                await within(
                    self._clock, self._stop_timeout, _all_settled(list(self._running.values()))
                )
            except defer.TimeoutError:
                log.warn("{n} jobs still running at shutdown", n=len(self._running))
        if self._session is not None:
            self._session.detector.removeRecoveryHandler(self._listen)
            self._session.close()
            self._session = None

    def wake(self) -> None:
        """Claim due jobs until the worker is busy or the queue is empty."""
        if not self.running or self._session is None or not self._handlers:
            return
        if self._filling:
            self._wanted = True
            return
        Deferred.fromCoroutine(self._fill()).addErrback(
            lambda f: log.failure("claiming jobs failed", f)
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
        d = Deferred.fromCoroutine(self._execute(job))
        self._running[job["id"]] = d
        d.addErrback(lambda f: log.failure("recording job {id} failed", f, id=job["id"]))
        d.addBoth(lambda _: self._job_done(job["id"]))

    def _job_done(self, job_id: int) -> None:
        self._running.pop(job_id, None)
        self.wake()

    async def _execute(self, job: dict[str, Any]) -> None:
        handler = self._handlers[job["kind"]]
        try:
            await handler(job["payload"])
        except Exception as e:
            retry_at = None
            if job["attempts"] < job["max_attempts"]:
                delay = min(self._backoff_cap, self._backoff_base * 2 ** (job["attempts"] - 1))
                retry_at = self._clock.seconds() + delay
            log.failure(
                "job {id} ({kind}) attempt {attempt} failed",
                id=job["id"], kind=job["kind"], attempt=job["attempts"],
            )
            await self._in_session(
                store.fail_txn, job["id"], f"{type(e).__name__}: {e}", retry_at
            )
        else:
            await self._in_session(store.finish_txn, job["id"])

    def _rescue(self) -> Deferred[None]:
        async def rescue() -> None:
            rescued = await self._in_session(store.rescue_txn, self.node, self._clock.seconds())
            if rescued:
                log.info("requeued jobs {ids} whose worker stopped", ids=rescued)
                self.wake()

        return Deferred.fromCoroutine(rescue()).addErrback(
            lambda f: log.failure("rescuing jobs failed", f)
        )

    async def _in_session(self, fn_txn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        if self._session is None:
            raise RuntimeError("the job runner is stopped")
        return await self._session.runInteraction(as_interaction(fn_txn, *args))

    def _listen(self) -> Deferred[None]:
        assert self._session is not None
        return self._session.runOperation(f"LISTEN {store.CHANNEL}")


def _all_settled(ds: list[Deferred[Any]]) -> Deferred[None]:
    return DeferredList(ds, consumeErrors=True).addCallback(lambda _: None)
