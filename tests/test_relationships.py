"""Follows, follow requests, blocks, mutes, subscriptions and the
Relationship entity; followers/following lists; follow counts in accounts;
/api/v2/search; and what account deletion leaves of an account's relations."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import pytest_twisted
from twisted.internet.defer import Deferred, DeferredList

from pleromad.domain import lifecycle, relationships
from pleromad.model import User
from pleromad.runtime import Runtime
from tests.conftest import Client
from tests.helpers import query
from tests.test_accounts import answer, bearer, make_user, set_user

ACCOUNTS = "/api/v1/accounts"
PLEROMA = "/api/v1/pleroma/accounts"
RELATIONSHIP_KEYS = {
    "id", "following", "followed_by", "blocking", "blocked_by", "muting",
    "muting_notifications", "subscribing", "requested", "domain_blocking",
    "showing_reblogs", "endorsed",
}  # fmt: skip


def snapshot(rt: Runtime) -> dict[str, list[tuple[Any, ...]]]:
    """Every relationship row, to see that a refused request changed none."""
    return {
        "follows": query(
            rt.db.dsn,
            "SELECT follower_id, followee_id, state, show_reblogs, id FROM follows ORDER BY 1, 2",
        ),
        "blocks": query(rt.db.dsn, "SELECT blocker_id, blocked_id FROM blocks ORDER BY 1, 2"),
        "mutes": query(
            rt.db.dsn, "SELECT muter_id, muted_id, notifications FROM mutes ORDER BY 1, 2"
        ),
        "subscriptions": query(
            rt.db.dsn, "SELECT subscriber_id, target_id FROM subscriptions ORDER BY 1, 2"
        ),
    }


def follow_state(rt: Runtime, follower: User, followee: User) -> str | None:
    rows = query(
        rt.db.dsn,
        "SELECT state FROM follows WHERE follower_id = %s AND followee_id = %s",
        (follower.id, followee.id),
    )
    return rows[0][0] if rows else None


async def post(
    client: Client, path: str, headers: dict[str, str], **kwargs: Any
) -> tuple[int, Any]:
    return await answer(await client.post(path, headers=headers, **kwargs))


async def act(
    client: Client, headers: dict[str, str], target: User | str, action: str, **kwargs: Any
) -> tuple[int, Any]:
    target_id = target if isinstance(target, str) else target.id
    return await post(client, f"{ACCOUNTS}/{target_id}/{action}", headers, **kwargs)


async def relationship(client: Client, headers: dict[str, str], target: User) -> dict[str, Any]:
    code, body = await answer(
        await client.get(f"{ACCOUNTS}/relationships", headers=headers, params={"id": target.id})
    )
    assert code == 200 and len(body) == 1
    return body[0]


def links(response: Any) -> dict[str, str]:
    """The Link header's URLs by rel."""
    header = (response.headers.getRawHeaders("link") or [""])[0]
    found = {}
    for part in header.split(", "):
        if part:
            url, rel = part.split("; ")
            found[rel.removeprefix('rel="').removesuffix('"')] = url.strip("<>")
    return found


@pytest_twisted.async_fixture
async def people(rt: Runtime) -> dict[str, User]:
    return {name: await make_user(rt, name) for name in ("alice", "bob", "carol")}


# -- follow -----------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_following_an_unlocked_account_is_a_follow_at_once(
    rt: Runtime, client: Client, people: dict[str, User]
) -> None:
    """A follow of an unlocked account answers the Relationship with every
    key: following, not requested; the target is told once."""
    alice, bob = people["alice"], people["bob"]
    code, body = await act(client, await bearer(rt, alice), bob, "follow")
    assert code == 200
    assert set(body) == RELATIONSHIP_KEYS
    assert body == {
        "id": str(bob.id),
        "following": True,
        "followed_by": False,
        "blocking": False,
        "blocked_by": False,
        "muting": False,
        "muting_notifications": False,
        "subscribing": False,
        "requested": False,
        "domain_blocking": False,
        "showing_reblogs": True,
        "endorsed": False,
    }
    assert follow_state(rt, alice, bob) == "accepted"
    # Asking again changes nothing and tells nobody again.
    code, again = await act(client, await bearer(rt, alice), bob, "follow")
    assert code == 200 and again == body
    notified = query(
        rt.db.dsn,
        "SELECT count(*) FROM notifications WHERE user_id = %s AND actor_id = %s"
        " AND type = 'follow'",
        (bob.id, alice.id),
    )
    assert notified[0][0] == 1


