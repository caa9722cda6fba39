"""Who signed a request: HTTP Signatures (draft-cavage-http-signatures-12)
as Mastodon and Pleroma make them.

A request is signed when its ``Signature`` (or ``Authorization:
Signature``) header verifies with the public key its ``keyId`` names, and
that signature covers what an attacker would otherwise change (see
:func:`pleromad.federation.httpsig.verify`): the request target, the host,
the ``Date`` (within 12 hours of our clock) and, with a body, the
``Digest``, which must match it.  The key is the
stored copy; when it fails to verify, the key's actor is fetched again once
(its key may have been rotated).  Anything else is :class:`Unsigned`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from twisted.web.http_headers import Headers

from pleromad.domain import remote_actors
from pleromad.domain.remote_actors import ActorNotFound
from pleromad.errors import ApiError
from pleromad.federation import httpsig
from pleromad.federation.httpsig import SignatureError
from pleromad.model import User

if TYPE_CHECKING:
    from pleromad.runtime import Runtime


class Unsigned(ApiError):
    """A request without a valid signature (the message says what is wrong)."""

    status = 401


class Request(Protocol):
    """What verification reads of a request (a twisted.web request has it)."""

    method: bytes
    uri: bytes
    requestHeaders: Headers


async def signer(rt: Runtime, request: Request, body: bytes | None) -> User:
    """The account whose key signed ``request`` (``body``: the bytes it
    carried, None for none), or Unsigned."""
    headers = {
        name.decode("latin-1").lower(): ", ".join(v.decode("latin-1") for v in values)
        for name, values in request.requestHeaders.getAllRawHeaders()
    }
    return await verified_signer(
        rt,
        method=request.method.decode("ascii"),
        target=request.uri.decode("latin-1"),
        headers=headers,
        body=body,
    )


async def verified_signer(
    rt: Runtime, *, method: str, target: str, headers: Mapping[str, str], body: bytes | None
) -> User:
    """:func:`signer` of a request given as plain values (``headers`` keyed
    by lower-case name)."""
    try:
        signature = httpsig.parse_signature(_signature_header(headers))
        httpsig.check_date(headers, rt.clock.seconds(), signature=signature)
        if body is not None:
            httpsig.check_digest(headers, body)
        for refresh in (False, True):
            try:
                user, pem = await remote_actors.actor_for_key(rt, signature.key_id, refresh=refresh)
            except ActorNotFound as e:
                raise Unsigned(f"Unknown signing key: {e}") from None
            if httpsig.verify(
                signature,
                method=method,
                path=target,
                headers=headers,
                public_key_pem=pem,
                has_body=body is not None,
            ):
                return user
    except SignatureError as e:
        raise Unsigned(str(e)) from None
    raise Unsigned("Invalid signature")


def _signature_header(headers: Mapping[str, str]) -> str:
    """The ``Signature`` header, or the ``Authorization: Signature`` some send."""
    value = headers.get("signature")
    if value is None:
        scheme, _, rest = headers.get("authorization", "").partition(" ")
        value = rest if scheme.lower() == "signature" else None
    if not value:
        raise Unsigned("Missing signature")
    return value
