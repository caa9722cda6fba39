"""Follows and blocks that remote actors send us, and the answers to ours.

- A Follow of a local account makes a follow under the same rules as a
  local one (:func:`pleromad.domain.relationships.follow_txn`: a request
  for a locked account, refused between accounts where either blocks the
  other, or of a deactivated account), notified the same way; it is
  answered with an Accept at once unless it became a request, and with a
  Reject when refused.  A Follow sent again is accepted again (its
  server lost track), under its new id.
- Accept and Reject answer a Follow of ours, named by its id (or, as some
  servers send it, by the pair of accounts): Accept turns the request into
  a follow, Reject removes it.
- Undo of a Follow or a Block removes it; a Block removes the follows both
  ways, as a local block does.

Everything runs in one transaction with the answer it queues, so a job
run again (after a crash) changes nothing twice and answers at most once
more, which the follower's server takes as it took the first.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from pleromad.config import Config
from pleromad.db.pool import Txn
from pleromad.domain import delivery, relationships
from pleromad.domain.activities import Dropped, local_account_txn, object_id
from pleromad.domain.outgoing import new_activity_id
from pleromad.domain.relationships import FollowRefused
from pleromad.errors import NotFound
from pleromad.model import Follow, User
from pleromad.store import relationships as store
from pleromad.store import remote_actors as actors_store
from pleromad.views.activitypub import build_accept, build_reject

if TYPE_CHECKING:
    from pleromad.runtime import Runtime


def _local_activity_uuid(base_url: str, activity_id: str) -> str | None:
    """The uuid of a local activity's id ``<base_url>/activities/<uuid>``."""
    prefix = f"{base_url}/activities/"
    if not activity_id.startswith(prefix):
        return None
    try:
        return str(uuid.UUID(activity_id[len(prefix) :]))
    except ValueError:
        return None


# -- Follow -----------------------------------------------------------------------


async def apply_follow(rt: Runtime, activity: dict[str, Any], actor: User) -> None:
    await rt.db.run_interaction("remote follow", _follow_txn, activity, actor, rt.config)


async def _follow_txn(txn: Txn, activity: dict[str, Any], actor: User, config: Config) -> None:
    target = await local_account_txn(txn, object_id(activity.get("object")))
    follow = {"id": activity["id"], "type": "Follow", "actor": actor.ap_id, "object": target.ap_id}
    try:
        await relationships.follow_txn(txn, actor, target.id, None, config)
    except (FollowRefused, NotFound):
        answer = build_reject(new_activity_id(config), target.ap_id, follow, actor.ap_id)
    else:
        await store.set_follow_ap_id_txn(txn, actor.id, target.id, activity["id"])
        row = await store.get_follow_txn(txn, actor.id, target.id)
        if row is None or row.state != store.ACCEPTED:
            return
        answer = build_accept(new_activity_id(config), target.ap_id, follow, actor.ap_id)
    await _answer_txn(txn, target, actor, answer)


async def _answer_txn(txn: Txn, local: User, remote: User, activity: dict[str, Any]) -> None:
    """Deliver ``activity`` of ``local`` to ``remote``'s own inbox."""
    known = await actors_store.get_by_user_id_txn(txn, remote.id)
    if known is None or known.actor is None:
        raise Dropped(f"no inbox known for {remote.ap_id}")
    await delivery.enqueue_txn(
        txn, actor_id=local.id, activity=activity, inboxes=[known.actor.inbox]
    )


# -- Accept and Reject of our Follow -------------------------------------------------


async def apply_accept(rt: Runtime, activity: dict[str, Any], actor: User) -> None:
    await rt.db.run_interaction(
        "follow accepted", _answered_txn, activity, actor, rt.config.server.base_url, True
    )


async def apply_reject(rt: Runtime, activity: dict[str, Any], actor: User) -> None:
    await rt.db.run_interaction(
        "follow rejected", _answered_txn, activity, actor, rt.config.server.base_url, False
    )


async def _answered_txn(
    txn: Txn, activity: dict[str, Any], actor: User, base_url: str, accepted: bool
) -> None:
    follow = await _our_follow_txn(txn, activity.get("object"), actor, base_url)
    await store.lock_pair_txn(txn, follow.follower_id, actor.id)
    if accepted:
        await store.accept_request_txn(txn, follow.follower_id, actor.id)
    else:
        await store.delete_follow_txn(txn, follow.follower_id, actor.id)


async def _our_follow_txn(txn: Txn, obj: Any, actor: User, base_url: str) -> Follow:
    """The follow of ``actor`` by a local account that an Accept or Reject
    of ``actor`` answers: named by its Follow id, or by the pair of
    accounts of an embedded Follow."""
    follow = None
    named = object_id(obj)
    activity_uuid = None if named is None else _local_activity_uuid(base_url, named)
    if activity_uuid is not None:
        follow = await store.get_follow_by_activity_uuid_txn(txn, activity_uuid)
    if follow is None and isinstance(obj, dict) and obj.get("type") == "Follow":
        follower = await local_account_txn(txn, object_id(obj.get("actor")))
        follow = await store.get_follow_txn(txn, follower.id, actor.id)
    if follow is None or follow.followee_id != actor.id:
        raise Dropped("it answers no follow of ours")
    return follow


# -- Undo of Follow and Block, Block ---------------------------------------------------


async def apply_undo_follow(rt: Runtime, activity: dict[str, Any], actor: User) -> None:
    await rt.db.run_interaction("remote unfollow", _undo_follow_txn, activity, actor)


async def _undone_target_txn(txn: Txn, activity: dict[str, Any], actor: User, kind: str) -> User:
    """The local account an Undo of the ``actor``'s own ``kind`` (Follow,
    Block) names, with the pair locked as every relationship write does."""
    undone = activity["object"]
    if object_id(undone.get("actor")) != actor.ap_id:
        raise Dropped(f"it undoes someone else's {kind}")
    target = await local_account_txn(txn, object_id(undone.get("object")))
    await store.lock_pair_txn(txn, actor.id, target.id)
    return target


async def _undo_follow_txn(txn: Txn, activity: dict[str, Any], actor: User) -> None:
    target = await _undone_target_txn(txn, activity, actor, "Follow")
    await store.delete_follow_txn(txn, actor.id, target.id)


async def apply_block(rt: Runtime, activity: dict[str, Any], actor: User) -> None:
    await rt.db.run_interaction("remote block", _block_txn, activity, actor, rt.config)


async def _block_txn(txn: Txn, activity: dict[str, Any], actor: User, config: Config) -> None:
    target = await local_account_txn(txn, object_id(activity.get("object")))
    await relationships.block_txn(txn, actor.id, target.id, config)


async def apply_undo_block(rt: Runtime, activity: dict[str, Any], actor: User) -> None:
    await rt.db.run_interaction("remote unblock", _undo_block_txn, activity, actor)


async def _undo_block_txn(txn: Txn, activity: dict[str, Any], actor: User) -> None:
    target = await _undone_target_txn(txn, activity, actor, "Block")
    await store.delete_block_txn(txn, actor.id, target.id)