@pytest_twisted.ensureDeferred
async def test_a_locked_account_gets_a_request_it_can_authorize(
    rt: Runtime, client: Client, people: dict[str, User]
) -> None:
    """Following a locked account makes a pending request (requested, not
    following); it is listed in the account's follow_requests and becomes a
    follow when authorized."""
    alice, bob = people["alice"], await set_user(rt, people["bob"], locked=True)
    as_alice, as_bob = await bearer(rt, alice), await bearer(rt, bob)
    code, body = await act(client, as_alice, bob, "follow")
    assert code == 200
    assert (body["following"], body["requested"]) == (False, True)
    assert follow_state(rt, alice, bob) == "pending"
    # Pending requests are not followers.
    code, account = await answer(await client.get(f"{ACCOUNTS}/{bob.id}"))
    assert account["followers_count"] == 0
    code, requests = await answer(await client.get("/api/v1/follow_requests", headers=as_bob))
    assert code == 200 and [a["id"] for a in requests] == [str(alice.id)]
    code, body = await post(client, f"/api/v1/follow_requests/{alice.id}/authorize", as_bob)
    assert code == 200
    assert body["id"] == str(alice.id) and body["followed_by"] is True
    assert follow_state(rt, alice, bob) == "accepted"
    assert (await relationship(client, as_alice, bob))["following"] is True
    code, requests = await answer(await client.get("/api/v1/follow_requests", headers=as_bob))
    assert requests == []


@pytest_twisted.ensureDeferred
async def test_rejecting_a_request_removes_it(
    rt: Runtime, client: Client, people: dict[str, User]
) -> None:
    """A rejected request is gone; answering a request that does not exist
    (or was answered already) is 404 and changes nothing."""
    alice, bob = people["alice"], await set_user(rt, people["bob"], locked=True)
    as_bob = await bearer(rt, bob)
    await act(client, await bearer(rt, alice), bob, "follow")
    code, body = await post(client, f"/api/v1/follow_requests/{alice.id}/reject", as_bob)
    assert code == 200 and body["followed_by"] is False
    assert follow_state(rt, alice, bob) is None
    before = snapshot(rt)
    for action in ("authorize", "reject"):
        for ref in (alice.id, people["carol"].id, "999999", bob.id):
            code, body = await post(client, f"/api/v1/follow_requests/{ref}/{action}", as_bob)
            assert (code, body) == (404, {"error": "Record not found"})
    assert snapshot(rt) == before


@pytest_twisted.ensureDeferred
async def test_an_accepted_follow_cannot_be_authorized_again(
    rt: Runtime, client: Client, people: dict[str, User]
) -> None:
    """authorize is for pending requests only: an existing follow is 404."""
    alice, bob = people["alice"], people["bob"]
    await act(client, await bearer(rt, alice), bob, "follow")
    code, _ = await post(
        client, f"/api/v1/follow_requests/{alice.id}/authorize", await bearer(rt, bob)
    )
    assert code == 404


@pytest_twisted.ensureDeferred
async def test_follow_requests_page_with_link_headers(rt: Runtime, client: Client) -> None:
    """follow_requests is newest request first, paginated by limit/max_id
    with a Link header."""
    bob = await make_user(rt, "bob", locked=True)
    requesters = [await make_user(rt, f"r{i}") for i in range(3)]
    for requester in requesters:
        await act(client, await bearer(rt, requester), bob, "follow")
    as_bob = await bearer(rt, bob)
    response = await client.get("/api/v1/follow_requests", headers=as_bob, params={"limit": 2})
    _code, body = await answer(response)
    assert [a["id"] for a in body] == [str(requesters[2].id), str(requesters[1].id)]
    next_url = links(response)["next"]
    assert next_url.startswith(f"{rt.config.server.base_url}/api/v1/follow_requests?")
    response = await client.get(
        urlsplit(next_url).path + "?" + urlsplit(next_url).query, headers=as_bob
    )
    _code, body = await answer(response)
    assert [a["id"] for a in body] == [str(requesters[0].id)]


