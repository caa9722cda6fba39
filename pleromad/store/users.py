"""Users: local accounts (and, later, remote ones) in one table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from psycopg2.extras import Json

from pleromad.db.pool import Txn
from pleromad.model import KeyPair, User
from pleromad.store import actor_keys

_COLUMNS = ", ".join(f.name for f in fields(User))

# Columns an update may set; everything else changes through its own function.
_UPDATABLE = frozenset(
    {
        "name",
        "bio",
        "bio_html",
        "locked",
        "is_admin",
        "is_moderator",
        "deactivated",
        "confirmation_pending",
        "confirmation_token",
        "hide_favorites",
        "hide_followers",
        "hide_follows",
        "no_rich_text",
        "show_role",
        "skip_thread_containment",
        "default_scope",
        "notification_settings",
        "settings_store",
        "tags",
        "avatar",
        "banner",
        "background",
        "password_hash",
        "password_reset_pending",
    }
)


def _user(row: dict[str, Any] | None) -> User | None:
    return None if row is None else User(**row)


async def create_user_txn(
    txn: Txn,
    *,
    nickname: str,
    email: str | None,
    name: str | None,
    bio: str,
    bio_html: str,
    password_hash: str | None,
    ap_id_prefix: str,
    confirmation_pending: bool = False,
    confirmation_token: str | None = None,
    is_admin: bool = False,
    is_moderator: bool = False,
    locked: bool = False,
    key_pair: KeyPair | None = None,
) -> User:
    """Insert a local user, with its signing key pair when given (every
    account the API or the operator creates has one); the unique indexes
    reject a taken nickname or e-mail."""
    row = await txn.fetchone(
        f"INSERT INTO users (nickname, email, name, bio, bio_html, password_hash, ap_id,"
        f" confirmation_pending, confirmation_token, is_admin, is_moderator, locked)"
        f" VALUES (%(nickname)s, %(email)s, %(name)s, %(bio)s, %(bio_html)s, %(hash)s,"
        f" %(ap_id)s, %(pending)s, %(token)s, %(admin)s, %(moderator)s, %(locked)s)"
        f" RETURNING {_COLUMNS}",
        {
            "nickname": nickname,
            "email": email,
            "name": name,
            "bio": bio,
            "bio_html": bio_html,
            "hash": password_hash,
            "ap_id": f"{ap_id_prefix}/users/{nickname}",
            "pending": confirmation_pending,
            "token": confirmation_token,
            "admin": is_admin,
            "moderator": is_moderator,
            "locked": locked,
        },
    )
    assert row is not None
    user = User(**row)
    if key_pair is not None:
        await actor_keys.insert_txn(txn, user.id, key_pair)
    return user


async def get_user_txn(txn: Txn, user_id: int) -> User | None:
    return _user(await txn.fetchone(f"SELECT {_COLUMNS} FROM users WHERE id = %s", (user_id,)))


async def get_user_by_nickname_txn(txn: Txn, nickname: str) -> User | None:
    return _user(
        await txn.fetchone(
            f"SELECT {_COLUMNS} FROM users WHERE lower(nickname) = lower(%s)", (nickname,)
        )
    )


async def ids_by_ap_id_txn(txn: Txn, ap_ids: Sequence[str]) -> dict[str, int]:
    """The accounts, local or remote, with these actor ids (deleted ones are
    no one), by actor id."""
    rows = await txn.fetchall(
        "SELECT ap_id, id FROM users WHERE ap_id = ANY(%s::text[]) AND NOT deleted",
        (list(ap_ids),),
    )
    return {row["ap_id"]: row["id"] for row in rows}


async def get_user_by_login_txn(txn: Txn, login: str) -> User | None:
    """The user a login name means: a nickname first, then an e-mail address."""
    row = await txn.fetchone(
        f"SELECT {_COLUMNS} FROM users"
        f" WHERE lower(nickname) = lower(%(login)s) OR lower(email) = lower(%(login)s)"
        f" ORDER BY lower(nickname) = lower(%(login)s) DESC LIMIT 1",
        {"login": login},
    )
    return _user(row)


async def nickname_or_email_taken_txn(
    txn: Txn, nickname: str, email: str | None
) -> tuple[bool, bool]:
    row = await txn.fetchone(
        "SELECT bool_or(lower(nickname) = lower(%(n)s)) AS nickname,"
        " bool_or(lower(email) = lower(%(e)s)) AS email FROM users"
        " WHERE lower(nickname) = lower(%(n)s) OR lower(email) = lower(%(e)s)",
        {"n": nickname, "e": email},
    )
    assert row is not None
    return bool(row["nickname"]), bool(row["email"])


async def update_user_txn(txn: Txn, /, user_id: int, **changes: Any) -> User | None:
    """Set the given columns; returns the updated user."""
    unknown = set(changes) - _UPDATABLE
    if unknown:
        raise ValueError(f"not updatable here: {sorted(unknown)}")
    if not changes:
        return await get_user_txn(txn, user_id)
    assignments = ", ".join(f"{column} = %({column})s" for column in changes)
    values = {key: _adapt(value) for key, value in changes.items()}
    values["id"] = user_id
    return _user(
        await txn.fetchone(
            f"UPDATE users SET {assignments}, updated_at = now() WHERE id = %(id)s"
            f" RETURNING {_COLUMNS}",
            values,
        )
    )


def _adapt(value: Any) -> Any:
    return Json(value) if isinstance(value, dict) else value


async def get_user_for_update_txn(txn: Txn, user_id: int) -> User | None:
    """The user, its row locked until the transaction ends (read-modify-write)."""
    return _user(
        await txn.fetchone(f"SELECT {_COLUMNS} FROM users WHERE id = %s FOR UPDATE", (user_id,))
    )


async def count_active_local_users_txn(txn: Txn) -> int:
    """Local accounts that are neither deleted nor deactivated."""
    return int(
        await txn.fetchval(
            "SELECT count(*) FROM users WHERE local AND NOT deleted AND NOT deactivated"
        )
    )


def _like_prefix(text: str) -> str:
    """A LIKE pattern matching what starts with ``text``, taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


