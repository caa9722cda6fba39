"""The portal: credentials in, a Viewer out.

Checkers turn credentials into a :class:`Grant` (whose token, which user);
the realm turns a grant into a :class:`Viewer`, refusing accounts that are
deactivated, deleted or unconfirmed where confirmation is required, so that
every authentication method locks them out the same way, at once.  Our
checkers read the account together with the credentials (a token and its
user are one query, one round trip), so the realm reads nothing more.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.error import UnauthorizedLogin
from twisted.cred.portal import IRealm, Portal
from twisted.internet.defer import Deferred
from twisted.plugin import IPlugin, getPlugins
from zope.interface import Attribute, Interface, implementer

import twisted.plugins
from pleromad.auth.credentials import IBearerToken, ILoginPassword, ISessionCookie, LoginFailed
from pleromad.config import Config
from pleromad.model import Token, User
from pleromad.store import oauth, users

if TYPE_CHECKING:
    from pleromad.runtime import Runtime

# The login rules live in domain/, above this package; the portal is given them.
# (login, password, client key) -> the account, or LoginFailed / Throttled.
VerifyLogin = Callable[[str, str, str], Awaitable[User]]
# Why an account that proved its identity may still not act, or None.
LoginRefusal = Callable[[User, Config], str | None]


class IViewer(Interface):
    """The avatar interface: who is making a request."""


@dataclass(frozen=True)
class Grant:
    """What a checker vouches for: a user (None for an app-only token) and
    the token used (None for a password, which carries no scopes); ``user``
    is the account when the checker read it already, else the realm reads it."""

    user_id: int | None
    token: Token | None
    user: User | None = None


@implementer(IViewer)
@dataclass(frozen=True)
class Viewer:
    user: User | None
    token: Token | None

    def allows(self, scope: str) -> bool:
        """Scopes limit tokens only; a password is the account's full power."""
        return self.token is None or scope in self.token.scopes


class ICheckerFactory(IPlugin):
    """A Twisted plugin adding (or replacing, by credentials interface) a checker."""

    name = Attribute("a short name for logs")

    def build(rt: Runtime) -> ICredentialsChecker:
        """The checker, given the daemon's runtime."""


@implementer(ICredentialsChecker)
class TokenChecker:
    credentialInterfaces = (IBearerToken,)

    def __init__(self, rt: Runtime) -> None:
        self._rt = rt

    # Twisted annotates an avatar id as bytes; cred passes any object, ours is a Grant
    def requestAvatarId(self, credentials: Any) -> Deferred[Grant]:  # type: ignore[override]
        return Deferred.fromCoroutine(self._check(credentials.token))

    async def _check(self, token: str) -> Grant:
        found = await oauth.token_viewer(self._rt.db, token)
        if found is None:
            raise UnauthorizedLogin()
        return Grant(found[0].user_id, *found)


@implementer(ICredentialsChecker)
class SessionChecker:
    credentialInterfaces = (ISessionCookie,)

    def __init__(self, rt: Runtime) -> None:
        self._rt = rt

    # Twisted annotates an avatar id as bytes; cred passes any object, ours is a Grant
    def requestAvatarId(self, credentials: Any) -> Deferred[Grant]:  # type: ignore[override]
        return Deferred.fromCoroutine(self._check(credentials.session_id))

    async def _check(self, session_id: str) -> Grant:
        found = await oauth.session_viewer(self._rt.db, session_id)
        if found is None:
            raise UnauthorizedLogin()
        return Grant(found[0].user_id, *found)


@implementer(ICredentialsChecker)
class PasswordChecker:
    credentialInterfaces = (ILoginPassword,)

    def __init__(self, verify: VerifyLogin) -> None:
        self._verify = verify

    # Twisted annotates an avatar id as bytes; cred passes any object, ours is a Grant
    def requestAvatarId(self, credentials: Any) -> Deferred[Grant]:  # type: ignore[override]
        return Deferred.fromCoroutine(self._check(credentials))

    async def _check(self, credentials: Any) -> Grant:
        try:
            user = await self._verify(
                credentials.username, credentials.password, credentials.client_key
            )
        except LoginFailed:
            raise UnauthorizedLogin() from None
        return Grant(user.id, None, user)


@implementer(IRealm)
class Realm:
    def __init__(self, rt: Runtime, refusal: LoginRefusal) -> None:
        self._rt = rt
        self._refusal = refusal

    # Twisted annotates an avatar id as bytes; ours is the Grant a checker made
    def requestAvatar(  # type: ignore[override]
        self, grant: Grant, mind: object, *interfaces: Any
    ) -> Deferred[Any]:
        if IViewer not in interfaces:
            raise NotImplementedError("pleromad's realm only makes viewers")
        return Deferred.fromCoroutine(self._viewer(grant))

    async def _viewer(self, grant: Grant) -> tuple[Any, Viewer, Any]:
        user = grant.user
        if grant.user_id is not None:
            if user is None:  # a plugin's checker vouched for an id only
                user = await self._rt.db.run_interaction(
                    "viewer", users.get_user_txn, grant.user_id
                )
            if user is None or self._refusal(user, self._rt.config) is not None:
                raise UnauthorizedLogin()
        return IViewer, Viewer(user, grant.token), lambda: None


def build_portal(rt: Runtime, verify: VerifyLogin, refusal: LoginRefusal) -> Portal:
    """Our three checkers, then any installed ICheckerFactory plugins; the
    password checker and the realm apply the login rules they are given."""
    checkers: list[ICredentialsChecker] = [
        TokenChecker(rt),
        SessionChecker(rt),
        PasswordChecker(verify),
    ]
    checkers += [factory.build(rt) for factory in getPlugins(ICheckerFactory, twisted.plugins)]
    return Portal(Realm(rt, refusal), checkers)