@pytest_twisted.ensureDeferred
async def test_following_oneself_or_nobody_is_404(
    rt: Runtime, client: Client, people: dict[str, User]
) -> None:
    """Following, blocking, muting or subscribing to oneself, an unknown id
    or a deleted account is 404 Record not found, and changes nothing."""
    alice = people["alice"]
    gone = await make_user(rt, "gone")
    await lifecycle.delete_account(rt, gone.id)
    as_alice = await bearer(rt, alice)
    before = snapshot(rt)
    for ref in (alice, gone, "12345", "nobody"):
        for action in ("follow", "unfollow", "block", "unblock", "mute", "unmute"):
            code, body = await act(client, as_alice, ref, action)
            assert (code, body) == (404, {"error": "Record not found"}), (ref, action)
        for action in ("subscribe", "unsubscribe"):
            target_id = ref if isinstance(ref, str) else ref.id
            code, body = await post(client, f"{PLEROMA}/{target_id}/{action}", as_alice)
            assert (code, body) == (404, {"error": "Record not found"}), (ref, action)
    assert snapshot(rt) == before


@pytest_twisted.ensureDeferred
async def test_a_blocked_pair_cannot_follow(
    rt: Runtime, client: Client, people: dict[str, User]
) -> None:
    """Following an account that blocks you, or that you block, or that is
    deactivated is 403 with the reference's message; nothing changes."""
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    as_alice = await bearer(rt, alice)
    await act(client, await bearer(rt, bob), alice, "block")
    await act(client, as_alice, carol, "block")
    await set_user(rt, await make_user(rt, "dormant"), deactivated=True)
    dormant = (await answer(await client.get(f"{ACCOUNTS}/dormant")))[1]
    before = snapshot(rt)
    assert await act(client, as_alice, bob, "follow") == (
        403,
        {"error": "Could not follow user: bob blocked you."},
    )
    assert await act(client, as_alice, carol, "follow") == (
        403,
        {"error": "Could not follow user: You are blocking carol."},
    )
    assert await act(client, as_alice, dormant["id"], "follow") == (
        403,
        {"error": "Could not follow user: You are deactivated."},
    )
    assert snapshot(rt) == before


@pytest_twisted.ensureDeferred
async def test_follow_needs_the_follow_scope(
    rt: Runtime, client: Client, people: dict[str, User]
) -> None:
    """Every relationship change needs a token with `follow` (403 naming
    it) and credentials at all (403 Invalid credentials.)."""
    alice, bob = people["alice"], people["bob"]
    read_write = await bearer(rt, alice, ["read", "write"])
    before = snapshot(rt)
    for action in ("follow", "unfollow", "block", "unblock", "mute", "unmute"):
        assert await act(client, read_write, bob, action) == (
            403,
            {"error": "Insufficient permissions: follow."},
        )
        assert await act(client, {}, bob, action) == (403, {"error": "Invalid credentials."})
    for action in ("subscribe", "unsubscribe"):
        assert await post(client, f"{PLEROMA}/{bob.id}/{action}", read_write) == (
            403,
            {"error": "Insufficient permissions: follow."},
        )
    for path in (f"/api/v1/follow_requests/{bob.id}/authorize", "/api/v1/follows"):
        assert (await post(client, path, read_write))[0] == 403
    code, _ = await answer(await client.get("/api/v1/follow_requests", headers={}))
    assert code == 403
    assert snapshot(rt) == before


@pytest_twisted.ensureDeferred
async def test_reblogs_preference_of_a_follow(
    rt: Runtime, client: Client, people: dict[str, User]
) -> None:
    """`reblogs=false` hides the target's reblogs (showing_reblogs false);
    following again with `reblogs=true` shows them; a non-boolean is a 400."""
    alice, bob = people["alice"], people["bob"]
    as_alice = await bearer(rt, alice)
    code, body = await act(client, as_alice, bob, "follow", data={"reblogs": "false"})
    assert code == 200 and body["showing_reblogs"] is False and body["following"] is True
    code, body = await act(client, as_alice, bob, "follow", json={"reblogs": True})
    assert code == 200 and body["showing_reblogs"] is True
    before = snapshot(rt)
    code, body = await act(client, as_alice, bob, "follow", data={"reblogs": "maybe"})
    assert code == 400 and "reblogs" in body["error"]
    assert snapshot(rt) == before


