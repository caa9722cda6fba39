"""Idempotency-Key claims and the answers remembered under them, one row
per (user, key, request) (see 0011_statuses.sql and
0018_idempotency_claims.sql); ``request`` is the method and path sent.

Times are seconds since the epoch, from the caller's clock.
"""

from __future__ import annotations

from pleromad.db.pool import Txn
from pleromad.model import Claim, Remembered


async def claim_txn(
    txn: Txn,
    user_id: int,
    key: str,
    request: str,
    request_id: str,
    now: float,
    lease: float,
    keep: float,
) -> Claim | Remembered | None:
    """Claim ``key`` for ``user_id``'s ``request`` (whose X-Request-Id is
    ``request_id``), or get the answer recorded under it.

    The key is free when no row holds it, when its answer is older than
    ``keep`` seconds, or when its claim went unanswered for ``lease``
    seconds (its request died).  None: another request holds the key and
    has not answered yet.  One upsert decides, so of concurrent claims on
    any number of nodes exactly one wins.
    """
    row = await txn.fetchone(
        "INSERT INTO idempotency_keys AS k (user_id, key, request, request_id, created_at)"
        " VALUES (%(user)s, %(key)s, %(request)s, %(request_id)s, to_timestamp(%(now)s))"
        " ON CONFLICT (user_id, key, request) DO UPDATE SET"
        "   claim = excluded.claim, status = NULL, body = NULL,"
        "   request_id = excluded.request_id, created_at = excluded.created_at"
        " WHERE k.created_at <= to_timestamp(%(now)s) - make_interval(secs =>"
        "   CASE WHEN k.status IS NULL THEN %(lease)s ELSE %(keep)s END)"
        " RETURNING claim",
        {
            "user": user_id,
            "key": key,
            "request": request,
            "request_id": request_id,
            "now": now,
            "lease": lease,
            "keep": keep,
        },
    )
    if row is not None:
        return Claim(user_id, key, request, row["claim"])
    row = await txn.fetchone(
        "SELECT status, body, request_id FROM idempotency_keys"
        " WHERE user_id = %s AND key = %s AND request = %s AND status IS NOT NULL",
        (user_id, key, request),
    )
    return None if row is None else Remembered(**row)


async def record_txn(txn: Txn, claim: Claim, answer: Remembered, now: float) -> bool:
    """Record ``answer`` under ``claim``'s key; False when the claim no
    longer holds the key unanswered (taken over, or already answered)."""
    return bool(
        await txn.execute(
            "UPDATE idempotency_keys SET status = %s, body = %s, created_at = to_timestamp(%s)"
            " WHERE user_id = %s AND key = %s AND request = %s AND claim = %s"
            " AND status IS NULL",
            (answer.status, answer.body, now, claim.user_id, claim.key, claim.request, claim.token),
        )
    )


async def release_txn(txn: Txn, claim: Claim) -> None:
    """Free ``claim``'s key without an answer, so that a retry runs."""
    await txn.execute(
        "DELETE FROM idempotency_keys WHERE user_id = %s AND key = %s AND request = %s"
        " AND claim = %s AND status IS NULL",
        (claim.user_id, claim.key, claim.request, claim.token),
    )


async def purge_txn(txn: Txn, now: float, keep: float) -> int:
    """Delete the keys claimed or answered more than ``keep`` seconds ago;
    returns how many.  Only an optimisation: :func:`claim_txn` treats them
    as free already."""
    return await txn.execute(
        "DELETE FROM idempotency_keys"
        " WHERE created_at <= to_timestamp(%s) - make_interval(secs => %s)",
        (now, keep),
    )
