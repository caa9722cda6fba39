"""Notifications: who is told about what, and each account's list of them.

Creation is one ``INSERT ... SELECT`` per cause whose ``WHERE`` holds every
rule that can suppress a notification (:func:`_RECEIVES`), so the rules are
evaluated by PostgreSQL against the relationships as they are inside the
transaction of the action, for any number of recipients at once.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from psycopg2.extensions import AsIs
from psycopg2.extras import Json

from pleromad.db.pool import Txn
from pleromad.model import Notification, NotificationFilters
from pleromad.store.timelines import Window
from pleromad.store.visibility import visible_to_viewer

TYPES = ("mention", "reblog", "favourite", "follow", "pleroma:report")

# A follow from the same account among this many of the recipient's newest
# notifications is not notified again (follow/unfollow/follow spam).
FOLLOW_REPEAT_WINDOW = 20


_COLUMNS = ", ".join(f"n.{f.name}" for f in fields(Notification))


def _follows(follower: str, followee: str) -> str:
    return (
        f"EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = {follower}"
        f" AND f.followee_id = {followee} AND f.state = 'accepted')"
    )


def _refuses(setting: str) -> str:
    # A setting is "receive from those accounts", true unless set to false.
    return f"r.notification_settings @> '{{\"{setting}\": false}}'"


# Whether the account ``r`` receives notifications caused by the account
# ``a``: never from itself, only for live local accounts, not from accounts
# it blocks or mutes with notifications, and not from accounts any of its
# notification settings (DECISIONS 20) excludes.  Relationships count when
# accepted: a pending follow request does not make a follower.
_RECEIVES = (
    "r.id <> a.id AND r.local AND NOT r.deactivated AND NOT r.deleted"
    " AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = r.id AND b.blocked_id = a.id)"
    " AND NOT EXISTS (SELECT 1 FROM mutes mu WHERE mu.muter_id = r.id AND mu.muted_id = a.id"
    "                 AND mu.notifications)"
    f" AND NOT (CASE WHEN a.local THEN {_refuses('local')} ELSE {_refuses('remote')} END)"
    f" AND NOT (CASE WHEN {_follows('a.id', 'r.id')} THEN {_refuses('followers')}"
    f"          ELSE {_refuses('non_followers')} END)"
    f" AND NOT (CASE WHEN {_follows('r.id', 'a.id')} THEN {_refuses('follows')}"
    f"          ELSE {_refuses('non_follows')} END)"
)

# The status ``s`` as the candidate recipient ``r`` may see it.  The one
# visibility predicate takes its viewer as a parameter; here the viewer is
# each candidate row, so the parameter is the column itself.
_RECIPIENT_SEES = visible_to_viewer("s")
_RECIPIENT = AsIs("r.id")


async def notify_status_txn(txn: Txn, status_id: int) -> int:
    """``mention`` notifications for a new status: for the accounts it
    mentions and, when it is top level, for the author's subscribers; only
    for those who may see it.  Returns how many were created."""
    return await txn.execute(
        "INSERT INTO notifications (user_id, type, actor_id, status_id)"
        " SELECT r.id, 'mention', a.id, s.id"
        " FROM statuses s JOIN users a ON a.id = s.account_id"
        " JOIN users r ON r.id IN ("
        "   SELECT m.account_id FROM status_mentions m WHERE m.status_id = s.id"
        "   UNION SELECT sub.subscriber_id FROM subscriptions sub"
        "   WHERE sub.target_id = s.account_id AND s.in_reply_to_id IS NULL)"
        f" WHERE s.id = %(status)s AND s.reblog_of_id IS NULL AND {_RECEIVES}"
        f" AND {_RECIPIENT_SEES}"
        " AND NOT EXISTS (SELECT 1 FROM notifications d WHERE d.user_id = r.id"
        "                 AND d.type = 'mention' AND d.status_id = s.id)",
        {"status": status_id, "viewer": _RECIPIENT},
    )


async def notify_about_status_txn(txn: Txn, kind: str, actor_id: int, status_id: int) -> int:
    """A ``favourite`` or ``reblog`` of ``status_id`` (a reblog row counts as
    its original) by ``actor_id``, for the status's author; once per actor
    and status, however often it is undone and done again."""
    if kind not in ("favourite", "reblog"):
        raise ValueError(f"not a notification about a status: {kind!r}")
    return await txn.execute(
        "INSERT INTO notifications (user_id, type, actor_id, status_id)"
        " SELECT r.id, %(kind)s, a.id, s.id"
        " FROM statuses s JOIN users r ON r.id = s.account_id JOIN users a ON a.id = %(actor)s"
        " WHERE s.id = (SELECT coalesce(o.reblog_of_id, o.id) FROM statuses o"
        "               WHERE o.id = %(status)s)"
        f" AND {_RECEIVES} AND {_RECIPIENT_SEES}"
        " AND NOT EXISTS (SELECT 1 FROM notifications d WHERE d.user_id = r.id"
        "                 AND d.type = %(kind)s AND d.actor_id = a.id AND d.status_id = s.id)",
        {"kind": kind, "actor": actor_id, "status": status_id, "viewer": _RECIPIENT},
    )


async def notify_follow_txn(txn: Txn, follower_id: int, followee_id: int) -> int:
    """A ``follow`` (or follow request) for the followed account, unless a
    follow from the same account is among its latest notifications."""
    return await txn.execute(
        "INSERT INTO notifications (user_id, type, actor_id)"
        " SELECT r.id, 'follow', a.id FROM users r JOIN users a ON a.id = %(actor)s"
        f" WHERE r.id = %(recipient)s AND {_RECEIVES}"
        " AND NOT EXISTS (SELECT 1 FROM (SELECT d.type, d.actor_id FROM notifications d"
        "                 WHERE d.user_id = r.id ORDER BY d.id DESC LIMIT %(window)s) recent"
        "                 WHERE recent.type = 'follow' AND recent.actor_id = a.id)",
        {"actor": follower_id, "recipient": followee_id, "window": FOLLOW_REPEAT_WINDOW},
    )


# What a reader is shown of its own notifications: nothing caused by an
# account that is gone or deactivated, nothing about a status it may no
# longer see, and (unless asked) nothing from accounts it blocks or mutes.
_SHOWN = (
    "NOT EXISTS (SELECT 1 FROM users a WHERE a.id = n.actor_id AND (a.deactivated OR a.deleted))"
    " AND (n.status_id IS NULL OR EXISTS (SELECT 1 FROM statuses s WHERE s.id = n.status_id"
    f"      AND {visible_to_viewer('s')}))"
)
_NOT_MUTED = (
    "NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = n.user_id"
    "                 AND b.blocked_id = n.actor_id)"
    " AND NOT EXISTS (SELECT 1 FROM mutes mu WHERE mu.muter_id = n.user_id"
    "                 AND mu.muted_id = n.actor_id AND mu.notifications)"
)


async def list_notifications_txn(
    txn: Txn, user_id: int, window: Window, filters: NotificationFilters
) -> list[Notification]:
    """A page of ``user_id``'s notifications that it is shown, newest first;
    keyset on ``(user_id, id)``."""
    where = ["n.user_id = %(viewer)s", _SHOWN]
    if not filters.with_muted:
        where.append(_NOT_MUTED)
    args: dict[str, Any] = {"viewer": user_id, "limit": window.limit}
    for name, op in (("max_id", "<"), ("since_id", ">"), ("min_id", ">")):
        value = getattr(window, name)
        if value is not None:
            where.append(f"n.id {op} %({name})s")
            args[name] = value
    if filters.exclude_types:
        where.append("n.type <> ALL(%(exclude)s)")
        args["exclude"] = list(filters.exclude_types)
    if filters.types is not None:
        where.append("n.type = ANY(%(types)s)")
        args["types"] = list(filters.types)
    # With min_id the page is the one just above it, so it is read upwards.
    order = "ASC" if window.min_id is not None else "DESC"
    rows = await txn.fetchall(
        f"SELECT {_COLUMNS} FROM notifications n WHERE {' AND '.join(where)}"
        f" ORDER BY n.id {order} LIMIT %(limit)s",
        args,
    )
    found = [Notification(**row) for row in rows]
    return sorted(found, key=lambda n: n.id, reverse=True)


async def get_notification_txn(txn: Txn, user_id: int, notification_id: int) -> Notification | None:
    """``user_id``'s notification ``notification_id`` if it is shown to it."""
    row = await txn.fetchone(
        f"SELECT {_COLUMNS} FROM notifications n"
        f" WHERE n.id = %(id)s AND n.user_id = %(viewer)s AND {_SHOWN}",
        {"id": notification_id, "viewer": user_id},
    )
    return None if row is None else Notification(**row)


