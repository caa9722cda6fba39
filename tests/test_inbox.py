"""Inboxes: activities a remote server POSTs to us, checked, queued and applied.

The remote server is a small real Twisted site on 127.0.0.2 serving its
actors' documents and WebFinger, with an inbox that records what we deliver
to it; its actors sign with key pairs of their own.  Our daemon's tree is
served by the ``client`` fixture, configured to fetch from loopback.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet.task import Clock

from pleromad.config import Config, load_config
from pleromad.db.pool import Txn
from pleromad.domain import (
    actor_keys,
    delivery,
    inbox,
    lifecycle,
    outgoing,
    remote_actors,
)
from pleromad.federation import httpsig
from pleromad.federation.keys import generate_key_pair
from pleromad.model import KeyPair, User
from pleromad.runtime import Runtime
from pleromad.store import relationships as relationships_store
from pleromad.store import users
from pleromad.web.root import build_gateway
from pleromad.web.site import body_limit
from tests import peer as _peer
from tests.conftest import Client, StartRunner
from tests.helpers import eventually, query
from tests.peer import Peer, Received, StartPeer
from tests.test_accounts import make_user

peers = _peer.peers

REMOTE_HOST = "127.0.0.2"
MAX_BODY = 64 * 1024
AP_JSON = "application/activity+json"


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """Ours fetches from loopback (the remote server is on 127.0.0.2), and
    takes bodies of up to 64 KiB."""
    path = tmp_path / "pleromad.toml"
    path.write_text(
        f"[federation]\nallow_private_addresses = true\nmax_body = {MAX_BODY}\n",
        encoding="utf-8",
    )
    return load_config(path, data_dir=str(tmp_path / "data"))


# -- the remote server --------------------------------------------------------------


@dataclass
class RemoteActor:
    """An account of the remote server, with a key pair of its own."""

    peer: Peer
    username: str
    keys: KeyPair
    locked: bool = False

    @property
    def base(self) -> str:
        return self.peer.base

    @property
    def id(self) -> str:
        return f"{self.base}/users/{self.username}"

    @property
    def key_id(self) -> str:
        return f"{self.id}#main-key"

    def document(self) -> dict[str, Any]:
        return {
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": self.id,
            "type": "Person",
            "preferredUsername": self.username,
            "name": f"<b>{self.username.title()}</b> &amp; co",
            "summary": '<p>Hi<script>alert(1)</script> <a href="javascript:x">me</a></p>',
            "inbox": f"{self.id}/inbox",
            "outbox": f"{self.id}/outbox",
            "followers": f"{self.id}/followers",
            "endpoints": {"sharedInbox": f"{self.base}/inbox"},
            "manuallyApprovesFollowers": self.locked,
            "icon": {"type": "Image", "url": f"{self.base}/avatar.png"},
            "publicKey": {
                "id": self.key_id,
                "owner": self.id,
                "publicKeyPem": self.keys.public_key_pem,
            },
        }

    def serve(self) -> None:
        """Publish the actor document, its WebFinger answer and its inbox."""
        host = self.base.removeprefix("http://")
        self.peer.document(f"/users/{self.username}", self.document())
        self.peer.document(
            f"/.well-known/webfinger?resource=acct:{self.username}@{host}",
            {
                "subject": f"acct:{self.username}@{host}",
                "links": [{"rel": "self", "type": AP_JSON, "href": self.id}],
            },
            "application/jrd+json",
        )
        self.peer.answer(f"/users/{self.username}/inbox", b"", status=202)


@pytest.fixture
def remote(peers: StartPeer) -> Peer:
    """The remote server, on an address of its own."""
    return peers(REMOTE_HOST)


async def add_actor(remote: Peer, username: str, *, locked: bool = False) -> RemoteActor:
    actor = RemoteActor(remote, username, await generate_key_pair(), locked)
    actor.serve()
    return actor


@pytest_twisted.async_fixture
async def alice(remote: Peer) -> RemoteActor:
    return await add_actor(remote, "alice")


async def delivered(remote: Peer, path: str) -> Received:
    """The first POST to ``path`` of the remote server, once it arrives."""

    def arrived() -> Received | None:
        return next((r for r in remote.received if r.method == "POST" and r.path == path), None)

    return await eventually(arrived, f"a delivery to {path}", timeout=10)


# -- sending -----------------------------------------------------------------------------


async def post_activity(
    client: Client,
    path: str,
    activity: Any,
    signer: RemoteActor,
    *,
    key_id: str | None = None,
    body: bytes | None = None,
    signed_body: bytes | None = None,
    now: float | None = None,
    content_type: str = AP_JSON,
) -> Any:
    """POST ``activity`` (or the raw ``body``) to our ``path``, signed by
    ``signer`` as the fediverse signs (``key_id``, the ``signed_body`` the
    Digest is of, and the time may be made wrong)."""
    raw = body if body is not None else json.dumps(activity).encode()
    headers = httpsig.sign_headers(
        "POST",
        client.base + path,
        key_id=key_id or signer.key_id,
        private_key_pem=signer.keys.private_key_pem,
        now=time.time() if now is None else now,
        body=raw if signed_body is None else signed_body,
    )
    headers["Content-Type"] = content_type
    return await client.post(path, data=raw, headers={k: [v] for k, v in headers.items()})


def follow_of(actor: RemoteActor, target: str, n: int = 1) -> dict[str, Any]:
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{actor.id}/follows/{n}",
        "type": "Follow",
        "actor": actor.id,
        "object": target,
    }


def nothing_stored(dsn: str) -> bool:
    return query(
        dsn,
        "SELECT (SELECT count(*) FROM jobs) + (SELECT count(*) FROM seen_activities)"
        " + (SELECT count(*) FROM follows) + (SELECT count(*) FROM users WHERE NOT local)",
    ) == [(0,)]


def runner_handlers(rt: Runtime) -> dict[str, Any]:
    return {**inbox.handlers(rt), **delivery.handlers(rt)}


def one(dsn: str, sql: str, args: Any = None) -> Any:
    rows = query(dsn, sql, args)
    assert len(rows) == 1, rows
    return rows[0][0] if len(rows[0]) == 1 else rows[0]


async def applied(dsn: str) -> None:
    """Wait until no inbox job is left."""
    await eventually(
        lambda: one(dsn, "SELECT count(*) FROM jobs WHERE kind = %s", (inbox.INBOX_JOB,)) == 0,
        "the inbox job ran",
    )


# -- a Follow ----------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_a_signed_follow_is_accepted_and_the_accept_delivered_signed(
    rt: Runtime, client: Client, remote: Peer, alice: RemoteActor, start_runner: StartRunner
) -> None:
    """A Follow of an unlocked account, signed by its actor, is answered 202;
    the job makes the follow, notifies the followed account, and delivers an
    Accept of that Follow to the follower's inbox, signed by the followed
    account's key."""
    bob = await make_user(rt, "bob")
    follow = follow_of(alice, bob.ap_id)
    answer = await post_activity(client, "/users/bob/inbox", follow, alice)
    assert answer.code == 202, await answer.text()
    await start_runner(runner_handlers(rt))
    delivery_ = await delivered(remote, "/users/alice/inbox")
    accept = json.loads(delivery_.body)
    assert accept["type"] == "Accept"
    assert accept["actor"] == bob.ap_id
    assert accept["object"]["id"] == follow["id"]
    signature = httpsig.parse_signature(delivery_.headers["signature"])
    assert signature.key_id == f"{bob.ap_id}#main-key"
    assert httpsig.verify(
        signature,
        method="POST",
        path=delivery_.path,
        headers=delivery_.headers,
        public_key_pem=await actor_keys.public_key_pem(rt, bob.id),
    )
    follower = one(rt.db.dsn, "SELECT id FROM users WHERE ap_id = %s", (alice.id,))
    assert one(
        rt.db.dsn,
        "SELECT state, ap_id FROM follows WHERE follower_id = %s AND followee_id = %s",
        (follower, bob.id),
    ) == ("accepted", follow["id"])
    assert (
        one(
            rt.db.dsn,
            "SELECT type FROM notifications WHERE user_id = %s AND actor_id = %s",
            (bob.id, follower),
        )
        == "follow"
    )


