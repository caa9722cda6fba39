"""OAuth 2: registering apps, authorizing them, and the grants that issue tokens.

Only the four flat scopes of the reference exist (``read``, ``write``,
``follow``, ``push``); Mastodon's ``read:statuses``-style sub-scopes are
refused at registration, because a token holding one would satisfy no route.
Tokens never expire (DECISIONS 2): ``expires_in`` is reported as
:data:`TOKEN_LIFETIME` for clients that insist on one, and a refresh still
rotates the pair.  Deactivated, deleted and (where confirmation is required)
unconfirmed accounts get no token by any grant (DECISIONS 4).
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pleromad.auth.credentials import LoginFailed
from pleromad.config import Config
from pleromad.db.pool import Txn
from pleromad.domain.login import login_refusal, verify_login
from pleromad.errors import ApiError
from pleromad.model import App, IssuedToken, User
from pleromad.store import oauth, users

if TYPE_CHECKING:
    from pleromad.runtime import Runtime

SCOPES = ("read", "write", "follow", "push")
DEFAULT_APP_SCOPES = ["read"]
OOB_REDIRECT_URI = "urn:ietf:wg:oauth:2.0:oob"
# Authorization codes are exchanged at once by clients; ten minutes as the reference.
CODE_TTL = 600.0
# Reported, never enforced (DECISIONS 2): ten years, within any client's int32.
TOKEN_LIFETIME = 10 * 365 * 24 * 3600

GRANT_TYPES = frozenset({"password", "authorization_code", "client_credentials", "refresh_token"})

INVALID_CREDENTIALS = "Invalid credentials"
OUT_OF_SCOPE = "This action is outside the authorized scopes"

_SCOPE_SEPARATORS = re.compile(r"[\s,]+")
_URI_FORBIDDEN = re.compile(r"[\x00-\x20\x7f]")
# Compared against when the client_id is unknown, so both cost the same.
_DUMMY_SECRET = oauth.new_secret()


class InvalidCredentials(ApiError):
    """Bad client, user, code or token at the token endpoint: the reference's 400."""

    status = 400

    def __init__(self) -> None:
        super().__init__(INVALID_CREDENTIALS)


class LoginRefused(ApiError):
    """The account proved who it is but may not log in (disabled, unconfirmed)."""

    status = 403


class OutOfScope(ApiError):
    """Requested scopes empty or beyond what the app registered."""

    status = 400

    def __init__(self) -> None:
        super().__init__(OUT_OF_SCOPE)


@dataclass(frozen=True)
class Granted:
    """A token just issued, and the account it acts for (None: app-only)."""

    issued: IssuedToken
    user: User | None


@dataclass(frozen=True)
class Authorized:
    """What a successful authorize-form login produced: the code for the
    client and the cookie session for the browser."""

    code: str
    session_id: str


def parse_scopes(value: Any) -> list[str]:
    """A ``scope`` parameter as a list: a string split on runs of whitespace
    and commas, or a list of such strings; empty items dropped, repeats once."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    scopes: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ApiError("Invalid value for scope: expected a string", status=400)
        for scope in _SCOPE_SEPARATORS.split(item.strip()):
            if scope and scope not in scopes:
                scopes.append(scope)
    return scopes


def granted_scopes(requested: list[str], allowed: list[str]) -> list[str]:
    """The scopes to grant: those requested (all of ``allowed`` when none
    were), which must lie within ``allowed``; OutOfScope otherwise."""
    scopes = requested or list(allowed)
    if not scopes or not set(scopes) <= set(allowed):
        raise OutOfScope()
    return scopes


# -- apps -----------------------------------------------------------------


async def register_app(
    rt: Runtime,
    client_name: str | None,
    redirect_uris: str | list[str] | None,
    scope: Any,
    website: str | None,
) -> App:
    """Create an app; 422 naming what is wrong with the request otherwise."""
    uris = _redirect_uris(redirect_uris)
    blank = [
        "can't be blank"
        for value in (client_name, " ".join(uris))
        if value is None or not value.strip()
    ]
    if blank:
        raise ApiError(", ".join(blank), status=422)
    assert client_name is not None
    bad = [uri for uri in uris if not _valid_redirect_uri(uri)]
    if bad:
        raise ApiError(
            f"Invalid redirect URI: {bad[0]} (an absolute URI without a fragment is required)",
            status=422,
        )
    scopes = parse_scopes(scope) or list(DEFAULT_APP_SCOPES)
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise ApiError(
            f"Unknown scope: {', '.join(unknown)} (known scopes: {', '.join(SCOPES)})",
            status=422,
        )
    stored_uris = redirect_uris if isinstance(redirect_uris, str) else " ".join(uris)
    return await rt.db.run_interaction(
        "register app",
        oauth.create_app_txn,
        client_name,
        stored_uris,
        scopes,
        website or None,
    )


def _redirect_uris(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [uri for item in items for uri in item.split()]


def _valid_redirect_uri(uri: str) -> bool:
    if _URI_FORBIDDEN.search(uri):
        return False
    try:
        parts = urlsplit(uri)
    except ValueError:
        return False
    return bool(parts.scheme) and not parts.fragment and "#" not in uri


async def find_app(rt: Runtime, client_id: str | None) -> App | None:
    if not client_id:
        return None
    return await rt.db.run_interaction(
        "app by client_id", oauth.get_app_by_client_id_txn, client_id
    )


async def app_of_token(rt: Runtime, app_id: int) -> App | None:
    return await rt.db.run_interaction("app of token", oauth.get_app_txn, app_id)


async def authenticate_client(rt: Runtime, client_id: str | None, client_secret: str | None) -> App:
    """The app whose id and secret these are; InvalidCredentials otherwise.
    The secret is compared in constant time, also for an unknown id."""
    app = await find_app(rt, client_id)
    expected = app.client_secret if app is not None else _DUMMY_SECRET
    matches = hmac.compare_digest(expected.encode("utf-8"), (client_secret or "").encode("utf-8"))
    if app is None or not matches or not client_secret:
        raise InvalidCredentials()
    return app


# -- the authorize form ---------------------------------------------------


async def authorize(
    rt: Runtime,
    app: App,
    user: User,
    scopes: list[str],
    redirect_uri: str,
    old_session_id: str | None,
) -> Authorized:
    """A code for the client and a cookie session (over a token of the same
    app and scopes) for the browser, replacing the browser's old session."""
    return await rt.db.run_interaction(
        "authorize",
        _authorize_txn,
        app.id,
        user.id,
        scopes,
        redirect_uri,
        old_session_id,
        rt.clock.seconds() + CODE_TTL,
    )


