"""Who follows, blocks, mutes and subscribes to whom, and the rules for
changing it.

- A follow of a locked account is a request until the account authorizes it
  (``relationship.requested``, DECISIONS 22); of any other account it is a
  follow at once.  The followed account is told through
  :func:`pleromad.domain.notifications.on_follow_txn`, in the same
  transaction, once per follow (asking again changes nothing but the
  ``reblogs`` preference).
- Following yourself, or an account you may not see, is 404 ``Record not
  found``; following an account that blocks you, or that you block, or a
  deactivated one, is 403 with the reference's message.
- Unfollowing is idempotent: it removes a follow or a pending request, and
  the subscription to that account, and answers the relationship either way
  (the reference's 400 ``Not subscribed!`` kept clients from cancelling a
  request).
- A block removes the follows, requests and subscriptions between the two
  accounts, both ways.
- Every change of one pair of accounts runs under that pair's lock, so a
  follow checked against blocks cannot race the block that would remove it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pleromad.config import Config
from pleromad.db.pool import Txn
from pleromad.domain import notifications, outgoing, profile
from pleromad.errors import Forbidden, NotFound
from pleromad.ids import parse_id
from pleromad.model import FollowCounts, Listed, Relationship, User
from pleromad.store import relationships as store
from pleromad.store import remote_actors as actors_store
from pleromad.store import statuses as statuses_store
from pleromad.store import users
from pleromad.store.timelines import Window

if TYPE_CHECKING:
    from pleromad.runtime import Runtime


class FollowRefused(Forbidden):
    """A follow or subscription the two accounts' state does not allow."""


# -- looking accounts up --------------------------------------------------------


async def find_target(rt: Runtime, viewer: User | None, ref: str) -> User:
    """The account ``ref`` (an id or a nickname) names, if ``viewer`` may see
    it; NotFound otherwise."""
    try:
        return await profile.find_account(rt, ref, viewer)
    except NotFound:
        raise NotFound() from None  # the record's message, not the account's


async def _other(rt: Runtime, viewer: User, ref: str) -> User:
    """The account an action of ``viewer`` is aimed at: never itself."""
    target = await find_target(rt, viewer, ref)
    if target.id == viewer.id:
        raise NotFound()
    return target


async def _current_target_txn(txn: Txn, viewer: User, target_id: int, config: Config) -> User:
    """The target as the action's transaction sees it (it may have gone meanwhile)."""
    target = await users.get_user_txn(txn, target_id)
    if target is None or not profile.visible_to(target, viewer, config):
        raise NotFound()
    return target


async def _relationship_txn(txn: Txn, viewer_id: int, target_id: int) -> Relationship:
    found = await store.relationships_txn(txn, viewer_id, [target_id])
    return found[target_id]


# -- follows ----------------------------------------------------------------------


async def follow(rt: Runtime, viewer: User, ref: str, reblogs: bool | None) -> Relationship:
    """``viewer`` follows (or asks to follow) the account ``ref``;
    ``reblogs`` (None: leave as it is, true for a new follow) says whether
    its reblogs show in the viewer's home timeline."""
    target = await _other(rt, viewer, ref)
    return await rt.db.run_interaction(
        "follow", _follow_and_read_txn, viewer, target.id, reblogs, rt.config
    )


async def _follow_and_read_txn(
    txn: Txn, viewer: User, target_id: int, reblogs: bool | None, config: Config
) -> Relationship:
    await follow_txn(txn, viewer, target_id, reblogs, config)
    return await _relationship_txn(txn, viewer.id, target_id)