@pytest_twisted.ensureDeferred
async def test_a_follow_of_a_locked_account_becomes_a_request(
    rt: Runtime, client: Client, alice: RemoteActor, start_runner: StartRunner
) -> None:
    """A Follow of a locked account is a pending request, notified, and
    answered with nothing yet: no delivery is queued."""
    carol = await make_user(rt, "carol", locked=True)
    answer = await post_activity(client, "/inbox", follow_of(alice, carol.ap_id), alice)
    assert answer.code == 202
    await start_runner(inbox.handlers(rt))
    await applied(rt.db.dsn)
    assert one(rt.db.dsn, "SELECT state FROM follows WHERE followee_id = %s", (carol.id,)) == (
        "pending"
    )
    assert one(rt.db.dsn, "SELECT count(*) FROM jobs") == 0
    assert one(rt.db.dsn, "SELECT count(*) FROM notifications WHERE user_id = %s", (carol.id,)) == 1


@pytest_twisted.ensureDeferred
async def test_the_remote_account_is_stored_from_its_actor_document(
    rt: Runtime, client: Client, remote: Peer, alice: RemoteActor
) -> None:
    """The signer's actor document becomes a remote account: nickname
    user@host:port, the name as plain text, the bio sanitized, the avatar
    the remote address, and its inbox and key in remote_actors."""
    await make_user(rt, "bob")
    answer = await post_activity(
        client, "/inbox", follow_of(alice, f"{rt.config.server.base_url}/users/bob"), alice
    )
    assert answer.code == 202
    host = remote.base.removeprefix("http://")
    nickname, name, bio_html, avatar, local = one(
        rt.db.dsn,
        "SELECT nickname, name, bio_html, avatar, local FROM users WHERE ap_id = %s",
        (alice.id,),
    )
    assert (nickname, name, local) == (f"alice@{host}", "Alice & co", False)
    assert "script" not in bio_html and "javascript" not in bio_html and "Hi" in bio_html
    assert avatar["url"] == f"{remote.base}/avatar.png"
    assert one(rt.db.dsn, "SELECT inbox, key_id FROM remote_actors") == (
        f"{alice.id}/inbox",
        alice.key_id,
    )


