"""Creating notifications, inside the transaction of the action that causes them.

Statuses, favourites, reblogs and follows call these ``*_txn`` hooks so a
notification exists exactly when its cause committed.
"""

from __future__ import annotations

from pleromad.db.pool import Txn


async def on_status_txn(txn: Txn, status_id: int) -> None:
    """A new status: its mentioned accounts and, for a top-level status, the
    author's subscribers who may see it get a ``mention``."""


async def on_favourite_txn(txn: Txn, actor_id: int, status_id: int) -> None:
    """``actor_id`` favourited ``status_id``: its author gets a ``favourite``."""


async def on_reblog_txn(txn: Txn, actor_id: int, status_id: int) -> None:
    """``actor_id`` reblogged ``status_id`` (the original): its author gets a ``reblog``."""


async def on_follow_txn(txn: Txn, follower_id: int, followee_id: int) -> None:
    """A follow or follow request: the followed account gets a ``follow``."""
