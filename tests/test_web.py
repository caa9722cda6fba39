"""The web layer's conventions, through the real resource tree."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from pleromad.errors import Forbidden
from pleromad.runtime import Runtime
from pleromad.web.base import Call, api_app, route
from pleromad.web.root import build_gateway
from pleromad.web.site import Gateway, body_limit
from tests.conftest import Client


async def get_json(response: Any) -> Any:
    assert response.headers.getRawHeaders("content-type") == ["application/json; charset=utf-8"]
    return json.loads(await response.text("utf-8"))


@pytest_twisted.ensureDeferred
async def test_healthcheck_reports_pool_and_memory(client: Client) -> None:
    """A healthy node answers 200 with the pool figures, its memory and healthy: true."""
    response = await client.get("/api/pleroma/healthcheck")
    assert response.code == 200
    body = await get_json(response)
    assert set(body) == {"pool_size", "active", "idle", "memory_used", "healthy"}
    assert body["healthy"] is True
    assert body["pool_size"] == 4
    assert body["active"] >= 1  # the healthcheck's own query
    assert body["active"] + body["idle"] == 4
    assert isinstance(body["memory_used"], float) and body["memory_used"] > 1


@pytest_twisted.ensureDeferred
async def test_healthcheck_disabled_answers_503_empty(rt: Runtime, serve: Any) -> None:
    """With [instance] healthcheck = false the endpoint answers 503 and {}."""
    config = replace(rt.config, instance=replace(rt.config.instance, healthcheck=False))
    client = serve(build_gateway(replace(rt, config=config)), config.instance.upload_limit)
    response = await client.get("/api/pleroma/healthcheck")
    assert response.code == 503
    assert await get_json(response) == {}


@pytest_twisted.ensureDeferred
async def test_healthcheck_unhealthy_when_pool_exhausted(rt: Runtime, client: Client) -> None:
    """Every pool connection busy: healthy is false, with a 503."""
    release: Deferred[None] = Deferred()

    async def hold_txn(txn: Any) -> None:
        await release

    holders = [rt.db.run_interaction("hold", hold_txn) for _ in range(rt.db.size)]
    try:
        response = await client.get("/api/pleroma/healthcheck")
        assert response.code == 503
        body = await get_json(response)
        assert body["healthy"] is False
        assert body["active"] == 4 and body["idle"] == 0
    finally:
        release.callback(None)
        for holder in holders:
            await holder


@pytest_twisted.ensureDeferred
async def test_unknown_api_route_is_not_implemented(client: Client) -> None:
    """Unknown routes under /api answer 404 {"error": "Not implemented"}, any method."""
    for method, url in [
        ("GET", "/api/pleroma/nonsense"),
        ("POST", "/api/v9/whatever"),
        ("DELETE", "/api/pleroma/healthcheck"),
    ]:
        response = await client.request(method, url)
        assert response.code == 404, url
        assert await get_json(response) == {"error": "Not implemented"}


@pytest_twisted.ensureDeferred
async def test_unknown_route_outside_api_is_json_404(client: Client) -> None:
    """Outside /api an unknown path is a JSON 404 too, never an HTML page."""
    response = await client.get("/nowhere")
    assert response.code == 404
    assert await get_json(response) == {"error": "Not found"}


@pytest_twisted.ensureDeferred
async def test_trailing_slash_and_json_suffix_route_the_same(client: Client) -> None:
    """/x/, /x.json and /x all reach the same endpoint (Mastodon.py and toot add slashes)."""
    for path in ["/api/pleroma/healthcheck/", "/api/pleroma/healthcheck.json"]:
        response = await client.get(path)
        assert response.code == 200, path
        assert (await get_json(response))["healthy"] is True


@pytest_twisted.ensureDeferred
async def test_odd_paths_are_json_errors(client: Client) -> None:
    """A doubled slash or a non-UTF-8 escape in a path is a JSON 4xx, never a 500."""
    response = await client.get("/api/pleroma//healthcheck")
    assert response.code == 404
    assert await get_json(response) == {"error": "Not implemented"}
    response = await client.get("/api/%ff")
    assert response.code == 400
    assert await get_json(response) == {"error": "Paths must be UTF-8"}


@pytest_twisted.ensureDeferred
async def test_head_is_served_as_get_without_body(client: Client) -> None:
    """HEAD answers like GET, headers only."""
    response = await client.head("/api/pleroma/healthcheck")
    assert response.code == 200
    assert await response.content() == b""


@pytest_twisted.ensureDeferred
async def test_cors_headers_and_preflight(client: Client) -> None:
    """Browsers get CORS headers on every answer and a 204 to a preflight."""
    response = await client.get(
        "/api/pleroma/healthcheck",
        headers={"Origin": "https://fe.example"},
    )
    assert response.headers.getRawHeaders("access-control-allow-origin") == ["https://fe.example"]
    assert response.headers.getRawHeaders("access-control-allow-credentials") == ["true"]
    assert "Link" in response.headers.getRawHeaders("access-control-expose-headers")[0]
    preflight = await client.request(
        "OPTIONS",
        "/api/v1/statuses",
        headers={
            "Origin": "https://fe.example",
            "Access-Control-Request-Method": "POST",
        },
    )
    assert preflight.code == 204
    assert "PATCH" in preflight.headers.getRawHeaders("access-control-allow-methods")[0]
    assert "Authorization" in preflight.headers.getRawHeaders("access-control-allow-headers")[0]


@pytest_twisted.ensureDeferred
async def test_body_over_upload_limit_is_413(rt: Runtime, serve: Any) -> None:
    """A body larger than [instance] upload_limit plus room for multipart framing
    is refused with 413 before routing, whether declared or streamed."""
    config = replace(rt.config, instance=replace(rt.config.instance, upload_limit=1000))
    limit = body_limit(config.instance.upload_limit)
    client = serve(build_gateway(replace(rt, config=config)), limit)
    response = await client.post("/api/pleroma/healthcheck", data=b"x" * (limit + 1))
    assert response.code == 413
    assert await get_json(response) == {"error": "Request body too large"}


class Echo:
    """A family that shows what a handler receives, to test the plumbing."""

    app = api_app()

    def __init__(self) -> None:
        self.arrived: Deferred[None] = Deferred()
        self.gate: Deferred[None] = Deferred()

    @route(app, "/slow", "GET")
    async def slow(self, call: Call) -> Any:
        self.arrived.callback(None)
        await self.gate
        return {"done": True}

    @route(app, "/echo/<thing>", "GET", "POST", "PUT")
    async def echo(self, call: Call) -> Any:
        return {
            key: (value.filename, value.content_type, len(value.data))
            if hasattr(value, "data")
            else value
            for key, value in call.params.items()
        }

    @route(app, "/typed", "GET", "POST")
    async def typed(self, call: Call) -> Any:
        return {
            "n": call.params.int("n"),
            "flag": call.params.bool("flag"),
            "name": call.params.required_str("name"),
            "ids": call.params.list("ids"),
        }

    @route(app, "/forbidden", "GET")
    async def forbidden(self, call: Call) -> Any:
        raise Forbidden("Invalid credentials.")

    @route(app, "/boom", "GET")
    async def boom(self, call: Call) -> Any:
        raise RuntimeError("secret detail that must not leak")


@pytest.fixture
def echo(serve: Any) -> Client:
    return serve(Gateway(Echo().app.resource(), 10_000_000), contract=False)


async def slow_request_in_flight(serve: Any) -> tuple[Echo, Gateway, Deferred[Any]]:
    """A request that has reached /slow's handler and waits on its gate."""
    family = Echo()
    gateway = Gateway(family.app.resource(), 10_000_000)
    pending = serve(gateway, contract=False).get("/slow")
    await family.arrived
    return family, gateway, pending


