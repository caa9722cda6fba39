"""Idempotency-Key (DECISIONS 26): a user's POST, PUT or PATCH sent again
with the same key within 6 hours gets the first answer again, and its
effect happens once.

The key is per user, as DECISIONS 26 says (the reference's one global
cache let anyone replay anyone's answer): anonymous requests are not
remembered.  It is per request too (method and path): a key sent to
another route runs there rather than answering what another route did.
Only answers below 400 are remembered: a refused request changed nothing,
so its corrected retry under the same key runs, and a failure of ours (5xx,
a database outage) is retried rather than replayed.

Concurrency: the key is claimed before the request runs, in a transaction
of its own (:func:`pleromad.store.idempotency.claim_txn`), so of requests
sent together under one key, on any number of nodes, exactly one runs.  The
others poll for its answer for up to :data:`WAIT_SECONDS`, then answer 409
(try again later) without running.  A claim whose request died unanswered
(a crash, the database lost mid-request) is taken over after
:data:`LEASE_SECONDS`.  A route that records its answer in the transaction
of its effect (posting a status, see :func:`record_txn`) is thus exactly
once even across crashes; the others record it just after their effect, so
only a crash in between, or a request outliving the lease, can run an
effect twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred
from twisted.internet.task import deferLater
from twisted.logger import Logger

from pleromad.db.pool import Txn
from pleromad.deferreds import uncancellable
from pleromad.errors import ApiError, BadRequest
from pleromad.model import Claim, Remembered
from pleromad.store import idempotency as store
from pleromad.views.encoding import json_bytes

if TYPE_CHECKING:
    from pleromad.runtime import Runtime

log = Logger()

# How long an answer is given again.
KEEP_SECONDS = 6 * 3600.0
# How long a claim without an answer holds its key: far longer than any
# request takes (a database call gives up within seconds).
LEASE_SECONDS = 60.0
# How long a request waits for the answer of another under the same key.
WAIT_SECONDS = 5.0
POLL_SECONDS = 0.1

KEY_LIMIT = 512
INVALID_KEY = "Invalid Idempotency-Key"
IN_PROGRESS = "A request with this Idempotency-Key is in progress"


class InProgress(ApiError):
    status = 409


@dataclass(frozen=True)
class Answer:
    """A JSON answer as sent: its status, its text and its headers (the
    headers of a first answer are not remembered)."""

    status: int
    body: str
    headers: Mapping[str, str] = field(default_factory=dict)
    replayed: bool = False
    # The X-Request-Id of the request that gave the answer first.
    original_request_id: str = ""


# Runs the request while it holds the claim; answers it.
Run = Callable[[Claim], Awaitable[Answer]]


def json_text(body: Any) -> str:
    """The JSON text of an answer, as the web layer writes and this module
    remembers it."""
    return json_bytes(body).decode("utf-8")


def requested_key(values: Sequence[bytes]) -> str | None:
    """The key of a request whose ``Idempotency-Key`` headers are ``values``.

    As the reference: only exactly one header counts; an empty one is no
    key; one over 512 characters is refused rather than ignored.
    """
    if len(values) != 1:
        return None
    key = values[0].decode("utf-8", "replace").strip()
    if len(key) > KEY_LIMIT:
        raise BadRequest(INVALID_KEY)
    return key or None


async def once(
    rt: Runtime, user_id: int, key: str, request: str, run: Run, *, request_id: str
) -> Answer:
    """The answer remembered for ``user_id``'s ``request`` (method and path)
    under ``key``, replayed, or else ``run``'s, remembered if below 400;
    ``request_id`` is this request's X-Request-Id."""
    claimed = await _claim(rt, user_id, key, request, request_id)
    if isinstance(claimed, Remembered):
        return Answer(
            claimed.status, claimed.body, replayed=True, original_request_id=claimed.request_id
        )
    # A client that goes away (as one that retries does) does not stop the
    # request half-way: it finishes, and its answer waits for the retry.
    answer = await uncancellable(Deferred.fromCoroutine(_run(rt, claimed, run)))
    return replace(answer, original_request_id=request_id)


async def record_txn(txn: Txn, claim: Claim, body: Any, now: float) -> None:
    """Remember ``body`` as the 200 answer under ``claim``, in the caller's
    transaction: the effect and its answer are committed together, or not
    at all.  A claim taken over meanwhile raises 409, which rolls the
    transaction back: the request that took it over runs instead."""
    if not await store.record_txn(txn, claim, Remembered(200, json_text(body)), now):
        raise InProgress(IN_PROGRESS)


async def purge(rt: Runtime) -> int:
    """Forget the keys of answers given more than 6 hours ago."""
    return await rt.db.run_interaction(
        "purge idempotency keys", store.purge_txn, rt.clock.seconds(), KEEP_SECONDS
    )


async def _claim(
    rt: Runtime, user_id: int, key: str, request: str, request_id: str
) -> Claim | Remembered:
    deadline = rt.clock.seconds() + WAIT_SECONDS
    while True:
        claimed = await rt.db.run_interaction(
            "claim idempotency key",
            store.claim_txn,
            user_id,
            key,
            request,
            request_id,
            rt.clock.seconds(),
            LEASE_SECONDS,
            KEEP_SECONDS,
        )
        if claimed is not None:
            return claimed
        if rt.clock.seconds() >= deadline:
            raise InProgress(IN_PROGRESS)
        await deferLater(rt.clock, POLL_SECONDS, lambda: None)


async def _run(rt: Runtime, claim: Claim, run: Run) -> Answer:
    try:
        answer = await run(claim)
    except BaseException:
        await _settle(rt, claim, None)
        raise
    await _settle(rt, claim, answer if answer.status < 400 else None)
    return answer


async def _settle(rt: Runtime, claim: Claim, answer: Answer | None) -> None:
    """Record ``answer`` under ``claim``, or free the key when None.

    A request whose answer is already recorded (in its own transaction)
    changes nothing here.  A failure is only logged: the request's answer
    stands, and the lease frees the key later.
    """
    try:
        if answer is None:
            await rt.db.run_interaction("release idempotency key", store.release_txn, claim)
        else:
            await rt.db.run_interaction(
                "record idempotent answer",
                store.record_txn,
                claim,
                Remembered(answer.status, answer.body),
                rt.clock.seconds(),
            )
    except Exception:
        log.failure("idempotency key {key} not settled", key=claim.key)
