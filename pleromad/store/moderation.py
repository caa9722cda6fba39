"""What moderators read and keep: every status whoever may see it, the
instance's figures and the moderation log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg2.extras import Json

from pleromad.db.pool import Txn
from pleromad.model import LogEntry

VISIBILITIES = ("public", "unlisted", "private", "direct")


async def statuses_txn(
    txn: Txn,
    *,
    account_id: int | None,
    local_only: bool,
    godmode: bool,
    with_reblogs: bool,
    limit: int,
    offset: int,
) -> list[int]:
    """Ids of one page of statuses, newest first: of ``account_id`` (or of
    everyone), only public and unlisted ones unless ``godmode``, only local
    authors' with ``local_only``, reblogs only ``with_reblogs``."""
    conditions = ["true"]
    args: dict[str, Any] = {"account": account_id, "limit": limit, "offset": offset}
    if account_id is not None:
        conditions.append("s.account_id = %(account)s")
    if not godmode:
        conditions.append("s.visibility IN ('public', 'unlisted')")
    if not with_reblogs:
        conditions.append("s.reblog_of_id IS NULL")
    if local_only:
        conditions.append("EXISTS (SELECT 1 FROM users u WHERE u.id = s.account_id AND u.local)")
    rows = await txn.fetchall(
        f"SELECT s.id FROM statuses s WHERE {' AND '.join(conditions)}"
        " ORDER BY s.id DESC LIMIT %(limit)s OFFSET %(offset)s",
        args,
    )
    return [row["id"] for row in rows]


async def set_status_flags_txn(
    txn: Txn, status_id: int, sensitive: bool | None, visibility: str | None
) -> bool:
    """Change a post's ``sensitive`` and ``visibility`` (its reblogs carry
    the visibility too); False when there is no such post."""
    found = await txn.fetchval(
        "UPDATE statuses SET sensitive = coalesce(%(sensitive)s, sensitive),"
        " visibility = coalesce(%(visibility)s, visibility)"
        " WHERE id = %(id)s AND reblog_of_id IS NULL RETURNING id",
        {"id": status_id, "sensitive": sensitive, "visibility": visibility},
    )
    if found is None:
        return False
    if visibility is not None:
        await txn.execute(
            "UPDATE statuses SET visibility = %s WHERE reblog_of_id = %s", (visibility, status_id)
        )
    return True


async def stats_txn(txn: Txn) -> dict[str, Any]:
    """Local accounts (not deleted) and local posts, by visibility."""
    rows = await txn.fetchall(
        "SELECT s.visibility, count(*) AS n FROM statuses s JOIN users u ON u.id = s.account_id"
        " WHERE u.local AND s.reblog_of_id IS NULL GROUP BY s.visibility"
    )
    by_visibility = dict.fromkeys(VISIBILITIES, 0)
    by_visibility.update((row["visibility"], row["n"]) for row in rows)
    users = await txn.fetchval("SELECT count(*) FROM users WHERE local AND NOT deleted")
    return {
        "user_count": int(users),
        "status_count": sum(by_visibility.values()),
        "status_visibility": by_visibility,
    }


# -- the moderation log ------------------------------------------------------------


async def log_txn(txn: Txn, actor_id: int, data: dict[str, Any], message: str) -> None:
    await txn.execute(
        "INSERT INTO moderation_log (actor_id, data, message) VALUES (%s, %s, %s)",
        (actor_id, Json(data), message),
    )


async def list_log_txn(
    txn: Txn,
    *,
    actor_id: int | None,
    search: str | None,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    offset: int,
) -> tuple[list[LogEntry], int]:
    """One page of the log, newest first, and how many entries match: by
    ``actor_id``, a case-insensitive substring of the message, and
    ``start <= created_at <= end``."""
    conditions = ["true"]
    args: dict[str, Any] = {"limit": limit, "offset": offset}
    if actor_id is not None:
        conditions.append("actor_id = %(actor)s")
        args["actor"] = actor_id
    if search:
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append("message ILIKE %(search)s")
        args["search"] = f"%{escaped}%"
    if start is not None:
        conditions.append("created_at >= %(start)s")
        args["start"] = start
    if end is not None:
        conditions.append("created_at <= %(end)s")
        args["end"] = end
    where = " AND ".join(conditions)
    total = await txn.fetchval(f"SELECT count(*) FROM moderation_log WHERE {where}", args)
    rows = await txn.fetchall(
        f"SELECT id, actor_id, data, message, created_at FROM moderation_log WHERE {where}"
        " ORDER BY created_at DESC, id DESC LIMIT %(limit)s OFFSET %(offset)s",
        args,
    )
    return [LogEntry(**row) for row in rows], int(total)
