"""Fixed-window rate-limit counters, one row per bucket (see 0004_rate_limits.sql).

Times are seconds since the epoch, from the caller's clock.
"""

from __future__ import annotations

from pleromad.db.pool import Txn


async def hit_txn(
    txn: Txn, bucket: str, limit: int, window_seconds: float, now: float
) -> tuple[int, float]:
    """Count one request against ``bucket``; returns the count in the current
    window, this request included, and when that window ends.

    One statement: the upsert holds the bucket's row lock from reading the
    count to writing it, so concurrent hits from any number of nodes are each
    counted once and never both see room under the limit.  A window that has
    ended starts again at 1.  The count stops just past ``limit``: beyond that
    it only has to say "over", and a flood cannot overflow it.
    """
    row = await txn.fetchone(
        "INSERT INTO rate_limits AS r (bucket, window_start, window_end, count)"
        " VALUES (%(bucket)s, to_timestamp(%(now)s),"
        "         to_timestamp(%(now)s + %(window)s), 1)"
        " ON CONFLICT (bucket) DO UPDATE SET"
        "   window_start = CASE WHEN r.window_end <= to_timestamp(%(now)s)"
        "                  THEN excluded.window_start ELSE r.window_start END,"
        "   window_end = CASE WHEN r.window_end <= to_timestamp(%(now)s)"
        "                THEN excluded.window_end ELSE r.window_end END,"
        "   count = CASE WHEN r.window_end <= to_timestamp(%(now)s)"
        "           THEN 1 ELSE LEAST(r.count + 1, %(limit)s + 1) END"
        " RETURNING count, extract(epoch FROM window_end)::float8 AS reset_at",
        {"bucket": bucket, "now": now, "window": window_seconds, "limit": limit},
    )
    assert row is not None  # an upsert always returns its row
    return row["count"], row["reset_at"]


async def peek_txn(txn: Txn, bucket: str, now: float) -> tuple[int, float] | None:
    """The count of ``bucket``'s current window and when it ends, without
    counting; None when the bucket has no window running at ``now``."""
    row = await txn.fetchone(
        "SELECT count, extract(epoch FROM window_end)::float8 AS reset_at"
        " FROM rate_limits WHERE bucket = %s AND window_end > to_timestamp(%s)",
        (bucket, now),
    )
    return None if row is None else (row["count"], row["reset_at"])


async def purge_txn(txn: Txn, now: float) -> int:
    """Delete the buckets whose window ended by ``now``; returns how many.

    Only an optimisation: an ended window is never counted again, so running
    this late, or concurrently with hits, changes no answer.
    """
    return await txn.execute("DELETE FROM rate_limits WHERE window_end <= to_timestamp(%s)", (now,))
