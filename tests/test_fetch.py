"""The guarded federation client against real servers on loopback."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IHostnameResolver, IHostResolution, IResolutionReceiver
from twisted.internet.task import Clock
from twisted.web.server import NOT_DONE_YET, Request
from zope.interface import implementer

from pleromad.config import FederationConfig, load_config
from pleromad.federation import fetch, httpsig
from pleromad.federation.fetch import (
    AP_CONTENT_TYPE,
    BadDocument,
    BadStatus,
    Fetcher,
    Refused,
    TooLarge,
    Unreachable,
)
from pleromad.federation.keys import generate_key_pair
from pleromad.runtime import build_runtime
from tests import peer as _peer
from tests.helpers import eventually
from tests.peer import Peer, Received, StartPeer

peers = _peer.peers
OPEN = dataclasses.replace(
    load_config(None).federation,
    allow_private_addresses=True,
    user_agent="pleromad-test",
    timeout=5,
)
GUARDED = dataclasses.replace(OPEN, allow_private_addresses=False)


def fetcher(config: FederationConfig = OPEN, **kwargs: Any) -> Fetcher:
    kwargs.setdefault("allow_http", True)
    return Fetcher(reactor, config, **kwargs)


def actor(peer: Peer, path: str = "/users/alice") -> dict[str, Any]:
    return {"id": peer.base + path, "type": "Person"}


@pytest_twisted.ensureDeferred
async def test_signed_get(peers: StartPeer) -> None:
    """A signed fetch sends Accept, User-Agent and a signature over
    (request-target), host and date that verifies with the signer's key."""
    peer = peers()
    peer.document("/users/alice", actor(peer))
    pair = await generate_key_pair()
    client = fetcher()
    got = await client.get_json(
        peer.base + "/users/alice", signer=("me#main-key", pair.private_key_pem)
    )
    assert got == actor(peer)
    [request] = peer.received
    assert request.headers["accept"] == fetch.AP_ACCEPT
    assert request.headers["user-agent"] == "pleromad-test"
    sig = httpsig.parse_signature(request.headers["signature"])
    assert sig.key_id == "me#main-key"
    assert sig.headers == ("(request-target)", "host", "date")
    assert httpsig.verify(
        sig,
        method="GET",
        path="/users/alice",
        headers=request.headers,
        public_key_pem=pair.public_key_pem,
    )
    await client.close()


@pytest_twisted.ensureDeferred
async def test_localhost_refused_with_the_guard_on(peers: StartPeer) -> None:
    """With the guard on, a name that resolves to loopback (localhost) and a
    loopback or private literal (IPv4-mapped IPv6 too) are refused and never
    contacted; with allow_private_addresses the same fetch succeeds."""
    peer = peers()
    peer.document("/users/alice", {"id": f"http://localhost:{peer.port}/users/alice"})
    guarded = fetcher(GUARDED)
    for url in (
        f"http://localhost:{peer.port}/users/alice",
        f"http://127.0.0.1:{peer.port}/users/alice",
        f"http://[::ffff:127.0.0.1]:{peer.port}/users/alice",
        f"http://[::1]:{peer.port}/users/alice",
        f"http://10.0.0.1:{peer.port}/users/alice",
    ):
        with pytest.raises(Refused, match="private address"):
            await guarded.get_json(url)
    assert peer.received == []
    got = await fetcher().get_json(f"http://localhost:{peer.port}/users/alice")
    assert got["id"].startswith("http://localhost:")


@implementer(IHostResolution)
class _Resolution:
    def __init__(self, name: str) -> None:
        self.name = name

    def cancel(self) -> None:
        pass