# -- what is refused, with nothing stored --------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_malformed_json_is_400(rt: Runtime, client: Client, alice: RemoteActor) -> None:
    """A body that is not JSON is 400, and nothing is stored."""
    await make_user(rt, "bob")
    answer = await post_activity(client, "/inbox", None, alice, body=b'{"type": "Follow",')
    assert answer.code == 400
    assert (await answer.json())["error"] == "Malformed JSON body"
    assert nothing_stored(rt.db.dsn)


@pytest.mark.parametrize(
    "activity",
    [
        ["not", "an", "object"],
        "Follow",
        {"id": "x", "type": "Follow", "object": "y"},
        {"type": "Follow", "actor": "http://127.0.0.2/users/alice"},
        {"id": "x", "type": 3, "actor": "http://127.0.0.2/users/alice"},
        {"id": "x", "type": "Follow", "actor": "mailto:alice@example.org"},
    ],
    ids=["array", "string", "no-actor", "no-id", "type-not-a-string", "actor-not-http"],
)
@pytest_twisted.ensureDeferred
async def test_json_that_is_no_activity_is_400(
    rt: Runtime, client: Client, alice: RemoteActor, activity: Any
) -> None:
    """JSON(-LD) that is not an object with string id, type and actor (an
    http(s) URL) is 400, before any signature is looked at; nothing is stored."""
    answer = await post_activity(client, "/inbox", activity, alice)
    assert answer.code == 400
    assert nothing_stored(rt.db.dsn)


@pytest_twisted.ensureDeferred
async def test_a_signature_by_another_key_is_401(
    rt: Runtime, client: Client, remote: Peer, alice: RemoteActor
) -> None:
    """An activity of alice signed by mallory's key but naming alice's key
    id does not verify, even after alice's key is fetched again: 401."""
    mallory = await add_actor(remote, "mallory")
    forged = replace(alice, keys=mallory.keys)
    answer = await post_activity(
        client, "/inbox", follow_of(alice, "http://localhost:4000/users/bob"), forged
    )
    assert answer.code == 401
    assert (await answer.json())["error"] == "Invalid signature"
    assert one(rt.db.dsn, "SELECT count(*) FROM jobs") == 0
    assert one(rt.db.dsn, "SELECT count(*) FROM seen_activities") == 0