# -- unfollow --------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_unfollow_removes_the_follow_and_the_subscription(
    rt: Runtime, client: Client, people: dict[str, User]
) -> None:
    """Unfollow ends the follow and the subscription to that account; it
    is idempotent (200 when not following, unlike the reference's 400)."""
    alice, bob = people["alice"], people["bob"]
    as_alice = await bearer(rt, alice)
    await act(client, as_alice, bob, "follow")
    await post(client, f"{PLEROMA}/{bob.id}/subscribe", as_alice)
    code, body = await act(client, as_alice, bob, "unfollow")
    assert code == 200
    assert (body["following"], body["subscribing"]) == (False, False)
    assert snapshot(rt)["follows"] == snapshot(rt)["subscriptions"] == []
    code, again = await act(client, as_alice, bob, "unfollow")
    assert (code, again) == (200, body)


@pytest_twisted.ensureDeferred
async def test_unfollow_withdraws_a_pending_request(
    rt: Runtime, client: Client, people: dict[str, User]
) -> None:
    """Unfollowing a locked account one asked to follow cancels the request."""
    alice, bob = people["alice"], await set_user(rt, people["bob"], locked=True)
    as_alice = await bearer(rt, alice)
    await act(client, as_alice, bob, "follow")
    code, body = await act(client, as_alice, bob, "unfollow")
    assert code == 200 and body["requested"] is False
    assert follow_state(rt, alice, bob) is None


# -- blocks and mutes ---------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_block_removes_follows_and_subscriptions_both_ways(
    rt: Runtime, client: Client, people: dict[str, User]
) -> None:
    """A block ends the follows, requests and subscriptions between the two
    accounts in both directions; each side sees it (blocking / blocked_by);
    unblock ends it and restores nothing."""
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    as_alice, as_bob = await bearer(rt, alice), await bearer(rt, bob)
    await act(client, as_alice, bob, "follow")
    await act(client, as_bob, alice, "follow")
    await act(client, as_bob, carol, "follow")
    await post(client, f"{PLEROMA}/{bob.id}/subscribe", as_alice)
    await post(client, f"{PLEROMA}/{alice.id}/subscribe", as_bob)
    code, body = await act(client, as_alice, bob, "block")
    assert code == 200
    assert body["blocking"] is True
    assert (body["following"], body["followed_by"], body["subscribing"]) == (False, False, False)
    after = snapshot(rt)
    assert after["follows"] == [(bob.id, carol.id, "accepted", True, after["follows"][0][4])]
    assert after["subscriptions"] == [] and after["blocks"] == [(alice.id, bob.id)]
    seen_by_bob = await relationship(client, as_bob, alice)
    assert seen_by_bob["blocked_by"] is True and seen_by_bob["blocking"] is False
    assert (await act(client, as_alice, bob, "block"))[0] == 200  # idempotent
    code, body = await act(client, as_alice, bob, "unblock")
    assert code == 200 and body["blocking"] is False and body["following"] is False
    assert snapshot(rt)["blocks"] == []


@pytest_twisted.ensureDeferred
async def test_mute_with_and_without_notifications(
    rt: Runtime, client: Client, people: dict[str, User]
) -> None:
    """A mute mutes notifications too unless `notifications=false`; muting
    again changes that; unmute ends it; a non-boolean is a 400."""
    alice, bob = people["alice"], people["bob"]
    as_alice = await bearer(rt, alice)
    code, body = await act(client, as_alice, bob, "mute")
    assert code == 200
    assert (body["muting"], body["muting_notifications"]) == (True, True)
    code, body = await act(client, as_alice, bob, "mute", data={"notifications": "false"})
    assert (body["muting"], body["muting_notifications"]) == (True, False)
    before = snapshot(rt)
    code, _ = await act(client, as_alice, bob, "mute", data={"notifications": "loud"})
    assert code == 400 and snapshot(rt) == before
    code, body = await act(client, as_alice, bob, "unmute")
    assert code == 200 and (body["muting"], body["muting_notifications"]) == (False, False)
    assert snapshot(rt)["mutes"] == []


