"""Prebuilt answers served below the router (pleromad.web.prebuilt): the
same answer and conventions as their Klein route, without its cost."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import Deferred, ensureDeferred, gatherResults
from twisted.internet.task import Clock

from pleromad.metrics import Metrics
from pleromad.openapi.spec import STRING, Operation, answer
from pleromad.runtime import Runtime
from pleromad.views.prebuilt import Prebuilt
from pleromad.web.base import api_app
from pleromad.web.negotiation import JSON
from pleromad.web.prebuilt import FIGURES_SECONDS, OnDemand, Refreshed, Source, prebuilt_route
from pleromad.web.root import RouteTable, build_gateway
from pleromad.web.site import Gateway, PleromadSite
from tests.conftest import Client
from tests.test_accounts import make_user

THING = Prebuilt.of({"name": "thing", "ünïcode": "✓"})


class Held:
    """A source whose answer the test may hold back from the fast path
    (as a source that has not built it yet would)."""

    def __init__(self) -> None:
        self.current = True
        self.gets = 0

    def peek(self) -> Prebuilt | None:
        return THING if self.current else None

    async def get(self) -> Prebuilt:
        self.gets += 1
        return THING


class Things:
    app = api_app()
    tag = "Things"

    def __init__(self, source: Held) -> None:
        self.source = source

    @prebuilt_route(
        app,
        "/api/v1/thing",
        accept=JSON,
        cache_control=b"public, max-age=5",
        doc=Operation("A thing.", responses={200: answer(STRING)}),
    )
    def thing(self) -> Source:
        return self.source


class Routes(Metrics):
    """Metrics that remember the route label of every answered request."""

    def __init__(self) -> None:
        super().__init__()
        self.routes: list[str] = []

    def request_done(self, route: str, method: bytes, status: int, seconds: float) -> None:
        super().request_done(route, method, status, seconds)
        self.routes.append(route)


def _seen(r: Any, body: bytes) -> tuple[int, dict[bytes, list[bytes]], bytes]:
    """Status, headers (but the per-request ones) and body of an answer."""
    headers = {
        name.lower(): values
        for name, values in r.headers.getAllRawHeaders()
        if name.lower() not in (b"date", b"x-request-id")
    }
    assert r.headers.getRawHeaders(b"x-request-id"), "every answer has its request id"
    return r.code, headers, body


@pytest_twisted.ensureDeferred
async def test_the_fast_path_answers_as_the_route_does() -> None:
    """Whatever the request — GET, HEAD, If-None-Match (strong, weak, *),
    an Origin, a trailing slash, a `.json` suffix, an Accept without JSON —
    the answer from the source's bytes is the route's answer, header for
    header; the route is only asked when the source has no current bytes
    or for an error; both are counted and logged under the route's rule."""
    source = Held()
    metrics = Routes()
    site = PleromadSite(Gateway(RouteTable([Things(source)]), 1000), 1000, metrics)
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    client = Client(f"http://127.0.0.1:{port.getHost().port}", contract=False)
    etag = THING.etag.encode("ascii")
    requests: list[tuple[str, str, dict[bytes, list[bytes]]]] = [
        ("GET", "/api/v1/thing", {}),
        ("HEAD", "/api/v1/thing", {}),
        ("GET", "/api/v1/thing/", {}),
        ("GET", "/api/v1/thing.json", {}),
        ("GET", "/api/v1/thing", {b"If-None-Match": [etag]}),
        ("HEAD", "/api/v1/thing", {b"If-None-Match": [b"W/" + etag]}),
        ("GET", "/api/v1/thing", {b"If-None-Match": [b'"other", *']}),
        ("GET", "/api/v1/thing", {b"If-None-Match": [b'"other"']}),
        ("GET", "/api/v1/thing", {b"Origin": [b"https://app.example"]}),
        ("GET", "/api/v1/thing", {b"Accept": [b"text/html"]}),
    ]
    answers: dict[tuple[str, str, bool], Any] = {}
    try:
        for method, path, headers in requests:
            seen = []
            for current in (False, True):
                source.current = current
                r = await client.request(method, path, headers=headers)
                seen.append(_seen(r, await r.content()))
            assert seen[0] == seen[1], (method, path, headers)
            answers[method, path, bool(headers)] = seen[1]
    finally:
        await port.stopListening()
    assert source.gets == len(requests) + 1  # each held back, and the 406's
    assert metrics.routes == ["/api/v1/thing"] * 2 * len(requests)

    code, headers, body = answers["GET", "/api/v1/thing", False]
    assert (code, body) == (200, THING.body)
    assert headers[b"etag"] == [etag]
    assert headers[b"cache-control"] == [b"public, max-age=5"]
    assert headers[b"content-type"] == [b"application/json; charset=utf-8"]
    assert headers[b"access-control-allow-origin"] == [b"*"]
    code, headers, body = answers["HEAD", "/api/v1/thing", False]
    assert (code, body, headers[b"etag"]) == (200, b"", [etag])
    assert answers["GET", "/api/v1/thing.json", False][2] == THING.body
    assert answers["GET", "/api/v1/thing/", False][2] == THING.body


