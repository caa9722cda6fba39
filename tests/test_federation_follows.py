"""Follows, follow requests, blocks and follow import between two pleromad
servers, driven through the client API.

A on 127.0.0.2 and B on 127.0.0.3 (``tests/federation_peers.py``), each with
its own database and job runner: what one server's client API does reaches
the other through signed deliveries, and the other's answer comes back the
same way.  Every wait is a bounded poll.
"""

from __future__ import annotations

from typing import Any

import pytest_twisted

from pleromad.domain.remote_actors import clean_document
from pleromad.model import User
from pleromad.views.accounts import remote_profile
from tests.federation_peers import Server, StartServer, fediverse
from tests.helpers import eventually, query
from tests.test_accounts import bearer, make_user, set_user
from tests.test_federation_peers import WAIT, follow_state

__all__ = ["fediverse"]  # the fixture, for pytest


@pytest_twisted.async_fixture
async def pair(fediverse: StartServer) -> tuple[Server, Server]:
    return await fediverse("127.0.0.2"), await fediverse("127.0.0.3")


async def call(
    server: Server, user: User, method: str, path: str, **kwargs: Any
) -> tuple[int, Any]:
    answer = await server.api.request(method, path, headers=await bearer(server.rt, user), **kwargs)
    return answer.code, await answer.json()


async def find(server: Server, reader: User, address: str) -> dict[str, Any]:
    """The Account ``reader`` finds on ``server`` by searching for ``address``
    with ``resolve=true``."""
    code, body = await call(
        server, reader, "GET", "/api/v2/search", params={"q": address, "resolve": "true"}
    )
    assert code == 200, body
    assert body["accounts"], f"{address} not found"
    return body["accounts"][0]


def blocks(server: Server, blocker_ap_id: str, blocked_ap_id: str) -> bool:
    rows = query(
        server.dsn,
        "SELECT 1 FROM blocks b JOIN users a ON a.id = b.blocker_id"
        " JOIN users c ON c.id = b.blocked_id WHERE a.ap_id = %s AND c.ap_id = %s",
        (blocker_ap_id, blocked_ap_id),
    )
    return bool(rows)


async def until(check: Any, what: str) -> None:
    await eventually(check, what, WAIT)


# -- finding remote accounts ------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_search_and_lookup_find_an_account_of_the_other_server(
    pair: tuple[Server, Server],
) -> None:
    """A signed-in reader's search with resolve=true finds `@nick@host` by
    WebFinger and stores it; lookup then finds it by `nick@host`, as does a
    search for its actor URL; an anonymous search resolves nothing."""
    a, b = pair
    alice = await make_user(a.rt, "alice")
    await make_user(b.rt, "bob", name="Bob of B")
    await make_user(b.rt, "carol")

    anonymous = await a.api.get("/api/v2/search", params={"q": b.acct("carol"), "resolve": "true"})
    assert (anonymous.code, (await anonymous.json())["accounts"]) == (200, [])
    bob = await find(a, alice, "@" + b.acct("bob"))
    assert (bob["acct"], bob["username"], bob["url"]) == (b.acct("bob"), "bob", b.actor_id("bob"))
    assert bob["display_name"] == "Bob of B"

    code, looked_up = await call(
        a, alice, "GET", "/api/v1/accounts/lookup", params={"acct": b.acct("bob")}
    )
    assert (code, looked_up["id"]) == (200, bob["id"])
    assert (await find(a, alice, b.actor_id("bob")))["id"] == bob["id"]
    assert query(a.dsn, "SELECT count(*) FROM users WHERE nickname = %s", (b.acct("carol"),)) == [
        (0,)
    ]


