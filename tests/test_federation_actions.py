"""Favourites, boosts, replies, profile changes, account deletion and each
visibility's reach, between pleromad servers on loopback.

A on 127.0.0.2 and B on 127.0.0.3 (C on 127.0.0.4 where a third server
matters) each run with their own database, job runner and delivery queue;
everything below is done through the client API (or the operator's account
deletion) on one server and checked on the other.  Waits are bounded polls.
"""

from __future__ import annotations

from typing import Any

import pytest_twisted

from pleromad.domain import lifecycle, notifications
from pleromad.domain.remote_actors import resolve_acct
from pleromad.model import User
from tests.federation_peers import Server, StartServer, fediverse, follow_remote
from tests.helpers import eventually, query
from tests.test_accounts import bearer, make_user
from tests.test_federation_peers import WAIT, follow_state, settled

__all__ = ["fediverse"]  # the fixture, for pytest


@pytest_twisted.async_fixture
async def pair(fediverse: StartServer) -> tuple[Server, Server]:
    return await fediverse("127.0.0.2"), await fediverse("127.0.0.3")


async def call(
    server: Server, user: User, method: str, path: str, body: dict[str, Any] | None = None
) -> tuple[int, Any]:
    """``user``'s client API request to ``server``: (status, JSON answer)."""
    headers = await bearer(server.rt, user)
    kwargs: dict[str, Any] = (
        {"headers": headers} if body is None else {"headers": headers, "json": body}
    )
    answer = await server.api.request(method, path, **kwargs)
    return answer.code, await answer.json()


async def follows(server: Server, follower: User, followee: User) -> None:
    """``follower`` (of ``server``) follows the remote ``followee``, accepted."""
    await follow_remote(server, follower, followee)
    await eventually(
        lambda: follow_state(server, follower.ap_id, followee.ap_id) == "accepted",
        f"{follower.nickname} following {followee.nickname}",
        WAIT,
    )


def local_id(server: Server, ap_id: str) -> int | None:
    """The id ``server`` gave the status ``ap_id``, once it has it."""
    rows = query(server.dsn, "SELECT id FROM statuses WHERE ap_id = %s", (ap_id,))
    return rows[0][0] if rows else None


async def counts(server: Server, viewer: User, status_id: str) -> tuple[int, int]:
    """(favourites_count, reblogs_count) of the status as ``viewer`` sees it."""
    code, status = await call(server, viewer, "GET", f"/api/v1/statuses/{status_id}")
    assert code == 200, status
    return status["favourites_count"], status["reblogs_count"]


async def notified(server: Server, user: User) -> list[tuple[str, str, str]]:
    """(type, account acct, status id) of ``user``'s notifications about
    statuses, oldest first."""
    code, found = await call(server, user, "GET", "/api/v1/notifications")
    assert code == 200, found
    return [
        (n["type"], n["account"]["acct"], n["status"]["id"])
        for n in reversed(found)
        if "status" in n
    ]