# -- subscriptions -------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_subscribe_and_unsubscribe(
    rt: Runtime, client: Client, people: dict[str, User]
) -> None:
    """Subscribing answers the Relationship with subscribing true; both are
    idempotent; someone who blocks you (or whom you block) cannot be
    subscribed to: 403, nothing changed (DECISIONS 16)."""
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    as_alice = await bearer(rt, alice)
    for _ in range(2):
        code, body = await post(client, f"{PLEROMA}/{bob.id}/subscribe", as_alice)
        assert code == 200 and set(body) == RELATIONSHIP_KEYS
        assert body["id"] == str(bob.id) and body["subscribing"] is True
    assert snapshot(rt)["subscriptions"] == [(alice.id, bob.id)]
    for _ in range(2):
        code, body = await post(client, f"{PLEROMA}/{bob.id}/unsubscribe", as_alice)
        assert code == 200 and body["subscribing"] is False
    await act(client, await bearer(rt, carol), alice, "block")
    await act(client, as_alice, bob, "block")
    before = snapshot(rt)
    assert await post(client, f"{PLEROMA}/{carol.id}/subscribe", as_alice) == (
        403,
        {"error": "Could not subscribe: carol is blocking you"},
    )
    assert await post(client, f"{PLEROMA}/{bob.id}/subscribe", as_alice) == (
        403,
        {"error": "Could not subscribe: You are blocking bob"},
    )
    assert snapshot(rt) == before


# -- relationships ---------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_relationships_in_request_order(
    rt: Runtime, client: Client, people: dict[str, User]
) -> None:
    """`id` or `id[]`, one or many, in the order asked, each once; unknown,
    malformed and deleted ids are left out (DECISIONS 29)."""
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    gone = await make_user(rt, "gone")
    await lifecycle.delete_account(rt, gone.id)
    as_alice = await bearer(rt, alice)
    await act(client, as_alice, carol, "follow")
    path = f"{ACCOUNTS}/relationships"
    query_string = (
        f"?id[]={carol.id}&id[]=999&id[]={bob.id}&id[]=x&id[]={gone.id}&id[]={carol.id}"
        f"&id[]={alice.id}"
    )
    code, body = await answer(await client.get(path + query_string, headers=as_alice))
    assert code == 200
    assert [r["id"] for r in body] == [str(carol.id), str(bob.id), str(alice.id)]
    assert all(set(r) == RELATIONSHIP_KEYS for r in body)
    assert body[0]["following"] is True and body[1]["following"] is False
    code, body = await answer(await client.get(f"{path}?id={bob.id}", headers=as_alice))
    assert [r["id"] for r in body] == [str(bob.id)]
    code, body = await answer(
        await client.get(path, headers=as_alice, json={"id": [bob.id, carol.id]})
    )
    assert [r["id"] for r in body] == [str(bob.id), str(carol.id)]
    assert await answer(await client.get(path, headers=as_alice)) == (200, [])
    code, _ = await answer(await client.get(f"{path}?id={bob.id}"))
    assert code == 403


# -- followers and following ------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_followers_and_following_lists_page_newest_first(rt: Runtime, client: Client) -> None:
    """followers/following list accounts newest follow first, to anyone,
    paginated with limit/max_id/min_id and Link headers keeping the other
    parameters; deactivated accounts and pending requests are left out."""
    star = await make_user(rt, "star")
    fans = [await make_user(rt, f"fan{i}") for i in range(4)]
    for fan in fans:
        await act(client, await bearer(rt, fan), star, "follow")
    await set_user(rt, fans[1], deactivated=True)
    locked = await make_user(rt, "shy", locked=True)
    await act(client, await bearer(rt, star), locked, "follow")
    await act(client, await bearer(rt, star), fans[0], "follow")
    response = await client.get(f"{ACCOUNTS}/{star.id}/followers", params={"limit": 2})
    code, body = await answer(response)
    assert code == 200
    assert [a["id"] for a in body] == [str(fans[3].id), str(fans[2].id)]
    found = links(response)
    assert set(found) == {"next", "prev"}
    next_url = urlsplit(found["next"])
    assert f"{next_url.scheme}://{next_url.netloc}" == rt.config.server.base_url
    assert next_url.path == f"{ACCOUNTS}/{star.id}/followers"
    assert parse_qs(next_url.query)["limit"] == ["2"]
    response = await client.get(f"{next_url.path}?{next_url.query}")
    code, body = await answer(response)
    assert [a["id"] for a in body] == [str(fans[0].id)]
    prev_url = urlsplit(links(response)["prev"])
    code, body = await answer(await client.get(f"{prev_url.path}?{prev_url.query}"))
    assert [a["id"] for a in body] == [str(fans[3].id), str(fans[2].id)]
    code, body = await answer(await client.get(f"{ACCOUNTS}/{star.id}/following"))
    assert [a["id"] for a in body] == [str(fans[0].id)]
    assert body[0]["followers_count"] == 1 and body[0]["following_count"] == 1