async def search_users_txn(
    txn: Txn,
    text: str,
    *,
    limit: int,
    offset: int = 0,
    hide_unconfirmed: bool,
    followed_by: int | None = None,
) -> list[User]:
    """Accounts whose nickname or name starts with ``text`` (any case), and
    that ``followed_by`` follows (an accepted follow) when it is given.

    An exact nickname comes first, then nickname matches before name-only
    matches, shorter nicknames first.  Deleted and deactivated accounts are
    left out, and unconfirmed ones when ``hide_unconfirmed``.  The
    ``lower(...) text_pattern_ops`` indexes serve the prefix matches.
    """
    rows = await txn.fetchall(
        f"SELECT {_COLUMNS} FROM users"
        f" WHERE NOT deleted AND NOT deactivated"
        f" AND NOT (%(hide)s AND confirmation_pending)"
        f" AND (lower(nickname) LIKE lower(%(pattern)s) OR lower(name) LIKE lower(%(pattern)s))"
        f" AND (%(follower)s::bigint IS NULL OR id IN (SELECT followee_id FROM follows"
        f"      WHERE follower_id = %(follower)s AND state = 'accepted'))"
        f" ORDER BY lower(nickname) = lower(%(text)s) DESC,"
        f" lower(nickname) LIKE lower(%(pattern)s) DESC,"
        f" length(nickname), lower(nickname), id"
        f" LIMIT %(limit)s OFFSET %(offset)s",
        {
            "text": text,
            "pattern": _like_prefix(text),
            "hide": hide_unconfirmed,
            "follower": followed_by,
            "limit": limit,
            "offset": offset,
        },
    )
    return [User(**row) for row in rows]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def admin_list_users_txn(
    txn: Txn,
    *,
    query: str | None,
    filters: frozenset[str],
    limit: int,
    offset: int,
    name: str | None = None,
    email: str | None = None,
    tags: Sequence[str] = (),
) -> tuple[list[User], int]:
    """One page of accounts for the Admin API, ordered by nickname, and how
    many match in all.  ``query`` is a case-insensitive substring of the
    nickname, ``name`` one of the display name, ``email`` the exact address
    (case-insensitive); ``tags`` matches accounts holding any of them;
    ``filters`` holds any of local, external, active, deactivated, is_admin,
    is_moderator.  Every given criterion must hold.  Deleted accounts never
    show."""
    conditions = ["NOT deleted"]
    args: dict[str, Any] = {"limit": limit, "offset": offset}
    if query:
        conditions.append("lower(nickname) LIKE lower(%(pattern)s)")
        args["pattern"] = f"%{_escape_like(query)}%"
    if name:
        conditions.append("lower(coalesce(name, nickname)) LIKE lower(%(name)s)")
        args["name"] = f"%{_escape_like(name)}%"
    if email:
        conditions.append("lower(email) = lower(%(email)s)")
        args["email"] = email
    if tags:
        conditions.append("tags && %(tags)s::text[]")
        args["tags"] = list(tags)
    for flag, condition in (
        ("local", "local"),
        ("external", "NOT local"),
        ("active", "NOT deactivated"),
        ("deactivated", "deactivated"),
        ("is_admin", "is_admin"),
        ("is_moderator", "is_moderator"),
    ):
        if flag in filters:
            conditions.append(condition)
    where = " AND ".join(conditions)
    total = int(await txn.fetchval(f"SELECT count(*) FROM users WHERE {where}", args))
    rows = await txn.fetchall(
        f"SELECT {_COLUMNS} FROM users WHERE {where}"
        f" ORDER BY lower(nickname), id LIMIT %(limit)s OFFSET %(offset)s",
        args,
    )
    return [User(**row) for row in rows], total
