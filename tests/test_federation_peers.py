"""Federation with the world, end to end over loopback.

Two pleromad servers, A on 127.0.0.2 and B on 127.0.0.3, each with its own
database and job runner, find each other by WebFinger and exchange signed
activities through their delivery queues and inboxes.  A foreign
implementation (fediverse-pasture's actors, signed and checked by bovine, on
127.0.0.4) checks our WebFinger, actors and signatures, and sends us its own
Follow and Create.  Every wait is a bounded poll: these run on loaded machines.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest_twisted
import treq
from twisted.internet.error import ConnectError

from pleromad.domain.actor_keys import public_key_pem
from pleromad.domain.inbox import INBOX_JOB
from pleromad.domain.remote_actors import resolve_acct
from pleromad.model import User
from pleromad.views.activitypub import build_follow
from tests.federation_peers import (
    ForeignPeer,
    Server,
    StartServer,
    fediverse,
    follow_remote,
    foreign_peer,
    free_port,
)
from tests.helpers import eventually, query
from tests.test_accounts import bearer, make_user
from tests.test_twistd import BIN, STOP_SECONDS

__all__ = ["fediverse", "foreign_peer"]  # the fixtures, for pytest

WAIT = 10.0  # seconds any cross-server effect may take on a loaded machine


@pytest_twisted.async_fixture
async def pair(fediverse: StartServer) -> tuple[Server, Server]:
    return await fediverse("127.0.0.2"), await fediverse("127.0.0.3")


@pytest_twisted.async_fixture
async def ours(fediverse: StartServer) -> Server:
    """The one pleromad server the foreign peer talks to."""
    return await fediverse("127.0.0.2")


def follow_state(server: Server, follower_ap_id: str, followee_ap_id: str) -> str | None:
    rows = query(
        server.dsn,
        "SELECT f.state FROM follows f JOIN users a ON a.id = f.follower_id"
        " JOIN users b ON b.id = f.followee_id WHERE a.ap_id = %s AND b.ap_id = %s",
        (follower_ap_id, followee_ap_id),
    )
    return rows[0][0] if rows else None


def remote_status(server: Server, ap_id: str) -> tuple[str, str] | None:
    """(author's ap_id, content) of the status ``server`` holds for ``ap_id``."""
    rows = query(
        server.dsn,
        "SELECT u.ap_id, s.content FROM statuses s JOIN users u ON u.id = s.account_id"
        " WHERE s.ap_id = %s",
        (ap_id,),
    )
    return rows[0] if rows else None


def settled(server: Server) -> bool:
    """No job of ``server``'s is running or due (retries later do not count)."""
    rows = query(
        server.dsn,
        "SELECT count(*) FROM jobs WHERE state = 'running'"
        " OR (state = 'pending' AND (run_at IS NULL OR run_at <= now()))",
    )
    return rows == [(0,)]


async def post_status(server: Server, author: User, text: str) -> dict[str, Any]:
    headers = await bearer(server.rt, author)
    response = await server.api.post("/api/v1/statuses", json={"status": text}, headers=headers)
    body = await response.json()
    assert response.code == 200, body
    return body


# -- two pleromad servers -------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_servers_find_each_other_by_webfinger(pair: tuple[Server, Server]) -> None:
    """Each server resolves an account of the other from its acct: address
    (WebFinger, then the actor fetched with a signature): a remote account
    named nick@host:port with the other's actor id and public key."""
    a, b = pair
    await make_user(a.rt, "alice")
    bob_at_b = await make_user(b.rt, "bob")

    bob = await resolve_acct(a.rt, b.acct("bob"))
    alice = await resolve_acct(b.rt, a.acct("alice"))

    assert (bob.ap_id, bob.nickname, bob.local) == (b.actor_id("bob"), b.acct("bob"), False)
    assert (alice.ap_id, alice.nickname) == (a.actor_id("alice"), a.acct("alice"))
    keys = query(
        a.dsn,
        "SELECT key_id, public_key_pem, inbox FROM remote_actors WHERE user_id = %s",
        (bob.id,),
    )
    pem = await public_key_pem(b.rt, bob_at_b.id)
    assert keys == [(f"{bob.ap_id}#main-key", pem, f"{bob.ap_id}/inbox")]


@pytest_twisted.ensureDeferred
async def test_follow_across_servers_is_accepted(pair: tuple[Server, Server]) -> None:
    """A Follow from A's alice reaches B signed by alice's key; B records the
    follower and answers Accept, signed by bob's key; A's pending follow
    becomes accepted."""
    a, b = pair
    alice = await make_user(a.rt, "alice")
    await make_user(b.rt, "bob")
    bob = await resolve_acct(a.rt, b.acct("bob"))

    await follow_remote(a, alice, bob)

    await eventually(
        lambda: follow_state(a, alice.ap_id, bob.ap_id) == "accepted", "A's accepted", WAIT
    )
    assert follow_state(b, alice.ap_id, bob.ap_id) == "accepted"


@pytest_twisted.ensureDeferred
async def test_a_post_reaches_the_remote_follower(pair: tuple[Server, Server]) -> None:
    """Once A's alice follows B's bob, bob's public post on B is delivered
    to A as a signed Create and A stores it as bob's status under its Note id."""
    a, b = pair
    alice = await make_user(a.rt, "alice")
    bob_at_b = await make_user(b.rt, "bob")
    bob = await resolve_acct(a.rt, b.acct("bob"))
    await follow_remote(a, alice, bob)
    await eventually(lambda: follow_state(a, alice.ap_id, bob.ap_id) == "accepted", "", WAIT)

    status = await post_status(b, bob_at_b, "Hello from B")

    note = status["uri"]  # the Note's id
    author, content = await eventually(lambda: remote_status(a, note), "the Create at A", WAIT)
    assert author == bob.ap_id and "Hello from B" in content


@pytest_twisted.ensureDeferred
async def test_unsigned_inbox_posts_are_refused(ours: Server) -> None:
    """An inbox POST without a signature is answered 401 and queues nothing."""
    await make_user(ours.rt, "bob")
    activity = build_follow("http://127.0.0.3/activities/1", "http://127.0.0.3/users/x", "x")
    response = await ours.api.post(
        "/users/bob/inbox", json=activity, headers={"Content-Type": "application/activity+json"}
    )
    assert response.code == 401
    assert query(ours.dsn, "SELECT count(*) FROM jobs WHERE kind = %s", (INBOX_JOB,)) == [(0,)]


@pytest_twisted.ensureDeferred
async def test_a_twistd_daemon_federates(ours: Server, dsn: str, tmp_path: Path) -> None:
    """The daemon as operators run it (``twistd pleromad``, its own job
    runner and handlers) on 127.0.0.3: A's alice follows its bob, and the
    daemon's inbox job applies the Follow and its delivery job sends the
    Accept that makes A's follow accepted."""
    port = free_port("127.0.0.3")
    daemon = f"http://127.0.0.3:{port}"
    (tmp_path / "daemon.toml").write_text(
        f'[server]\nbase_url = "{daemon}"\nlisten = "tcp:{port}:interface=127.0.0.3"\n\n'
        "[federation]\nallow_private_addresses = true\n"
    )
    query(
        dsn,
        "INSERT INTO users (nickname, email, ap_id) VALUES ('bob', 'bob@example.org', %s)",
        (f"{daemon}/users/bob",),
    )
    alice = await make_user(ours.rt, "alice")
    log = tmp_path / "twistd.log"
    options = ["--config", str(tmp_path / "daemon.toml"), "--dsn", dsn]
    process = subprocess.Popen(
        [str(BIN / "twistd"), "-n", "--pidfile=", "--logfile", str(log), "pleromad", *options],
        cwd=tmp_path,
    )
    try:

        async def healthy() -> bool:
            assert process.poll() is None, log.read_text()
            try:
                response = await treq.get(f"{daemon}/api/pleroma/healthcheck")
            except ConnectError:
                return False
            await response.content()
            return response.code == 200

        await eventually(healthy, "the daemon up", 60)
        bob = await resolve_acct(ours.rt, f"bob@127.0.0.3:{port}")

        await follow_remote(ours, alice, bob)

        await eventually(lambda: follow_state(ours, alice.ap_id, bob.ap_id) == "accepted", "", WAIT)
    finally:
        process.terminate()
        process.wait(STOP_SECONDS)
    assert "Traceback" not in log.read_text()


# -- a foreign implementation --------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_foreign_verifier_accepts_our_webfinger_actor_and_inbox(
    ours: Server, foreign_peer: ForeignPeer
) -> None:
    """fediverse-pasture's verify-actor finds alice by WebFinger and every
    one of its actors fetches her actor document (claire and frank answer our
    key fetches only when our GETs are signed).  Of those that post to her
    inbox, the ones that sign and have a username (bob, claire) are accepted;
    the unsigned ones (alice, dean) are refused, and so are emily and frank,
    whose actors have no preferredUsername to name an account by (as
    Mastodon and Pleroma refuse them)."""
    a = ours
    await make_user(a.rt, "alice")

    verdict = await foreign_peer.verify(f"acct:{a.acct('alice')}")

    result = verdict["result"]
    assert result.pop("webfinger") is True, verdict["messages"]
    posted = {name: checks["post_inbox"] for name, checks in result.items()}
    assert all(checks["get_actor"] for checks in result.values()), verdict
    assert posted == {
        "alice": False,
        "bob": True,
        "claire": True,
        "dean": False,
        "emily": False,
        "frank": False,
    }, verdict


