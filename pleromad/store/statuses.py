"""Statuses and reblogs, and what hangs off them.

A status row is either a post (with its rendered ``content``) or a reblog:
a row of the reblogger with ``reblog_of_id`` set and no text.  Every read
for a viewer goes through :func:`pleromad.store.visibility.visible_to_viewer`;
loading statuses for display is :mod:`pleromad.store.loader`'s.  The
counts are read from ``status_counts`` and ``account_counts``, which the
writes keep (migration 0030); every statuses and users row has its row
there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

from pleromad.db.pool import Database, Txn
from pleromad.model import (
    AttachmentVersion,
    FollowCounts,
    Listed,
    Media,
    NewStatus,
    Post,
    Status,
    StatusVersion,
    User,
)
from pleromad.store.relationships import (
    ACCOUNT_COLUMNS,
)
from pleromad.store.timelines import Window
from pleromad.store.visibility import visible_to_viewer

PUBLIC_VISIBILITIES = ("public", "unlisted")
# How far a thread is followed each way for a status' context.
ANCESTORS_LIMIT = 40
DESCENDANTS_LIMIT = 4096


STATUS_FIELDS = tuple(f.name for f in fields(Status))
STATUS_COLUMNS = ", ".join(f"s.{name}" for name in STATUS_FIELDS)
MEDIA_COLUMNS = ", ".join(f.name for f in fields(Media))


# What insert_status_txn writes to the statuses row.
_INSERTED = (*(f.name for f in fields(Post)), "ap_id", "activity_ap_id", "url", "context")


# -- writing ------------------------------------------------------------------


async def new_id_txn(txn: Txn) -> int:
    """A fresh status id (a post's conversation is its own id when it starts one)."""
    return int(await txn.fetchval("SELECT next_id()"))


async def insert_status_txn(txn: Txn, new: NewStatus) -> bool:
    """Write a post with its mentions, tags, emoji and attachments; False
    (and nothing written) when a status with its ``ap_id`` is already there."""
    written = await txn.fetchval(
        f"INSERT INTO statuses ({', '.join(_INSERTED)}, created_at)"
        f" VALUES ({', '.join(f'%({name})s' for name in _INSERTED)},"
        " coalesce(%(created_at)s, now()))"
        " ON CONFLICT (ap_id) WHERE ap_id IS NOT NULL DO NOTHING RETURNING true",
        {name: getattr(new, name) for name in (*_INSERTED, "created_at")},
    )
    if written is None:
        return False
    await txn.execute(
        "INSERT INTO status_mentions (status_id, account_id)"
        " SELECT %s, unnest(%s::bigint[]) ON CONFLICT DO NOTHING",
        (new.id, list(new.mention_ids)),
    )
    await _add_tags_and_emojis_txn(txn, new.id, new.tags, new.emojis)
    await _add_media_txn(txn, new.id, new.media_ids)
    return True


async def _add_tags_and_emojis_txn(
    txn: Txn, status_id: int, tags: Sequence[str], emojis: Sequence[tuple[str, str]]
) -> None:
    await txn.execute(
        "INSERT INTO status_tags (status_id, tag) SELECT %s, unnest(%s::text[])"
        " ON CONFLICT DO NOTHING",
        (status_id, list(tags)),
    )
    await txn.execute(
        "INSERT INTO status_emojis (status_id, shortcode, url)"
        " SELECT %s, e.shortcode, e.url FROM unnest(%s::text[], %s::text[]) AS e(shortcode, url)"
        " ON CONFLICT DO NOTHING",
        (status_id, [e[0] for e in emojis], [e[1] for e in emojis]),
    )


# The post's version as it stands, copied into status_edits.
_KEEP_VERSION = (
    "INSERT INTO status_edits (status_id, content, spoiler_text, sensitive, media, emojis,"
    " created_at)"
    " SELECT s.id, s.content, s.spoiler_text, s.sensitive,"
    "  coalesce((SELECT jsonb_agg(jsonb_build_object('id', m.id, 'url', m.url,"
    "    'mime_type', m.mime_type, 'description', m.description, 'blurhash', m.blurhash,"
    "    'width', m.width, 'height', m.height) ORDER BY sm.position)"
    "   FROM status_media sm JOIN media m ON m.id = sm.media_id"
    "   WHERE sm.status_id = s.id), '[]'),"
    "  coalesce((SELECT jsonb_agg(jsonb_build_array(se.shortcode, se.url) ORDER BY se.shortcode)"
    "   FROM status_emojis se WHERE se.status_id = s.id), '[]'),"
    "  coalesce(s.edited_at, s.created_at)"
    " FROM statuses s WHERE s.id = %s"
)


async def edit_post_txn(
    txn: Txn,
    status_id: int,
    *,
    content: str,
    spoiler_text: str,
    sensitive: bool,
    tags: Sequence[str],
    emojis: Sequence[tuple[str, str]],
    edited_at: datetime | None,
    source: str | None = None,
    content_type: str | None = None,
    media_ids: Sequence[int] | None = None,
    mention_ids: Sequence[int] = (),
) -> None:
    """Replace what a post says: its text, spoiler, sensitivity, tags and
    emoji, and its ``source`` (written as ``content_type``) and attachments
    (``media_ids``) when given;
    ``mention_ids`` are added to its mentions (a mention once made stays,
    so the post's audience never shrinks).  An edit (``edited_at``, when
    the new version was written) first keeps the version it replaces in
    ``status_edits``; without one the post is corrected in place."""
    if edited_at is not None:
        await txn.execute(_KEEP_VERSION, (status_id,))
    await txn.execute(
        "UPDATE statuses SET content = %s, spoiler_text = %s, sensitive = %s,"
        " source = coalesce(%s, source), content_type = coalesce(%s, content_type),"
        " edited_at = coalesce(%s, edited_at) WHERE id = %s",
        (content, spoiler_text, sensitive, source, content_type, edited_at, status_id),
    )
    await txn.execute("DELETE FROM status_tags WHERE status_id = %s", (status_id,))
    await txn.execute("DELETE FROM status_emojis WHERE status_id = %s", (status_id,))
    await _add_tags_and_emojis_txn(txn, status_id, tags, emojis)
    await txn.execute(
        "INSERT INTO status_mentions (status_id, account_id)"
        " SELECT %s, unnest(%s::bigint[]) ON CONFLICT DO NOTHING",
        (status_id, list(mention_ids)),
    )
    if media_ids is not None:
        await txn.execute("DELETE FROM status_media WHERE status_id = %s", (status_id,))
        await _add_media_txn(txn, status_id, media_ids)


async def _add_media_txn(txn: Txn, status_id: int, media_ids: Sequence[int]) -> None:
    await txn.execute(
        "INSERT INTO status_media (status_id, media_id, position)"
        " SELECT %s, m.id, m.position FROM unnest(%s::bigint[]) WITH ORDINALITY AS m(id, position)"
        " ON CONFLICT DO NOTHING",
        (status_id, list(media_ids)),
    )


async def versions_txn(txn: Txn, status_id: int) -> list[StatusVersion]:
    """The versions an edited post replaced, oldest first."""
    rows = await txn.fetchall(
        "SELECT content, spoiler_text, sensitive, media, emojis, created_at FROM status_edits"
        " WHERE status_id = %s ORDER BY id",
        (status_id,),
    )
    return [
        StatusVersion(
            content=row["content"],
            spoiler_text=row["spoiler_text"],
            sensitive=row["sensitive"],
            media=tuple(AttachmentVersion(**item) for item in row["media"]),
            emojis=tuple((code, url) for code, url in row["emojis"]),
            created_at=row["created_at"],
        )
        for row in rows
    ]


async def delete_status_txn(txn: Txn, status_id: int) -> bool:
    """Delete a status; its reblogs, favourites, mentions and notifications go
    with it, replies stay (no longer replies to anything here)."""
    return await txn.execute("DELETE FROM statuses WHERE id = %s", (status_id,)) > 0


async def insert_reblog_txn(
    txn: Txn, account_id: int, original: Status, *, ap_id: str | None = None
) -> tuple[int, bool]:
    """``account_id``'s reblog of ``original`` (a post): its id, and whether
    this call made it.  A reblog is seen by whoever may see the original, so
    it carries the original's visibility.  A remote reblog's ``ap_id`` is
    its Announce's id."""
    created = await txn.fetchval(
        "INSERT INTO statuses (account_id, reblog_of_id, conversation_id, visibility, ap_id)"
        " VALUES (%s, %s, %s, %s, %s)"
        " ON CONFLICT (account_id, reblog_of_id) WHERE reblog_of_id IS NOT NULL DO NOTHING"
        " RETURNING id",
        (account_id, original.id, original.conversation_id, original.visibility, ap_id),
    )
    if created is not None:
        return int(created), True
    existing = await txn.fetchval(
        "SELECT id FROM statuses WHERE account_id = %s AND reblog_of_id = %s",
        (account_id, original.id),
    )
    return int(existing), False


async def delete_reblog_txn(txn: Txn, account_id: int, original_id: int) -> Status | None:
    """Delete the account's reblog of ``original_id``: the row as it was
    (its Announce is undone by it), None when there was none."""
    row = await txn.fetchone(
        f"DELETE FROM statuses s WHERE s.account_id = %s AND s.reblog_of_id = %s"
        f" RETURNING {STATUS_COLUMNS}",
        (account_id, original_id),
    )
    return None if row is None else Status(**row)


async def delete_account_statuses_txn(txn: Txn, account_id: int, batch: int) -> int:
    """Delete up to ``batch`` of the account's statuses and reblogs (newest
    first); how many went.  Run until it returns 0."""
    return await txn.execute(
        "DELETE FROM statuses WHERE id IN (SELECT id FROM statuses WHERE account_id = %s"
        " ORDER BY id DESC LIMIT %s)",
        (account_id, batch),
    )


# -- reading ------------------------------------------------------------------


async def get_visible_txn(txn: Txn, status_id: int, viewer_id: int | None) -> Status | None:
    """The status if ``viewer_id`` (None: anonymous) may see it; for a reblog,
    only when its original may be seen too."""
    row = await txn.fetchone(
        f"SELECT {STATUS_COLUMNS} FROM statuses s WHERE s.id = %(id)s AND {visible_to_viewer('s')}"
        f" AND (s.reblog_of_id IS NULL OR EXISTS (SELECT 1 FROM statuses o"
        f"      WHERE o.id = s.reblog_of_id AND {visible_to_viewer('o')}))",
        {"id": status_id, "viewer": viewer_id},
    )
    return None if row is None else Status(**row)


async def get_status_txn(txn: Txn, status_id: int) -> Status | None:
    """The status, whoever may see it (for its owner's changes)."""
    row = await txn.fetchone(
        f"SELECT {STATUS_COLUMNS} FROM statuses s WHERE s.id = %s", (status_id,)
    )
    return None if row is None else Status(**row)


async def get_by_ap_id_txn(txn: Txn, ap_id: str) -> Status | None:
    """The remote status (or remote reblog, by its Announce) with this ActivityPub id."""
    row = await txn.fetchone(
        f"SELECT {STATUS_COLUMNS} FROM statuses s WHERE s.ap_id = %s", (ap_id,)
    )
    return None if row is None else Status(**row)


async def get_by_url_txn(txn: Txn, url: str) -> Status | None:
    """A remote post whose page is ``url`` (the oldest, should two say so)."""
    row = await txn.fetchone(
        f"SELECT {STATUS_COLUMNS} FROM statuses s WHERE s.url = %s AND s.ap_id IS NOT NULL"
        " AND s.reblog_of_id IS NULL ORDER BY s.id LIMIT 1",
        (url,),
    )
    return None if row is None else Status(**row)


async def get_by_object_uuid_txn(txn: Txn, object_uuid: str) -> Status | None:
    """The local status whose Note is ``<base_url>/objects/<object_uuid>``."""
    row = await txn.fetchone(
        f"SELECT {STATUS_COLUMNS} FROM statuses s WHERE s.object_uuid = %s AND s.ap_id IS NULL",
        (object_uuid,),
    )
    return None if row is None else Status(**row)


async def conversation_of_context_txn(txn: Txn, context: str) -> int | None:
    """The conversation of a status whose ActivityStreams ``context`` this is."""
    found = await txn.fetchval(
        "SELECT conversation_id FROM statuses WHERE context = %s ORDER BY id LIMIT 1", (context,)
    )
    return None if found is None else int(found)


async def conversation_exists_txn(txn: Txn, conversation_id: int) -> bool:
    return bool(
        await txn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM statuses WHERE conversation_id = %s)",
            (conversation_id,),
        )
    )