@pytest_twisted.ensureDeferred
async def test_hidden_lists_are_empty_for_others(
    rt: Runtime, client: Client, people: dict[str, User]
) -> None:
    """An account that hides its followers or follows shows others an empty
    list and itself the whole one; an unknown account is 404."""
    alice, bob = people["alice"], people["bob"]
    await act(client, await bearer(rt, alice), bob, "follow")
    await act(client, await bearer(rt, bob), alice, "follow")
    bob = await set_user(rt, bob, hide_followers=True, hide_follows=True)
    for which in ("followers", "following"):
        for headers in ({}, await bearer(rt, alice)):
            response = await client.get(f"{ACCOUNTS}/{bob.id}/{which}", headers=headers)
            assert await answer(response) == (200, [])
            assert response.headers.getRawHeaders("link") is None
        _code, body = await answer(
            await client.get(f"{ACCOUNTS}/{bob.id}/{which}", headers=await bearer(rt, bob))
        )
        assert [a["id"] for a in body] == [str(alice.id)]
    assert await answer(await client.get(f"{ACCOUNTS}/123456/followers")) == (
        404,
        {"error": "Record not found"},
    )


@pytest_twisted.ensureDeferred
async def test_accounts_show_real_follow_counts(
    rt: Runtime, client: Client, people: dict[str, User]
) -> None:
    """followers_count and following_count count accepted follows of
    accounts that are neither deactivated nor deleted."""
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    for follower in (bob, carol):
        await act(client, await bearer(rt, follower), alice, "follow")
    await act(client, await bearer(rt, alice), bob, "follow")
    _code, body = await answer(await client.get(f"{ACCOUNTS}/{alice.id}"))
    assert (body["followers_count"], body["following_count"]) == (2, 1)
    await set_user(rt, carol, deactivated=True)
    _code, body = await answer(
        await client.get(f"{ACCOUNTS}/verify_credentials", headers=await bearer(rt, alice))
    )
    assert (body["followers_count"], body["following_count"]) == (1, 1)


# -- following by address, search -------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_follow_by_address_answers_the_account(
    rt: Runtime, client: Client, people: dict[str, User]
) -> None:
    """POST /api/v1/follows follows a local `nick`, `@nick` or `nick@our-host`
    and answers its Account; unknown or remote addresses are 404."""
    alice, bob = people["alice"], people["bob"]
    as_alice = await bearer(rt, alice)
    host = urlsplit(rt.config.server.base_url).netloc
    code, body = await post(client, "/api/v1/follows", as_alice, data={"uri": f"@bob@{host}"})
    assert code == 200 and body["id"] == str(bob.id) and body["followers_count"] == 1
    assert follow_state(rt, alice, bob) == "accepted"
    before = snapshot(rt)
    for uri in ("nobody", "bob@elsewhere.example", str(people["carol"].id)):
        assert await post(client, "/api/v1/follows", as_alice, data={"uri": uri}) == (
            404,
            {"error": "Record not found"},
        )
    assert await post(client, "/api/v1/follows", as_alice) == (400, {"error": "Missing field: uri"})
    assert snapshot(rt) == before


@pytest_twisted.ensureDeferred
async def test_v2_search_finds_accounts_and_hashtags(rt: Runtime, client: Client) -> None:
    """/api/v2/search answers accounts (exact nickname first, as
    /api/v1/accounts/search), statuses and hashtags; `limit`, `type` and a
    required `q`."""
    await make_user(rt, "annabel")
    ann = await make_user(rt, "ann")
    code, body = await answer(await client.get("/api/v2/search", params={"q": "ann #Cats"}))
    assert code == 200 and set(body) == {"accounts", "statuses", "hashtags"}
    assert body["accounts"] == []  # "ann #Cats" is no nickname prefix
    assert body["hashtags"] == [
        {"name": "Cats", "url": f"{rt.config.server.base_url}/tag/Cats", "history": []}
    ]
    code, body = await answer(await client.get("/api/v2/search", params={"q": "ann"}))
    assert [a["acct"] for a in body["accounts"]] == ["ann", "annabel"]
    assert body["accounts"][0]["id"] == str(ann.id) and body["statuses"] == []
    code, body = await answer(
        await client.get("/api/v2/search", params={"q": "ann", "limit": "1", "resolve": "true"})
    )
    assert [a["acct"] for a in body["accounts"]] == ["ann"]
    code, body = await answer(
        await client.get("/api/v2/search", params={"q": "ann", "type": "hashtags"})
    )
    assert body == {"accounts": [], "statuses": [], "hashtags": []}
    assert await answer(await client.get("/api/v2/search")) == (400, {"error": "Missing field: q"})
    code, _ = await answer(await client.get("/api/v2/search", params={"q": "a", "limit": "x"}))
    assert code == 400


