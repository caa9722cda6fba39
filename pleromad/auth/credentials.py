"""The three ways a request proves who it is, as twisted.cred credentials.

Each kind has its own interface, so a portal holds one checker per kind and
another implementation (LDAP passwords, say) can replace one of ours.
"""

from __future__ import annotations

from dataclasses import dataclass

from twisted.cred.credentials import ICredentials
from zope.interface import Attribute, implementer


class LoginFailed(Exception):
    """Unknown account or wrong password; callers say which they are allowed to."""


class IBearerToken(ICredentials):
    """An OAuth access token (``Authorization: Bearer`` or ``access_token``)."""

    token = Attribute("the access token as the client sent it")


class ISessionCookie(ICredentials):
    """The ``_pleroma_key`` cookie: an opaque id standing for one OAuth token."""

    session_id = Attribute("the session id carried by the cookie")


class ILoginPassword(ICredentials):
    """A nickname or e-mail address and its password (HTTP Basic)."""

    username = Attribute("nickname or e-mail address")
    password = Attribute("the password")
    client_key = Attribute("who is trying, for counting failed logins")


@implementer(IBearerToken)
@dataclass(frozen=True)
class BearerToken:
    token: str


@implementer(ISessionCookie)
@dataclass(frozen=True)
class SessionCookie:
    session_id: str


@implementer(ILoginPassword)
@dataclass(frozen=True)
class LoginPassword:
    username: str
    password: str
    client_key: str
