"""Favourites: one row per account and status, with an id of its own.

The id is time-ordered, so lists of favourites are ordered and paginated
by when the favourite was given (DECISIONS 17); the reader's own list is
:func:`pleromad.store.timelines.favourites_query` with the reader as owner.
"""

from __future__ import annotations

from pleromad.db.pool import Txn


async def insert_favourite_txn(
    txn: Txn, account_id: int, status_id: int, *, ap_id: str | None = None
) -> int | None:
    """Favourite the status (a remote favourite with the id of its Like):
    the new favourite's id, None when it already was."""
    found: int | None = await txn.fetchval(
        "INSERT INTO favourites (account_id, status_id, ap_id) VALUES (%s, %s, %s)"
        " ON CONFLICT DO NOTHING RETURNING id",
        (account_id, status_id, ap_id),
    )
    return found


async def delete_by_ap_id_txn(txn: Txn, account_id: int, ap_id: str) -> bool:
    """Take back the account's favourite given by the Like ``ap_id``."""
    deleted = await txn.execute(
        "DELETE FROM favourites WHERE account_id = %s AND ap_id = %s", (account_id, ap_id)
    )
    return deleted > 0


async def delete_favourite_txn(txn: Txn, account_id: int, status_id: int) -> int | None:
    """Take the favourite back: its id, None when there was none."""
    found: int | None = await txn.fetchval(
        "DELETE FROM favourites WHERE account_id = %s AND status_id = %s RETURNING id",
        (account_id, status_id),
    )
    return found


async def delete_account_favourites_txn(txn: Txn, account_id: int, batch: int) -> int:
    """Delete up to ``batch`` of the account's favourites; how many went.
    Run until it returns 0."""
    return await txn.execute(
        "DELETE FROM favourites WHERE id IN (SELECT id FROM favourites WHERE account_id = %s"
        " ORDER BY id DESC LIMIT %s)",
        (account_id, batch),
    )
