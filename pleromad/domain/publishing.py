"""Local statuses going out: a post's Create and a deleted post's Delete.

Each is queued in the status' own transaction (one durable delivery job per
inbox, :func:`pleromad.domain.delivery.enqueue_txn`), so a post is
delivered exactly when it is stored.  It goes to the remote accounts it
mentions and, unless it is direct, to the author's remote followers; each
to its server's shared inbox when it has one.  Followers-only and direct
posts are private deliveries: quarantined instances get none.
"""

from __future__ import annotations

from typing import Any

from pleromad.config import Config
from pleromad.db.pool import Txn
from pleromad.domain import delivery
from pleromad.model import Loaded, Shown
from pleromad.store import objects
from pleromad.views.activitypub import note_parts, render_create, render_delete_note

PRIVATE_VISIBILITIES = ("private", "direct")


async def on_post_txn(txn: Txn, config: Config, loaded: Loaded, status_id: int) -> None:
    """Queue the Create of the post ``status_id`` (of ``loaded``, just written)."""
    shown = loaded.statuses[status_id]
    if not _federates(config, loaded, shown):
        return
    base_url = config.server.base_url
    parts = note_parts(loaded, shown, await objects.parents_txn(txn, loaded), base_url)
    await _deliver_txn(txn, shown, render_create(shown.status, parts, base_url=base_url))


async def on_delete_txn(txn: Txn, config: Config, loaded: Loaded, status_id: int) -> None:
    """Queue the Delete of the post ``status_id``, as ``loaded`` before it
    went, to everyone its Create went to (still following, or mentioned)."""
    shown = loaded.statuses[status_id]
    if not _federates(config, loaded, shown):
        return
    base_url = config.server.base_url
    parts = note_parts(loaded, shown, await objects.parents_txn(txn, loaded), base_url)
    await _deliver_txn(txn, shown, render_delete_note(shown.status, parts, base_url=base_url))


def _federates(config: Config, loaded: Loaded, shown: Shown) -> bool:
    """A local post (reblogs go out as Announces, in Federation II)."""
    status = shown.status
    return (
        config.federation.enabled
        and status.reblog_of_id is None
        and status.ap_id is None
        and loaded.users[status.account_id].local
    )


async def _deliver_txn(txn: Txn, shown: Shown, activity: dict[str, Any]) -> None:
    status = shown.status
    inboxes = await objects.delivery_inboxes_txn(
        txn, status.account_id, shown.mention_ids, followers=status.visibility != "direct"
    )
    if inboxes:
        await delivery.enqueue_txn(
            txn,
            actor_id=status.account_id,
            activity=activity,
            inboxes=inboxes,
            private=status.visibility in PRIVATE_VISIBILITIES,
        )
