"""Rate limits shared by every node on one database (DECISIONS 23 and 27).

Each limit is ``[requests, seconds]`` from ``[rate_limits]``, counted per
bucket key (``ip:<address>``, or ``user:<id>`` when authenticated; see
:func:`pleromad.web.client_ip.bucket_key`) in fixed windows kept in
PostgreSQL.  Two ways to use one:

- *every attempt counts* (registration, password reset, confirmation
  resend): :meth:`RateLimiter.hit` before doing the work;
- *only failures count* (failed_login): :meth:`RateLimiter.check` before
  every attempt, :meth:`RateLimiter.record` when it fails.  Once the limit is
  reached ``check`` refuses even a right password until the window ends.

Either answers an :class:`Allowance`; a handler raises :class:`Throttled`
when it is not allowed and otherwise may send :func:`headers` with its answer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from twisted.internet.interfaces import IReactorTime

from pleromad.config import RateLimitsConfig
from pleromad.db.pool import Database
from pleromad.errors import ApiError
from pleromad.store import rate_limits as store

NAMES = frozenset({"registration", "failed_login", "password_reset", "confirmation_resend"})


@dataclass(frozen=True, slots=True)
class Allowance:
    """What a limit says about one request.

    ``limit`` requests per window; ``remaining`` of them left after this one;
    the window ends at ``reset_at`` (seconds since the epoch).  A ``limit`` of
    0 means no limit applies (rate limits are switched off): always allowed,
    and no headers.
    """

    limit: int
    remaining: int
    reset_at: float
    allowed: bool

    @property
    def limited(self) -> bool:
        return self.limit > 0


UNLIMITED = Allowance(limit=0, remaining=0, reset_at=0.0, allowed=True)


class Throttled(ApiError):
    """Over a rate limit: 429 ``{"error": "Throttled"}`` with the X-RateLimit headers."""

    status = 429

    def __init__(self, allowance: Allowance) -> None:
        super().__init__("Throttled", headers=headers(allowance))
        self.allowance = allowance


def headers(allowance: Allowance) -> dict[str, str]:
    """The three X-RateLimit headers, always together (DECISIONS 27); none
    when no limit applies."""
    if not allowance.limited:
        return {}
    return {
        "X-RateLimit-Limit": str(allowance.limit),
        "X-RateLimit-Remaining": str(allowance.remaining),
        "X-RateLimit-Reset": _iso8601(allowance.reset_at),
    }


def _iso8601(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class RateLimiter:
    """The configured limits, counted in the database, timed by ``clock``."""

    def __init__(self, config: RateLimitsConfig, db: Database, clock: IReactorTime) -> None:
        self._config = config
        self._db = db
        self._clock = clock

    async def hit(self, name: str, key: str) -> Allowance:
        """Count this request against limit ``name`` for ``key``; not allowed
        once more than the limit's requests fell in the current window."""
        rate = self._rate(name)
        if rate is None:
            return UNLIMITED
        limit, seconds = rate
        count, reset_at = await self._db.run_interaction(
            f"rate_limit_hit:{name}",
            store.hit_txn,
            _bucket(name, key),
            limit,
            seconds,
            self._clock.seconds(),
        )
        return Allowance(limit, max(0, limit - count), reset_at, count <= limit)

    async def check(self, name: str, key: str) -> Allowance:
        """Whether one more attempt is allowed, without counting it: not once
        the limit has been recorded in the current window."""
        rate = self._rate(name)
        if rate is None:
            return UNLIMITED
        limit, seconds = rate
        now = self._clock.seconds()
        found = await self._db.run_interaction(
            f"rate_limit_check:{name}", store.peek_txn, _bucket(name, key), now
        )
        count, reset_at = found if found is not None else (0, now + seconds)
        return Allowance(limit, max(0, limit - count), reset_at, count < limit)

    async def record(self, name: str, key: str) -> Allowance:
        """Count one failure (after :meth:`check` allowed the attempt); the
        answer is what the next :meth:`check` will say."""
        allowance = await self.hit(name, key)
        if not allowance.limited:
            return allowance
        return replace(allowance, allowed=allowance.remaining > 0)

    async def purge(self) -> int:
        """Delete the counters of ended windows; returns how many.  Run it
        periodically (any node, any interval): the table then holds only the
        buckets active in the longest window."""
        return await self._db.run_interaction(
            "rate_limit_purge", store.purge_txn, self._clock.seconds()
        )

    def _rate(self, name: str) -> tuple[int, int] | None:
        if name not in NAMES:
            raise ValueError(f"unknown rate limit {name!r}")
        if not self._config.enabled:
            return None
        rate: tuple[int, int] = getattr(self._config, name)
        return rate


def _bucket(name: str, key: str) -> str:
    return f"{name}:{key}"
