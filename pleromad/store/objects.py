"""Statuses as ActivityPub objects: found by their activity ids, an
account's outbox, where a status is delivered, and the figures NodeInfo
publishes.

A local status is named by its ``object_uuid`` (the Note) and
``activity_uuid`` (its Create, or its Announce for a reblog); a remote one
by the ``ap_id`` its server gave it (:mod:`pleromad.store.statuses` finds
those, and loads statuses for display).
"""

from __future__ import annotations

from collections.abc import Sequence

from pleromad.db.pool import Txn
from pleromad.model import Loaded, Status, Usage
from pleromad.store.relationships import ACCEPTED
from pleromad.store.statuses import PUBLIC_VISIBILITIES, STATUS_COLUMNS


async def by_activity_uuid_txn(txn: Txn, activity_uuid: str) -> Status | None:
    """The local status whose Create (or, a reblog, Announce) is
    ``<base_url>/activities/<activity_uuid>``."""
    row = await txn.fetchone(
        f"SELECT {STATUS_COLUMNS} FROM statuses s WHERE s.activity_uuid = %s AND s.ap_id IS NULL",
        (activity_uuid,),
    )
    return None if row is None else Status(**row)


async def parents_txn(txn: Txn, loaded: Loaded) -> dict[int, Status]:
    """The statuses the posts of ``loaded`` reply to, to name them in ``inReplyTo``."""
    wanted = [
        shown.status.in_reply_to_id
        for shown in loaded.statuses.values()
        if shown.status.in_reply_to_id is not None
    ]
    return await statuses_by_ids_txn(txn, wanted)


async def statuses_by_ids_txn(txn: Txn, ids: Sequence[int]) -> dict[int, Status]:
    """The rows of ``ids`` (those that exist), whoever may see them: what
    a document needs to name them (a reply's parent, a reblog's original)."""
    if not ids:
        return {}
    rows = await txn.fetchall(
        f"SELECT {STATUS_COLUMNS} FROM statuses s WHERE s.id = ANY(%s::bigint[])", (list(set(ids)),)
    )
    return {row["id"]: Status(**row) for row in rows}


# An outbox lists what anyone may see: public and unlisted posts and reblogs.
_OUTBOX = "s.account_id = %(account)s AND s.visibility IN %(visible)s"


async def outbox_txn(txn: Txn, account_id: int, max_id: int | None, limit: int) -> list[int]:
    """Ids of one page of the account's outbox, newest first, older than ``max_id``."""
    rows = await txn.fetchall(
        f"SELECT s.id FROM statuses s WHERE {_OUTBOX}"
        " AND (%(max_id)s::bigint IS NULL OR s.id < %(max_id)s)"
        " ORDER BY s.id DESC LIMIT %(limit)s",
        {"account": account_id, "visible": PUBLIC_VISIBILITIES, "max_id": max_id, "limit": limit},
    )
    return [row["id"] for row in rows]


async def outbox_size_txn(txn: Txn, account_id: int) -> int:
    return int(
        await txn.fetchval(
            f"SELECT count(*) FROM statuses s WHERE {_OUTBOX}",
            {"account": account_id, "visible": PUBLIC_VISIBILITIES},
        )
    )


async def delivery_inboxes_txn(
    txn: Txn, author_id: int, mention_ids: Sequence[int], *, followers: bool
) -> list[str]:
    """The inboxes a status of ``author_id`` goes to: those of its remote
    mentioned accounts and, with ``followers``, of its remote followers;
    each account's shared inbox when it has one, each inbox once."""
    rows = await txn.fetchall(
        "SELECT DISTINCT COALESCE(ra.shared_inbox, ra.inbox) AS inbox"
        " FROM remote_actors ra JOIN users u ON u.id = ra.user_id"
        " WHERE NOT u.deactivated AND NOT u.deleted"
        " AND (ra.user_id = ANY(%(mentions)s::bigint[])"
        "      OR (%(followers)s AND ra.user_id IN (SELECT f.follower_id FROM follows f"
        "          WHERE f.followee_id = %(author)s AND f.state = %(accepted)s)))"
        " ORDER BY 1",
        {
            "mentions": list(mention_ids),
            "followers": followers,
            "author": author_id,
            "accepted": ACCEPTED,
        },
    )
    return [row["inbox"] for row in rows]


async def network_inboxes_txn(txn: Txn, user_id: int) -> list[str]:
    """The inboxes of every remote account that follows ``user_id`` or that
    it follows (or asked to, either way): the servers that know it, each
    account's shared inbox when it has one, each inbox once."""
    rows = await txn.fetchall(
        "SELECT DISTINCT COALESCE(ra.shared_inbox, ra.inbox) AS inbox"
        " FROM remote_actors ra JOIN users u ON u.id = ra.user_id"
        " WHERE NOT u.deleted AND ra.user_id IN ("
        "   SELECT f.follower_id FROM follows f WHERE f.followee_id = %(user)s"
        "   UNION SELECT f.followee_id FROM follows f WHERE f.follower_id = %(user)s)"
        " ORDER BY 1",
        {"user": user_id},
    )
    return [row["inbox"] for row in rows]


# Accounts that count: local, neither deleted nor deactivated.
_IN_USE = "u.local AND NOT u.deleted AND NOT u.deactivated"
# Active since a time: posted (a status id is time-ordered, so the account's
# index answers) or logged in (was given a token).
_ACTIVE_SINCE = (
    "(EXISTS (SELECT 1 FROM statuses s WHERE s.account_id = u.id AND s.id >= %({0}_id)s)"
    " OR EXISTS (SELECT 1 FROM oauth_tokens t WHERE t.user_id = u.id"
    " AND t.created_at >= to_timestamp(%({0})s)))"
)


def _first_id_at(seconds: float) -> int:
    """The smallest status id made at or after ``seconds`` (see next_id())."""
    return int(seconds * 1000) << 16


async def usage_txn(txn: Txn, month_ago: float, halfyear_ago: float) -> Usage:
    """The figures, for windows starting at the given epoch seconds."""
    row = await txn.fetchone(
        f"SELECT count(*) AS users,"
        f" count(*) FILTER (WHERE {_ACTIVE_SINCE.format('month')}) AS active_month,"
        f" count(*) FILTER (WHERE {_ACTIVE_SINCE.format('halfyear')}) AS active_halfyear,"
        f" (SELECT count(*) FROM statuses p JOIN users pu ON pu.id = p.account_id"
        f"  WHERE pu.local AND p.reblog_of_id IS NULL) AS local_posts"
        f" FROM users u WHERE {_IN_USE}",
        {
            "month": month_ago,
            "month_id": _first_id_at(month_ago),
            "halfyear": halfyear_ago,
            "halfyear_id": _first_id_at(halfyear_ago),
        },
    )
    assert row is not None
    return Usage(**row)


async def staff_ids_txn(txn: Txn) -> list[str]:
    """The actor ids of the local admins and moderators in use."""
    rows = await txn.fetchall(
        f"SELECT u.ap_id FROM users u WHERE {_IN_USE} AND (u.is_admin OR u.is_moderator)"
        " ORDER BY u.id"
    )
    return [row["ap_id"] for row in rows]
