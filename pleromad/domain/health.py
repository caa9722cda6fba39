"""Whether this node can serve: the database answers and the pool has room."""

from __future__ import annotations

import os
import resource

from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime

from pleromad.db.pool import Database, DatabaseUnavailable
from pleromad.deferreds import within
from pleromad.model import Health

# The database must answer a trivial query within this many seconds.
PING_TIMEOUT = 5.0


async def check(db: Database, clock: IReactorTime) -> Health:
    """Ping the database unless every connection is busy or dead.

    The pool figures are read while the ping holds its connection, so
    ``active`` counts the healthcheck itself, as the reference's did.
    """
    if db.stats().idle == 0:
        stats, healthy = db.stats(), False
    else:
        ping = db.ping()
        stats = db.stats()
        try:
            await within(clock, PING_TIMEOUT, ping)
            healthy = True
        except (DatabaseUnavailable, defer.TimeoutError):
            healthy = False
    return Health(
        pool_size=stats.size,
        active=stats.busy,
        idle=stats.idle,
        memory_used=round(memory_used_mib(), 2),
        healthy=healthy,
    )


def memory_used_mib() -> float:
    """Resident memory of this process; peak resident where /proc is absent."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            resident_pages = int(statm.read().split()[1])
        return resident_pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