async def context_txn(
    txn: Txn, status: Status, viewer_id: int | None
) -> tuple[list[int], list[int]]:
    """The ids of the ancestors (oldest first) and descendants (in the order
    they were posted) of ``status`` that ``viewer_id`` may see."""
    args = {"id": status.id, "viewer": viewer_id}
    ancestors = await txn.fetchall(
        "WITH RECURSIVE up(id, parent, depth) AS ("
        "  SELECT p.id, p.in_reply_to_id, 1 FROM statuses p"
        "  WHERE p.id = (SELECT in_reply_to_id FROM statuses WHERE id = %(id)s)"
        "  UNION ALL"
        "  SELECT p.id, p.in_reply_to_id, up.depth + 1 FROM statuses p"
        "  JOIN up ON p.id = up.parent WHERE up.depth < %(limit)s)"
        f" SELECT s.id FROM up JOIN statuses s ON s.id = up.id"
        f" WHERE {visible_to_viewer('s')} ORDER BY up.depth DESC",
        {**args, "limit": ANCESTORS_LIMIT},
    )
    descendants = await txn.fetchall(
        "WITH RECURSIVE down(id) AS ("
        "  SELECT c.id FROM statuses c WHERE c.in_reply_to_id = %(id)s"
        "  UNION"
        "  SELECT c.id FROM statuses c JOIN down ON c.in_reply_to_id = down.id)"
        f" SELECT s.id FROM down JOIN statuses s ON s.id = down.id"
        f" WHERE {visible_to_viewer('s')} ORDER BY s.id LIMIT %(limit)s",
        {**args, "limit": DESCENDANTS_LIMIT},
    )
    return [r["id"] for r in ancestors], [r["id"] for r in descendants]


