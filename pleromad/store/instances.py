"""Other servers as delivery sees them: failing since when, unreachable since when."""

from __future__ import annotations

from pleromad.db.pool import Txn


async def marks_txn(txn: Txn, host: str) -> tuple[bool, bool]:
    """Whether ``host`` is (failing, unreachable)."""
    row = await txn.fetchone(
        "SELECT failing_since IS NOT NULL AS failing, unreachable_since IS NOT NULL AS unreachable"
        " FROM instances WHERE host = %s",
        (host,),
    )
    return (False, False) if row is None else (row["failing"], row["unreachable"])


async def failed_txn(txn: Txn, host: str, now: float, error: str, unreachable_after: float) -> bool:
    """Record a failed delivery to ``host``; whether it is now unreachable
    (failing without a success for more than ``unreachable_after`` seconds)."""
    unreachable: bool = await txn.fetchval(
        "INSERT INTO instances AS i (host, failing_since, last_error)"
        " VALUES (%(host)s, to_timestamp(%(now)s), %(error)s)"
        " ON CONFLICT (host) DO UPDATE SET"
        "   failing_since = COALESCE(i.failing_since, EXCLUDED.failing_since),"
        "   last_error = EXCLUDED.last_error,"
        "   unreachable_since = CASE"
        "     WHEN i.unreachable_since IS NULL AND i.failing_since"
        "          < EXCLUDED.failing_since - make_interval(secs => %(after)s)"
        "     THEN EXCLUDED.failing_since ELSE i.unreachable_since END"
        " RETURNING unreachable_since IS NOT NULL",
        {"host": host, "now": now, "error": error[:1000], "after": unreachable_after},
    )
    return unreachable


async def reachable_txn(txn: Txn, host: str) -> bool:
    """Clear ``host``'s failure marks; whether it had been marked unreachable.
    Writes nothing for a host that was not failing (the common case)."""
    row = await txn.fetchone(
        "UPDATE instances AS i SET failing_since = NULL, unreachable_since = NULL,"
        " last_error = NULL"
        " FROM (SELECT host, unreachable_since FROM instances WHERE host = %s FOR UPDATE) old"
        " WHERE i.host = old.host AND (i.failing_since IS NOT NULL OR i.unreachable_since IS NOT NULL)"
        " RETURNING old.unreachable_since IS NOT NULL AS was_unreachable",
        (host,),
    )
    return row is not None and row["was_unreachable"]
