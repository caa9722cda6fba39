"""Follows, follow requests, blocks, mutes and subscriptions between accounts.

A follow row is ``accepted`` (a follower) or ``pending`` (a request waiting
for a locked account's answer).  Every write is an upsert or a delete, so
each function may run again without doing anything twice.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime

from pleromad.db.pool import Txn
from pleromad.model import Follow, Listed, Relationship, User

ACCEPTED = "accepted"
PENDING = "pending"

# The class of the two-int advisory keys that serialize changes of one pair
# of accounts (the two-int key space is apart from job ids' bigint keys).
_LOCK_CLASS = 0x706C_7266  # "plrf"

# The users columns, aliased u, that make a User.
ACCOUNT_COLUMNS = ", ".join(f"u.{f.name}" for f in fields(User))


_FOLLOW_COLUMNS = ", ".join(f.name for f in fields(Follow))


async def lock_pair_txn(txn: Txn, a: int, b: int) -> None:
    """Serialize, until the transaction ends, every change between accounts
    ``a`` and ``b`` (in either direction): a follow checked against blocks
    cannot race a block that removes follows."""
    low, high = sorted((a, b))
    await txn.execute(
        "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_CLASS, f"{low}:{high}")
    )


# -- follows ----------------------------------------------------------------


async def get_follow_txn(txn: Txn, follower_id: int, followee_id: int) -> Follow | None:
    row = await txn.fetchone(
        f"SELECT {_FOLLOW_COLUMNS} FROM follows WHERE follower_id = %s AND followee_id = %s",
        (follower_id, followee_id),
    )
    return None if row is None else Follow(**row)


async def get_follow_by_activity_uuid_txn(txn: Txn, activity_uuid: str) -> Follow | None:
    """The follow whose Follow activity is ``<base_url>/activities/<activity_uuid>``."""
    row = await txn.fetchone(
        f"SELECT {_FOLLOW_COLUMNS} FROM follows WHERE activity_uuid = %s", (activity_uuid,)
    )
    return None if row is None else Follow(**row)


async def set_follow_ap_id_txn(txn: Txn, follower_id: int, followee_id: int, ap_id: str) -> None:
    """Name the follow by the id of the (latest) Follow its remote follower sent."""
    await txn.execute(
        "UPDATE follows SET ap_id = %s WHERE follower_id = %s AND followee_id = %s",
        (ap_id, follower_id, followee_id),
    )


async def insert_follow_txn(
    txn: Txn, follower_id: int, followee_id: int, state: str, show_reblogs: bool
) -> bool:
    """Add a follow (or request) unless the pair has one already; True when
    this call added it."""
    added = await txn.execute(
        "INSERT INTO follows (follower_id, followee_id, state, show_reblogs)"
        " VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
        (follower_id, followee_id, state, show_reblogs),
    )
    return added > 0


async def set_show_reblogs_txn(
    txn: Txn, follower_id: int, followee_id: int, show_reblogs: bool
) -> None:
    await txn.execute(
        "UPDATE follows SET show_reblogs = %s WHERE follower_id = %s AND followee_id = %s",
        (show_reblogs, follower_id, followee_id),
    )


async def accept_request_txn(txn: Txn, follower_id: int, followee_id: int) -> bool:
    """Turn a pending request into a follow (with a new id: it became a
    follow now); False when there was no pending request."""
    accepted = await txn.execute(
        "UPDATE follows SET state = 'accepted', id = next_id(), created_at = now()"
        " WHERE follower_id = %s AND followee_id = %s AND state = 'pending'",
        (follower_id, followee_id),
    )
    return accepted > 0


async def delete_request_txn(txn: Txn, follower_id: int, followee_id: int) -> bool:
    deleted = await txn.execute(
        "DELETE FROM follows WHERE follower_id = %s AND followee_id = %s AND state = 'pending'",
        (follower_id, followee_id),
    )
    return deleted > 0


async def delete_follow_txn(txn: Txn, follower_id: int, followee_id: int) -> bool:
    """Remove a follow or a pending request; False when there was neither."""
    deleted = await txn.execute(
        "DELETE FROM follows WHERE follower_id = %s AND followee_id = %s",
        (follower_id, followee_id),
    )
    return deleted > 0


# -- blocks, mutes, subscriptions --------------------------------------------


async def insert_block_txn(txn: Txn, blocker_id: int, blocked_id: int) -> datetime | None:
    """Add the block unless there is one; its time when this call added it."""
    found: datetime | None = await txn.fetchval(
        "INSERT INTO blocks (blocker_id, blocked_id) VALUES (%s, %s) ON CONFLICT DO NOTHING"
        " RETURNING created_at",
        (blocker_id, blocked_id),
    )
    return found


async def delete_block_txn(txn: Txn, blocker_id: int, blocked_id: int) -> datetime | None:
    """Remove the block; the time it was made, None when there was none."""
    found: datetime | None = await txn.fetchval(
        "DELETE FROM blocks WHERE blocker_id = %s AND blocked_id = %s RETURNING created_at",
        (blocker_id, blocked_id),
    )
    return found


async def blocks_between_txn(txn: Txn, a: int, b: int) -> tuple[bool, bool]:
    """(``a`` blocks ``b``, ``b`` blocks ``a``)."""
    row = await txn.fetchone(
        "SELECT EXISTS (SELECT 1 FROM blocks WHERE blocker_id = %(a)s AND blocked_id = %(b)s)"
        " AS blocking,"
        " EXISTS (SELECT 1 FROM blocks WHERE blocker_id = %(b)s AND blocked_id = %(a)s)"
        " AS blocked_by",
        {"a": a, "b": b},
    )
    assert row is not None
    return row["blocking"], row["blocked_by"]


async def upsert_mute_txn(txn: Txn, muter_id: int, muted_id: int, notifications: bool) -> None:
    await txn.execute(
        "INSERT INTO mutes (muter_id, muted_id, notifications) VALUES (%s, %s, %s)"
        " ON CONFLICT (muter_id, muted_id) DO UPDATE SET notifications = EXCLUDED.notifications",
        (muter_id, muted_id, notifications),
    )


async def delete_mute_txn(txn: Txn, muter_id: int, muted_id: int) -> None:
    await txn.execute(
        "DELETE FROM mutes WHERE muter_id = %s AND muted_id = %s", (muter_id, muted_id)
    )


async def insert_subscription_txn(txn: Txn, subscriber_id: int, target_id: int) -> None:
    await txn.execute(
        "INSERT INTO subscriptions (subscriber_id, target_id) VALUES (%s, %s)"
        " ON CONFLICT DO NOTHING",
        (subscriber_id, target_id),
    )


async def delete_subscription_txn(txn: Txn, subscriber_id: int, target_id: int) -> None:
    await txn.execute(
        "DELETE FROM subscriptions WHERE subscriber_id = %s AND target_id = %s",
        (subscriber_id, target_id),
    )


async def delete_all_txn(txn: Txn, user_id: int) -> None:
    """Remove every follow, request, block, mute and subscription that
    ``user_id`` has or is the object of."""
    args = {"id": user_id}
    await txn.execute(
        "DELETE FROM follows WHERE follower_id = %(id)s OR followee_id = %(id)s", args
    )
    await txn.execute("DELETE FROM blocks WHERE blocker_id = %(id)s OR blocked_id = %(id)s", args)
    await txn.execute("DELETE FROM mutes WHERE muter_id = %(id)s OR muted_id = %(id)s", args)
    await txn.execute(
        "DELETE FROM subscriptions WHERE subscriber_id = %(id)s OR target_id = %(id)s", args
    )


# -- reading ------------------------------------------------------------------


def relationship_sql(target: str) -> str:
    """One row of the viewer's (``%(viewer)s``) Relationship columns to the
    account whose id is ``target`` (an SQL value), for a LATERAL join."""
    return (
        "SELECT COALESCE(fo.state = 'accepted', false) AS following,"
        " COALESCE(fo.state = 'pending', false) AS requested,"
        " COALESCE(fo.show_reblogs, true) AS showing_reblogs,"
        f" EXISTS (SELECT 1 FROM follows fb WHERE fb.follower_id = {target}"
        "         AND fb.followee_id = %(viewer)s AND fb.state = 'accepted') AS followed_by,"
        " EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = %(viewer)s"
        f"         AND b.blocked_id = {target}) AS blocking,"
        f" EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = {target}"
        "         AND b.blocked_id = %(viewer)s) AS blocked_by,"
        " m.muter_id IS NOT NULL AS muting,"
        " COALESCE(m.notifications, false) AS muting_notifications,"
        " EXISTS (SELECT 1 FROM subscriptions s WHERE s.subscriber_id = %(viewer)s"
        f"         AND s.target_id = {target}) AS subscribing"
        " FROM (SELECT 1) one"
        f" LEFT JOIN follows fo ON fo.follower_id = %(viewer)s AND fo.followee_id = {target}"
        f" LEFT JOIN mutes m ON m.muter_id = %(viewer)s AND m.muted_id = {target}"
    )


# Relationship's fields besides the target's id.
RELATIONSHIP_FIELDS = tuple(f.name for f in fields(Relationship) if f.name != "target_id")


async def relationships_txn(
    txn: Txn, viewer_id: int, target_ids: list[int]
) -> dict[int, Relationship]:
    """The viewer's relationship to each of ``target_ids``, by target id."""
    if not target_ids:
        return {}
    rows = await txn.fetchall(
        "SELECT t.id AS target_id, r.* FROM unnest(%(ids)s::bigint[]) AS t(id)"
        f" CROSS JOIN LATERAL ({relationship_sql('t.id')}) r",
        {"viewer": viewer_id, "ids": list(target_ids)},
    )
    return {row["target_id"]: Relationship(**row) for row in rows}


