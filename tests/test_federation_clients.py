"""Real clients, unmodified, see remote accounts and posts like local ones.

Mastodon.py 2.3.3 (in a thread) and toot 0.52.1 (child processes) are
logged in on A (127.0.0.2) and, for the other side, B (127.0.0.3): two whole
pleromad servers started once for the module (``tests/federation_peers.py``),
which each test uses with accounts of its own.  What the clients do on one
server reaches the other through signed deliveries; every wait is a bounded
poll.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import pytest_twisted
from mastodon import Mastodon
from twisted.internet.threads import deferToThread

from pleromad.model import User
from tests.conftest import PgServer
from tests.federation_peers import Fediverse, Server
from tests.helpers import eventually, query
from tests.test_accounts import bearer, make_user
from tests.test_clients import png
from tests.test_federation_peers import WAIT, follow_state
from tests.test_toot import PASSWORD, Toot

# The libraries' answers are checked against the OpenAPI document as ours are.
pytestmark = pytest.mark.usefixtures("checked_requests")

T = TypeVar("T")


@pytest_twisted.async_yield_fixture(scope="module")
async def pair(
    pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Server, Server]]:
    """A and B, started once: each test makes accounts of its own."""
    servers = Fediverse(pg_server, tmp_path_factory.mktemp("clients"))
    try:
        yield await servers.start("127.0.0.2"), await servers.start("127.0.0.3")
    finally:
        await servers.stop()


async def mastodon_py(server: Server, user: User) -> Mastodon:
    """Mastodon.py with a token of ``user``'s on ``server``."""
    token = (await bearer(server.rt, user))["Authorization"].removeprefix("Bearer ")
    return await deferToThread(Mastodon, access_token=token, api_base_url=server.base_url)


async def in_thread(call: Callable[[], T]) -> T:
    return await deferToThread(call)


def local_id(server: Server, ap_id: str) -> str | None:
    """The id ``server`` gave the status ``ap_id``, once it has it."""
    rows = query(server.dsn, "SELECT id FROM statuses WHERE ap_id = %s", (ap_id,))
    return str(rows[0][0]) if rows else None


def check_remote_account(account: Any, server: Server, nickname: str) -> None:
    """An Account entity of ``server``'s ``nickname`` as another server shows it."""
    assert (account["acct"], account["username"]) == (server.acct(nickname), nickname)
    assert account["url"] == server.actor_id(nickname)