PREBUILT_PATHS = (
    "/api/pleroma/emoji",
    "/api/v1/custom_emojis",
    "/api/v1/instance",
    "/.well-known/nodeinfo",
    "/nodeinfo/2.0",
    "/nodeinfo/2.1",
    "/api/openapi.json",
)


@pytest_twisted.ensureDeferred
async def test_the_daemons_prebuilt_answers(client: Client) -> None:
    """The emoji lists, the instance, NodeInfo and the OpenAPI document are
    answered with an ETag: HEAD gives the headers alone, the ETag back as
    If-None-Match a 304, and /api paths with a trailing slash or `.json` the
    same bytes."""
    for path in PREBUILT_PATHS:
        first = await client.get(path)
        body, etag = await first.content(), first.headers.getRawHeaders(b"etag")[0]
        assert first.code == 200 and body, path
        head = await client.head(path)
        assert (head.code, await head.content()) == (200, b""), path
        assert head.headers.getRawHeaders(b"etag") == [etag], path
        again = await client.get(path, headers={b"If-None-Match": [etag]})
        assert (again.code, await again.content()) == (304, b""), path
        if path.startswith("/api/") and not path.endswith(".json"):
            for variant in (path + "/", path + ".json"):
                assert await (await client.get(variant)).content() == body, variant


@pytest_twisted.ensureDeferred
async def test_counts_are_rebuilt_once_they_are_old(rt: Runtime, serve: Any) -> None:
    """The instance's user count is served from memory for FIGURES_SECONDS
    (pleromad-ctl adds accounts from another process, so no event could
    invalidate it), then counted again."""
    clock = Clock()
    clock.advance(1000)
    timed = dataclasses.replace(rt, clock=clock)
    client = serve(build_gateway(timed))
    await make_user(rt, "alice")

    async def users() -> int:
        count: int = (await (await client.get("/api/v1/instance")).json())["stats"]["user_count"]
        return count

    assert await users() == 1
    await make_user(rt, "bob")
    clock.advance(FIGURES_SECONDS - 1)
    assert await users() == 1
    clock.advance(1)
    assert await users() == 2


@pytest_twisted.ensureDeferred
async def test_one_rebuild_for_everyone_waiting() -> None:
    """Requests that find the answer stale wait for one rebuild together; a
    failed rebuild fails its requests and the next one tries again."""
    clock = Clock()
    builds: list[Deferred[Prebuilt]] = []

    def build() -> Deferred[Prebuilt]:
        builds.append(Deferred())
        return builds[-1]

    source = Refreshed(clock, 10, build)
    assert source.peek() is None
    waiting = [ensureDeferred(source.get()) for _ in range(3)]
    assert len(builds) == 1
    builds[0].callback(THING)
    assert [w.result for w in waiting] == [THING] * 3
    assert source.peek() is THING
    clock.advance(10)
    assert source.peek() is None
    failed = ensureDeferred(source.get())
    builds[1].errback(RuntimeError("database down"))
    failed.addErrback(lambda f: f.trap(RuntimeError))
    retried = ensureDeferred(source.get())
    assert len(builds) == 3
    builds[2].callback(THING)
    assert retried.result is THING


@pytest_twisted.ensureDeferred
async def test_an_on_demand_answer_is_built_once_when_first_asked_for() -> None:
    """An OnDemand answer (the OpenAPI document) is not built until a
    request asks for it; requests that come meanwhile share that one build,
    and later ones are served from memory (the fast path) without another."""
    builds: list[int] = []

    def build() -> Prebuilt:
        builds.append(1)
        return THING

    source = OnDemand(build)
    assert source.peek() is None and builds == []
    answers = await gatherResults([ensureDeferred(source.get()) for _ in range(3)])
    assert answers == [THING] * 3 and builds == [1]
    assert source.peek() is THING and await source.get() is THING and builds == [1]
