"""The HTTP client federation fetches and delivers with, guarded against abuse.

Any server can make us fetch any URL (an actor id, a key id, an inReplyTo),
so every request is checked before it is made and again where it matters:

- the scheme is https (or http when this instance itself runs on http);
- blocked instances, and their subdomains, are never contacted;
- unless ``allow_private_addresses``, the reactor's name resolver is wrapped
  so that loopback, private, link-local, multicast, unspecified and reserved
  addresses (IPv4-mapped IPv6 ones included) are dropped *after* DNS
  resolution, when the connection is made: a name that resolves to
  127.0.0.1, or re-resolves to it later, is never connected to.  Redirects
  are followed by hand, at most three, and each hop is checked again;
- the whole exchange has one deadline (``timeout``) and the body is read up
  to ``max_body`` bytes, the transfer aborted beyond;
- a fetched document's ``id`` must be on the host it was served from, or
  any server could speak for another.
"""

from __future__ import annotations

import ipaddress
import json
from collections import OrderedDict
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import treq
from treq.client import HTTPClient
from twisted.internet import defer, error
from twisted.internet.interfaces import (
    IAddress,
    IHostnameResolver,
    IHostResolution,
    IReactorPluggableNameResolver,
    IReactorTime,
    IResolutionReceiver,
)
from twisted.internet.threads import deferToThreadPool
from twisted.web.client import Agent, HTTPConnectionPool, ResponseFailed, ResponseNeverReceived
from twisted.web.iweb import UNKNOWN_LENGTH, IResponse
from zope.interface import directlyProvides, implementer, providedBy

from pleromad.config import FederationConfig
from pleromad.federation import httpsig

AP_CONTENT_TYPE = "application/activity+json"
AP_ACCEPT = 'application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
JRD_ACCEPT = "application/jrd+json, application/json"
T = TypeVar("T")

_AP_TYPES = frozenset({"application/activity+json", "application/ld+json"})
_JRD_TYPES = frozenset({"application/jrd+json", "application/json"})
MAX_REDIRECTS = 3
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CONNECT_TIMEOUT = 10.0
# Answers whose body is not wanted (a delivery's, a redirect's, an error's)
# are not read beyond this.
_REPLY_LIMIT = 64 * 1024
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# Names whose every address was refused, remembered to explain a failed connect.
_REFUSED_NAMES = 256


class FetchError(Exception):
    """A fetch or delivery that did not succeed; the message says why."""


class Refused(FetchError):
    """Not attempted, or not accepted: blocked host, private address, bad
    scheme, too many redirects, or a document whose id is on another host."""


class TooLarge(FetchError):
    """The answer is over ``max_body``; the transfer was aborted."""


class BadStatus(FetchError):
    """The server answered with a status other than 200."""

    def __init__(self, status: int, message: str = "") -> None:
        super().__init__(message or f"answered {status}")
        self.status = status


class BadDocument(FetchError):
    """The answer is not a JSON document of the expected media type."""


class Unreachable(FetchError):
    """No answer: the name did not resolve, the connection failed or timed out."""


@dataclass(frozen=True, slots=True)
class Reply:
    """What a server answered to a POST: its status and Retry-After, if any."""

    status: int
    retry_after: str | None


def host_of(url: str) -> str:
    """The lowercase host name of ``url`` (no port), "" when it has none."""
    return (urlsplit(url).hostname or "").lower()


def host_in(host: str, hosts: Iterable[str]) -> bool:
    """Whether ``host`` is one of ``hosts`` or a subdomain of one."""
    host = host.lower()
    return any(host == h or host.endswith("." + h) for h in hosts)