@pytest_twisted.ensureDeferred
async def test_drain_waits_for_requests_in_flight(serve: Any) -> None:
    """Shutdown's drain fires only once the requests in flight have been answered."""
    family, gateway, pending = await slow_request_in_flight(serve)
    drained = gateway.drain(reactor, 30)
    assert not drained.called
    family.gate.callback(None)
    response = await pending
    assert await get_json(response) == {"done": True}
    await drained


@pytest_twisted.ensureDeferred
async def test_drain_gives_up_after_its_timeout(serve: Any) -> None:
    """A request that never finishes does not hold shutdown past the drain timeout."""
    family, gateway, pending = await slow_request_in_flight(serve)
    clock = Clock()
    drained = gateway.drain(clock, 10)
    clock.advance(9.9)
    assert not drained.called
    clock.advance(0.1)
    await drained
    family.gate.callback(None)
    await pending


@pytest_twisted.ensureDeferred
async def test_params_merge_query_form_and_path(echo: Client) -> None:
    """Query string, urlencoded body and path merge; body beats query (a whole list
    included), path beats both; key[] makes lists and a[b] maps."""
    response = await echo.post(
        "/echo/p?a=query&b=query&thing=query&ids[]=1",
        data={"b": "body", "ids[]": ["2", "3"], "m[k]": "v"},
    )
    assert await get_json(response) == {
        "a": "query",
        "b": "body",
        "thing": "p",
        "ids": ["2", "3"],
        "m": {"k": "v"},
    }


