"""Who a request comes from, for rate limiting: the peer, or what trusted
reverse proxies say in ``X-Forwarded-For``.

Only the entries appended by proxies in ``[proxy] trusted`` can be believed,
and each proxy appends the address it saw to the right, so the header is
read from the right: past the trusted proxies, the first other address is
the client; whatever lies further left the client wrote itself.  From a peer
that is not trusted the header is ignored altogether, or anyone could pick
their own bucket.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.web.iweb import IRequest

from pleromad.config import IPNetwork

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# IPv6 clients are bucketed by /64, as Mastodon does: one host, or one
# customer of an ISP, gets a whole /64 and can pick a new address in it for
# every request, which would make a per-address limit meaningless.
IPV6_PREFIX = 64

# The key of a client seen through a socket with no IP address (a reverse
# proxy on a UNIX socket that sent no usable X-Forwarded-For).
LOCAL_KEY = "local"


def client_address(request: IRequest, trusted: Iterable[IPNetwork]) -> IPAddress | None:
    """The client's IP address, or None when neither the peer nor the proxies
    in front of it give one.

    A peer that is not an IP socket (a UNIX socket) can only be a local
    process, the reverse proxy in practice, and is trusted like one.
    """
    trusted = tuple(trusted)
    peer = _peer(request)
    if peer is not None and not _is_trusted(peer, trusted):
        return peer
    leftmost: IPAddress | None = None
    for entry in reversed(_forwarded_for(request)):
        address = parse_address(entry)
        if address is None:
            continue
        if not _is_trusted(address, trusted):
            return address
        leftmost = address
    # Nothing but trusted proxies: the request started at the first of them.
    return leftmost if leftmost is not None else peer


def client_key(request: IRequest, trusted: Iterable[IPNetwork]) -> str:
    """The client's address as a rate-limit key: an IPv4 address, an IPv6
    /64 network (``2001:db8:1:2::/64``), or ``local``."""
    address = client_address(request, trusted)
    if address is None:
        return LOCAL_KEY
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False))
    return str(address)


def bucket_key(request: IRequest, trusted: Iterable[IPNetwork], user_id: int | None) -> str:
    """``user:<id>`` for an authenticated request, else ``ip:<client_key>``
    (DECISIONS 23)."""
    if user_id is not None:
        return f"user:{user_id}"
    return f"ip:{client_key(request, trusted)}"


def parse_address(text: str) -> IPAddress | None:
    """One address as proxies write it (``192.0.2.7``, ``192.0.2.7:5678``,
    ``2001:db8::1``, ``[2001:db8::1]:443``), normalised: zone dropped, an
    IPv4-mapped IPv6 address as the IPv4 one.  None when it is not one."""
    text = text.strip().strip('"')
    if text.startswith("["):
        host, bracket, port = text[1:].partition("]")
        if not bracket or (port and not (port[:1] == ":" and port[1:].isdigit())):
            return None
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
        if not port.isdigit():
            return None
    else:
        host = text
    host = host.partition("%")[0]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _peer(request: IRequest) -> IPAddress | None:
    peer = request.getClientAddress()
    if isinstance(peer, (IPv4Address, IPv6Address)):
        return parse_address(peer.host)
    return None


def _forwarded_for(request: IRequest) -> list[str]:
    # Several header lines mean the same as one line joining them with commas.
    lines = request.requestHeaders.getRawHeaders(b"x-forwarded-for") or []
    return [entry for line in lines for entry in line.decode("latin-1").split(",")]


def _is_trusted(address: IPAddress, trusted: tuple[IPNetwork, ...]) -> bool:
    return any(address in network for network in trusted)