async def _authorize_txn(
    txn: Txn,
    app_id: int,
    user_id: int,
    scopes: list[str],
    redirect_uri: str,
    old_session_id: str | None,
    code_valid_until: float,
) -> Authorized:
    if old_session_id is not None:
        await oauth.delete_session_txn(txn, old_session_id)
    code = await oauth.create_authorization_txn(
        txn, app_id, user_id, scopes, redirect_uri, code_valid_until
    )
    issued = await oauth.create_token_txn(txn, app_id, user_id, scopes)
    session_id = await oauth.create_session_txn(txn, issued.token.id)
    return Authorized(code, session_id)


async def sign_out(rt: Runtime, session_id: str) -> None:
    """Revoke a cookie session and the token behind it."""
    await rt.db.run_interaction("sign out", oauth.delete_session_txn, session_id)


# -- grants ---------------------------------------------------------------


def refuse(user: User, config: Config) -> None:
    refusal = login_refusal(user, config)
    if refusal is not None:
        raise LoginRefused(refusal)


async def password_grant(
    rt: Runtime, app: App, username: str, password: str, client_key: str, requested: list[str]
) -> Granted:
    try:
        user = await verify_login(rt, username, password, client_key)
    except LoginFailed:
        raise InvalidCredentials() from None
    refuse(user, rt.config)
    try:
        scopes = granted_scopes(requested, app.scopes)
    except OutOfScope:
        raise InvalidCredentials() from None
    issued = await rt.db.run_interaction(
        "password grant", oauth.create_token_txn, app.id, user.id, scopes
    )
    return Granted(issued, user)


async def code_grant(rt: Runtime, app: App, code: str, redirect_uri: str | None) -> Granted:
    """Exchange a live, unused code of this app; the account must still be
    allowed to log in (DECISIONS 4).  A refused exchange leaves the code unused."""
    return await rt.db.run_interaction(
        "authorization code grant",
        _code_grant_txn,
        rt.config,
        app.id,
        code,
        redirect_uri,
        rt.clock.seconds(),
    )


async def _code_grant_txn(
    txn: Txn, config: Config, app_id: int, code: str, redirect_uri: str | None, now: float
) -> Granted:
    authorization = await oauth.consume_authorization_txn(txn, app_id, code, now)
    if authorization is None:
        raise InvalidCredentials()
    # RFC 6749 4.1.3: when the client names its redirect URI, it must be the one authorized.
    if redirect_uri and redirect_uri != authorization["redirect_uri"]:
        raise InvalidCredentials()
    user = await users.get_user_txn(txn, authorization["user_id"])
    if user is None:
        raise InvalidCredentials()
    refuse(user, config)
    issued = await oauth.create_token_txn(txn, app_id, user.id, authorization["scopes"])
    return Granted(issued, user)


async def issue_token(rt: Runtime, app_id: int, user: User) -> IssuedToken:
    """A token of the app, with all its scopes, for an account it just
    registered (Mastodon's POST /api/v1/accounts)."""
    return await rt.db.run_interaction("registration token", _issue_token_txn, app_id, user.id)


async def _issue_token_txn(txn: Txn, app_id: int, user_id: int) -> IssuedToken:
    app = await oauth.get_app_txn(txn, app_id)
    assert app is not None  # the token presented belongs to it
    return await oauth.create_token_txn(txn, app_id, user_id, app.scopes)


async def client_credentials_grant(rt: Runtime, app: App) -> Granted:
    """An app-only token with all of the app's scopes (the requested ones are ignored)."""
    issued = await rt.db.run_interaction(
        "client credentials grant", oauth.create_token_txn, app.id, None, app.scopes
    )
    return Granted(issued, None)


async def refresh_grant(rt: Runtime, app: App, refresh_token: str) -> Granted:
    """A new access and refresh token for the same account and scopes; the
    old pair dies in the same transaction."""
    return await rt.db.run_interaction(
        "refresh token grant", _refresh_grant_txn, rt.config, app.id, refresh_token
    )


async def _refresh_grant_txn(txn: Txn, config: Config, app_id: int, refresh_token: str) -> Granted:
    issued = await oauth.refresh_token_txn(txn, app_id, refresh_token)
    if issued is None:
        raise InvalidCredentials()
    user = None
    if issued.token.user_id is not None:
        user = await users.get_user_txn(txn, issued.token.user_id)
        if user is None:
            raise InvalidCredentials()
        refuse(user, config)
    return Granted(issued, user)


async def revoke(rt: Runtime, client_id: str | None, client_secret: str | None, token: str) -> None:
    """Delete ``token`` (access or refresh secret) if it belongs to the
    authenticated app; anything else is silently nothing (RFC 7009)."""
    try:
        app = await authenticate_client(rt, client_id, client_secret)
    except InvalidCredentials:
        return
    await rt.db.run_interaction("revoke token", oauth.revoke_token_txn, app.id, token)