@pytest.mark.parametrize(
    "path", ["/api/v1/accounts/relationships", "/api/v1/accounts/relationships/"]
)
@pytest_twisted.ensureDeferred
async def test_relationships_is_not_taken_for_an_account_id(
    rt: Runtime, client: Client, path: str
) -> None:
    """The fixed path wins over /api/v1/accounts/:id, with or without a
    trailing slash."""
    alice = await make_user(rt, "relationships")
    code, body = await answer(await client.get(path, headers=await bearer(rt, alice)))
    assert (code, body) == (200, [])


# -- account deletion ---------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_deleting_an_account_removes_its_relationships(
    rt: Runtime, client: Client, people: dict[str, User]
) -> None:
    """The deletion job's content steps remove every follow, request,
    block, mute and subscription the account had or was the object of,
    and may run again."""
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    as_alice, as_bob = await bearer(rt, alice), await bearer(rt, bob)
    await act(client, as_alice, bob, "follow")
    await act(client, as_bob, alice, "follow")
    await act(client, as_alice, carol, "mute")
    await act(client, as_bob, alice, "mute")
    await post(client, f"{PLEROMA}/{bob.id}/subscribe", as_alice)
    await act(client, await bearer(rt, carol), alice, "block")
    await act(client, as_bob, carol, "follow")
    await lifecycle.delete_account(rt, alice.id)
    for _ in range(2):
        await lifecycle.remove_content(rt, alice.id)
    left = snapshot(rt)
    assert [row[:2] for row in left["follows"]] == [(bob.id, carol.id)]
    assert left["blocks"] == left["mutes"] == left["subscriptions"] == []


@pytest_twisted.ensureDeferred
async def test_a_follow_racing_a_block_never_survives_it(
    rt: Runtime, people: dict[str, User]
) -> None:
    """A follow and a block of the same pair, run at the same time, never
    leave both a follow and a block between them."""
    alice, bob = people["alice"], people["bob"]
    for _ in range(10):
        outcomes = await DeferredList(
            [
                Deferred.fromCoroutine(relationships.follow(rt, alice, str(bob.id), None)),
                Deferred.fromCoroutine(relationships.block(rt, bob, str(alice.id))),
            ],
            consumeErrors=True,
        )
        state = snapshot(rt)
        assert state["blocks"] == [(bob.id, alice.id)]
        assert state["follows"] == []
        if not outcomes[0][0]:  # the follow came second and was refused
            assert isinstance(outcomes[0][1].value, relationships.FollowRefused)
        await relationships.unblock(rt, bob, str(alice.id))


@pytest_twisted.ensureDeferred
async def test_cursors_and_offsets_out_of_any_range_are_empty_or_everything(
    rt: Runtime, client: Client
) -> None:
    """Found by fuzzing: a cursor below -2**63 reached PostgreSQL as an
    out-of-range bigint (a 500), and so did a search offset beyond one."""
    bob = await make_user(rt, "bob", locked=True)
    carol = await make_user(rt, "carol")
    requester = await make_user(rt, "requester")
    for target in (bob, carol):
        await act(client, await bearer(rt, requester), target, "follow")
    as_bob = await bearer(rt, bob)
    huge = str(10**30)
    listings = {  # path -> the one account it lists
        "/api/v1/follow_requests": str(requester.id),
        f"/api/v1/accounts/{requester.id}/following": str(carol.id),
    }
    for path, listed in listings.items():
        for params, expected in (
            ({"since_id": "-" + huge}, [listed]),
            ({"min_id": "-" + huge}, [listed]),
            ({"max_id": "-" + huge}, []),
            ({"max_id": huge}, [listed]),
            ({"since_id": huge}, []),
        ):
            code, body = await answer(await client.get(path, headers=as_bob, params=params))
            assert code == 200, (path, params, body)
            assert [a["id"] for a in body] == expected, (path, params)
    for path in ("/api/v1/accounts/search", "/api/v2/search"):
        code, body = await answer(
            await client.get(path, headers=as_bob, params={"q": "requester", "offset": huge})
        )
        assert code == 200, (path, body)
        assert body in ([], {"accounts": [], "statuses": [], "hashtags": []})


