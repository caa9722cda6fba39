"""Delivering local activities to other servers' inboxes, durably.

An activity is queued in the transaction that makes it (:func:`enqueue_txn`):
one job per distinct inbox, so a post to a thousand followers on fifty
servers that have shared inboxes is fifty jobs.  Each job POSTs the activity,
signed by its actor (the instance actor when ``actor_id`` is None):

- a 2xx answer is done, and clears the host's failure marks;
- a 4xx other than 408 and 429 will never succeed: the job gives up;
- 408, 429, 5xx and network failures are retried with exponential backoff
  (:func:`retry_delay`, about two days in all), or after the server's
  ``Retry-After`` when it sent one;
- a host that has failed without a single success for more than
  :data:`UNREACHABLE_AFTER` is marked unreachable: its jobs are dropped (and
  logged) without being attempted until :func:`heard_from` says it is back.

Blocked instances get nothing, quarantined ones no private activity; both
are checked when the job runs, so that a block also stops what was queued
before it.

A job is deleted only after the peer acknowledged it, so a process killed
mid-delivery loses nothing: the job is run again after the restart.  The
one repeat this allows is a delivery the peer acknowledged just before the
process died, before the job was recorded as done; the receiver drops it as
an activity id it has already seen.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from twisted.logger import Logger

from pleromad.db.pool import Txn
from pleromad.domain import actor_keys
from pleromad.federation.fetch import FetchError, Refused, host_in, host_of
from pleromad.jobs import GiveUp, RetryAt, current_attempt
from pleromad.store import instances
from pleromad.store import jobs as job_store

if TYPE_CHECKING:
    from pleromad.jobs import Handler
    from pleromad.runtime import Runtime

log = Logger()

DELIVER_JOB = "federation.deliver"
BACKOFF_BASE = 60.0
BACKOFF_CAP = 6 * 3600.0
# 16 retries at 1, 2, 4 ... 256 minutes, then every 6 hours: about 50 hours.
MAX_ATTEMPTS = 17
UNREACHABLE_AFTER = 2 * 24 * 3600.0
# A longer Retry-After is taken as a mistake, not as a reason to wait days.
RETRY_AFTER_MAX = 24 * 3600.0
_RETRIED_4XX = frozenset({408, 429})


async def enqueue_txn(
    txn: Txn,
    *,
    actor_id: int | None,
    activity: Mapping[str, Any],
    inboxes: Iterable[str],
    private: bool = False,
) -> int:
    """Queue ``activity`` for each distinct inbox, in the caller's transaction;
    how many jobs.  ``private``: followers-only or direct (not for quarantined
    instances)."""
    distinct = dict.fromkeys(inbox for inbox in inboxes if inbox)
    for inbox in distinct:
        await job_store.enqueue_txn(
            txn,
            DELIVER_JOB,
            {"inbox": inbox, "actor_id": actor_id, "activity": activity, "private": private},
            max_attempts=MAX_ATTEMPTS,
        )
    return len(distinct)


def retry_delay(attempt: int) -> float:
    """Seconds before retrying after failed attempt number ``attempt``."""
    return min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** min(attempt - 1, 32))


def retry_after(value: str | None, now: float) -> float | None:
    """The delay a ``Retry-After`` header asks for (seconds or an HTTP
    date), at most :data:`RETRY_AFTER_MAX`; None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        delay = float(value)
    else:
        try:
            delay = parsedate_to_datetime(value).timestamp() - now
        except (TypeError, ValueError, IndexError):
            return None
    return min(max(delay, 0.0), RETRY_AFTER_MAX)


async def deliver(rt: Runtime, payload: Mapping[str, Any]) -> None:
    """One delivery attempt; raises RetryAt or GiveUp when it did not succeed."""
    inbox: str = payload["inbox"]
    host = host_of(inbox)
    federation = rt.config.federation
    if not federation.enabled:
        log.info("delivery to {inbox} dropped: federation is disabled", inbox=inbox)
        return
    if host_in(host, federation.blocked_instances):
        log.info("delivery to {inbox} dropped: {host} is blocked", inbox=inbox, host=host)
        return
    if payload.get("private") and host_in(host, federation.quarantined_instances):
        log.info(
            "private delivery to {inbox} dropped: {host} is quarantined", inbox=inbox, host=host
        )
        return
    failing, unreachable = await rt.db.run_interaction("instance", instances.marks_txn, host)
    if unreachable:
        log.info("delivery to {inbox} dropped: {host} is unreachable", inbox=inbox, host=host)
        return
    try:
        signer = await actor_keys.signing_key(rt, payload["actor_id"])
    except LookupError as e:
        raise GiveUp(str(e)) from None
    body = json.dumps(payload["activity"], separators=(",", ":"), ensure_ascii=False).encode()
    delay = None
    try:
        reply = await rt.fetcher.send(inbox, body, signer=signer)
    except Refused as e:
        raise GiveUp(str(e)) from None
    except FetchError as e:
        error = str(e)
    else:
        if 200 <= reply.status < 300:
            if failing:
                await heard_from(rt, host)
            return
        error = f"{inbox} answered {reply.status}"
        if reply.status < 500 and reply.status not in _RETRIED_4XX:
            raise GiveUp(error)
        delay = retry_after(reply.retry_after, rt.clock.seconds())
    gone = await rt.db.run_interaction(
        "instance failed",
        instances.failed_txn,
        host,
        rt.clock.seconds(),
        error,
        UNREACHABLE_AFTER,
    )
    if gone:
        log.warn(
            "delivery to {inbox} dropped: {host} has been failing for more than"
            " {days:g} days ({error})",
            inbox=inbox,
            host=host,
            days=UNREACHABLE_AFTER / 86400,
            error=error,
        )
        return
    raise RetryAt(retry_delay(current_attempt()) if delay is None else delay, error)


async def heard_from(rt: Runtime, host: str) -> None:
    """``host`` answered us or sent us a verified request: it is reachable again."""
    if await rt.db.run_interaction("instance reachable", instances.reachable_txn, host.lower()):
        log.info("{host} is reachable again; deliveries to it resume", host=host)


def handlers(rt: Runtime) -> dict[str, Handler]:
    """The job handlers of this module, by kind, for the daemon's JobRunner."""

    async def deliver_job(payload: Mapping[str, Any]) -> None:
        await deliver(rt, payload)

    return {DELIVER_JOB: deliver_job}
