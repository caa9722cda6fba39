"""Remote accounts: a ``users`` row (local = false) and what its actor
document said, in ``remote_actors``.

The users row is what follows, statuses and notifications reference; the
remote_actors row holds the addresses and the public key federation needs,
and the document as fetched, refreshed when stale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from psycopg2.extras import Json

from pleromad.db.pool import Txn
from pleromad.model import User
from pleromad.store import jobs
from pleromad.store.relationships import ACCOUNT_COLUMNS

# A copy older than this (seconds) is fetched again before it is used, or
# by a REFRESH_JOB (payload: user_id) when it is only shown.
STALE_AFTER = 24 * 3600
REFRESH_JOB = "federation.refresh_actor"


@dataclass(frozen=True)
class RemoteActor:
    """A remote account's federation addresses and key."""

    user_id: int
    host: str
    inbox: str
    shared_inbox: str | None
    outbox: str | None
    followers_url: str | None
    following_url: str | None
    key_id: str
    public_key_pem: str
    document: dict[str, Any]
    fetched_at: datetime


@dataclass(frozen=True)
class ActorRecord:
    """A validated actor document, as the rows it becomes."""

    ap_id: str
    host: str
    nickname: str
    name: str | None
    bio: str
    bio_html: str
    locked: bool
    avatar: dict[str, Any] | None
    banner: dict[str, Any] | None
    inbox: str
    shared_inbox: str | None
    outbox: str | None
    followers_url: str | None
    following_url: str | None
    key_id: str
    public_key_pem: str
    document: dict[str, Any]


@dataclass(frozen=True)
class Known:
    """An account with an ap_id, and its remote_actors row when it is remote
    and was fetched."""

    user: User
    actor: RemoteActor | None


_ACTOR_COLUMNS = ", ".join(f"ra.{f.name}" for f in fields(RemoteActor))
_USER_FIELDS = {f.name for f in fields(User)}


def _known(row: dict[str, Any] | None) -> Known | None:
    if row is None:
        return None
    user = User(**{name: row[name] for name in _USER_FIELDS})
    actor = None
    if row["ra_user_id"] is not None:
        actor = RemoteActor(
            **{f.name: row[f"ra_{f.name}"] for f in fields(RemoteActor)},
        )
    return Known(user, actor)


_SELECT = (
    f"SELECT {ACCOUNT_COLUMNS}, "
    + ", ".join(f"ra.{f.name} AS ra_{f.name}" for f in fields(RemoteActor))
    + " FROM users u LEFT JOIN remote_actors ra ON ra.user_id = u.id"
)


async def get_by_ap_id_txn(txn: Txn, ap_id: str) -> Known | None:
    """The account (local or remote) whose actor id is ``ap_id``."""
    return _known(await txn.fetchone(f"{_SELECT} WHERE u.ap_id = %s", (ap_id,)))


async def get_by_user_id_txn(txn: Txn, user_id: int) -> Known | None:
    return _known(await txn.fetchone(f"{_SELECT} WHERE u.id = %s", (user_id,)))


async def get_by_key_id_txn(txn: Txn, key_id: str) -> Known | None:
    """The remote account whose cached public key has the id ``key_id``."""
    return _known(await txn.fetchone(f"{_SELECT} WHERE ra.key_id = %s", (key_id,)))


async def get_remote_by_nickname_txn(txn: Txn, nickname: str) -> Known | None:
    """The remote account called ``nickname`` (``nick@host``, any case)."""
    return _known(
        await txn.fetchone(
            f"{_SELECT} WHERE lower(u.nickname) = lower(%s) AND NOT u.local", (nickname,)
        )
    )