@pytest_twisted.ensureDeferred
async def test_mastodon_py_finds_follows_and_reads_a_remote_account(
    pair: tuple[Server, Server],
) -> None:
    """On A, Mastodon.py's account_search with resolve finds B's bob (acct
    nick@host, his profile URL, the avatar B serves) and account_follow asks
    to follow him; once B accepts, his public post is in alice's home and
    remote-only public timelines, not in the local-only one (where her own
    post is).  Her favourite and reblog notify bob on B; his reply
    mentioning her is a mention in her notifications, from the remote account."""
    a, b = pair
    alice = await mastodon_py(a, await make_user(a.rt, "alice"))
    bob = await mastodon_py(b, await make_user(b.rt, "bob", name="Bob of B"))
    me_on_b = await in_thread(
        lambda: bob.account_update_credentials(avatar=png(), avatar_mime_type="image/png")
    )
    assert me_on_b["avatar"].startswith(b.base_url + "/")

    [found] = await in_thread(lambda: alice.account_search(b.acct("bob"), resolve=True))
    check_remote_account(found, b, "bob")
    assert (found["display_name"], found["avatar"]) == ("Bob of B", me_on_b["avatar"])
    relationship = await in_thread(lambda: alice.account_follow(found["id"]))
    assert (relationship["following"], relationship["requested"]) == (False, True)
    alice_ap_id = a.actor_id("alice")
    await eventually(
        lambda: follow_state(a, alice_ap_id, b.actor_id("bob")) == "accepted", "the Accept", WAIT
    )

    ours = await in_thread(lambda: alice.status_post("Hello from A"))
    posted = await in_thread(lambda: bob.status_post("Hello from B"))
    uri = posted["uri"]
    at_a = await eventually(lambda: local_id(a, uri), "bob's post at A", WAIT)

    def timelines() -> dict[str, list[str]]:
        return {
            "home": [s["uri"] for s in alice.timeline_home()],
            "remote": [s["uri"] for s in alice.timeline_public(remote=True)],
            "local": [s["uri"] for s in alice.timeline_public(local=True)],
        }

    seen = await in_thread(timelines)
    assert seen == {"home": [uri, ours["uri"]], "remote": [uri], "local": [ours["uri"]]}
    [shown] = await in_thread(lambda: alice.timeline_home(limit=1))
    check_remote_account(shown["account"], b, "bob")
    assert "Hello from B" in shown["content"]

    await in_thread(lambda: alice.status_favourite(at_a))
    await in_thread(lambda: alice.status_reblog(at_a))

    async def bob_notified() -> list[tuple[str, str, str]]:
        found = await in_thread(lambda: bob.notifications(types=["favourite", "reblog"]))
        return sorted((n["type"], n["account"]["acct"], n["status"]["id"]) for n in found)

    expected = [
        ("favourite", a.acct("alice"), posted["id"]),
        ("reblog", a.acct("alice"), posted["id"]),
    ]
    await eventually(lambda: _equals(bob_notified(), expected), "bob notified on B", WAIT)

    reply = await in_thread(
        lambda: bob.status_post(f"@{a.acct('alice')} thanks!", in_reply_to_id=posted["id"])
    )
    reply_at_a = await eventually(lambda: local_id(a, reply["uri"]), "the reply at A", WAIT)
    [mention] = await in_thread(lambda: alice.notifications(types=["mention"]))
    check_remote_account(mention["account"], b, "bob")
    assert (mention["status"]["id"], mention["status"]["in_reply_to_id"]) == (reply_at_a, at_a)
    assert [m["acct"] for m in mention["status"]["mentions"]] == ["alice"]


async def _equals(value: Any, expected: Any) -> bool:
    return await value == expected


@pytest_twisted.ensureDeferred
async def test_toot_follows_reads_and_shows_a_remote_account(
    pair: tuple[Server, Server], tmp_path: Path
) -> None:
    """On A, `toot follow dave@B` follows B's dave (accepted by B);
    `toot timeline` then shows his post under his nick@host, and
    `toot whois dave@B` his account as A knows it."""
    a, b = pair
    await make_user(a.rt, "carol", password=PASSWORD)
    dave = await make_user(b.rt, "dave", name="Dave of B")
    toot = Toot(tmp_path / "carol")
    out = await toot.run(
        "login_cli", "--instance", a.base_url, "--email", "carol", "--password", PASSWORD
    )
    assert "Successfully logged in" in out

    relationship = await toot.json("follow", b.acct("dave"))
    assert relationship["requested"] is True
    await eventually(
        lambda: follow_state(a, a.actor_id("carol"), dave.ap_id) == "accepted", "the Accept", WAIT
    )
    answer = await b.api.post(
        "/api/v1/statuses",
        json={"status": "Greetings from B"},
        headers=await bearer(b.rt, dave),
    )
    uri = (await answer.json())["uri"]
    at_a = await eventually(lambda: local_id(a, uri), "dave's post at A", WAIT)

    timeline = await toot.run("timeline", "--once")
    assert "Greetings from B" in timeline and f"ID {at_a}" in timeline
    assert f"@{b.acct('dave')}" in timeline
    whois = await toot.run("whois", b.acct("dave"))
    [(dave_at_a,)] = query(a.dsn, "SELECT id FROM users WHERE ap_id = %s", (dave.ap_id,))
    assert f"@{b.acct('dave')} Dave of B" in whois and f"ID: {dave_at_a}" in whois