@pytest_twisted.ensureDeferred
async def test_foreign_follow_is_accepted_with_a_signature_it_checks(
    ours: Server, foreign_peer: ForeignPeer
) -> None:
    """claire (who checks every signature) follows alice with bovine's
    Follow: we answer 202, record the follower, and our Accept of that Follow
    reaches claire's inbox, signed to bovine's satisfaction."""
    a = ours
    alice = await make_user(a.rt, "alice")
    claire = foreign_peer.actor_id("claire")

    sent = await foreign_peer.follow("claire", alice.ap_id)

    assert sent["status"] == 202
    follow_id = sent["activity"]["id"]

    async def accepted() -> bool:
        return any(
            activity["type"] == "Accept" and _id(activity["object"]) == follow_id
            for activity in await foreign_peer.received("claire")
        )

    await eventually(accepted, "the Accept at the peer", WAIT)
    assert follow_state(a, claire, alice.ap_id) == "accepted"


@pytest_twisted.ensureDeferred
async def test_foreign_create_is_applied(ours: Server, foreign_peer: ForeignPeer) -> None:
    """A public Note bob (bovine) addresses to alice arrives as a signed
    Create, is accepted and becomes bob's status under the Note's id."""
    a = ours
    alice = await make_user(a.rt, "alice")

    sent = await foreign_peer.create("bob", [alice.ap_id], "<p>Hello from bovine</p>")

    assert sent["statuses"] == [202]
    note = sent["activity"]["object"]["id"]
    author, content = await eventually(lambda: remote_status(a, note), "the Note at A", WAIT)
    assert author == foreign_peer.actor_id("bob") and "Hello from bovine" in content