async def follow_txn(
    txn: Txn, follower: User, target_id: int, reblogs: bool | None, config: Config
) -> bool:
    """Make ``follower`` follow ``target_id`` (a request if it is locked);
    True when a follow or request was added now, False when there was one
    already.  Raises NotFound or FollowRefused, having changed nothing."""
    await store.lock_pair_txn(txn, follower.id, target_id)
    target = await _current_target_txn(txn, follower, target_id, config)
    if target.deactivated:
        # The reference's message, which says "You" of the target.
        raise FollowRefused("Could not follow user: You are deactivated.")
    blocking, blocked_by = await store.blocks_between_txn(txn, follower.id, target.id)
    if blocked_by:
        raise FollowRefused(f"Could not follow user: {target.nickname} blocked you.")
    if blocking:
        raise FollowRefused(f"Could not follow user: You are blocking {target.nickname}.")
    existing = await store.get_follow_txn(txn, follower.id, target.id)
    if existing is not None:
        if reblogs is not None and reblogs != existing.show_reblogs:
            await store.set_show_reblogs_txn(txn, follower.id, target.id, reblogs)
        return False
    # A remote account's answer comes later, as an Accept or Reject.
    state = store.PENDING if target.locked or not target.local else store.ACCEPTED
    added = await store.insert_follow_txn(
        txn, follower.id, target.id, state, True if reblogs is None else reblogs
    )
    if added:
        await notifications.on_follow_txn(txn, follower.id, target.id)
        follow = await store.get_follow_txn(txn, follower.id, target.id)
        assert follow is not None
        await outgoing.on_follow_txn(txn, config, follow, follower, target)
    return added


async def follow_address(rt: Runtime, viewer: User, address: str) -> User:
    """Follow the local account ``address`` names (``nick``, ``@nick`` or
    ``nick@our-host``; never an id) and return it.  Without federation any
    other address is NotFound."""
    target = await profile.local_account(rt, address)
    if (
        target is None
        or target.id == viewer.id
        or not profile.visible_to(target, viewer, rt.config)
    ):
        raise NotFound()
    await rt.db.run_interaction("follow", follow_txn, viewer, target.id, None, rt.config)
    return target


async def unfollow(rt: Runtime, viewer: User, ref: str) -> Relationship:
    """Stop following ``ref`` (or withdraw the request) and unsubscribe from
    it; idempotent."""
    return await _change(rt, viewer, ref, "unfollow", _unfollow_txn, rt.config)


async def _unfollow_txn(txn: Txn, viewer_id: int, target_id: int, config: Config) -> None:
    await store.lock_pair_txn(txn, viewer_id, target_id)
    await _end_follow_txn(txn, viewer_id, target_id, config)
    await store.delete_subscription_txn(txn, viewer_id, target_id)


async def _end_follow_txn(txn: Txn, follower_id: int, followee_id: int, config: Config) -> None:
    """Remove the follow or request, telling a remote side of it."""
    follow = await store.get_follow_txn(txn, follower_id, followee_id)
    if follow is None:
        return
    await store.delete_follow_txn(txn, follower_id, followee_id)
    follower, followee = await _pair_txn(txn, follower_id, followee_id)
    await outgoing.on_follow_ended_txn(txn, config, follow, follower, followee)


async def _pair_txn(txn: Txn, a: int, b: int) -> tuple[User, User]:
    """The accounts ``a`` and ``b`` (both exist: a row names them)."""
    found = {u.id: u for u in await store.get_users_by_ids_txn(txn, [a, b])}
    return found[a], found[b]


async def follow_requests(rt: Runtime, viewer: User, window: Window) -> list[Listed]:
    """The accounts waiting for ``viewer`` to answer their follow request,
    newest request first."""
    return await _list(rt, "requests", viewer.id, window)


async def authorize_request(rt: Runtime, viewer: User, ref: str) -> Relationship:
    """Accept the pending request of ``ref``; NotFound when there is none."""
    return await _change(rt, viewer, ref, "authorize follow request", _answer_txn, True, rt.config)


async def reject_request(rt: Runtime, viewer: User, ref: str) -> Relationship:
    """Refuse the pending request of ``ref``; NotFound when there is none."""
    return await _change(rt, viewer, ref, "reject follow request", _answer_txn, False, rt.config)


async def _answer_txn(
    txn: Txn, viewer_id: int, requester_id: int, accept: bool, config: Config
) -> None:
    await store.lock_pair_txn(txn, viewer_id, requester_id)
    request = await store.get_follow_txn(txn, requester_id, viewer_id)
    if accept:
        answered = await store.accept_request_txn(txn, requester_id, viewer_id)
    else:
        answered = await store.delete_request_txn(txn, requester_id, viewer_id)
    if not answered or request is None:
        raise NotFound()
    requester, viewer = await _pair_txn(txn, requester_id, viewer_id)
    await outgoing.on_request_answered_txn(txn, config, request, requester, viewer, accepted=accept)


# -- blocks and mutes ---------------------------------------------------------------