def test_a_remote_accounts_entity_shows_what_its_actor_document_says() -> None:
    """A remote Account takes from the actor document its profile page
    (`url`), `bot` (a Service), the `fields` (names as text, values
    sanitized when the document arrived) and the custom `emojis` its name and bio use; nothing that
    is not an http(s) address or a PropertyValue is kept."""
    document = {
        "id": "https://masto.example/users/bot",
        "type": "Service",
        "url": "https://masto.example/@bot",
        "attachment": [
            {
                "type": "PropertyValue",
                "name": "<b>Site</b>",
                "value": (
                    '<a href="https://bot.example" onclick="x()">bot.example</a>'
                    "<script>alert(1)</script>"
                ),
            },
            {"type": "IdentityProof", "name": "x", "value": "y"},
        ],
        "tag": [
            {"type": "Emoji", "name": ":blob:", "icon": {"url": "https://masto.example/blob.png"}},
            {"type": "Emoji", "name": ":evil:", "icon": {"url": "javascript:alert(1)"}},
        ],
    }
    extras = remote_profile(clean_document(document))  # as stored, as rendered
    assert (extras["url"], extras["bot"]) == ("https://masto.example/@bot", True)
    [field] = extras["fields"]
    assert field["name"] == "Site"
    assert "onclick" not in field["value"] and "script" not in field["value"]
    assert 'href="https://bot.example"' in field["value"]
    assert [e["shortcode"] for e in extras["emojis"]] == ["blob"]
    assert extras["emojis"][0]["static_url"] == "https://masto.example/blob.png"
    assert remote_profile({"type": "Person", "url": "javascript:x"}) == {
        "bot": False,
        "fields": [],
        "emojis": [],
    }


# -- follows --------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_follow_is_requested_until_accepted_and_unfollow_undoes_it(
    pair: tuple[Server, Server],
) -> None:
    """Following a remote account answers `requested` (a Follow is sent);
    the other server's Accept makes it `following`, and B lists the
    follower; unfollowing sends Undo and B drops the follower."""
    a, b = pair
    alice = await make_user(a.rt, "alice")
    await make_user(b.rt, "bob")
    bob = await find(a, alice, b.acct("bob"))

    code, relationship = await call(a, alice, "POST", f"/api/v1/accounts/{bob['id']}/follow")
    assert code == 200, relationship
    assert (relationship["following"], relationship["requested"]) == (False, True)

    await until(lambda: follow_state(a, alice.ap_id, b.actor_id("bob")) == "accepted", "Accept")
    assert follow_state(b, alice.ap_id, b.actor_id("bob")) == "accepted"
    code, (relationship,) = await call(
        a, alice, "GET", "/api/v1/accounts/relationships", params={"id[]": bob["id"]}
    )
    assert (relationship["following"], relationship["requested"]) == (True, False)

    code, relationship = await call(a, alice, "POST", f"/api/v1/accounts/{bob['id']}/unfollow")
    assert (code, relationship["following"]) == (200, False)
    await until(lambda: follow_state(b, alice.ap_id, b.actor_id("bob")) is None, "Undo(Follow)")


@pytest_twisted.ensureDeferred
async def test_a_locked_accounts_requests_are_authorized_or_rejected(
    pair: tuple[Server, Server],
) -> None:
    """A follow of a locked account of B stays a request on both sides; the
    account's authorize sends Accept (A's follow is accepted), its reject
    sends Reject (A's request is gone)."""
    a, b = pair
    alice = await make_user(a.rt, "alice")
    dave = await make_user(a.rt, "dave")
    carol = await set_user(b.rt, await make_user(b.rt, "carol"), locked=True)
    for follower in (alice, dave):
        remote = await find(a, follower, b.acct("carol"))
        assert remote["locked"] is True
        await call(a, follower, "POST", f"/api/v1/accounts/{remote['id']}/follow")
    for follower in (alice, dave):
        await until(
            lambda f=follower: follow_state(b, f.ap_id, carol.ap_id) == "pending", "the request"
        )

    code, requests = await call(b, carol, "GET", "/api/v1/follow_requests")
    by_ap_id = {account["url"]: account["id"] for account in requests}
    assert set(by_ap_id) == {alice.ap_id, dave.ap_id}
    code, _ = await call(
        b, carol, "POST", f"/api/v1/follow_requests/{by_ap_id[alice.ap_id]}/authorize"
    )
    assert code == 200
    code, _ = await call(b, carol, "POST", f"/api/v1/follow_requests/{by_ap_id[dave.ap_id]}/reject")
    assert code == 200

    await until(lambda: follow_state(a, alice.ap_id, carol.ap_id) == "accepted", "Accept")
    await until(lambda: follow_state(a, dave.ap_id, carol.ap_id) is None, "Reject")
    assert follow_state(b, dave.ap_id, carol.ap_id) is None