@pytest_twisted.ensureDeferred
async def test_an_activity_not_by_its_signer_is_401(
    rt: Runtime, client: Client, remote: Peer, alice: RemoteActor
) -> None:
    """mallory signing, with her own key, an activity whose actor is alice: 401."""
    mallory = await add_actor(remote, "mallory")
    answer = await post_activity(
        client, "/inbox", follow_of(alice, "http://localhost:4000/users/bob"), mallory
    )
    assert answer.code == 401
    assert (await answer.json())["error"] == "The activity is not the signer's"
    assert one(rt.db.dsn, "SELECT count(*) FROM jobs") == 0


@pytest_twisted.ensureDeferred
async def test_a_digest_that_does_not_match_the_body_is_401(
    rt: Runtime, client: Client, alice: RemoteActor
) -> None:
    """A signature over the Digest of another body: 401, nothing fetched or stored."""
    follow = follow_of(alice, "http://localhost:4000/users/bob")
    answer = await post_activity(
        client, "/inbox", follow, alice, signed_body=json.dumps({**follow, "id": "other"}).encode()
    )
    assert answer.code == 401
    assert (await answer.json())["error"] == "Digest does not match the body"
    assert nothing_stored(rt.db.dsn)


@pytest_twisted.ensureDeferred
async def test_a_date_older_than_twelve_hours_is_401(
    rt: Runtime, client: Client, alice: RemoteActor
) -> None:
    """A request signed 13 hours ago (a replay, or a wrong clock): 401."""
    follow = follow_of(alice, "http://localhost:4000/users/bob")
    answer = await post_activity(client, "/inbox", follow, alice, now=time.time() - 13 * 3600)
    assert answer.code == 401
    assert nothing_stored(rt.db.dsn)


@pytest_twisted.ensureDeferred
async def test_an_unsigned_post_is_401(rt: Runtime, client: Client, alice: RemoteActor) -> None:
    """No Signature header at all: 401."""
    answer = await client.post(
        "/inbox",
        data=json.dumps(follow_of(alice, "http://localhost:4000/users/bob")).encode(),
        headers={"Content-Type": [AP_JSON]},
    )
    assert answer.code == 401
    assert (await answer.json())["error"] == "Missing signature"
    assert nothing_stored(rt.db.dsn)


@pytest.mark.parametrize("where", ["activity", "object"])
@pytest_twisted.ensureDeferred
async def test_ids_on_another_host_than_the_actor_are_400(
    rt: Runtime, client: Client, alice: RemoteActor, where: str
) -> None:
    """alice cannot speak for another server: an activity id, or the id of
    an object that would be her own (an Undo's Follow, a Create's Note),
    on another host is 400, nothing queued."""
    activity = {
        "id": f"{alice.id}/undo/1",
        "type": "Undo",
        "actor": alice.id,
        "object": {**follow_of(alice, "http://localhost:4000/users/bob")},
    }
    if where == "activity":
        activity["id"] = "http://127.0.0.9/activities/1"
    else:
        activity["object"]["id"] = "http://127.0.0.9/follows/1"
    answer = await post_activity(client, "/inbox", activity, alice)
    assert answer.code == 400
    assert one(rt.db.dsn, "SELECT count(*) FROM jobs") == 0
    assert one(rt.db.dsn, "SELECT count(*) FROM seen_activities") == 0


@pytest_twisted.ensureDeferred
async def test_a_body_over_the_limit_is_413(
    rt: Runtime, client: Client, alice: RemoteActor
) -> None:
    """A body over [federation] max_body: 413, nothing read further."""
    follow = {**follow_of(alice, "http://localhost:4000/users/bob"), "padding": "x" * MAX_BODY}
    answer = await post_activity(client, "/inbox", follow, alice)
    assert answer.code == 413
    assert nothing_stored(rt.db.dsn)


@pytest_twisted.ensureDeferred
async def test_a_body_not_labelled_as_an_activity_is_415(
    rt: Runtime, client: Client, alice: RemoteActor
) -> None:
    """A form or text body is 415; activity+json, ld+json and plain JSON are taken."""
    follow = follow_of(alice, "http://localhost:4000/users/bob")
    answer = await post_activity(client, "/inbox", follow, alice, content_type="text/plain")
    assert answer.code == 415
    assert nothing_stored(rt.db.dsn)
    await make_user(rt, "bob")
    for n, ctype in enumerate(
        [
            'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
            "application/json; charset=utf-8",
        ]
    ):
        answer = await post_activity(
            client,
            "/inbox",
            follow_of(alice, "http://localhost:4000/users/bob", n),
            alice,
            content_type=ctype,
        )
        assert answer.code == 202, ctype


