"""Follows and blocks of local accounts going out to remote ones.

Each hook runs in the transaction of the change it announces and queues
the activity there (:func:`pleromad.domain.delivery.enqueue_txn`), so the
other server hears of a change exactly when it is stored.  Activities go
to the remote account's own inbox, as Mastodon sends them:

- a follow of a remote account: ``Follow`` (its id is the follow's,
  :func:`follow_activity_id`, so
  that the remote Accept or Reject names it);
- a follow that ends (unfollow, a withdrawn request, a block): ``Undo`` of
  that Follow when the local account followed, ``Reject`` of it when the
  remote one did;
- a remote account's request answered: ``Accept`` or ``Reject``;
- a block and its end: ``Block`` and ``Undo(Block)``; the Block's id is
  derived from the pair and the time of the block, so the Undo names the
  same id without a column to keep it in.

Nothing goes out when federation is disabled, nor between two local
accounts, nor for a remote account we hold no inbox for.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from twisted.logger import Logger

from pleromad.config import Config
from pleromad.db.pool import Txn
from pleromad.domain import delivery
from pleromad.model import Follow, User
from pleromad.store import remote_actors as actors_store
from pleromad.views.activitypub import (
    build_accept,
    build_block,
    build_follow,
    build_reject,
    build_undo,
)

log = Logger()


def new_activity_id(config: Config) -> str:
    """A fresh id for an activity nothing needs to name again."""
    return f"{config.server.base_url}/activities/{uuid.uuid4()}"


def follow_activity_id(base_url: str, follow: Follow) -> str:
    """The id of the Follow activity a follow row stands for: a local
    follower's ``<base_url>/activities/<activity_uuid>``, a remote one's as
    its server named it."""
    return follow.ap_id or f"{base_url}/activities/{follow.activity_uuid}"


def follow_document(
    config: Config, follow: Follow, follower: User, followee: User
) -> dict[str, Any]:
    """The Follow of ``follower`` (as embedded in its Accept, Reject or Undo)."""
    activity_id = follow_activity_id(config.server.base_url, follow)
    return build_follow(activity_id, follower.ap_id, followee.ap_id)


def block_id(config: Config, blocker: User, blocked: User, since: datetime) -> str:
    """The id of ``blocker``'s Block of ``blocked`` made at ``since``: the
    same whenever it is worked out, and new for a later block of the pair."""
    name = f"{blocker.ap_id} blocks {blocked.ap_id} since {since.isoformat()}"
    return f"{config.server.base_url}/activities/{uuid.uuid5(uuid.NAMESPACE_URL, name)}"


def _federates(config: Config, local: User, remote: User) -> bool:
    return config.federation.enabled and local.local and not remote.local


async def _send_txn(txn: Txn, local: User, remote: User, activity: dict[str, Any]) -> None:
    known = await actors_store.get_by_user_id_txn(txn, remote.id)
    if known is None or known.actor is None:
        log.warn(
            "No inbox known for {actor}: {kind} not sent", actor=remote.ap_id, kind=activity["type"]
        )
        return
    await delivery.enqueue_txn(
        txn, actor_id=local.id, activity=activity, inboxes=[known.actor.inbox]
    )


async def on_follow_txn(
    txn: Txn, config: Config, follow: Follow, follower: User, followee: User
) -> None:
    """``follower`` asked to follow ``followee`` (the new ``follow``)."""
    if _federates(config, follower, followee):
        await _send_txn(
            txn, follower, followee, follow_document(config, follow, follower, followee)
        )


async def on_follow_ended_txn(
    txn: Txn, config: Config, follow: Follow, follower: User, followee: User
) -> None:
    """``follow`` (or the request) is gone: its remote side is told."""
    if _federates(config, follower, followee):
        await _undo_txn(
            txn, config, follower, followee, follow_document(config, follow, follower, followee)
        )
    elif _federates(config, followee, follower):
        await on_request_answered_txn(txn, config, follow, follower, followee, accepted=False)


async def on_request_answered_txn(
    txn: Txn, config: Config, follow: Follow, follower: User, followee: User, *, accepted: bool
) -> None:
    """The local ``followee`` accepted or refused the remote ``follower``."""
    if not _federates(config, followee, follower):
        return
    build = build_accept if accepted else build_reject
    answer = build(
        new_activity_id(config),
        followee.ap_id,
        follow_document(config, follow, follower, followee),
        follower.ap_id,
    )
    await _send_txn(txn, followee, follower, answer)


async def _undo_txn(
    txn: Txn, config: Config, actor: User, target: User, undone: dict[str, Any]
) -> None:
    """Tell ``target``'s server that ``actor`` takes back ``undone``."""
    undo = build_undo(new_activity_id(config), actor.ap_id, undone, to=[target.ap_id])
    await _send_txn(txn, actor, target, undo)


def _block(config: Config, blocker: User, blocked: User, since: datetime) -> dict[str, Any]:
    return build_block(block_id(config, blocker, blocked, since), blocker.ap_id, blocked.ap_id)


async def on_block_txn(
    txn: Txn, config: Config, blocker: User, blocked: User, since: datetime
) -> None:
    """``blocker`` blocked ``blocked`` at ``since``: Mastodon tells the other side."""
    if _federates(config, blocker, blocked):
        await _send_txn(txn, blocker, blocked, _block(config, blocker, blocked, since))


async def on_unblock_txn(
    txn: Txn, config: Config, blocker: User, blocked: User, since: datetime
) -> None:
    """The block ``blocker`` made at ``since`` is lifted."""
    if _federates(config, blocker, blocked):
        await _undo_txn(txn, config, blocker, blocked, _block(config, blocker, blocked, since))