def is_private_address(address: str) -> bool:
    """Whether ``address`` (an IP literal) is anything but a public unicast address."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return True
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv4 address inside an IPv6 one reaches that IPv4 address.
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            ip = embedded
    return (
        not ip.is_global
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_unspecified
    )


class Fetcher:
    """Signed, guarded GETs and POSTs for federation."""

    def __init__(
        self,
        reactor: Any,
        config: FederationConfig,
        *,
        allow_http: bool = False,
        clock: IReactorTime | None = None,
    ) -> None:
        self._config = config
        self._reactor = reactor
        self._schemes = ("https", "http") if allow_http else ("https",)
        self._clock: IReactorTime = clock or reactor
        self._refused_names: OrderedDict[str, None] = OrderedDict()
        if not config.allow_private_addresses:
            resolver = _GuardedResolver(reactor.nameResolver, self._note_refused)
            reactor = _WithResolver(reactor, resolver)
        self._pool = HTTPConnectionPool(reactor, persistent=True)
        self._pool.maxPersistentPerHost = 4
        agent = Agent(
            reactor, connectTimeout=min(_CONNECT_TIMEOUT, config.timeout), pool=self._pool
        )
        self._http = HTTPClient(agent)

    async def close(self) -> None:
        """Close kept-alive connections (at shutdown)."""
        await self._pool.closeCachedConnections()

    async def get_json(
        self, url: str, *, signer: tuple[str, str] | None = None, accept: str = AP_ACCEPT
    ) -> dict[str, Any]:
        """The ActivityPub document at ``url``, signed by ``signer`` (key id,
        private key PEM) when given; its ``id`` is on the host it came from."""
        final, document = await self._get_document(url, signer, accept, _AP_TYPES)
        doc_id = document.get("id")
        if not isinstance(doc_id, str):
            raise BadDocument(f"the document at {url} has no id")
        if _origin(doc_id) != _origin(final):
            raise Refused(f"the document at {final} has an id on another host: {doc_id}")
        return document

    async def get_jrd(self, url: str) -> dict[str, Any]:
        """A WebFinger answer (JRD); unsigned, and with no id to check."""
        _final, document = await self._get_document(url, None, JRD_ACCEPT, _JRD_TYPES)
        return document

    async def post(self, url: str, body: bytes, *, signer: tuple[str, str]) -> int:
        """POST an activity, signed; the status (redirects are not followed)."""
        return (await self.send(url, body, signer=signer)).status

    async def send(self, url: str, body: bytes, *, signer: tuple[str, str]) -> Reply:
        """As :meth:`post`, with the Retry-After the server sent, for delivery."""
        return await self._deadline(self._send(url, body, signer))

    async def _send(self, url: str, body: bytes, signer: tuple[str, str]) -> Reply:
        response = await self._request("POST", url, signer, body=body)
        await _discard(response)
        retry_after = response.headers.getRawHeaders("retry-after", [None])[0]
        return Reply(response.code, retry_after)

    async def _get_document(
        self, url: str, signer: tuple[str, str] | None, accept: str, types: frozenset[str]
    ) -> tuple[str, dict[str, Any]]:
        return await self._deadline(self._get(url, signer, accept, types))

    async def _get(
        self, url: str, signer: tuple[str, str] | None, accept: str, types: frozenset[str]
    ) -> tuple[str, dict[str, Any]]:
        for _hop in range(MAX_REDIRECTS + 1):
            response = await self._request("GET", url, signer, accept=accept)
            location = response.headers.getRawHeaders("location", [None])[0]
            if response.code in _REDIRECTS and location:
                await _discard(response)
                url = urljoin(url, location)
                continue
            if response.code != 200:
                await _discard(response)
                raise BadStatus(response.code, f"{url} answered {response.code}")
            content_type = response.headers.getRawHeaders("content-type", [""])[0]
            media_type = content_type.split(";", 1)[0].strip().lower()
            if media_type not in types:
                await _discard(response)
                raise BadDocument(f"{url} answered {media_type or 'no content type'}")
            body = await _read(response, self._config.max_body)
            try:
                document = json.loads(body)
            except ValueError:
                raise BadDocument(f"{url} answered malformed JSON") from None
            if not isinstance(document, dict):
                raise BadDocument(f"{url} answered JSON that is not an object")
            return url, document
        raise Refused(f"more than {MAX_REDIRECTS} redirects from {url}")

    async def _request(
        self,
        method: str,
        url: str,
        signer: tuple[str, str] | None,
        *,
        accept: str | None = None,
        body: bytes | None = None,
    ) -> IResponse:
        self._check(url)
        headers = {"User-Agent": self._config.user_agent}
        if accept is not None:
            headers["Accept"] = accept
        if body is not None:
            headers["Content-Type"] = AP_CONTENT_TYPE
        if signer is not None:
            key_id, private_key_pem = signer
            # An RSA signature costs a millisecond or more of CPU: not on the reactor.
            headers |= await deferToThreadPool(
                self._reactor,
                self._reactor.getThreadPool(),
                partial(
                    httpsig.sign_headers,
                    method,
                    url,
                    key_id=key_id,
                    private_key_pem=private_key_pem,
                    now=self._clock.seconds(),
                    body=body,
                ),
            )
        try:
            return await self._http.request(
                method,
                url,
                # treq's annotation asks for a dict keyed by bytes | str: invariant, so not ours
                headers=headers,  # type: ignore[arg-type]
                data=body,
                allow_redirects=False,
            )
        except error.DNSLookupError as e:
            if host_of(url) in self._refused_names:
                raise Refused(f"{host_of(url)} resolves only to private addresses") from None
            raise Unreachable(f"{host_of(url)} does not resolve: {e}") from None
        except (
            error.ConnectError,
            error.ConnectionLost,
            ResponseFailed,
            ResponseNeverReceived,
        ) as e:
            raise Unreachable(f"{url}: {type(e).__name__}") from None

    def _check(self, url: str) -> None:
        """What can be known before connecting: federation on, scheme, host, literal address."""
        if not self._config.enabled:
            raise Refused("federation is disabled")
        parts = urlsplit(url)
        if parts.scheme not in self._schemes:
            raise Refused(f"{parts.scheme or 'no'} scheme in {url}")
        host = host_of(url)
        if not host:
            raise Refused(f"no host in {url}")
        if host_in(host, self._config.blocked_instances):
            raise Refused(f"{host} is blocked")
        guarded = not self._config.allow_private_addresses
        if guarded and _is_literal(host) and is_private_address(host):
            raise Refused(f"{host} is a private address")

    async def _deadline(self, work: Coroutine[Any, Any, T]) -> T:
        """``work`` within the configured timeout; cancelled (its connection aborted) after."""
        d = defer.Deferred.fromCoroutine(work)
        expired = False

        def expire() -> None:
            nonlocal expired
            expired = True
            d.cancel()

        timer = self._clock.callLater(self._config.timeout, expire)
        try:
            return await d
        except (FetchError, defer.CancelledError):
            if expired:
                raise Unreachable(f"no complete answer within {self._config.timeout} s") from None
            raise
        finally:
            if timer.active():
                timer.cancel()

    def _note_refused(self, name: str, refused: bool) -> None:
        name = name.lower()
        if not refused:
            self._refused_names.pop(name, None)
            return
        self._refused_names[name] = None
        self._refused_names.move_to_end(name)
        while len(self._refused_names) > _REFUSED_NAMES:
            self._refused_names.popitem(last=False)


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    try:
        port = parts.port or default
    except ValueError:
        port = None
    return parts.scheme, (parts.hostname or "").lower(), port


async def _read(response: IResponse, limit: int) -> bytes:
    """The body, or TooLarge (the connection dropped) once it passes ``limit`` bytes."""
    if response.length is not UNKNOWN_LENGTH and response.length > limit:
        limit = -1  # refuse at the first byte, without waiting for the rest
    chunks: list[bytes] = []
    size = 0

    def collect(data: bytes) -> None:
        nonlocal size
        size += len(data)
        if size > limit:
            raise TooLarge(f"answer over {max(limit, 0)} bytes")
        chunks.append(data)

    await treq.collect(response, collect)
    return b"".join(chunks)


async def _discard(response: IResponse) -> None:
    """Read and drop an answer that only its status matters of, so that its
    connection is freed (or dropped, past :data:`_REPLY_LIMIT` bytes)."""
    try:
        await _read(response, _REPLY_LIMIT)
    except TooLarge:
        pass


@implementer(IResolutionReceiver)
class _Filter:
    """Passes on the resolved addresses that are public, once resolution ends."""

    def __init__(self, receiver: IResolutionReceiver, name: str, note: Any) -> None:
        self._receiver = receiver
        self._name = name
        self._note = note
        self._allowed: list[IAddress] = []
        self._dropped = False

    def resolutionBegan(self, resolution: IHostResolution) -> None:
        self._receiver.resolutionBegan(resolution)

    def addressResolved(self, address: IAddress) -> None:
        if is_private_address(getattr(address, "host", "")):
            self._dropped = True
        else:
            self._allowed.append(address)

    def resolutionComplete(self) -> None:
        self._note(self._name, self._dropped and not self._allowed)
        for address in self._allowed:
            self._receiver.addressResolved(address)
        self._receiver.resolutionComplete()


@implementer(IHostnameResolver)
class _GuardedResolver:
    """A name resolver that never yields a private address."""

    def __init__(self, inner: IHostnameResolver, note: Any) -> None:
        self._inner = inner
        self._note = note

    # Twisted's own resolvers answer the receiver, not the IHostResolution it declares
    def resolveHostName(  # type: ignore[override]
        self,
        resolutionReceiver: IResolutionReceiver,
        hostName: str,
        portNumber: int = 0,
        addressTypes: Any = None,
        transportSemantics: str = "TCP",
    ) -> IResolutionReceiver:
        self._inner.resolveHostName(
            _Filter(resolutionReceiver, hostName, self._note),
            hostName,
            portNumber,
            addressTypes,
            transportSemantics,
        )
        return resolutionReceiver


@implementer(IReactorPluggableNameResolver)
class _WithResolver:
    """The reactor with another name resolver: what the guarded Agent connects with."""

    def __init__(self, reactor: Any, resolver: IHostnameResolver) -> None:
        self._reactor = reactor
        self.nameResolver = resolver
        directlyProvides(self, *providedBy(reactor))

    def installNameResolver(self, resolver: IHostnameResolver) -> IHostnameResolver:
        raise NotImplementedError("this resolver cannot be replaced")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reactor, name)