# -- the caller's blocks and mutes ----------------------------------------------------


@pytest.mark.parametrize("kind, action", [("blocks", "block"), ("mutes", "mute")])
@pytest_twisted.ensureDeferred
async def test_blocks_and_mutes_list_the_callers_accounts_newest_first(
    rt: Runtime, client: Client, kind: str, action: str
) -> None:
    """/api/v1/blocks and /api/v1/mutes list the accounts the caller blocks
    or mutes, newest first, paginated with limit/max_id/min_id and Link
    headers as follow_requests; deactivated and deleted accounts, and
    others' blocks or mutes, are left out."""
    owner = await make_user(rt, "owner")
    targets = [await make_user(rt, f"t{i}") for i in range(4)]
    as_owner = await bearer(rt, owner)
    for target in targets:
        assert (await act(client, as_owner, target, action))[0] == 200
    dormant, gone = await make_user(rt, "dormant"), await make_user(rt, "gone")
    for target in (dormant, gone):
        await act(client, as_owner, target, action)
    await set_user(rt, dormant, deactivated=True)
    await lifecycle.delete_account(rt, gone.id)
    await act(client, await bearer(rt, targets[0]), targets[1], action)
    path = f"/api/v1/{kind}"
    response = await client.get(path, headers=as_owner, params={"limit": 3})
    code, body = await answer(response)
    assert code == 200
    assert [a["id"] for a in body] == [str(t.id) for t in targets[:0:-1]]
    assert body[0]["pleroma"]["relationship"]["blocking" if kind == "blocks" else "muting"]
    found = links(response)
    next_url = urlsplit(found["next"])
    assert f"{next_url.scheme}://{next_url.netloc}{next_url.path}" == (
        f"{rt.config.server.base_url}{path}"
    )
    assert parse_qs(next_url.query)["limit"] == ["3"]
    response = await client.get(f"{next_url.path}?{next_url.query}", headers=as_owner)
    code, body = await answer(response)
    assert [a["id"] for a in body] == [str(targets[0].id)]
    prev_url = urlsplit(links(response)["prev"])
    code, body = await answer(
        await client.get(f"{prev_url.path}?{prev_url.query}", headers=as_owner)
    )
    assert [a["id"] for a in body] == [str(t.id) for t in targets[:0:-1]]
    # Undoing one takes it off the list; the others keep their places.
    await act(client, as_owner, targets[2], "un" + action)
    code, body = await answer(await client.get(path, headers=as_owner))
    assert [a["id"] for a in body] == [str(targets[i].id) for i in (3, 1, 0)]
    response = await client.get(path, headers=await bearer(rt, targets[3]))
    assert await answer(response) == (200, [])
    assert response.headers.getRawHeaders("link") is None


@pytest_twisted.ensureDeferred
async def test_muting_again_keeps_a_mutes_place(
    rt: Runtime, client: Client, people: dict[str, User]
) -> None:
    """Changing a mute's `notifications` is no new mute: the list keeps its
    order."""
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    as_alice = await bearer(rt, alice)
    await act(client, as_alice, bob, "mute")
    await act(client, as_alice, carol, "mute")
    await act(client, as_alice, bob, "mute", data={"notifications": "false"})
    _code, body = await answer(await client.get("/api/v1/mutes", headers=as_alice))
    assert [a["id"] for a in body] == [str(carol.id), str(bob.id)]


@pytest_twisted.ensureDeferred
async def test_blocks_and_mutes_lists_need_the_read_scope(
    rt: Runtime, client: Client, people: dict[str, User]
) -> None:
    """Both lists need credentials (403 Invalid credentials.) and, as the
    reference guards them, a token with `read`."""
    alice = people["alice"]
    await act(client, await bearer(rt, alice), people["bob"], "block")
    for path in ("/api/v1/blocks", "/api/v1/mutes"):
        assert await answer(await client.get(path)) == (403, {"error": "Invalid credentials."})
        response = await client.get(path, headers=await bearer(rt, alice, ["write", "follow"]))
        assert await answer(response) == (403, {"error": "Insufficient permissions: read."})