@implementer(IHostnameResolver)
class NamesResolver:
    """Resolves the test's made-up names to the given addresses, others as usual."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names

    def resolveHostName(
        self, receiver: IResolutionReceiver, hostName: str, portNumber: int = 0, *args: Any
    ) -> IResolutionReceiver:
        if hostName not in self.names:
            return reactor.nameResolver.resolveHostName(receiver, hostName, portNumber, *args)
        receiver.resolutionBegan(_Resolution(hostName))
        receiver.addressResolved(IPv4Address("TCP", self.names[hostName], portNumber))
        receiver.resolutionComplete()
        return receiver


@pytest_twisted.ensureDeferred
async def test_redirect_to_a_private_address_is_refused(
    peers: StartPeer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every redirect hop is checked again, after DNS resolution: a public
    server redirecting to localhost (which resolves to loopback) or to
    127.0.0.1 is refused, and the server there is never contacted.  (Here
    127.0.0.2, named outside.test, plays the public server.)"""
    real = fetch.is_private_address
    monkeypatch.setattr(fetch, "is_private_address", lambda a: a != "127.0.0.2" and real(a))
    public, private = peers("127.0.0.2"), peers("127.0.0.1")
    private.document("/secret", {"id": f"http://localhost:{private.port}/secret"})
    public.redirect("/by-name", f"http://localhost:{private.port}/secret")
    public.redirect("/by-address", f"{private.base}/secret")
    public.document("/ok", {"id": f"http://outside.test:{public.port}/ok"})
    resolving = fetch._WithResolver(reactor, NamesResolver({"outside.test": "127.0.0.2"}))
    client = Fetcher(resolving, GUARDED, allow_http=True)
    assert (await client.get_json(f"http://outside.test:{public.port}/ok"))["id"].endswith("/ok")
    with pytest.raises(Refused, match="localhost resolves only to private addresses"):
        await client.get_json(f"http://outside.test:{public.port}/by-name")
    with pytest.raises(Refused, match=r"127\.0\.0\.1 is a private address"):
        await client.get_json(f"http://outside.test:{public.port}/by-address")
    assert private.received == []
    await client.close()


@pytest_twisted.ensureDeferred
async def test_redirects(peers: StartPeer) -> None:
    """Up to three redirects are followed (each signed again, the id checked
    against the final host); a fourth, as in a loop, is refused."""
    peer = peers()
    peer.redirect("/r1", "/r2", 301)
    peer.redirect("/r2", "/r3", 307)
    peer.redirect("/r3", peer.base + "/users/alice", 308)
    peer.document("/users/alice", actor(peer))
    peer.redirect("/loop-a", "/loop-b")
    peer.redirect("/loop-b", "/loop-a")
    pair = await generate_key_pair()
    client = fetcher()
    got = await client.get_json(peer.base + "/r1", signer=("k", pair.private_key_pem))
    assert got == actor(peer)
    assert [r.path for r in peer.received] == ["/r1", "/r2", "/r3", "/users/alice"]
    assert all("signature" in r.headers for r in peer.received)
    peer.received.clear()
    with pytest.raises(Refused, match="more than 3 redirects"):
        await client.get_json(peer.base + "/loop-a")
    assert len(peer.received) == 4
    await client.close()


def _write_slowly(request: Request, _received: Received) -> object:
    request.setHeader("Content-Type", AP_CONTENT_TYPE)
    request.write(b'{"id": "x", "pad": "' + b"a" * 2048)
    request.write(b'"}')
    request.finish()
    return NOT_DONE_YET


@pytest_twisted.ensureDeferred
async def test_body_over_the_limit(peers: StartPeer) -> None:
    """A document over max_body is refused, whether announced by its
    Content-Length or sent chunked with none."""
    peer = peers()
    peer.document("/big", {"id": peer.base + "/big", "pad": "a" * 2048})
    peer.routes["/chunked"] = _write_slowly
    client = fetcher(dataclasses.replace(OPEN, max_body=1024))
    for path in ("/big", "/chunked"):
        with pytest.raises(TooLarge):
            await client.get_json(peer.base + path)
    await client.close()


@pytest_twisted.ensureDeferred
async def test_slow_server_times_out(peers: StartPeer) -> None:
    """A server that never answers is given up on at the timeout and the
    connection is dropped."""
    peer = peers()
    lost: list[Any] = []

    def never(request: Request, _received: Received) -> object:
        request.notifyFinish().addErrback(lost.append)
        return NOT_DONE_YET

    peer.routes["/slow"] = never
    clock = Clock()
    client = fetcher(clock=clock)
    attempt = Deferred.fromCoroutine(client.get_json(peer.base + "/slow"))
    await eventually(lambda: peer.received, "the request arriving")
    clock.advance(OPEN.timeout)
    with pytest.raises(Unreachable, match="within 5 s"):
        await attempt
    await eventually(lambda: lost, "the server seeing the connection drop")
    await client.close()