@pytest_twisted.ensureDeferred
async def test_an_inbox_of_nobody_is_404(rt: Runtime, client: Client, alice: RemoteActor) -> None:
    """POST /users/<nick>/inbox for no local account: 404, the signer not even fetched."""
    answer = await post_activity(
        client, "/users/nobody/inbox", follow_of(alice, "http://localhost:4000/users/nobody"), alice
    )
    assert answer.code == 404
    assert nothing_stored(rt.db.dsn)


@pytest_twisted.ensureDeferred
async def test_an_activity_replayed_is_queued_once(
    rt: Runtime, client: Client, alice: RemoteActor
) -> None:
    """The same activity delivered again (a retry, or to the shared and a
    personal inbox) is answered 202 again and queued once."""
    bob = await make_user(rt, "bob")
    follow = follow_of(alice, bob.ap_id)
    for path in ("/inbox", "/inbox", "/users/bob/inbox"):
        answer = await post_activity(client, path, follow, alice)
        assert answer.code == 202
    assert one(rt.db.dsn, "SELECT count(*) FROM jobs WHERE kind = %s", (inbox.INBOX_JOB,)) == 1
    assert one(rt.db.dsn, "SELECT ap_id FROM seen_activities") == follow["id"]


# -- configuration -------------------------------------------------------------------------


def tree_with(rt: Runtime, serve: Callable[..., Client], **federation: Any) -> Client:
    """Our tree with other [federation] settings."""
    config = replace(rt.config, federation=replace(rt.config.federation, **federation))
    other = replace(rt, config=config)
    return serve(build_gateway(other), body_limit(config.instance.upload_limit))


@pytest_twisted.ensureDeferred
async def test_a_blocked_instance_is_403(
    rt: Runtime, serve: Callable[..., Client], alice: RemoteActor
) -> None:
    """Activities from an instance of blocked_instances: 403, nothing fetched or stored."""
    client = tree_with(rt, serve, blocked_instances=(REMOTE_HOST,))
    answer = await post_activity(
        client, "/inbox", follow_of(alice, "http://localhost:4000/users/bob"), alice
    )
    assert answer.code == 403
    assert (await answer.json())["error"] == "Instance blocked"
    assert nothing_stored(rt.db.dsn)


@pytest_twisted.ensureDeferred
async def test_inboxes_are_403_while_federation_is_disabled(
    rt: Runtime, serve: Callable[..., Client], alice: RemoteActor
) -> None:
    """[federation] enabled = false: every inbox answers 403."""
    client = tree_with(rt, serve, enabled=False)
    await make_user(rt, "bob")
    for path in ("/inbox", "/users/bob/inbox"):
        answer = await post_activity(
            client, path, follow_of(alice, "http://localhost:4000/users/bob"), alice
        )
        assert answer.code == 403
    assert nothing_stored(rt.db.dsn)


# -- applying ------------------------------------------------------------------------------


async def remote_user(rt: Runtime, actor: RemoteActor) -> User:
    return await remote_actors.resolve_actor(rt, actor.id)


async def follow_row(rt: Runtime, follower: User, followee: User, state: str) -> str:
    """A follow made directly; the id of its Follow activity."""

    async def txn(t: Txn) -> str:
        await relationships_store.insert_follow_txn(t, follower.id, followee.id, state, True)
        row = await relationships_store.get_follow_txn(t, follower.id, followee.id)
        assert row is not None
        return outgoing.follow_activity_id(rt.config.server.base_url, row)

    return await rt.db.run_interaction("follow", txn)


def follow_state(rt: Runtime, follower: User, followee: User) -> str | None:
    rows = query(
        rt.db.dsn,
        "SELECT state FROM follows WHERE follower_id = %s AND followee_id = %s",
        (follower.id, followee.id),
    )
    return rows[0][0] if rows else None


