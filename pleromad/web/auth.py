"""From a request to a Viewer: which credentials it carries, and what a route demands.

Precedence (DECISIONS 2): an ``Authorization: Bearer`` header, then the
``access_token`` parameter, then the ``_pleroma_key`` cookie, then HTTP Basic.
Credentials that fail make the request anonymous; routes that require a user
answer 403 ``Invalid credentials.`` as the reference did.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import re
from functools import partial
from typing import cast
from urllib.parse import urlsplit
from weakref import WeakKeyDictionary

from twisted.cred.error import UnauthorizedLogin
from twisted.cred.portal import Portal
from twisted.web.iweb import IRequest

from pleromad.auth.credentials import BearerToken, LoginPassword, SessionCookie
from pleromad.auth.realm import IViewer, Viewer, build_portal
from pleromad.domain.login import login_refusal, verify_login
from pleromad.errors import Forbidden
from pleromad.runtime import Runtime
from pleromad.web.client_ip import bucket_key
from pleromad.web.params import Params

COOKIE_NAME = b"_pleroma_key"
_BEARER = re.compile(r"^\s*bearer:?\s+(.+?)\s*$", re.IGNORECASE)
_UNSAFE_METHODS = frozenset({b"POST", b"PUT", b"PATCH", b"DELETE"})

INVALID_CREDENTIALS = "Invalid credentials."


class Auth(enum.Enum):
    NONE = "none"  # credentials are not even looked at
    OPTIONAL = "optional"  # a viewer if the credentials are good, else anonymous
    REQUIRED = "required"  # a user, or 403
    READ_OR_PUBLIC = "read_or_public"  # optional; a token without `read` counts as anonymous
    APP = "app"  # an app-only token (client_credentials), or 403
    TOKEN = "token"  # any live token, a user's or an app's, or 403


# The portal of each runtime: its checkers and realm are given the domain's
# login rules here, above both, so neither imports the other.
_portals: WeakKeyDictionary[Runtime, Portal] = WeakKeyDictionary()


def portal_of(rt: Runtime) -> Portal:
    """The twisted.cred portal every request of ``rt`` logs in through."""
    portal = _portals.get(rt)
    if portal is None:
        portal = _portals[rt] = build_portal(rt, partial(verify_login, rt), login_refusal)
    return portal


async def authenticate(
    rt: Runtime, request: IRequest, params: Params, mode: Auth, scope: str | None
) -> Viewer | None:
    """The viewer a route handler gets, or the 403 the route answers instead."""
    credentials = _credentials(rt, request, params)
    viewer: Viewer | None = None
    if credentials is not None:
        try:
            _, avatar, _ = await portal_of(rt).login(credentials, None, IViewer)
            viewer = cast(Viewer, avatar)  # the realm answers IViewer with a Viewer
        except UnauthorizedLogin:
            viewer = None
    if mode is Auth.APP:
        if viewer is None or viewer.user is not None or viewer.token is None:
            raise Forbidden("Invalid credentials")
        return viewer
    if mode is Auth.TOKEN:
        if viewer is None or viewer.token is None:
            raise Forbidden(INVALID_CREDENTIALS)
        return viewer
    if viewer is not None and viewer.user is None:
        viewer = None  # an app-only token is nobody, except where an app is asked for
    if mode is Auth.READ_OR_PUBLIC:
        return viewer if viewer is not None and viewer.allows("read") else None
    if mode is Auth.REQUIRED:
        if viewer is None:
            raise Forbidden(INVALID_CREDENTIALS)
        if scope is not None and not viewer.allows(scope):
            raise Forbidden(f"Insufficient permissions: {scope}.")
    return viewer


def _credentials(
    rt: Runtime, request: IRequest, params: Params
) -> BearerToken | SessionCookie | LoginPassword | None:
    authorization = request.requestHeaders.getRawHeaders(b"authorization") or []
    for header in authorization:
        match = _BEARER.match(header.decode("latin-1"))
        if match:
            return BearerToken(match[1])
    token = params.get("access_token")
    if isinstance(token, str) and token:
        return BearerToken(token)
    cookie = request.getCookie(COOKIE_NAME)
    if cookie:
        session_id = verify_cookie(rt.cookie_secret, cookie.decode("latin-1"))
        if session_id is not None:
            if request.method in _UNSAFE_METHODS and not same_origin(rt, request):
                raise Forbidden("Cross-origin request refused")
            return SessionCookie(session_id)
    if len(authorization) == 1 and authorization[0].startswith(b"Basic "):
        try:
            decoded = base64.b64decode(authorization[0][6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        username, _, password = decoded.partition(":")
        if "\x00" in decoded:
            return None  # no account has such a name or password
        return LoginPassword(username, password, bucket_key(request, rt.config.proxy.trusted, None))
    return None


def same_origin(rt: Runtime, request: IRequest) -> bool:
    """A cookie-authenticated change must come from our own pages (or no page:
    clients that send no Origin are not browsers)."""
    origin = request.getHeader(b"origin")
    if origin is None:
        return True
    ours = urlsplit(rt.config.server.base_url)
    theirs = urlsplit(origin.decode("latin-1"))
    return (theirs.scheme, theirs.netloc) == (ours.scheme, ours.netloc)


def sign_cookie(secret: bytes, session_id: str) -> str:
    """``<session id>.<mac>``: a forged cookie is refused without a lookup."""
    return f"{session_id}.{_mac(secret, session_id)}"


def verify_cookie(secret: bytes, value: str) -> str | None:
    session_id, _, mac = value.rpartition(".")
    if session_id and hmac.compare_digest(mac, _mac(secret, session_id)):
        return session_id
    return None


def _mac(secret: bytes, session_id: str) -> str:
    return hmac.new(secret, session_id.encode("utf-8"), hashlib.sha256).hexdigest()[:32]