# Who favourited or reblogged a status: (table, column naming the status).
_WHO = {"favourites": ("favourites", "status_id"), "reblogs": ("statuses", "reblog_of_id")}


async def who_txn(txn: Txn, kind: str, status_id: int, window: Window) -> list[Listed]:
    """One page of the accounts that favourited (``kind`` "favourites") or
    reblogged ("reblogs") ``status_id``, newest first, keyed by the
    favourite's or reblog's id; deactivated and deleted accounts are left out."""
    table, column = _WHO[kind]
    ascending = window.min_id is not None
    rows = await txn.fetchall(
        f"SELECT x.id AS cursor, {ACCOUNT_COLUMNS} FROM {table} x"
        f" JOIN users u ON u.id = x.account_id"
        f" WHERE x.{column} = %(status)s AND NOT u.deactivated AND NOT u.deleted"
        f" AND (%(max_id)s::bigint IS NULL OR x.id < %(max_id)s)"
        f" AND (%(lower)s::bigint IS NULL OR x.id > %(lower)s)"
        f" ORDER BY x.id {'ASC' if ascending else 'DESC'} LIMIT %(limit)s",
        {
            "status": status_id,
            "max_id": window.max_id,
            "lower": window.min_id if ascending else window.since_id,
            "limit": window.limit,
        },
    )
    listed = [Listed(row.pop("cursor"), User(**row)) for row in rows]
    if ascending:
        listed.reverse()
    return listed