@pytest.mark.parametrize("named_by", ["id", "pair"])
@pytest_twisted.ensureDeferred
async def test_an_accept_makes_our_follow_request_a_follow(
    rt: Runtime, alice: RemoteActor, named_by: str
) -> None:
    """alice's Accept of bob's Follow, named by the Follow's id
    (<base_url>/activities/<uuid>) or embedded without one (by the pair of
    accounts), turns bob's request into a follow."""
    bob = await make_user(rt, "bob")
    them = await remote_user(rt, alice)
    follow_id = await follow_row(rt, bob, them, "pending")
    assert follow_id.startswith(f"{rt.config.server.base_url}/activities/")
    follow: Any = (
        follow_id
        if named_by == "id"
        else {"type": "Follow", "actor": bob.ap_id, "object": alice.id}
    )
    accept = {"id": f"{alice.id}/accepts/1", "type": "Accept", "actor": alice.id, "object": follow}
    await inbox.apply(rt, accept, them.id)
    assert follow_state(rt, bob, them) == "accepted"


@pytest_twisted.ensureDeferred
async def test_a_reject_removes_our_follow(rt: Runtime, alice: RemoteActor) -> None:
    """alice's Reject of bob's Follow removes it, request or follow."""
    bob = await make_user(rt, "bob")
    them = await remote_user(rt, alice)
    follow_id = await follow_row(rt, bob, them, "accepted")
    reject = {
        "id": f"{alice.id}/rejects/1",
        "type": "Reject",
        "actor": alice.id,
        "object": follow_id,
    }
    await inbox.apply(rt, reject, them.id)
    assert follow_state(rt, bob, them) is None


@pytest_twisted.ensureDeferred
async def test_an_accept_of_someone_elses_follow_changes_nothing(
    rt: Runtime, remote: Peer, alice: RemoteActor
) -> None:
    """mallory cannot accept bob's request to follow alice."""
    bob = await make_user(rt, "bob")
    them = await remote_user(rt, alice)
    mallory = await remote_user(rt, await add_actor(remote, "mallory"))
    follow_id = await follow_row(rt, bob, them, "pending")
    accept = {
        "id": f"{mallory.ap_id}/a/1",
        "type": "Accept",
        "actor": mallory.ap_id,
        "object": follow_id,
    }
    await inbox.apply(rt, accept, mallory.id)
    assert follow_state(rt, bob, them) == "pending"


@pytest_twisted.ensureDeferred
async def test_undo_of_a_follow_removes_it(rt: Runtime, alice: RemoteActor) -> None:
    """alice's Undo of her Follow of bob ends the follow."""
    bob = await make_user(rt, "bob")
    them = await remote_user(rt, alice)
    await follow_row(rt, them, bob, "accepted")
    undo = {
        "id": f"{alice.id}/undo/1",
        "type": "Undo",
        "actor": alice.id,
        "object": follow_of(alice, bob.ap_id),
    }
    await inbox.apply(rt, undo, them.id)
    assert follow_state(rt, them, bob) is None


@pytest_twisted.ensureDeferred
async def test_a_block_ends_follows_both_ways_and_later_follows_are_rejected(
    rt: Runtime, remote: Peer, alice: RemoteActor, start_runner: StartRunner
) -> None:
    """alice blocking bob removes the follows between them both ways; her
    Follow of bob afterwards is answered with a Reject; her Undo of the
    Block lifts it."""
    bob = await make_user(rt, "bob")
    them = await remote_user(rt, alice)
    await follow_row(rt, them, bob, "accepted")
    await follow_row(rt, bob, them, "accepted")
    block = {"id": f"{alice.id}/blocks/1", "type": "Block", "actor": alice.id, "object": bob.ap_id}
    await inbox.apply(rt, block, them.id)
    assert follow_state(rt, them, bob) is None and follow_state(rt, bob, them) is None
    assert one(rt.db.dsn, "SELECT count(*) FROM blocks WHERE blocker_id = %s", (them.id,)) == 1

    await start_runner(delivery.handlers(rt))
    await inbox.apply(rt, follow_of(alice, bob.ap_id), them.id)
    rejected = await delivered(remote, "/users/alice/inbox")
    assert json.loads(rejected.body)["type"] == "Reject"
    assert follow_state(rt, them, bob) is None

    undo = {"id": f"{alice.id}/undo/2", "type": "Undo", "actor": alice.id, "object": block}
    await inbox.apply(rt, undo, them.id)
    assert one(rt.db.dsn, "SELECT count(*) FROM blocks") == 0