async def mark_seen_txn(txn: Txn, user_id: int, notification_id: int) -> bool:
    """Mark one of ``user_id``'s notifications seen; False if it has none by that id."""
    return (
        await txn.execute(
            "UPDATE notifications SET seen = true WHERE id = %s AND user_id = %s",
            (notification_id, user_id),
        )
        > 0
    )


async def delete_notification_txn(txn: Txn, user_id: int, notification_id: int) -> bool:
    """Delete one of ``user_id``'s notifications; False if it has none by that id."""
    return (
        await txn.execute(
            "DELETE FROM notifications WHERE id = %s AND user_id = %s",
            (notification_id, user_id),
        )
        > 0
    )


async def clear_notifications_txn(txn: Txn, user_id: int) -> int:
    return await txn.execute("DELETE FROM notifications WHERE user_id = %s", (user_id,))


async def delete_account_notifications_txn(txn: Txn, user_id: int) -> int:
    """Every notification ``user_id`` received or caused."""
    return await txn.execute(
        "DELETE FROM notifications WHERE user_id = %(u)s OR actor_id = %(u)s", {"u": user_id}
    )


async def merge_settings_txn(txn: Txn, user_id: int, changes: dict[str, bool]) -> bool:
    """Set the given notification settings of ``user_id``, keeping the
    others; False for an unknown account."""
    return (
        await txn.execute(
            "UPDATE users SET notification_settings = notification_settings || %s,"
            " updated_at = now() WHERE id = %s",
            (Json(changes), user_id),
        )
        > 0
    )