@pytest_twisted.ensureDeferred
async def test_wrong_answers(peers: StartPeer) -> None:
    """HTML, malformed JSON, a JSON array, a document without an id and an
    error status (whatever the size of its page) are all refused with their
    reason."""
    peer = peers()
    peer.answer("/html", b"<html></html>", headers={"Content-Type": "text/html"})
    peer.answer("/broken", b"{not json", headers={"Content-Type": AP_CONTENT_TYPE})
    peer.document("/array", [1, 2])
    peer.document("/anonymous", {"type": "Note"})
    peer.answer("/gone", b"", status=410)
    peer.answer("/crash", b"x" * 100_000, status=500)
    client = fetcher()
    for path, error, reason in (
        ("/html", BadDocument, "text/html"),
        ("/broken", BadDocument, "malformed JSON"),
        ("/array", BadDocument, "not an object"),
        ("/anonymous", BadDocument, "no id"),
        ("/gone", BadStatus, "410"),
        ("/crash", BadStatus, "500"),
        ("/missing", BadStatus, "404"),
    ):
        with pytest.raises(error, match=reason):
            await client.get_json(peer.base + path)
    with pytest.raises(BadStatus) as caught:
        await client.get_json(peer.base + "/gone")
    assert caught.value.status == 410
    await client.close()


@pytest_twisted.ensureDeferred
async def test_id_on_another_host(peers: StartPeer) -> None:
    """A document whose id is on another host (or port) than the one that
    served it is refused: a server cannot speak for another.  ld+json is
    accepted as well as activity+json."""
    peer = peers()
    peer.document("/forged", {"id": "https://victim.example/users/alice"})
    peer.document("/other-port", {"id": f"http://127.0.0.1:{peer.port + 1}/users/alice"})
    peer.document("/ld", actor(peer, "/ld"), 'application/ld+json; profile="x"')
    client = fetcher()
    for path in ("/forged", "/other-port"):
        with pytest.raises(Refused, match="id on another host"):
            await client.get_json(peer.base + path)
    assert (await client.get_json(peer.base + "/ld"))["id"] == peer.base + "/ld"
    await client.close()


@pytest_twisted.ensureDeferred
async def test_refused_before_connecting(peers: StartPeer) -> None:
    """Blocked instances (and their subdomains), other schemes, http where
    the instance is https, and everything while federation is disabled are
    refused without a connection."""
    peer = peers()
    peer.document("/users/alice", {"id": f"http://localhost:{peer.port}/users/alice"})
    blocking = fetcher(dataclasses.replace(OPEN, blocked_instances=("localhost",)))
    https_only = fetcher(allow_http=False)
    disabled = fetcher(dataclasses.replace(OPEN, enabled=False))
    for client, url, reason in (
        (blocking, f"http://localhost:{peer.port}/users/alice", "blocked"),
        (https_only, f"{peer.base}/users/alice", "http scheme"),
        (fetcher(), f"ftp://127.0.0.1:{peer.port}/users/alice", "ftp scheme"),
        (fetcher(), "/users/alice", "no scheme"),
        (disabled, f"{peer.base}/users/alice", "disabled"),
    ):
        with pytest.raises(Refused, match=reason):
            await client.get_json(url)
    with pytest.raises(Refused, match="blocked"):
        await blocking.post(f"http://localhost:{peer.port}/inbox", b"{}", signer=("k", "unused"))
    assert peer.received == []
    assert fetch.host_in("a.b.example", ["b.example"]) and not fetch.host_in(
        "ab.example", ["b.example"]
    )


@pytest_twisted.ensureDeferred
async def test_unreachable() -> None:
    """A port nobody listens on, or a name that does not resolve, is Unreachable."""
    client = fetcher()
    with pytest.raises(Unreachable, match="ConnectionRefused"):
        await client.get_json("http://127.0.0.1:1/users/alice")
    with pytest.raises(Unreachable, match="does not resolve"):
        await client.get_json("http://nowhere.invalid/users/alice")


