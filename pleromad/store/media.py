"""Media: one row per stored file an account uploaded, and per attachment
of a remote post (a reference to the remote file: no path, no size)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from pleromad.db.pool import Txn
from pleromad.model import Media, NewMedia

# What a row is for; only attachments may be attached to statuses.
ATTACHMENT = "attachment"
PURPOSES = frozenset({ATTACHMENT, "avatar", "banner", "background", "mascot"})


@dataclass(frozen=True)
class RemoteAttachment:
    """An attachment of a remote post, by reference."""

    url: str
    mime_type: str
    description: str
    blurhash: str | None = None
    width: int | None = None
    height: int | None = None


_COLUMNS = ", ".join(f.name for f in fields(Media))


def _media(row: dict[str, Any] | None) -> Media | None:
    return None if row is None else Media(**row)


async def insert_media_txn(txn: Txn, user_id: int, new: NewMedia) -> Media:
    if new.purpose not in PURPOSES:
        raise ValueError(f"not a media purpose: {new.purpose!r}")
    row = await txn.fetchone(
        f"INSERT INTO media (user_id, purpose, path, url, mime_type, size, description)"
        f" VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING {_COLUMNS}",
        (user_id, new.purpose, new.path, new.url, new.mime_type, new.size, new.description),
    )
    assert row is not None
    return Media(**row)


async def get_media_txn(txn: Txn, media_id: int) -> Media | None:
    return _media(await txn.fetchone(f"SELECT {_COLUMNS} FROM media WHERE id = %s", (media_id,)))


async def get_user_attachments_txn(txn: Txn, user_id: int, media_ids: list[int]) -> list[Media]:
    """The attachments among ``media_ids`` that ``user_id`` uploaded, in the
    order asked (for statuses: DECISIONS 22)."""
    rows = await txn.fetchall(
        f"SELECT {_COLUMNS} FROM media WHERE id = ANY(%s) AND user_id = %s AND purpose = %s",
        (media_ids, user_id, ATTACHMENT),
    )
    found = {row["id"]: Media(**row) for row in rows}
    return [found[i] for i in media_ids if i in found]


async def set_description_txn(
    txn: Txn, media_id: int, user_id: int, description: str
) -> Media | None:
    """Describe the owner's attachment; None when it is not theirs (or unknown)."""
    return _media(
        await txn.fetchone(
            f"UPDATE media SET description = %s"
            f" WHERE id = %s AND user_id = %s AND purpose = %s RETURNING {_COLUMNS}",
            (description, media_id, user_id, ATTACHMENT),
        )
    )


async def delete_user_media_txn(
    txn: Txn, user_id: int, purpose: str, *, keep: int | None = None
) -> list[str]:
    """Delete the user's rows for ``purpose`` (except ``keep``); their paths."""
    rows = await txn.fetchall(
        "DELETE FROM media WHERE user_id = %s AND purpose = %s AND id IS DISTINCT FROM %s"
        " RETURNING path",
        (user_id, purpose, keep),
    )
    return [row["path"] for row in rows]


async def get_user_media_for_txn(txn: Txn, user_id: int, purpose: str) -> Media | None:
    """The user's newest row for ``purpose`` (e.g. its mascot)."""
    return _media(
        await txn.fetchone(
            f"SELECT {_COLUMNS} FROM media WHERE user_id = %s AND purpose = %s"
            f" ORDER BY id DESC LIMIT 1",
            (user_id, purpose),
        )
    )


async def some_user_media_txn(txn: Txn, user_id: int, limit: int) -> list[Media]:
    """Up to ``limit`` of the user's rows, any purpose."""
    rows = await txn.fetchall(
        f"SELECT {_COLUMNS} FROM media WHERE user_id = %s ORDER BY id LIMIT %s",
        (user_id, limit),
    )
    return [Media(**row) for row in rows]


async def delete_media_rows_txn(txn: Txn, media_ids: list[int]) -> None:
    await txn.execute("DELETE FROM media WHERE id = ANY(%s)", (media_ids,))


async def attach_remote_txn(
    txn: Txn, status_id: int, user_id: int, attachments: Sequence[RemoteAttachment]
) -> None:
    """Record ``attachments`` as ``user_id``'s and attach them, in order, to
    ``status_id`` (a status without attachments)."""
    if not attachments:
        return
    columns = [[getattr(a, f.name) for a in attachments] for f in fields(RemoteAttachment)]
    await txn.execute(
        "WITH a AS (SELECT next_id() AS id, a.* FROM unnest(%s::text[], %s::text[],"
        "   %s::text[], %s::text[], %s::int[], %s::int[])"
        "   WITH ORDINALITY AS a(url, mime_type, description, blurhash, width, height, position)),"
        " new AS (INSERT INTO media (id, user_id, purpose, url, mime_type, description,"
        "   blurhash, width, height)"
        "   SELECT a.id, %s, %s, a.url, a.mime_type, a.description, a.blurhash, a.width,"
        "   a.height FROM a)"
        " INSERT INTO status_media (status_id, media_id, position)"
        " SELECT %s, a.id, a.position FROM a",
        (*columns, user_id, ATTACHMENT, status_id),
    )


async def detach_remote_txn(txn: Txn, status_id: int) -> None:
    """Remove the remote attachments of ``status_id`` (rows only: there are no files)."""
    await txn.execute(
        "DELETE FROM media WHERE path IS NULL"
        " AND id IN (SELECT media_id FROM status_media WHERE status_id = %s)",
        (status_id,),
    )
