"""CPU-heavy work (password hashing, image decoding) on a few threads of its own.

Run in the reactor's thread pool, a burst of such work took all ten of its
threads, so DNS lookups and every other ``deferToThread`` waited behind it,
and ten hashes of four argon2 lanes each left the reactor thread one runnable
thread in forty-one on two cores.
Here the work runs on one :class:`CpuPool` of the process, with one thread
fewer than the CPUs the process may use (at least one): on two cores one
core always stays with the reactor, and the threads run at a lower priority
(10 nice levels lower), so that when other processes take that core too the
reactor thread still comes first. Work beyond that waits in the pool's
queue, and each kind of work (a :class:`WorkQueue`) may only have so much of
it in the pool at once: past that bound it is refused with :class:`Busy`
(503 with ``Retry-After``) before anything is done, instead of waiting
longer than any client would.

argon2 and Pillow's decoders release the GIL, so these threads and the
reactor run in parallel (see bench/README.md, ``healthcheck.py``).  RSA key
pairs are made in a process of their own, but a pool thread waits for each,
so that they count against the same bound (docs/workers.md).
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any, ParamSpec, TypeVar

from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

from pleromad.errors import ApiError

P = ParamSpec("P")
T = TypeVar("T")

BUSY = "The server is busy; try again later"

# The pool's threads run this many nice levels below the reactor thread.
NICENESS = 10

# How much the latest run counts in the running mean of run times.
_MEAN_WEIGHT = 0.2


class Busy(ApiError):
    """Too much of this kind of work is waiting already; nothing was done."""

    status = 503

    def __init__(self, retry_after: int) -> None:
        super().__init__(BUSY, headers={"Retry-After": str(retry_after)})


def cpu_threads() -> int:
    """One less than the CPUs this process may run on (its affinity, which
    systemd's ``CPUAffinity=`` or ``taskset`` restrict), at least one."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, cpus - 1)


class CpuPool:
    """A fixed number of threads for CPU-bound work, started on first use and
    stopped with the reactor; callers wait in one first-come queue."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self._pool: ThreadPool | None = None
        self._reactor: Any = None
        self._mean_seconds = 0.0
        self._lock = threading.Lock()
        self._local = threading.local()

    def run(self, f: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> Deferred[T]:
        """``f(*args, **kwargs)`` on one of the pool's threads, after the work queued before it."""
        if self._pool is None:
            from twisted.internet import reactor

            self._reactor = reactor
            self._pool = ThreadPool(0, self.threads, name="pleromad-cpu")
            self._pool.start()
            reactor.addSystemEventTrigger("during", "shutdown", self.stop)
        return deferToThreadPool(
            self._reactor, self._pool, self._timed, partial(f, *args, **kwargs)
        )

    def seconds_for(self, pieces: int) -> int:
        """Whole seconds (at least one) the pool needs for ``pieces`` of work at its
        recent pace: what a refused client is told to wait."""
        return max(1, math.ceil(pieces * self._mean_seconds / self.threads))

    def _timed(self, call: Callable[[], T]) -> T:
        if not getattr(self._local, "niced", False):
            # This thread only (Linux takes a thread id here): when it and the
            # reactor thread want the same core, the reactor thread wins.
            thread = threading.get_native_id()
            below = os.getpriority(os.PRIO_PROCESS, thread) + NICENESS
            os.setpriority(os.PRIO_PROCESS, thread, min(below, 19))
            self._local.niced = True
        started = time.monotonic()
        try:
            return call()
        finally:
            took = time.monotonic() - started
            with self._lock:
                self._mean_seconds += _MEAN_WEIGHT * (took - self._mean_seconds)

    def stop(self) -> None:
        """Let the threads end once their work is done (at reactor shutdown)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.stop()


# The CPUs are the process's, whichever daemon (or test) runs in it.
CPU = CpuPool(cpu_threads())


class WorkQueue:
    """One kind of work in a :class:`CpuPool`: at most ``limit`` pieces of it
    running or waiting there at once; one more is refused with :class:`Busy`."""

    def __init__(self, limit: int, pool: CpuPool = CPU) -> None:
        self.limit = limit
        self.pool = pool
        self.pending = 0

    def run(self, f: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> Deferred[T]:
        """``f(*args, **kwargs)`` in the pool, or a failure with Busy right away."""
        if self.pending >= self.limit:
            return defer.fail(Busy(self.pool.seconds_for(self.pending)))
        self.pending += 1
        done = self.pool.run(f, *args, **kwargs)

        def finished(result: Any) -> Any:
            self.pending -= 1
            return result

        return done.addBoth(finished)