# What a list of accounts is read from: (the table, the column naming the
# list's owner, the column naming the listed account, the follow state
# listed or None).  Every table has a time-ordered id the pages are keyed by.
_LISTS = {
    "followers": ("follows", "followee_id", "follower_id", ACCEPTED),
    "following": ("follows", "follower_id", "followee_id", ACCEPTED),
    "requests": ("follows", "followee_id", "follower_id", PENDING),
    "blocks": ("blocks", "blocker_id", "blocked_id", None),
    "mutes": ("mutes", "muter_id", "muted_id", None),
}


async def list_accounts_txn(
    txn: Txn,
    kind: str,
    owner_id: int,
    *,
    limit: int,
    max_id: int | None = None,
    since_id: int | None = None,
    min_id: int | None = None,
) -> list[Listed]:
    """One page of ``owner_id``'s followers, followings, pending requests,
    blocks or mutes (``kind``), newest row first, keyed by the row's id;
    accounts deactivated or deleted are left out.

    ``max_id`` takes rows older than it, ``since_id`` and ``min_id`` newer
    ones; ``min_id`` takes those just after it (the page then still reads
    newest first), ``since_id`` the newest.
    """
    table, owner_column, listed_column, state = _LISTS[kind]
    ascending = min_id is not None
    rows = await txn.fetchall(
        f"SELECT r.id AS cursor, {ACCOUNT_COLUMNS} FROM {table} r"
        f" JOIN users u ON u.id = r.{listed_column}"
        f" WHERE r.{owner_column} = %(owner)s"
        f"{' AND r.state = %(state)s' if state else ''}"
        f" AND (%(max_id)s::bigint IS NULL OR r.id < %(max_id)s)"
        f" AND (%(lower)s::bigint IS NULL OR r.id > %(lower)s)"
        f" AND NOT u.deactivated AND NOT u.deleted"
        f" ORDER BY r.id {'ASC' if ascending else 'DESC'} LIMIT %(limit)s",
        {
            "owner": owner_id,
            "state": state,
            "max_id": max_id,
            "lower": min_id if ascending else since_id,
            "limit": limit,
        },
    )
    listed = [Listed(row.pop("cursor"), User(**row)) for row in rows]
    if ascending:
        listed.reverse()
    return listed


async def get_users_by_nicknames_txn(txn: Txn, nicknames: list[str]) -> list[User]:
    """The accounts with these nicknames (any case), in no particular order."""
    if not nicknames:
        return []
    rows = await txn.fetchall(
        f"SELECT {ACCOUNT_COLUMNS} FROM users u WHERE lower(u.nickname) = ANY(%s)",
        ([n.lower() for n in nicknames],),
    )
    return [User(**row) for row in rows]


async def get_users_by_ids_txn(txn: Txn, ids: list[int]) -> list[User]:
    """The accounts with these ids, in no particular order."""
    if not ids:
        return []
    rows = await txn.fetchall(
        f"SELECT {ACCOUNT_COLUMNS} FROM users u WHERE u.id = ANY(%s::bigint[])", (list(ids),)
    )
    return [User(**row) for row in rows]
