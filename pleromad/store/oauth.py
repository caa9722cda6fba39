"""OAuth apps, authorization codes, access tokens and cookie sessions.

Secrets given to clients are stored as SHA-256 digests (see the migration);
callers pass and receive the secrets themselves and never see a digest.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from pleromad.db.pool import Database, Txn
from pleromad.model import App, IssuedToken, Token, User
from pleromad.store.relationships import ACCOUNT_COLUMNS


def new_secret() -> str:
    """32 random bytes, URL-safe base64 without padding (43 characters)."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


_APP = "id, client_name, redirect_uris, scopes, website, client_id, client_secret"
_TOKEN = "id, app_id, user_id, scopes, created_at"
# A token with its account (none for an app-only token), as one row.
_TOKEN_AND_USER = (
    ", ".join(f"t.{c.strip()} AS token_{c.strip()}" for c in _TOKEN.split(","))
    + f", {ACCOUNT_COLUMNS} FROM oauth_tokens t LEFT JOIN users u ON u.id = t.user_id"
)


async def create_app_txn(
    txn: Txn, client_name: str, redirect_uris: str, scopes: list[str], website: str | None
) -> App:
    row = await txn.fetchone(
        f"INSERT INTO apps (client_name, redirect_uris, scopes, website, client_id, client_secret)"
        f" VALUES (%s, %s, %s, %s, %s, %s) RETURNING {_APP}",
        (client_name, redirect_uris, scopes, website, new_secret(), new_secret()),
    )
    assert row is not None
    return App(**row)


async def get_app_txn(txn: Txn, app_id: int) -> App | None:
    row = await txn.fetchone(f"SELECT {_APP} FROM apps WHERE id = %s", (app_id,))
    return None if row is None else App(**row)


async def get_app_by_client_id_txn(txn: Txn, client_id: str) -> App | None:
    row = await txn.fetchone(f"SELECT {_APP} FROM apps WHERE client_id = %s", (client_id,))
    return None if row is None else App(**row)


async def create_authorization_txn(
    txn: Txn, app_id: int, user_id: int, scopes: list[str], redirect_uri: str, valid_until: float
) -> str:
    """A single-use authorization code valid until ``valid_until`` (seconds
    since the epoch)."""
    code = new_secret()
    await txn.execute(
        "INSERT INTO oauth_authorizations (code_hash, app_id, user_id, scopes, redirect_uri,"
        " valid_until) VALUES (%s, %s, %s, %s, %s, to_timestamp(%s))",
        (digest(code), app_id, user_id, scopes, redirect_uri, valid_until),
    )
    return code


async def consume_authorization_txn(
    txn: Txn, app_id: int, code: str, now: float
) -> dict[str, Any] | None:
    """Mark a code of this app that is unused and live at ``now`` used; its
    user and scopes, or None."""
    return await txn.fetchone(
        "UPDATE oauth_authorizations SET used = true"
        " WHERE code_hash = %s AND app_id = %s AND NOT used AND valid_until > to_timestamp(%s)"
        " RETURNING user_id, scopes, redirect_uri",
        (digest(code), app_id, now),
    )


async def create_token_txn(
    txn: Txn, app_id: int, user_id: int | None, scopes: list[str]
) -> IssuedToken:
    access, refresh = new_secret(), new_secret()
    row = await txn.fetchone(
        f"INSERT INTO oauth_tokens (token_hash, refresh_token_hash, app_id, user_id, scopes)"
        f" VALUES (%s, %s, %s, %s, %s) RETURNING {_TOKEN}",
        (digest(access), digest(refresh), app_id, user_id, scopes),
    )
    assert row is not None
    return IssuedToken(Token(**row), access, refresh)


async def token_viewer(db: Database, access_token: str) -> tuple[Token, User | None] | None:
    """The token ``access_token`` and its account, in one round trip: what
    authenticating a request with it needs."""
    return _token_and_user(
        await db.run_query(
            "token lookup",
            f"SELECT {_TOKEN_AND_USER} WHERE t.token_hash = %s",
            (digest(access_token),),
            prepared=True,
        )
    )


def _token_and_user(rows: list[dict[str, Any]]) -> tuple[Token, User | None] | None:
    if not rows:
        return None
    row = rows[0]
    token = Token(**{name: row.pop(f"token_{name}") for name in _TOKEN.split(", ")})
    return token, None if row["id"] is None else User(**row)


async def refresh_token_txn(txn: Txn, app_id: int, refresh_token: str) -> IssuedToken | None:
    """Replace the token holding ``refresh_token`` with a new pair (same user, scopes)."""
    old = await txn.fetchone(
        "DELETE FROM oauth_tokens WHERE refresh_token_hash = %s AND app_id = %s"
        " RETURNING user_id, scopes",
        (digest(refresh_token), app_id),
    )
    if old is None:
        return None
    return await create_token_txn(txn, app_id, old["user_id"], old["scopes"])


async def revoke_token_txn(txn: Txn, app_id: int, token: str) -> bool:
    """Delete the token (access or refresh secret) if it belongs to the app."""
    hashed = digest(token)
    deleted = await txn.execute(
        "DELETE FROM oauth_tokens WHERE app_id = %s AND (token_hash = %s OR refresh_token_hash = %s)",
        (app_id, hashed, hashed),
    )
    return deleted > 0


async def delete_user_tokens_txn(txn: Txn, user_id: int) -> int:
    """Sign the user out everywhere: tokens, their cookie sessions, pending codes."""
    await txn.execute("DELETE FROM oauth_authorizations WHERE user_id = %s", (user_id,))
    return await txn.execute("DELETE FROM oauth_tokens WHERE user_id = %s", (user_id,))


async def create_session_txn(txn: Txn, token_id: int) -> str:
    session_id = new_secret()
    await txn.execute(
        "INSERT INTO sessions (id_hash, token_id) VALUES (%s, %s)", (digest(session_id), token_id)
    )
    return session_id


async def session_viewer(db: Database, session_id: str) -> tuple[Token, User | None] | None:
    """The token behind the cookie session ``session_id`` and its account,
    in one round trip."""
    return _token_and_user(
        await db.run_query(
            "session lookup",
            f"SELECT {_TOKEN_AND_USER} JOIN sessions s ON s.token_id = t.id WHERE s.id_hash = %s",
            (digest(session_id),),
            prepared=True,
        )
    )


async def delete_session_txn(txn: Txn, session_id: str) -> None:
    """Sign out a cookie: the session and the token behind it."""
    await txn.execute(
        "DELETE FROM oauth_tokens WHERE id IN (SELECT token_id FROM sessions WHERE id_hash = %s)",
        (digest(session_id),),
    )