@pytest_twisted.ensureDeferred
async def test_our_create_reaches_the_foreign_follower(
    ours: Server, foreign_peer: ForeignPeer
) -> None:
    """alice's post is delivered to her follower claire as a Create whose
    signature bovine verifies (claire's inbox refuses anything else)."""
    a = ours
    alice = await make_user(a.rt, "alice")
    claire = foreign_peer.actor_id("claire")
    assert (await foreign_peer.follow("claire", alice.ap_id))["status"] == 202
    await eventually(lambda: follow_state(a, claire, alice.ap_id) == "accepted", "", WAIT)

    status = await post_status(a, alice, "Hello, fediverse")

    note = status["uri"]

    async def arrived() -> list[dict[str, Any]]:
        return [
            activity
            for activity in await foreign_peer.received("claire")
            if activity["type"] == "Create" and _id(activity["object"]) == note
        ]

    (create,) = await eventually(arrived, "the Create at the peer", WAIT)
    assert create["actor"] == alice.ap_id
    assert "Hello, fediverse" in create["object"]["content"]


def _id(value: Any) -> Any:
    return value.get("id") if isinstance(value, dict) else value


@pytest_twisted.ensureDeferred
async def test_foreign_activities_that_lie_are_not_applied(
    ours: Server, foreign_peer: ForeignPeer
) -> None:
    """bovine signs, correctly, two lies: a Create by bob whose actor says
    claire (the signer is not the actor: 401), and a Create by bob of a Note
    whose id is on our host (refused, or acknowledged and dropped).  Neither
    becomes a status."""
    a = ours
    alice = await make_user(a.rt, "alice")
    bob, claire = foreign_peer.actor_id("bob"), foreign_peer.actor_id("claire")

    def create(actor: str, note_id: str) -> dict[str, Any]:
        note = {"id": note_id, "type": "Note", "attributedTo": actor, "content": "lie"}
        return {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": f"{actor}/activities/{note_id.rpartition('/')[2]}",
            "type": "Create",
            "actor": actor,
            "to": [alice.ap_id],
            "object": note | {"to": [alice.ap_id]},
        }

    impostor = await foreign_peer.send("bob", alice.ap_id, create(claire, f"{claire}/objects/1"))
    squatter = await foreign_peer.send("bob", alice.ap_id, create(bob, f"{a.base_url}/objects/2"))

    assert impostor == 401
    assert squatter in (202, 400, 401, 403, 422)
    await eventually(lambda: settled(a), "A's jobs done", WAIT)
    assert query(a.dsn, "SELECT count(*) FROM statuses") == [(0,)]
