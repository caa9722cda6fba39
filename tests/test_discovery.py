"""Discovery: WebFinger, host-meta and NodeInfo, through the real tree."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from typing import Any

import pytest_twisted

from pleromad.runtime import Runtime
from pleromad.web.root import build_gateway, served_routes
from pleromad.web.site import body_limit
from tests.conftest import Client
from tests.helpers import query
from tests.test_accounts import answer, bearer, make_user, set_user

WEBFINGER = "/.well-known/webfinger"
XRD_NS = "{http://docs.oasis-open.org/ns/xri/xrd-1.0}"


def content_type(response: Any) -> str:
    return response.headers.getRawHeaders(b"content-type")[0].decode()


def with_base_url(rt: Runtime, serve: Any, base_url: str) -> tuple[Runtime, Client]:
    rt = replace(rt, config=replace(rt.config, server=replace(rt.config.server, base_url=base_url)))
    return rt, serve(build_gateway(rt), body_limit(rt.config.instance.upload_limit))


async def finger(client: Client, resource: str, **headers: str) -> Any:
    return await client.get(WEBFINGER, params={"resource": resource}, headers=headers)


@pytest_twisted.ensureDeferred
async def test_webfinger_acct_with_the_port_of_base_url(rt: Runtime, client: Client) -> None:
    """``acct:nick@host:port`` (base_url has a port) answers the JRD: the
    subject, the actor as alias, the profile page, the actor as
    ActivityStreams and the remote-follow template."""
    base = rt.config.server.base_url
    assert base == "http://localhost:4000"
    await make_user(rt, "alice")
    response = await finger(client, "acct:alice@localhost:4000")
    assert response.code == 200
    assert content_type(response).startswith("application/jrd+json")
    body = await response.json()
    actor = f"{base}/users/alice"
    assert body["subject"] == "acct:alice@localhost:4000"
    assert body["aliases"] == [actor]
    links = {(link["rel"], link.get("type")): link for link in body["links"]}
    assert links[("self", "application/activity+json")]["href"] == actor
    assert links[("http://webfinger.net/rel/profile-page", "text/html")]["href"] == actor
    subscribe = links[("http://ostatus.org/schema/1.0/subscribe", None)]
    assert subscribe["template"] == f"{base}/ostatus_subscribe?acct={{uri}}"


@pytest_twisted.ensureDeferred
async def test_webfinger_by_actor_url_and_in_any_case(rt: Runtime, client: Client) -> None:
    """The actor URL names the account too, and so does the nickname in
    another case; the subject is the nickname as registered."""
    await make_user(rt, "Alice")
    by_url = await (await finger(client, f"{rt.config.server.base_url}/users/Alice")).json()
    by_acct = await (await finger(client, "acct:alice@LOCALHOST:4000")).json()
    assert by_url["subject"] == by_acct["subject"] == "acct:Alice@localhost:4000"


@pytest_twisted.ensureDeferred
async def test_webfinger_without_a_port(rt: Runtime, serve: Any) -> None:
    """A base_url without a port makes plain ``acct:nick@host`` URIs."""
    rt, client = with_base_url(rt, serve, "https://social.example")
    await make_user(rt, "bob")
    response = await finger(client, "acct:bob@social.example")
    assert response.code == 200
    body = await response.json()
    assert body["subject"] == "acct:bob@social.example"
    assert body["aliases"] == ["https://social.example/users/bob"]
    assert (await finger(client, "acct:bob@social.example:443")).code == 404


@pytest_twisted.ensureDeferred
async def test_webfinger_unknown_and_gone_accounts_are_404(rt: Runtime, client: Client) -> None:
    """Nobody, another host, a remote account, a deactivated or deleted
    account: 404 with a JSON error."""
    await make_user(rt, "alice")
    gone = await make_user(rt, "gone")
    await set_user(rt, gone, deactivated=True)
    query(
        rt.db.dsn,
        "INSERT INTO users (nickname, local, ap_id) VALUES"
        " ('carol@remote.example', false, 'https://remote.example/users/carol')",
    )
    for resource in (
        "acct:nobody@localhost:4000",
        "acct:alice@elsewhere.example",
        "acct:alice@localhost",
        "acct:carol@remote.example",
        "https://remote.example/users/carol",
        "acct:gone@localhost:4000",
        "https://elsewhere.example/users/alice",
    ):
        code, body = await answer(await finger(client, resource))
        assert (code, body) == (404, {"error": "Couldn't find user"}), resource


@pytest_twisted.ensureDeferred
async def test_webfinger_malformed_is_400(client: Client) -> None:
    """No resource, an empty one or one with spaces in it: 400."""
    code, _ = await answer(await client.get(WEBFINGER))
    assert code == 400
    for resource in ("", "acct:a b@localhost:4000"):
        code, body = await answer(await finger(client, resource))
        assert code == 400 and "error" in body


@pytest_twisted.ensureDeferred
async def test_webfinger_answers_xrd_when_asked(rt: Runtime, client: Client) -> None:
    """``Accept: application/xrd+xml`` gets the same links as XRD; JSON
    ranked higher still gets JRD; an Accept admitting neither is 406."""
    await make_user(rt, "alice")
    response = await finger(client, "acct:alice@localhost:4000", Accept="application/xrd+xml")
    assert response.code == 200
    assert content_type(response).startswith("application/xrd+xml")
    root = ET.fromstring(await response.content())
    assert root.find(f"{XRD_NS}Subject").text == "acct:alice@localhost:4000"
    assert root.find(f"{XRD_NS}Alias").text == f"{rt.config.server.base_url}/users/alice"
    rels = {(link.get("rel"), link.get("type")) for link in root.iter(f"{XRD_NS}Link")}
    assert ("self", "application/activity+json") in rels
    preferred = await finger(
        client, "acct:alice@localhost:4000", Accept="application/xrd+xml;q=0.5, application/json"
    )
    assert content_type(preferred).startswith("application/jrd+json")
    refused = await finger(client, "acct:alice@localhost:4000", Accept="text/html")
    assert refused.code == 406


@pytest_twisted.ensureDeferred
async def test_webfinger_finds_the_instance_actor(rt: Runtime, client: Client) -> None:
    """The instance actor has an acct: URI too, so that servers checking key
    owners by WebFinger find it."""
    base = rt.config.server.base_url
    for resource in ("acct:internal.fetch@localhost:4000", f"{base}/internal/fetch"):
        body = await (await finger(client, resource)).json()
        assert body["subject"] == "acct:internal.fetch@localhost:4000"
        assert body["aliases"] == [f"{base}/internal/fetch"]


@pytest_twisted.ensureDeferred
async def test_host_meta_points_at_webfinger(rt: Runtime, client: Client) -> None:
    """host-meta is XRD with the lrdd template."""
    response = await client.get("/.well-known/host-meta")
    assert response.code == 200
    assert content_type(response).startswith("application/xrd+xml")
    root = ET.fromstring(await response.content())
    link = root.find(f"{XRD_NS}Link")
    assert link.get("rel") == "lrdd"
    assert (
        link.get("template")
        == f"{rt.config.server.base_url}/.well-known/webfinger?resource={{uri}}"
    )


@pytest_twisted.ensureDeferred
async def test_nodeinfo_links_both_versions(rt: Runtime, client: Client) -> None:
    """/.well-known/nodeinfo links 2.0 and 2.1 by their schema URIs."""
    code, body = await answer(await client.get("/.well-known/nodeinfo"))
    base = rt.config.server.base_url
    assert code == 200
    assert body["links"] == [
        {"rel": f"http://nodeinfo.diaspora.software/ns/schema/{v}", "href": f"{base}/nodeinfo/{v}"}
        for v in ("2.0", "2.1")
    ]


@pytest_twisted.ensureDeferred
async def test_nodeinfo_documents(rt: Runtime, client: Client) -> None:
    """Both versions name the software, speak ActivityPub and carry
    Pleroma's metadata from the configuration; 2.1 may name the repository,
    2.0 never (its schema forbids it); the profile is in the content type."""
    await make_user(rt, "admin", is_admin=True)
    await make_user(rt, "mod", is_moderator=True)
    await make_user(rt, "plain")
    base = rt.config.server.base_url
    for version in ("2.0", "2.1"):
        response = await client.get(f"/nodeinfo/{version}")
        assert response.code == 200
        assert content_type(response) == (
            f"application/json; profile=http://nodeinfo.diaspora.software/ns/schema/{version}#"
        )
        body = await response.json()
        assert body["version"] == version
        assert body["software"]["name"] == "pleromad"
        assert body["protocols"] == ["activitypub"]
        assert body["services"] == {"inbound": [], "outbound": []}
        assert body["openRegistrations"] is True
        metadata = body["metadata"]
        assert metadata["nodeName"] == rt.config.instance.name
        assert metadata["staffAccounts"] == [f"{base}/users/admin", f"{base}/users/mod"]
        assert metadata["federation"]["enabled"] is True
        assert metadata["postFormats"] == ["text/plain", "text/markdown", "text/html"]
        assert metadata["uploadLimits"]["general"] == rt.config.instance.upload_limit
        assert metadata["accountActivationRequired"] is False
        assert metadata["invitesEnabled"] is False
        assert "internal" in metadata["restrictedNicknames"]
    assert set(body["software"]) <= {"name", "version", "repository", "homepage"}


@pytest_twisted.ensureDeferred
async def test_nodeinfo_features_are_what_is_served(client: Client) -> None:
    """Features come from the route map: multifetch (GET /api/v1/statuses
    with ids) is served, polls are not."""
    body = await (await client.get("/nodeinfo/2.1")).json()
    features = body["metadata"]["features"]
    assert {"pleroma_api", "mastodon_api", "multifetch"} <= set(features)
    served = {(route.method, route.path) for route in served_routes()}
    assert "polls" not in features and ("GET", "/api/v1/polls/{id}") not in served


@pytest_twisted.ensureDeferred
async def test_nodeinfo_usage_counts(rt: Runtime, client: Client) -> None:
    """Users in use are counted; active means posted or logged in within
    the month or half-year; local posts leave out reblogs and remote posts."""
    poster = await make_user(rt, "poster")
    old = await make_user(rt, "old")
    await make_user(rt, "idle")
    gone = await make_user(rt, "gone")
    await set_user(rt, gone, deactivated=True)
    remote = query(
        rt.db.dsn,
        "INSERT INTO users (nickname, local, ap_id) VALUES"
        " ('carol@remote.example', false, 'https://remote.example/users/carol') RETURNING id",
    )[0][0]
    headers = await bearer(rt, poster)
    code, status = await answer(
        await client.post("/api/v1/statuses", json={"status": "hi"}, headers=headers)
    )
    assert code == 200
    await client.post(f"/api/v1/statuses/{status['id']}/reblog", headers=headers)
    query(
        rt.db.dsn,
        "INSERT INTO statuses (account_id, conversation_id, visibility, content)"
        " VALUES (%s, 1, 'public', 'remote')",
        (remote,),
    )
    # A token from 90 days ago: active in the half-year, not in the month.
    await bearer(rt, old)
    query(
        rt.db.dsn,
        "UPDATE oauth_tokens SET created_at = now() - interval '90 days' WHERE user_id = %s",
        (old.id,),
    )
    body = await (await client.get("/nodeinfo/2.0")).json()
    assert body["usage"] == {
        "users": {"total": 3, "activeMonth": 1, "activeHalfyear": 2},
        "localPosts": 1,
    }