@pytest_twisted.ensureDeferred
async def test_a_block_ends_follows_both_ways_and_unblock_undoes_it(
    pair: tuple[Server, Server],
) -> None:
    """When B's bob blocks A's alice, who follow each other, B sends Block:
    A records it and both follows are gone on both servers; unblocking
    sends Undo(Block) and A forgets the block."""
    a, b = pair
    alice = await make_user(a.rt, "alice")
    bob = await make_user(b.rt, "bob")
    remote_bob = await find(a, alice, b.acct("bob"))
    remote_alice = await find(b, bob, a.acct("alice"))
    await call(a, alice, "POST", f"/api/v1/accounts/{remote_bob['id']}/follow")
    await call(b, bob, "POST", f"/api/v1/accounts/{remote_alice['id']}/follow")
    await until(lambda: follow_state(a, alice.ap_id, bob.ap_id) == "accepted", "alice follows")
    await until(lambda: follow_state(b, bob.ap_id, alice.ap_id) == "accepted", "bob follows")

    code, relationship = await call(b, bob, "POST", f"/api/v1/accounts/{remote_alice['id']}/block")
    assert (code, relationship["blocking"]) == (200, True)
    await until(lambda: blocks(a, bob.ap_id, alice.ap_id), "the Block")
    for server in (a, b):
        await until(
            lambda s=server: (
                follow_state(s, alice.ap_id, bob.ap_id) is None
                and follow_state(s, bob.ap_id, alice.ap_id) is None
            ),
            "follows gone both ways",
        )

    await call(b, bob, "POST", f"/api/v1/accounts/{remote_alice['id']}/unblock")
    await until(lambda: not blocks(a, bob.ap_id, alice.ap_id), "Undo(Block)")


# -- follow import ---------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_a_mastodon_export_naming_the_other_servers_accounts_is_followed(
    pair: tuple[Server, Server],
) -> None:
    """A Mastodon "following" CSV naming B's accounts as `nick@host`,
    `@nick@host` and actor URL is resolved and followed by A's job (each
    Follow accepted by B, or a request for the locked one); an address B
    does not know is skipped."""
    a, b = pair
    alice = await make_user(a.rt, "alice")
    for name in ("bob", "dora", "erin"):
        await make_user(b.rt, name)
    frank = await set_user(b.rt, await make_user(b.rt, "frank"), locked=True)
    export = "\r\n".join(
        [
            "Account address,Show boosts,Notify on new posts,Languages",
            f"{b.acct('bob')},true,false,",
            f"@{b.acct('dora')},true,false,",
            f"{b.actor_id('erin')},true,false,",
            f"{b.acct('frank')},true,false,",
            f"nobody@{b.authority},true,false,",
        ]
    )
    code, body = await call(a, alice, "POST", "/api/pleroma/follow_import", data={"list": export})
    assert (code, body) == (200, "job started")

    for name in ("bob", "dora", "erin"):
        await until(
            lambda n=name: follow_state(a, alice.ap_id, b.actor_id(n)) == "accepted",
            f"{name} followed",
        )
    await until(lambda: follow_state(b, alice.ap_id, frank.ap_id) == "pending", "frank asked")
    assert follow_state(a, alice.ap_id, frank.ap_id) == "pending"
    await until(
        lambda: query(a.dsn, "SELECT count(*) FROM jobs WHERE kind = 'follow_import'") == [(0,)],
        "the import to finish",
    )