@pytest_twisted.ensureDeferred
async def test_favourites_and_boosts_count_and_notify_on_the_other_server(
    pair: tuple[Server, Server],
) -> None:
    """A's alice favourites and boosts posts of B's bob and carol: B counts
    them on the statuses and notifies bob of both (his settings refuse local
    accounts and non-followers, and alice is a remote follower), but not
    carol, whose settings refuse remote accounts.  Undoing both on A (for
    carol's post, by deleting the reblog) brings B's counts back to nothing.
    Each favourite's Like has an id of its own (``<actor>#likes/<n>``), its
    Undo ``<like>/undo``."""
    a, b = pair
    alice = await make_user(a.rt, "alice")
    bob_at_b = await make_user(b.rt, "bob")
    carol_at_b = await make_user(b.rt, "carol")
    await notifications.update_settings(b.rt, bob_at_b.id, {"local": False, "non_followers": False})
    await notifications.update_settings(b.rt, carol_at_b.id, {"remote": False})
    for nick in ("bob", "carol"):
        await follows(a, alice, await resolve_acct(a.rt, b.acct(nick)))
    posts = {}
    for user in (bob_at_b, carol_at_b):
        code, post = await call(b, user, "POST", "/api/v1/statuses", {"status": "Like me"})
        assert code == 200, post
        at_a = await eventually(lambda uri=post["uri"]: local_id(a, uri), "the post at A", WAIT)
        posts[user.nickname] = (post["id"], at_a)

    reblogs = []
    for _, at_a in posts.values():
        for action in ("favourite", "reblog"):
            code, answer = await call(a, alice, "POST", f"/api/v1/statuses/{at_a}/{action}")
            assert code == 200, answer
        reblogs.append(answer["id"])

    async def counts_at_b() -> list[tuple[int, int]]:
        return [await counts(b, user, posts[user.nickname][0]) for user in (bob_at_b, carol_at_b)]

    await eventually(lambda: _is(counts_at_b(), [(1, 1), (1, 1)]), "B's counts", WAIT)
    alice_acct = a.acct("alice")
    bob_post = posts["bob"][0]
    assert sorted(await notified(b, bob_at_b)) == [
        ("favourite", alice_acct, bob_post),
        ("reblog", alice_acct, bob_post),
    ]
    assert await notified(b, carol_at_b) == []

    (_, bob_at_a), (_, carol_at_a) = posts["bob"], posts["carol"]
    for path in (
        f"/api/v1/statuses/{bob_at_a}/unfavourite",
        f"/api/v1/statuses/{bob_at_a}/unreblog",
        f"/api/v1/statuses/{carol_at_a}/unfavourite",
    ):
        code, answer = await call(a, alice, "POST", path)
        assert code == 200, answer
    code, answer = await call(a, alice, "DELETE", f"/api/v1/statuses/{reblogs[1]}")
    assert code == 200, answer

    await eventually(lambda: _is(counts_at_b(), [(0, 0), (0, 0)]), "B's counts undone", WAIT)
    likes = [
        ap_id
        for (ap_id,) in query(b.dsn, "SELECT ap_id FROM seen_activities ORDER BY ap_id")
        if ap_id.startswith(f"{alice.ap_id}#likes/")
    ]
    assert len(likes) == 4 and [x for x in likes if x.endswith("/undo")] == [
        f"{like}/undo" for like in likes if not like.endswith("/undo")
    ]


async def _is(value: Any, expected: Any) -> bool:
    return await value == expected


@pytest_twisted.ensureDeferred
async def test_replies_thread_on_both_servers(pair: tuple[Server, Server]) -> None:
    """A's alice answers B's bob's post: B gets the reply although nothing
    else would bring it there (bob does not follow alice), threads it under
    bob's post next to carol's local answer, and A shows bob's post as the
    reply's ancestor."""
    a, b = pair
    alice = await make_user(a.rt, "alice")
    bob_at_b = await make_user(b.rt, "bob")
    carol_at_b = await make_user(b.rt, "carol")
    await follows(a, alice, await resolve_acct(a.rt, b.acct("bob")))
    _, post = await call(b, bob_at_b, "POST", "/api/v1/statuses", {"status": "Thoughts?"})
    at_a = await eventually(lambda: local_id(a, post["uri"]), "the post at A", WAIT)

    code, reply = await call(
        a, alice, "POST", "/api/v1/statuses", {"status": "Agreed", "in_reply_to_id": str(at_a)}
    )
    assert code == 200, reply
    _, local_reply = await call(
        b,
        carol_at_b,
        "POST",
        "/api/v1/statuses",
        {"status": "Me too", "in_reply_to_id": post["id"]},
    )

    await eventually(lambda: local_id(b, reply["uri"]), "the reply at B", WAIT)
    _, on_b = await call(b, bob_at_b, "GET", f"/api/v1/statuses/{post['id']}/context")
    assert sorted(s["uri"] for s in on_b["descendants"]) == sorted(
        [reply["uri"], local_reply["uri"]]
    )
    _, on_a = await call(a, alice, "GET", f"/api/v1/statuses/{reply['id']}/context")
    assert [s["uri"] for s in on_a["ancestors"]] == [post["uri"]]
    assert ("mention", a.acct("alice"), local_id(b, reply["uri"])) in [
        (kind, acct, int(status_id)) for kind, acct, status_id in await notified(b, bob_at_b)
    ]