@pytest.mark.parametrize("sent", ["document", "id"])
@pytest_twisted.ensureDeferred
async def test_an_update_of_the_actor_refreshes_the_account(
    rt: Runtime, alice: RemoteActor, sent: str
) -> None:
    """An Update of alice's Person by alice stores the document it carries,
    or, when it names her by id alone, her document fetched again."""
    them = await remote_user(rt, alice)
    document = {**alice.document(), "name": "Alice Renamed", "manuallyApprovesFollowers": True}
    alice.peer.document("/users/alice", document)
    update = {
        "id": f"{alice.id}#updates/1",
        "type": "Update",
        "actor": alice.id,
        "object": document if sent == "document" else alice.id,
    }
    await inbox.apply(rt, update, them.id)
    assert one(rt.db.dsn, "SELECT name, locked FROM users WHERE id = %s", (them.id,)) == (
        "Alice Renamed",
        True,
    )


@pytest_twisted.ensureDeferred
async def test_a_delete_of_the_actor_deletes_the_account(
    rt: Runtime, alice: RemoteActor, start_runner: StartRunner
) -> None:
    """alice deleting herself deletes her account here as a local deletion
    does (a tombstone), and her follows go with her content."""
    bob = await make_user(rt, "bob")
    them = await remote_user(rt, alice)
    await follow_row(rt, them, bob, "accepted")
    delete = {"id": f"{alice.id}#delete", "type": "Delete", "actor": alice.id, "object": alice.id}
    await start_runner(lifecycle.handlers(rt))
    await inbox.apply(rt, delete, them.id)
    assert one(rt.db.dsn, "SELECT deleted FROM users WHERE id = %s", (them.id,)) is True
    await eventually(lambda: follow_state(rt, them, bob) is None, "the follow removed")


@pytest_twisted.ensureDeferred
async def test_the_delete_of_an_actor_we_never_knew_is_acknowledged_unchecked(
    rt: Runtime, client: Client, remote: Peer, alice: RemoteActor
) -> None:
    """A Delete of an actor we never heard of is answered 202 at once,
    without fetching its (gone) key, and nothing is stored."""
    del remote.routes["/users/alice"]  # gone: fetching her would find nothing
    delete = {"id": f"{alice.id}#delete", "type": "Delete", "actor": alice.id, "object": alice.id}
    answer = await post_activity(client, "/inbox", delete, alice)
    assert answer.code == 202
    assert nothing_stored(rt.db.dsn)


@pytest_twisted.ensureDeferred
async def test_an_unknown_type_is_acknowledged_and_dropped(
    rt: Runtime, client: Client, alice: RemoteActor, start_runner: StartRunner
) -> None:
    """An activity of a type nothing applies is answered 202 and dropped by the job."""
    bob = await make_user(rt, "bob")
    activity = {
        "id": f"{alice.id}/x/1",
        "type": "EmojiReact",
        "actor": alice.id,
        "object": bob.ap_id,
    }
    answer = await post_activity(client, "/inbox", activity, alice)
    assert answer.code == 202
    await start_runner(inbox.handlers(rt))
    await applied(rt.db.dsn)
    assert one(rt.db.dsn, "SELECT count(*) FROM jobs") == 0


# -- resolving -----------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_an_address_is_resolved_by_webfinger(
    rt: Runtime, remote: Peer, alice: RemoteActor
) -> None:
    """alice@host is found by WebFinger at its host, then her actor document."""
    host = remote.base.removeprefix("http://")
    user = await remote_actors.resolve_acct(rt, f"@alice@{host}")
    assert (user.ap_id, user.nickname, user.local) == (alice.id, f"alice@{host}", False)


@pytest_twisted.ensureDeferred
async def test_a_new_actor_with_a_taken_nickname_renames_the_old_account(
    rt: Runtime, remote: Peer, alice: RemoteActor
) -> None:
    """When a server gives alice's nickname to a new actor id, the old
    account is renamed <its id>.<nickname> (Pleroma's rule) and the new one
    takes the nickname."""
    old = await remote_user(rt, alice)
    successor = replace(alice, keys=await generate_key_pair())
    document = {
        **successor.document(),
        "id": f"{alice.id}-2",
        "publicKey": {
            "id": f"{alice.id}-2#main-key",
            "owner": f"{alice.id}-2",
            "publicKeyPem": successor.keys.public_key_pem,
        },
    }
    new = await remote_actors.store_actor(rt, document, remote.base.removeprefix("http://"))
    assert new.nickname == old.nickname
    assert one(rt.db.dsn, "SELECT nickname FROM users WHERE id = %s", (old.id,)) == (
        f"{old.id}.{old.nickname}"
    )