async def block(rt: Runtime, viewer: User, ref: str) -> Relationship:
    """Block ``ref``: the follows, requests and subscriptions between the two
    go, both ways."""
    return await _change(rt, viewer, ref, "block", block_txn, rt.config)


async def block_txn(txn: Txn, viewer_id: int, target_id: int, config: Config) -> None:
    """``viewer_id`` blocks ``target_id``, ending their follows both ways
    (and telling a remote side of each, as Mastodon does)."""
    await store.lock_pair_txn(txn, viewer_id, target_id)
    since = await store.insert_block_txn(txn, viewer_id, target_id)
    for a, b in ((viewer_id, target_id), (target_id, viewer_id)):
        await _end_follow_txn(txn, a, b, config)
        await store.delete_subscription_txn(txn, a, b)
    if since is not None:
        blocker, blocked = await _pair_txn(txn, viewer_id, target_id)
        await outgoing.on_block_txn(txn, config, blocker, blocked, since)


async def unblock(rt: Runtime, viewer: User, ref: str) -> Relationship:
    return await _change(rt, viewer, ref, "unblock", _unblock_txn, rt.config)


async def _unblock_txn(txn: Txn, viewer_id: int, target_id: int, config: Config) -> None:
    since = await store.delete_block_txn(txn, viewer_id, target_id)
    if since is not None:
        blocker, blocked = await _pair_txn(txn, viewer_id, target_id)
        await outgoing.on_unblock_txn(txn, config, blocker, blocked, since)


async def mute(rt: Runtime, viewer: User, ref: str, notifications: bool) -> Relationship:
    """Mute ``ref``; ``notifications`` says whether its notifications are
    muted too (muting again changes just that)."""
    return await _change(rt, viewer, ref, "mute", store.upsert_mute_txn, notifications)


async def unmute(rt: Runtime, viewer: User, ref: str) -> Relationship:
    return await _change(rt, viewer, ref, "unmute", store.delete_mute_txn)


async def blocks(rt: Runtime, viewer: User, window: Window) -> list[Listed]:
    """A page of the accounts ``viewer`` blocks, newest block first."""
    return await _list(rt, "blocks", viewer.id, window)


async def mutes(rt: Runtime, viewer: User, window: Window) -> list[Listed]:
    """A page of the accounts ``viewer`` mutes, newest mute first."""
    return await _list(rt, "mutes", viewer.id, window)


# -- subscriptions (DECISIONS 16) -------------------------------------------------------


async def subscribe(rt: Runtime, viewer: User, ref: str) -> Relationship:
    """Be notified of every new top-level status of ``ref`` the viewer may
    see; refused (403) between accounts where either blocks the other."""
    return await _change(rt, viewer, ref, "subscribe", _subscribe_txn)


async def _subscribe_txn(txn: Txn, viewer_id: int, target_id: int) -> None:
    await store.lock_pair_txn(txn, viewer_id, target_id)
    blocking, blocked_by = await store.blocks_between_txn(txn, viewer_id, target_id)
    if blocking or blocked_by:
        target = await users.get_user_txn(txn, target_id)
        nickname = target.nickname if target is not None else ""
        if blocked_by:
            raise FollowRefused(f"Could not subscribe: {nickname} is blocking you")
        raise FollowRefused(f"Could not subscribe: You are blocking {nickname}")
    await store.insert_subscription_txn(txn, viewer_id, target_id)


async def unsubscribe(rt: Runtime, viewer: User, ref: str) -> Relationship:
    return await _change(rt, viewer, ref, "unsubscribe", store.delete_subscription_txn)


# -- one change of a pair ----------------------------------------------------------------

# ``change_txn(txn, viewer_id, target_id, *args)``: one change between two accounts.
Change = Callable[..., Awaitable[object]]


async def _change(
    rt: Runtime, viewer: User, ref: str, description: str, change_txn: Change, *args: object
) -> Relationship:
    """Make ``change_txn`` between ``viewer`` and the account ``ref`` names
    (never the viewer itself), and answer the relationship it leaves, read
    in the same transaction."""
    target = await _other(rt, viewer, ref)
    return await rt.db.run_interaction(
        description, _change_txn, change_txn, viewer.id, target.id, args
    )


async def _change_txn(
    txn: Txn, change_txn: Change, viewer_id: int, target_id: int, args: tuple[object, ...]
) -> Relationship:
    await change_txn(txn, viewer_id, target_id, *args)
    return await _relationship_txn(txn, viewer_id, target_id)