@pytest_twisted.ensureDeferred
async def test_params_json_body_keeps_types(echo: Client) -> None:
    """A JSON body keeps booleans, numbers and arrays; a non-object body lands in _json."""
    client = echo
    response = await client.put(
        "/echo/p",
        data=json.dumps({"flag": True, "n": 3, "ids": ["a", "b"]}).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert await get_json(response) == {"flag": True, "n": 3, "ids": ["a", "b"], "thing": "p"}
    response = await client.put(
        "/echo/p",
        data=b"[1, 2]",
        headers={"Content-Type": "application/json"},
    )
    assert await get_json(response) == {"_json": [1, 2], "thing": "p"}


@pytest_twisted.ensureDeferred
async def test_params_multipart_fields_and_files(echo: Client) -> None:
    """Multipart forms give text fields as strings and files with name, type and bytes."""
    response = await echo.post(
        "/echo/p",
        data={"description": "café"},
        files={"file": ("pic.png", "image/png", b"\x89PNG" + b"\0" * 100)},
    )
    assert await get_json(response) == {
        "description": "café",
        "file": ["pic.png", "image/png", 104],
        "thing": "p",
    }


@pytest_twisted.ensureDeferred
async def test_params_large_multipart_is_parsed_too(echo: Client) -> None:
    """A multipart body past the in-thread threshold parses the same way."""
    blob = bytes(range(256)) * 1024  # 256 KiB
    response = await echo.post(
        "/echo/p",
        files={"file": ("blob.bin", "application/octet-stream", blob)},
    )
    assert (await get_json(response))["file"] == ["blob.bin", "application/octet-stream", len(blob)]


@pytest_twisted.ensureDeferred
async def test_typed_getters_accept_every_encoding(echo: Client) -> None:
    """The same typed parameters arrive from a query string and from JSON."""
    client = echo
    from_query = await client.get("/typed?n=42&flag=on&name=x&ids[]=1&ids[]=2")
    from_json = await client.post(
        "/typed",
        data=json.dumps({"n": 42, "flag": True, "name": "x", "ids": [1, 2]}).encode(),
        headers={"Content-Type": "application/json"},
    )
    expected = {"n": 42, "flag": True, "name": "x", "ids": ["1", "2"]}
    from_form = await client.post(
        "/typed", data={"n": "42", "flag": "true", "name": "x", "ids[]": ["1", "2"]}
    )
    assert await get_json(from_form) == expected
    accented = await client.get("/typed?name=%C3%A4%20%E2%9C%93")
    assert (await get_json(accented))["name"] == "ä ✓"
    assert await get_json(from_query) == expected
    assert await get_json(from_json) == expected


@pytest_twisted.ensureDeferred
async def test_bad_parameters_are_400_with_a_message(echo: Client) -> None:
    """Missing required fields, wrong types and malformed bodies are 400s naming the problem."""
    client = echo
    cases = [
        (client.get("/typed"), "Missing field: name"),
        (client.get("/typed?name=x&n=ten"), "Invalid value for n: expected an integer"),
        (client.get("/typed?name=x&flag=maybe"), "Invalid value for flag: expected a boolean"),
        (
            client.post("/typed", data=b"{not json", headers={"Content-Type": "application/json"}),
            "Malformed JSON body",
        ),
        (
            client.post("/typed", data=b"--x\r\n", headers={"Content-Type": "multipart/form-data"}),
            "Malformed multipart body: no boundary",
        ),
        (client.get("/typed?name=%FF"), "Parameters must be UTF-8"),
        (
            client.post(
                "/typed",
                data=b"name=%C3",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            ),
            "Parameters must be UTF-8",
        ),
        (client.get("/typed?name=a%00b"), "Invalid characters in name"),
        (
            client.post(
                "/typed", data=b"[" * 100_000, headers={"Content-Type": "application/json"}
            ),
            "Malformed JSON body",
        ),
    ]
    for pending, message in cases:
        response = await pending
        assert response.code == 400, message
        assert await get_json(response) == {"error": message}


@pytest_twisted.ensureDeferred
async def test_api_errors_keep_their_status(echo: Client) -> None:
    """A typed error raised by a handler becomes its status and {"error": message}."""
    response = await echo.get("/forbidden")
    assert response.code == 403
    assert await get_json(response) == {"error": "Invalid credentials."}


@pytest_twisted.ensureDeferred
async def test_unexpected_exception_is_a_bare_500(echo: Client) -> None:
    """A bug answers 500 {"error": "Internal server error"}; no traceback or detail leaks."""
    response = await echo.get("/boom")
    assert response.code == 500
    text = await response.text("utf-8")
    assert json.loads(text) == {"error": "Internal server error"}
    assert "secret" not in text and "Traceback" not in text


# -- method override and content negotiation (mastodon-subset §0) -------------


@pytest_twisted.ensureDeferred
async def test_a_post_with_method_override_is_routed_as_that_method(
    rt: Runtime, client: Client
) -> None:
    """Plug.MethodOverride: `_method` in a form or JSON POST body picks PUT,
    PATCH or DELETE; any other value, or a GET, is not an override."""
    from tests.test_accounts import bearer, make_user

    alice = await make_user(rt, "alice")
    auth = await bearer(rt, alice)
    r = await client.post(
        "/api/v1/accounts/update_credentials",
        headers=auth,
        data={"_method": "patch", "display_name": "Alice Liddell"},
    )
    assert r.code == 200
    assert (await get_json(r))["display_name"] == "Alice Liddell"
    r = await client.post(
        "/api/pleroma/notification_settings",
        headers={**auth, "Content-Type": "application/json"},
        data=json.dumps({"_method": "PUT", "follows": False}).encode(),
    )
    assert (r.code, await get_json(r)) == (200, {"status": "success"})
    for refused in ("GET", "TRACE"):
        r = await client.post(
            "/api/v1/accounts/verify_credentials", headers=auth, data={"_method": refused}
        )
        assert (r.code, await get_json(r)) == (404, {"error": "Not implemented"})


@pytest_twisted.ensureDeferred
async def test_an_accept_header_without_json_is_406(client: Client) -> None:
    """JSON routes answer 406 to an Accept that admits no JSON; a missing
    header, */*, application/* or one JSON range among others are fine; the
    captcha and healthcheck (the reference's pleroma_api pipeline) take HTML too."""
    for accept in ("application/json", "text/html, */*;q=0.8", "application/*", ""):
        r = await client.get("/api/v1/instance", headers={"Accept": accept})
        assert r.code == 200, accept
    for accept in ("text/html", "application/xml, text/plain", "application/json;q=0"):
        r = await client.get("/api/v1/instance", headers={"Accept": accept})
        assert (r.code, await get_json(r)) == (406, {"error": "Not acceptable"}), accept
    r = await client.get("/api/pleroma/healthcheck", headers={"Accept": "text/html"})
    assert r.code == 200
    r = await client.get("/api/pleroma/healthcheck", headers={"Accept": "image/png"})
    assert r.code == 406
