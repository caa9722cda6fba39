"""Rate limits (DECISIONS 23 and 27): counted in PostgreSQL so that every node
agrees, timed by an injected clock, keyed by the client behind trusted proxies."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import replace
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import defer, reactor, task
from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.internet.defer import Deferred
from twisted.web.iweb import IRequest
from twisted.web.test.requesthelper import DummyRequest

from pleromad.config import Config, RateLimitsConfig
from pleromad.db.pool import Database
from pleromad.domain.rate_limits import (
    UNLIMITED,
    Allowance,
    RateLimiter,
    Throttled,
    headers,
)
from pleromad.web.base import JsonResponse, api_app, render
from pleromad.web.client_ip import bucket_key, client_key
from pleromad.web.site import Gateway
from tests.helpers import query

# 2026-11-27T02:00:00Z
START = 1795744800.0


@pytest.fixture
def clock() -> task.Clock:
    clock = task.Clock()
    clock.advance(START)
    return clock


def limits(config: Config, **changes: Any) -> RateLimitsConfig:
    return replace(config.rate_limits, **changes)


def buckets(dsn: str) -> list[tuple[str, int]]:
    return [(b, c) for b, c in query(dsn, "SELECT bucket, count FROM rate_limits ORDER BY 1")]


# -- counting ---------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_hit_allows_the_limit_then_throttles_with_headers(
    config: Config, db: Database, clock: task.Clock
) -> None:
    """Every hit counts; the hits beyond `requests` in a window are refused,
    and a refusal is a 429 {"error": "Throttled"} with X-RateLimit-Limit,
    -Remaining and -Reset (ISO 8601 UTC with milliseconds) together."""
    limiter = RateLimiter(limits(config, registration=(3, 1800)), db, clock)
    clock.advance(0.25)
    seen = [await limiter.hit("registration", "ip:192.0.2.7") for _ in range(4)]

    assert [(a.allowed, a.remaining) for a in seen] == [
        (True, 2), (True, 1), (True, 0), (False, 0)
    ]  # fmt: skip
    assert [a.reset_at for a in seen] == [pytest.approx(START + 0.25 + 1800)] * 4
    assert headers(seen[0]) == {
        "X-RateLimit-Limit": "3",
        "X-RateLimit-Remaining": "2",
        "X-RateLimit-Reset": "2026-11-27T02:30:00.250Z",
    }
    throttled = Throttled(seen[3])
    assert throttled.status == 429
    assert throttled.body() == {"error": "Throttled"}
    assert throttled.headers == {
        "X-RateLimit-Limit": "3",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": "2026-11-27T02:30:00.250Z",
    }


@pytest_twisted.ensureDeferred
async def test_window_passing_resets_the_count(
    config: Config, db: Database, clock: task.Clock
) -> None:
    """A refused bucket stays refused until its window ends, then counts from
    one again in a new window."""
    limiter = RateLimiter(limits(config, password_reset=(2, 60)), db, clock)
    for _ in range(3):
        last = await limiter.hit("password_reset", "user:42")
    assert not last.allowed

    clock.advance(59.9)
    assert not (await limiter.hit("password_reset", "user:42")).allowed
    clock.advance(0.1)
    fresh = await limiter.hit("password_reset", "user:42")
    assert (fresh.allowed, fresh.remaining) == (True, 1)
    assert fresh.reset_at == pytest.approx(START + 120)


@pytest_twisted.ensureDeferred
async def test_limits_and_keys_are_counted_apart(
    config: Config, db: Database, clock: task.Clock, dsn: str
) -> None:
    """Each limit counts each key on its own: one client or one limit running
    out leaves the others their full allowance."""
    limiter = RateLimiter(config.rate_limits, db, clock)  # the defaults: 5 per 30 min
    for _ in range(6):
        await limiter.hit("registration", "ip:192.0.2.7")
    assert (await limiter.hit("registration", "ip:192.0.2.8")).remaining == 4
    assert (await limiter.hit("confirmation_resend", "ip:192.0.2.7")).remaining == 4
    assert buckets(dsn) == [
        ("confirmation_resend:ip:192.0.2.7", 1),
        ("registration:ip:192.0.2.7", 6),
        ("registration:ip:192.0.2.8", 1),
    ]


@pytest_twisted.ensureDeferred
async def test_nodes_hitting_together_allow_exactly_the_limit(
    config: Config, db: Database, dsn: str, clock: task.Clock
) -> None:
    """Two nodes (two pools on one database) taking 20 hits at once on one
    bucket limited to 5 allow exactly 5 between them, each count once."""
    other = Database(reactor, dsn, 4)
    await other.open()
    try:
        rate = limits(config, registration=(5, 1800))
        nodes = [RateLimiter(rate, db, clock), RateLimiter(rate, other, clock)]
        seen: list[Allowance] = await defer.gatherResults(
            [
                Deferred.fromCoroutine(nodes[i % 2].hit("registration", "ip:192.0.2.7"))
                for i in range(20)
            ],
            consumeErrors=True,
        )
    finally:
        await other.close()
    assert sum(a.allowed for a in seen) == 5
    assert sorted(a.remaining for a in seen if a.allowed) == [0, 1, 2, 3, 4]


@pytest_twisted.ensureDeferred
async def test_failed_logins_count_only_failures_and_then_refuse_everything(
    config: Config, db: Database, clock: task.Clock
) -> None:
    """failed_login is checked before every attempt and recorded only on a
    failure: right passwords never use it up, but once `requests` failures
    are recorded even the right password is refused until the window ends."""
    limiter = RateLimiter(limits(config, failed_login=(3, 60)), db, clock)
    key = "ip:192.0.2.7"

    async def login(password_is_right: bool) -> bool:
        allowance = await limiter.check("failed_login", key)
        if not allowance.allowed:
            raise Throttled(allowance)
        if not password_is_right:
            await limiter.record("failed_login", key)
        return password_is_right

    fresh = await limiter.check("failed_login", key)
    assert (fresh.allowed, fresh.remaining, fresh.reset_at) == (True, 3, START + 60)
    for _ in range(5):
        assert await login(True)
    assert (await limiter.check("failed_login", key)).remaining == 3

    assert not await login(False)
    assert not await login(False)
    last = await limiter.record("failed_login", key)  # the third failure
    assert (last.allowed, last.remaining) == (False, 0)
    with pytest.raises(Throttled) as refused:
        await login(True)
    assert refused.value.headers["X-RateLimit-Remaining"] == "0"
    assert refused.value.headers["X-RateLimit-Reset"] == "2026-11-27T02:01:00.000Z"

    clock.advance(60)
    assert await login(True)


@pytest_twisted.ensureDeferred
async def test_disabled_allows_everything_without_headers(
    config: Config, db: Database, clock: task.Clock, dsn: str
) -> None:
    """With [rate_limits] enabled = false every hit, check and record is
    allowed, sends no X-RateLimit headers and writes nothing."""
    limiter = RateLimiter(limits(config, enabled=False, registration=(1, 60)), db, clock)
    for _ in range(3):
        for allowance in (
            await limiter.hit("registration", "ip:192.0.2.7"),
            await limiter.record("failed_login", "ip:192.0.2.7"),
            await limiter.check("failed_login", "ip:192.0.2.7"),
        ):
            assert allowance == UNLIMITED and allowance.allowed
            assert headers(allowance) == {}
    assert buckets(dsn) == []


@pytest_twisted.ensureDeferred
async def test_unknown_limit_name_is_a_programming_error(
    config: Config, db: Database, clock: task.Clock
) -> None:
    """Only the four configured limits exist; a typo fails loudly, enabled or not."""
    for enabled in (True, False):
        limiter = RateLimiter(limits(config, enabled=enabled), db, clock)
        with pytest.raises(ValueError, match="registraton"):
            await limiter.hit("registraton", "ip:192.0.2.7")


@pytest_twisted.ensureDeferred
async def test_purge_removes_only_ended_windows(
    config: Config, db: Database, clock: task.Clock, dsn: str
) -> None:
    """purge deletes the counters whose window has ended (at its end, not
    after) and keeps the running ones with their counts."""
    rate = limits(config, failed_login=(15, 60), registration=(5, 1800))
    limiter = RateLimiter(rate, db, clock)
    await limiter.record("failed_login", "user:1")
    await limiter.hit("registration", "ip:192.0.2.7")
    await limiter.hit("registration", "ip:192.0.2.7")

    clock.advance(59)
    assert await limiter.purge() == 0
    clock.advance(1)
    assert await limiter.purge() == 1
    assert buckets(dsn) == [("registration:ip:192.0.2.7", 2)]
    assert (await limiter.check("failed_login", "user:1")).remaining == 15


# -- over HTTP ----------------------------------------------------------------


class Register:
    """A stand-in endpoint limited as registration is, keyed as the lead wires it.

    Plain Klein under ``api_app``'s error handling, so that it depends only on
    how ApiError becomes a response."""

    app = api_app()

    def __init__(self, limiter: RateLimiter, trusted: tuple[Any, ...]) -> None:
        self.limiter = limiter
        self.trusted = trusted

    @app.route("/register", methods=["POST"])
    async def register(self, request: IRequest) -> bytes:
        key = bucket_key(request, self.trusted, None)
        allowance = await self.limiter.hit("registration", key)
        if not allowance.allowed:
            raise Throttled(allowance)
        return render(request, JsonResponse({"key": key}, headers=headers(allowance)))


@pytest_twisted.ensureDeferred
async def test_throttled_over_http_behind_a_trusted_proxy(
    config: Config, db: Database, clock: task.Clock, serve: Any
) -> None:
    """Through the real web layer: answers carry the X-RateLimit headers, the
    one over the limit is a 429 {"error": "Throttled"} with them, and behind a
    trusted proxy each X-Forwarded-For client has its own bucket."""
    limiter = RateLimiter(limits(config, registration=(1, 1800)), db, clock)
    trusted = (ipaddress.ip_network("127.0.0.0/8"),)
    client = serve(Gateway(Register(limiter, trusted).app.resource(), 10_000), contract=False)

    async def post(forwarded_for: str) -> tuple[int, Any, Any]:
        response = await client.post("/register", headers={"X-Forwarded-For": forwarded_for})
        body = json.loads(await response.text("utf-8"))
        return response.code, body, response.headers

    code, body, first = await post("198.51.100.1")
    assert (code, body) == (200, {"key": "ip:198.51.100.1"})
    assert first.getRawHeaders("X-RateLimit-Remaining") == ["0"]

    code, body, refused = await post("203.0.113.9, 198.51.100.1")
    assert (code, body) == (429, {"error": "Throttled"})
    assert refused.getRawHeaders("X-RateLimit-Limit") == ["1"]
    assert refused.getRawHeaders("X-RateLimit-Remaining") == ["0"]
    assert refused.getRawHeaders("X-RateLimit-Reset") == ["2026-11-27T02:30:00.000Z"]

    code, body, _ = await post("198.51.100.2")
    assert (code, body) == (200, {"key": "ip:198.51.100.2"})


# -- client_ip ------------------------------------------------------------------


def request_from(peer: Any, *forwarded_for: str) -> DummyRequest:
    request = DummyRequest([])
    request.client = peer  # DummyRequest's own argument is ignored
    for line in forwarded_for:
        request.requestHeaders.addRawHeader(b"X-Forwarded-For", line.encode("latin-1"))
    return request


def v4(host: str) -> IPv4Address:
    return IPv4Address("TCP", host, 40000)


def v6(host: str) -> IPv6Address:
    return IPv6Address("TCP", host, 40000)


PROXIES = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "2001:db8:ffff::/48", "127.0.0.1"))


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "expected"),
    [
        # An untrusted peer is the client, whatever it claims.
        (v4("192.0.2.7"), (), "192.0.2.7"),
        (v4("192.0.2.7"), ("198.51.100.1",), "192.0.2.7"),
        # A trusted proxy with nothing to say is the client.
        (v4("10.0.0.2"), (), "10.0.0.2"),
        # Through one proxy; through a chain, past every trusted hop.
        (v4("10.0.0.2"), ("198.51.100.1",), "198.51.100.1"),
        (v4("10.0.0.2"), ("198.51.100.1, 10.0.0.3, 127.0.0.1",), "198.51.100.1"),
        # What the client wrote left of the first untrusted address is ignored.
        (v4("10.0.0.2"), ("1.1.1.1, 198.51.100.1",), "198.51.100.1"),
        # Header lines are read as one list, in order.
        (v4("10.0.0.2"), ("1.1.1.1", "198.51.100.1, 10.0.0.3"), "198.51.100.1"),
        # Malformed entries are skipped; ports and brackets are understood.
        (v4("10.0.0.2"), ("198.51.100.1, unknown, ,",), "198.51.100.1"),
        (v4("10.0.0.2"), ("198.51.100.1:5678",), "198.51.100.1"),
        (v4("10.0.0.2"), ('"[2001:db8:1:2::9]:443"',), "2001:db8:1:2::/64"),
        (v4("10.0.0.2"), ("bogus",), "10.0.0.2"),
        # Only trusted hops: the request started at the leftmost.
        (v4("10.0.0.2"), ("10.0.0.9, 10.0.0.3",), "10.0.0.9"),
        # IPv6 is keyed by /64; IPv4-mapped addresses are IPv4, trusted or not.
        (v6("2001:db8:1:2:aaaa::1"), (), "2001:db8:1:2::/64"),
        (v6("2001:DB8:1:2::1%eth0"), (), "2001:db8:1:2::/64"),
        (v6("::ffff:192.0.2.7"), (), "192.0.2.7"),
        (v6("::ffff:10.0.0.2"), ("198.51.100.1",), "198.51.100.1"),
        (v6("2001:db8:ffff::1"), ("::ffff:198.51.100.1",), "198.51.100.1"),
        # A UNIX-socket peer can only be a local proxy.
        (UNIXAddress(b"/run/pleromad.sock"), ("198.51.100.1",), "198.51.100.1"),
        (UNIXAddress(b"/run/pleromad.sock"), (), "local"),
    ],
)
def test_client_key(peer: Any, forwarded_for: tuple[str, ...], expected: str) -> None:
    """The client is the peer, unless the peer is a trusted proxy: then it is
    the first untrusted X-Forwarded-For entry from the right, malformed
    entries skipped; addresses are normalised and IPv6 is keyed by its /64."""
    assert client_key(request_from(peer, *forwarded_for), PROXIES) == expected


def test_forwarded_for_ignored_without_trusted_proxies() -> None:
    """With [proxy] trusted empty (the default), X-Forwarded-For is never
    believed, not even from loopback."""
    request = request_from(v4("127.0.0.1"), "198.51.100.1")
    assert client_key(request, ()) == "127.0.0.1"


def test_bucket_key_is_the_user_when_authenticated() -> None:
    """Authenticated requests are limited per user, others per client address."""
    request = request_from(v4("10.0.0.2"), "198.51.100.1")
    assert bucket_key(request, PROXIES, 42) == "user:42"
    assert bucket_key(request, PROXIES, None) == "ip:198.51.100.1"
    assert bucket_key(request, (), None) == "ip:10.0.0.2"
