"""Local actions going out: a post's Create, an edited post's Update and a
deleted post's Delete, a favourite's Like and a reblog's Announce (and their Undo).

Each is queued in the status' own transaction (one durable delivery job per
inbox, :func:`pleromad.domain.delivery.enqueue_txn`), so a post is
delivered exactly when it is stored.  It goes to the remote accounts it
mentions and, unless it is direct, to the author's remote followers; each
to its server's shared inbox when it has one.  Followers-only and direct
posts are private deliveries: quarantined instances get none.

A profile change sends the account's ``Update`` to its followers' servers,
and a deleted account the ``Delete`` of its actor to every server that knew
it (followers' and followings').

A favourite goes to the author of the status when that author is remote; a
reblog to the reblogger's remote followers and the original's remote
author, as Mastodon addresses them.  Each is queued in the transaction
that makes (or takes back) the favourite or reblog.
"""

from __future__ import annotations

from typing import Any

from pleromad.config import Config
from pleromad.db.pool import Txn
from pleromad.domain import delivery
from pleromad.model import Loaded, Shown, Status, User
from pleromad.store import objects, users
from pleromad.views.activitypub import (
    AS_PUBLIC,
    build_delete,
    build_like,
    build_undo,
    build_update,
    followers_url,
    note_id,
    note_parts,
    render_announce,
    render_create,
    render_delete_note,
    render_note,
)

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
    went, to everyone its Create went to (still following, or mentioned);
    a deleted reblog is an unreblog: the Undo of its Announce."""
    shown = loaded.statuses[status_id]
    reblog = shown.status
    if reblog.reblog_of_id is not None:
        original = loaded.statuses[reblog.reblog_of_id].status
        actor = loaded.users[reblog.account_id]
        await on_reblog_txn(txn, config, actor, reblog, original, undo=True)
        return
    if not _federates(config, loaded, shown):
        return
    base_url = config.server.base_url
    parts = note_parts(loaded, shown, await objects.parents_txn(txn, loaded), base_url)
    await _deliver_txn(txn, shown, render_delete_note(shown.status, parts, base_url=base_url))


async def on_edit_txn(txn: Txn, config: Config, loaded: Loaded, status_id: int) -> None:
    """Queue the Update of the edited post ``status_id`` (of ``loaded``, as
    it is now), to everyone its Create went to and anyone the edit mentions.
    Its id names the edit's time, so each edit is an activity of its own."""
    shown = loaded.statuses[status_id]
    if not _federates(config, loaded, shown):
        return
    base_url = config.server.base_url
    status = shown.status
    assert status.edited_at is not None, "an edit has its time"
    parts = note_parts(loaded, shown, await objects.parents_txn(txn, loaded), base_url)
    note = render_note(status, parts, base_url=base_url)
    stamp = int(status.edited_at.timestamp() * 1000)
    update = build_update(
        f"{note['id']}#updates/{stamp}", parts.author.ap_id, note, note["to"], note["cc"]
    )
    await _deliver_txn(txn, shown, update)


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


# -- favourites and reblogs ---------------------------------------------------------


def like_id(actor: User, favourite_id: int) -> str:
    """A local favourite's Like: ``<actor>#likes/<favourite id>`` (Mastodon's
    form), a new id each time, so that a favourite given again is not taken
    for a replay of the first."""
    return f"{actor.ap_id}#likes/{favourite_id}"


async def on_favourite_txn(
    txn: Txn, config: Config, actor: User, status: Status, favourite_id: int, *, undo: bool = False
) -> None:
    """Queue the Like (``undo``: its Undo) of ``actor``'s favourite of
    ``status`` to the status' author, when the author is remote."""
    if not (config.federation.enabled and actor.local and status.ap_id is not None):
        return
    inboxes = await objects.delivery_inboxes_txn(
        txn, status.account_id, [status.account_id], followers=False
    )
    if not inboxes:
        return
    author = await _ap_id_txn(txn, status.account_id)
    like = build_like(
        like_id(actor, favourite_id), actor.ap_id, note_id(status, config.server.base_url), author
    )
    await delivery.enqueue_txn(
        txn,
        actor_id=actor.id,
        activity=build_undo(f"{like['id']}/undo", actor.ap_id, like, to=[author]) if undo else like,
        inboxes=inboxes,
        private=status.visibility in PRIVATE_VISIBILITIES,
    )


async def on_reblog_txn(
    txn: Txn, config: Config, actor: User, reblog: Status, original: Status, *, undo: bool = False
) -> None:
    """Queue the Announce (``undo``: its Undo) of ``actor``'s ``reblog`` of
    ``original`` to the reblogger's remote followers and the original's
    author, when remote."""
    if not (config.federation.enabled and actor.local):
        return
    inboxes = await objects.delivery_inboxes_txn(
        txn, actor.id, [original.account_id], followers=True
    )
    if not inboxes:
        return
    base_url = config.server.base_url
    announce = render_announce(
        reblog,
        actor_id=actor.ap_id,
        original_id=note_id(original, base_url),
        original_author_id=await _ap_id_txn(txn, original.account_id),
        base_url=base_url,
    )
    if undo:
        announce = build_undo(
            f"{announce['id']}/undo", actor.ap_id, announce, announce["to"], announce["cc"]
        )
    await delivery.enqueue_txn(txn, actor_id=actor.id, activity=announce, inboxes=inboxes)


async def _ap_id_txn(txn: Txn, user_id: int) -> str:
    user = await users.get_user_txn(txn, user_id)
    assert user is not None  # a status' author: the row outlives its statuses
    return user.ap_id


# -- the account itself -----------------------------------------------------------


async def on_profile_txn(
    txn: Txn, config: Config, user: User, person: dict[str, Any], now: float
) -> None:
    """Queue the Update of ``user``'s ``person`` (its Person document, as
    changed) to its remote followers; its id names the time, so each change
    is a new activity."""
    if not (config.federation.enabled and user.local):
        return
    inboxes = await objects.delivery_inboxes_txn(txn, user.id, [], followers=True)
    if inboxes:
        update = build_update(
            f"{user.ap_id}#updates/{int(now * 1000)}",
            user.ap_id,
            person,
            [AS_PUBLIC],
            [followers_url(user.ap_id)],
        )
        await delivery.enqueue_txn(txn, actor_id=user.id, activity=update, inboxes=inboxes)


async def on_account_deleted_txn(txn: Txn, config: Config, user: User) -> None:
    """Queue the Delete of the local actor ``user`` (just made a tombstone,
    its follows still there) to every server that knew it.  Its key row
    stays with the tombstone, so the deliveries are signed whenever they run."""
    if not (config.federation.enabled and user.local):
        return
    inboxes = await objects.network_inboxes_txn(txn, user.id)
    if inboxes:
        delete = build_delete(f"{user.ap_id}#delete", user.ap_id, user.ap_id, [AS_PUBLIC], [])
        await delivery.enqueue_txn(txn, actor_id=user.id, activity=delete, inboxes=inboxes)