@pytest.mark.parametrize(
    "change",
    [
        {"type": "Note"},
        {"inbox": None},
        {"preferredUsername": "a b"},
        {"publicKey": None},
        {"id": "http://127.0.0.9/users/alice"},
    ],
    ids=["not-an-actor", "no-inbox", "bad-username", "no-key", "id-elsewhere"],
)
@pytest_twisted.ensureDeferred
async def test_documents_that_are_no_usable_actor_are_refused(
    rt: Runtime, remote: Peer, alice: RemoteActor, change: dict[str, Any]
) -> None:
    """An actor document must be an actor on the host it came from, with an
    inbox, a sane preferredUsername and its own public key."""
    document = {**alice.document(), **change}
    with pytest.raises(remote_actors.ActorNotFound):
        await remote_actors.store_actor(rt, document, remote.base.removeprefix("http://"))
    assert one(rt.db.dsn, "SELECT count(*) FROM users") == 0


@pytest_twisted.ensureDeferred
async def test_a_key_owned_by_someone_else_is_refused(
    rt: Runtime, remote: Peer, alice: RemoteActor
) -> None:
    """publicKey.owner must be the actor itself."""
    document = alice.document()
    document["publicKey"]["owner"] = f"{remote.base}/users/mallory"
    with pytest.raises(remote_actors.ActorNotFound):
        await remote_actors.store_actor(rt, document, remote.base.removeprefix("http://"))


@pytest_twisted.ensureDeferred
async def test_a_stale_copy_is_fetched_again(rt: Runtime, remote: Peer, alice: RemoteActor) -> None:
    """A stored actor is used as it is for a day, then fetched again."""
    clock = Clock()
    clock.advance(time.time())
    timed = replace(rt, clock=clock)
    await remote_actors.resolve_actor(timed, alice.id)
    replace(alice, locked=True).serve()
    clock.advance(3600)
    assert (await remote_actors.resolve_actor(timed, alice.id)).locked is False
    clock.advance(remote_actors.STALE_AFTER)
    assert (await remote_actors.resolve_actor(timed, alice.id)).locked is True


@pytest_twisted.ensureDeferred
async def test_a_rotated_key_is_fetched_again(
    rt: Runtime, serve: Callable[..., Client], alice: RemoteActor
) -> None:
    """alice's server gave her a new key: her first activity signed with it
    fails with the stored key, so her actor is fetched again and it verifies
    (once our copy is more than a minute old)."""
    clock = Clock()
    clock.advance(time.time())
    timed = replace(rt, clock=clock)
    client = serve(build_gateway(timed), body_limit(rt.config.instance.upload_limit))
    bob = await make_user(rt, "bob")
    assert (await post_activity(client, "/inbox", follow_of(alice, bob.ap_id), alice)).code == 202
    rotated = replace(alice, keys=await generate_key_pair())
    rotated.serve()
    clock.advance(2 * remote_actors.KEY_REFRESH_AFTER)
    answer = await post_activity(client, "/inbox", follow_of(alice, bob.ap_id, 2), rotated)
    assert answer.code == 202, await answer.text()


@pytest_twisted.ensureDeferred
async def test_a_remote_follow_honours_the_remote_notification_setting(
    rt: Runtime, alice: RemoteActor
) -> None:
    """An account that turned off notifications from remote accounts is not
    notified of a remote follow; the follow is made all the same."""
    bob = await make_user(rt, "bob")
    await rt.db.run_interaction(
        "settings", users.update_user_txn, bob.id, notification_settings={"remote": False}
    )
    them = await remote_user(rt, alice)
    await inbox.apply(rt, follow_of(alice, bob.ap_id), them.id)
    assert follow_state(rt, them, bob) == "accepted"
    assert one(rt.db.dsn, "SELECT count(*) FROM notifications") == 0