# The counts an Account shows: a remote account's are what its server
# publishes (remote_actors), anyone else's are kept by the writes here.
COUNTED = (
    "COALESCE(ra.statuses_count, ac.statuses) AS counted_statuses,"
    " COALESCE(ra.followers_count, ac.followers) AS counted_followers,"
    " COALESCE(ra.following_count, ac.following) AS counted_following"
)
_ACCOUNT_COUNTS = (
    f"SELECT ac.user_id, {COUNTED} FROM account_counts ac"
    " LEFT JOIN remote_actors ra ON ra.user_id = ac.user_id"
    " WHERE ac.user_id = ANY(%s::bigint[])"
)
AccountCounts = tuple[dict[int, FollowCounts], dict[int, int]]


async def account_counts_txn(txn: Txn, account_ids: Sequence[int]) -> AccountCounts:
    """The follow counts and ``statuses_count`` of each account (kept by the
    writes, see migration 0030; a remote account's as its server publishes)."""
    if not account_ids:
        return {}, {}
    return _account_counts(await txn.fetchall(_ACCOUNT_COUNTS, (list(set(account_ids)),)))


async def account_counts(db: Database, account_ids: Sequence[int]) -> AccountCounts:
    """:func:`account_counts_txn` in one round trip, outside a transaction."""
    if not account_ids:
        return {}, {}
    rows = await db.run_query(
        "account counts", _ACCOUNT_COUNTS, (list(set(account_ids)),), prepared=True
    )
    return _account_counts(rows)


def _account_counts(rows: list[dict[str, Any]]) -> AccountCounts:
    return (
        {
            row["user_id"]: FollowCounts(row["counted_followers"], row["counted_following"])
            for row in rows
        },
        {row["user_id"]: row["counted_statuses"] for row in rows},
    )


async def search_txn(
    txn: Txn, query: str, viewer_id: int | None, limit: int, offset: int
) -> list[int]:
    """Ids of statuses (not reblogs) whose text holds every word of
    ``query``, newest first, among those ``viewer_id`` may see."""
    rows = await txn.fetchall(
        f"SELECT s.id FROM statuses s WHERE s.reblog_of_id IS NULL"
        f" AND to_tsvector('simple', s.source) @@ plainto_tsquery('simple', %(q)s)"
        f" AND {visible_to_viewer('s')}"
        f" ORDER BY s.id DESC LIMIT %(limit)s OFFSET %(offset)s",
        {"q": query, "viewer": viewer_id, "limit": limit, "offset": offset},
    )
    return [row["id"] for row in rows]