@pytest_twisted.ensureDeferred
async def test_signed_post(peers: StartPeer) -> None:
    """A POST is signed over (request-target), host, date and digest, carries
    the activity as application/activity+json, and answers its status and
    Retry-After; a redirect is not followed."""
    peer = peers()
    peer.answer("/inbox", b"", status=202)
    peer.answer("/busy", b"", status=429, headers={"Retry-After": "120"})
    peer.redirect("/moved", "/inbox")
    pair = await generate_key_pair()
    client = fetcher()
    body = json.dumps({"type": "Create"}).encode()
    signer = ("me#main-key", pair.private_key_pem)
    assert await client.post(peer.base + "/inbox", body, signer=signer) == 202
    [request] = peer.received
    assert request.body == body
    assert request.headers["content-type"] == AP_CONTENT_TYPE
    sig = httpsig.parse_signature(request.headers["signature"])
    assert sig.headers == ("(request-target)", "host", "date", "digest")
    assert httpsig.verify(
        sig,
        method="POST",
        path="/inbox",
        headers=request.headers,
        public_key_pem=pair.public_key_pem,
    )
    httpsig.check_digest(request.headers, request.body)
    reply = await client.send(peer.base + "/busy", body, signer=signer)
    assert (reply.status, reply.retry_after) == (429, "120")
    assert await client.post(peer.base + "/moved", body, signer=signer) == 302
    assert [r.path for r in peer.received] == ["/inbox", "/busy", "/moved"]
    await client.close()


@pytest_twisted.ensureDeferred
async def test_webfinger_document(peers: StartPeer) -> None:
    """get_jrd reads a JRD (application/jrd+json), unsigned, with no id to check."""
    peer = peers()
    jrd = {"subject": "acct:alice@elsewhere", "links": []}
    peer.document(
        "/.well-known/webfinger?resource=acct:alice@elsewhere", jrd, "application/jrd+json"
    )
    got = await fetcher().get_jrd(
        peer.base + "/.well-known/webfinger?resource=acct:alice@elsewhere"
    )
    assert got == jrd
    assert "signature" not in peer.received[0].headers
    assert peer.received[0].headers["accept"] == fetch.JRD_ACCEPT


@pytest.mark.parametrize(
    "address, private",
    [
        ("127.0.0.1", True), ("10.1.2.3", True), ("172.16.0.1", True), ("192.168.1.1", True),
        ("169.254.169.254", True), ("100.64.0.1", True), ("0.0.0.0", True), ("224.0.0.1", True),
        ("240.0.0.1", True), ("255.255.255.255", True), ("::1", True), ("::", True),
        ("fe80::1", True), ("fe80::1%eth0", True), ("fc00::1", True), ("ff02::1", True),
        ("::ffff:127.0.0.1", True), ("::ffff:10.0.0.1", True), ("not an address", True),
        ("64:ff9b::7f00:1", True), ("2002:7f00:1::", True), ("2002:5db8:d822::", False),
        ("64:ff9b::5db8:d822", False),
        ("93.184.216.34", False), ("2606:2800:220:1::1", False), ("::ffff:93.184.216.34", False),
    ],
)  # fmt: skip
def test_private_addresses(address: str, private: bool) -> None:
    """Loopback, private, shared, link-local, multicast, unspecified and
    reserved addresses count as private, IPv4 ones inside IPv6 (mapped,
    6to4, NAT64) included."""
    assert fetch.is_private_address(address) is private


@pytest_twisted.ensureDeferred
async def test_runtime_client_follows_the_base_url(peers: StartPeer) -> None:
    """rt.fetcher speaks plain http only when the instance itself is on http."""
    peer = peers()
    peer.document("/users/alice", actor(peer))
    config = load_config(None)
    config = dataclasses.replace(config, federation=OPEN)
    on_http = build_runtime(config, None, reactor, b"s" * 32)  # type: ignore[arg-type]
    assert (await on_http.fetcher.get_json(peer.base + "/users/alice"))["type"] == "Person"
    on_https = build_runtime(
        dataclasses.replace(
            config, server=dataclasses.replace(config.server, base_url="https://pleroma.example")
        ),
        None,  # type: ignore[arg-type]
        reactor,
        b"s" * 32,
    )
    with pytest.raises(Refused, match="http scheme"):
        await on_https.fetcher.get_json(peer.base + "/users/alice")
    await on_http.fetcher.close()