# -- reading ------------------------------------------------------------------------------


async def relationships(rt: Runtime, viewer: User, refs: Sequence[str]) -> list[Relationship]:
    """The viewer's relationship to each account id in ``refs``, in the
    order asked, once each; ids of no account the viewer may see are left
    out (DECISIONS 29)."""
    ids = list(dict.fromkeys(i for ref in refs if (i := _account_id(ref)) is not None))
    found = await rt.db.run_interaction("relationships", _relationships_txn, viewer, ids, rt.config)
    return [found[i] for i in ids if i in found]


async def _relationships_txn(
    txn: Txn, viewer: User, ids: list[int], config: Config
) -> dict[int, Relationship]:
    accounts = await store.get_users_by_ids_txn(txn, ids)
    visible = [u.id for u in accounts if profile.visible_to(u, viewer, config)]
    return await store.relationships_txn(txn, viewer.id, visible)


def _account_id(ref: str) -> int | None:
    return parse_id(ref)


async def followers(rt: Runtime, owner: User, viewer: User | None, window: Window) -> list[Listed]:
    """A page of ``owner``'s followers, newest follow first; empty for
    others than the owner when it hides them."""
    if owner.hide_followers and (viewer is None or viewer.id != owner.id):
        return []
    return await _list(rt, "followers", owner.id, window)


async def following(rt: Runtime, owner: User, viewer: User | None, window: Window) -> list[Listed]:
    """A page of the accounts ``owner`` follows, newest follow first; empty
    for others than the owner when it hides them."""
    if owner.hide_follows and (viewer is None or viewer.id != owner.id):
        return []
    return await _list(rt, "following", owner.id, window)


async def _list(rt: Runtime, kind: str, owner_id: int, window: Window) -> list[Listed]:
    if window.limit <= 0:
        return []
    return await rt.db.run_interaction(
        f"list {kind}",
        store.list_accounts_txn,
        kind,
        owner_id,
        limit=window.limit,
        max_id=window.max_id,
        since_id=window.since_id,
        min_id=window.min_id,
    )


@dataclass(frozen=True)
class AccountFacts:
    """What an Account entity shows beyond the user row, for one reader."""

    counts: dict[int, FollowCounts]
    statuses: dict[int, int]
    relationships: dict[int, Relationship]
    remote_documents: dict[int, dict[str, Any]]


async def account_facts(rt: Runtime, accounts: Sequence[User], viewer: User | None) -> AccountFacts:
    """Follow and status counts of ``accounts`` and the viewer's relationship
    to each of the others, read in one transaction; in one statement when
    there is neither a relationship nor a remote actor to read (the owner's
    own account, anyone's for an anonymous reader)."""
    ids = [u.id for u in accounts]
    others = [i for i in ids if viewer is not None and i != viewer.id]
    remote = [u.id for u in accounts if not u.local]
    if not others and not remote:
        counts, statuses = await statuses_store.account_counts(rt.db, ids)
        return AccountFacts(counts, statuses, {}, {})
    return await rt.db.run_interaction(
        "account facts",
        _account_facts_txn,
        ids,
        viewer.id if viewer else None,
        remote,
        rt.clock.seconds() - actors_store.STALE_AFTER,
    )


async def _account_facts_txn(
    txn: Txn, ids: list[int], viewer_id: int | None, remote: list[int], fetched_before: float
) -> AccountFacts:
    """Also queues a refresh of the remote accounts among them last fetched
    before ``fetched_before``."""
    await actors_store.queue_refreshes_txn(txn, remote, fetched_before)
    others = [i for i in ids if i != viewer_id]
    counts, statuses = await statuses_store.account_counts_txn(txn, ids)
    return AccountFacts(
        counts=counts,
        statuses=statuses,
        relationships=(await store.relationships_txn(txn, viewer_id, others) if viewer_id else {}),
        remote_documents=await actors_store.documents_txn(txn, remote),
    )


# -- a deleted account ------------------------------------------------------------------


async def remove_user_relationships(rt: Runtime, user_id: int) -> None:
    """Delete the follows, requests, blocks, mutes and subscriptions a
    deleted account had or was the object of (a content step of account
    deletion; idempotent)."""
    await rt.db.run_interaction("delete account relationships", store.delete_all_txn, user_id)
