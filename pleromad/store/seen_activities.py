"""Activity ids received in inboxes: each is queued for applying once."""

from __future__ import annotations

from pleromad.db.pool import Txn


async def mark_txn(txn: Txn, ap_id: str, now: float) -> bool:
    """Record ``ap_id`` as received at ``now``; False when it was already."""
    added = await txn.execute(
        "INSERT INTO seen_activities (ap_id, received_at) VALUES (%s, to_timestamp(%s))"
        " ON CONFLICT DO NOTHING",
        (ap_id, now),
    )
    return added > 0


async def purge_txn(txn: Txn, before: float) -> int:
    """Forget the ids received before ``before``; how many were."""
    return await txn.execute(
        "DELETE FROM seen_activities WHERE received_at < to_timestamp(%s)", (before,)
    )