async def documents_txn(txn: Txn, user_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The stored actor documents of those of ``user_ids`` that are remote."""
    if not user_ids:
        return {}
    rows = await txn.fetchall(
        "SELECT user_id, document FROM remote_actors WHERE user_id = ANY(%s::bigint[])",
        (list(user_ids),),
    )
    return {row["user_id"]: row["document"] for row in rows}


async def upsert_txn(txn: Txn, record: ActorRecord, now: float) -> User:
    """Create or refresh the remote account ``record`` describes, fetched at ``now``.

    Another account holding the nickname (an actor the server replaced with
    a new id) is renamed ``<its id>.<nickname>``, as Pleroma does, so the
    nickname follows the current actor.  A key id another account of the
    same document's server held moves to this one.
    """
    await txn.execute(
        "UPDATE users SET nickname = id::text || '.' || nickname, updated_at = now()"
        " WHERE lower(nickname) = lower(%s) AND ap_id <> %s AND NOT local",
        (record.nickname, record.ap_id),
    )
    row = await txn.fetchone(
        f"INSERT INTO users AS u (nickname, name, bio, bio_html, local, ap_id, locked,"
        f" avatar, banner)"
        f" VALUES (%(nickname)s, %(name)s, %(bio)s, %(bio_html)s, false, %(ap_id)s,"
        f" %(locked)s, %(avatar)s, %(banner)s)"
        f" ON CONFLICT (ap_id) DO UPDATE SET nickname = EXCLUDED.nickname,"
        f" name = EXCLUDED.name, bio = EXCLUDED.bio, bio_html = EXCLUDED.bio_html,"
        f" locked = EXCLUDED.locked, avatar = EXCLUDED.avatar, banner = EXCLUDED.banner,"
        f" updated_at = now()"
        f" WHERE NOT u.local AND NOT u.deleted"
        f" RETURNING {ACCOUNT_COLUMNS}",
        {
            "nickname": record.nickname,
            "name": record.name,
            "bio": record.bio,
            "bio_html": record.bio_html,
            "ap_id": record.ap_id,
            "locked": record.locked,
            "avatar": _json(record.avatar),
            "banner": _json(record.banner),
        },
    )
    if row is None:
        raise ValueError(f"{record.ap_id} is a local or deleted account")
    user = User(**row)
    await txn.execute(
        "DELETE FROM remote_actors WHERE key_id = %s AND user_id <> %s",
        (record.key_id, user.id),
    )
    await txn.execute(
        "INSERT INTO remote_actors (user_id, host, inbox, shared_inbox, outbox,"
        " followers_url, following_url, key_id, public_key_pem, document, fetched_at)"
        " VALUES (%(user_id)s, %(host)s, %(inbox)s, %(shared_inbox)s, %(outbox)s,"
        " %(followers_url)s, %(following_url)s, %(key_id)s, %(pem)s, %(document)s, to_timestamp(%(now)s))"
        " ON CONFLICT (user_id) DO UPDATE SET host = EXCLUDED.host, inbox = EXCLUDED.inbox,"
        " shared_inbox = EXCLUDED.shared_inbox, outbox = EXCLUDED.outbox,"
        " followers_url = EXCLUDED.followers_url, following_url = EXCLUDED.following_url,"
        " key_id = EXCLUDED.key_id, public_key_pem = EXCLUDED.public_key_pem,"
        " document = EXCLUDED.document, fetched_at = EXCLUDED.fetched_at",
        {
            "user_id": user.id,
            "host": record.host,
            "inbox": record.inbox,
            "shared_inbox": record.shared_inbox,
            "outbox": record.outbox,
            "followers_url": record.followers_url,
            "following_url": record.following_url,
            "key_id": record.key_id,
            "pem": record.public_key_pem,
            "document": Json(record.document),
            "now": now,
        },
    )
    return user


async def set_counts_txn(
    txn: Txn, user_id: int, followers: int, following: int, statuses: int
) -> None:
    """Record the counts the account's server publishes."""
    await txn.execute(
        "UPDATE remote_actors SET followers_count = %s, following_count = %s,"
        " statuses_count = %s WHERE user_id = %s",
        (followers, following, statuses, user_id),
    )


async def queue_refreshes_txn(txn: Txn, user_ids: Sequence[int], fetched_before: float) -> None:
    """Queue a :data:`REFRESH_JOB` for each of ``user_ids`` that is a remote
    account in use whose actor was last fetched before ``fetched_before``,
    unless one is already waiting."""
    if not user_ids:
        return
    rows = await txn.fetchall(
        "SELECT ra.user_id FROM remote_actors ra JOIN users u ON u.id = ra.user_id"
        " WHERE ra.user_id = ANY(%s::bigint[]) AND ra.fetched_at < to_timestamp(%s)"
        " AND NOT u.deleted",
        (list(user_ids), fetched_before),
    )
    for row in rows:
        await jobs.enqueue_once_txn(
            txn, REFRESH_JOB, str(row["user_id"]), {"user_id": row["user_id"]}, max_attempts=3
        )


def _json(value: dict[str, Any] | None) -> Json | None:
    return None if value is None else Json(value)