@pytest_twisted.ensureDeferred
async def test_each_visibility_reaches_only_its_audience(fediverse: StartServer) -> None:
    """A's alice is followed by B's bob, not by anyone on C.  Her private
    post reaches B, where bob sees it and B's eve does not, and never C; her
    direct post to C's dave reaches C, where only dave sees it, and never B."""
    a, b, c = [await fediverse(f"127.0.0.{n}") for n in (2, 3, 4)]
    alice = await make_user(a.rt, "alice")
    bob_at_b = await make_user(b.rt, "bob")
    eve_at_b = await make_user(b.rt, "eve")
    dave_at_c = await make_user(c.rt, "dave")
    carol_at_c = await make_user(c.rt, "carol")
    await follows(b, bob_at_b, await resolve_acct(b.rt, a.acct("alice")))
    await resolve_acct(a.rt, c.acct("dave"))
    await resolve_acct(c.rt, a.acct("alice"))

    _, private = await call(
        a, alice, "POST", "/api/v1/statuses", {"status": "Followers only", "visibility": "private"}
    )
    _, direct = await call(
        a,
        alice,
        "POST",
        "/api/v1/statuses",
        {"status": f"@{c.acct('dave')} just you", "visibility": "direct"},
    )

    on_b = await eventually(lambda: local_id(b, private["uri"]), "the private post at B", WAIT)
    on_c = await eventually(lambda: local_id(c, direct["uri"]), "the direct post at C", WAIT)
    await eventually(lambda: all(settled(server) for server in (a, b, c)), "all settled", WAIT)
    assert local_id(c, private["uri"]) is None
    assert local_id(b, direct["uri"]) is None
    for server, user, status_id, code in (
        (b, bob_at_b, on_b, 200),
        (b, eve_at_b, on_b, 404),
        (c, dave_at_c, on_c, 200),
        (c, carol_at_c, on_c, 404),
    ):
        answer = await call(server, user, "GET", f"/api/v1/statuses/{status_id}")
        assert answer[0] == code, (user.nickname, answer)


@pytest_twisted.ensureDeferred
async def test_profile_changes_and_account_deletion_reach_followers(
    fediverse: StartServer,
) -> None:
    """B's bob follows A's alice, who follows C's carol.  Her new name and
    bio (set on A) replace B's copy; when A deletes her account, B deletes
    its copy and her post there, and C, the server of an account she
    followed, deletes its copy too."""
    a, b, c = [await fediverse(f"127.0.0.{n}") for n in (2, 3, 4)]
    alice_at_a = await make_user(a.rt, "alice")
    bob_at_b = await make_user(b.rt, "bob")
    await make_user(c.rt, "carol")
    alice = await resolve_acct(b.rt, a.acct("alice"))
    await follows(b, bob_at_b, alice)
    await follows(a, alice_at_a, await resolve_acct(a.rt, c.acct("carol")))
    alice_at_c = query(c.dsn, "SELECT id FROM users WHERE ap_id = %s", (alice.ap_id,))
    _, post = await call(a, alice_at_a, "POST", "/api/v1/statuses", {"status": "Before I go"})
    await eventually(lambda: local_id(b, post["uri"]), "the post at B", WAIT)

    code, answer = await call(
        a,
        alice_at_a,
        "PATCH",
        "/api/v1/accounts/update_credentials",
        {"display_name": "Alice Liddell", "note": "Down the hole"},
    )
    assert code == 200, answer

    def renamed() -> str | None:
        [(name, bio)] = query(b.dsn, "SELECT name, bio FROM users WHERE id = %s", (alice.id,))
        return bio if name == "Alice Liddell" else None

    assert "Down the hole" in await eventually(renamed, "the Update at B", WAIT)

    await lifecycle.delete_account(a.rt, alice_at_a.id)

    await eventually(
        lambda: query(b.dsn, "SELECT deleted FROM users WHERE id = %s", (alice.id,)) == [(True,)],
        "the Delete at B",
        WAIT,
    )
    await eventually(
        lambda: query(c.dsn, "SELECT deleted FROM users WHERE id = %s", alice_at_c[0]) == [(True,)],
        "the Delete at C",
        WAIT,
    )
    await eventually(lambda: local_id(b, post["uri"]) is None, "her post gone from B", WAIT)
