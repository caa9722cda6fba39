"""ActivityPub documents through the real tree: actors, their collections,
Notes and their activities, and /notice redirects."""

from __future__ import annotations

import re
from typing import Any

import pytest_twisted

from pleromad.domain import actor_keys
from pleromad.federation.httpsig import sign_headers
from pleromad.federation.keys import generate_key_pair
from pleromad.model import User
from pleromad.runtime import Runtime
from pleromad.views.activitypub import AS_PUBLIC, PAGE_SIZE, addressing
from tests.conftest import Client
from tests.helpers import query
from tests.test_accounts import answer, bearer, make_user, set_user
from tests.test_statuses import attachment, posted

AP = "application/activity+json"
AP_HEADERS = {"Accept": AP}
UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


async def fetch(client: Client, path: str, **headers: str) -> tuple[int, Any]:
    response = await client.get(path, headers=headers or AP_HEADERS)
    if response.code == 200:
        content_type = response.headers.getRawHeaders(b"content-type")[0].decode()
        assert content_type == f"{AP}; charset=utf-8"
    return await answer(response)


def remote_user(
    rt: Runtime, nick: str, host: str = "remote.example", public_key_pem: str = "pem"
) -> int:
    """A remote account as fed-inbound stores one: a users row and its actor."""
    actor = f"https://{host}/users/{nick}"
    user_id = query(
        rt.db.dsn,
        "INSERT INTO users (nickname, local, ap_id) VALUES (%s, false, %s) RETURNING id",
        (f"{nick}@{host}", actor),
    )[0][0]
    query(
        rt.db.dsn,
        "INSERT INTO remote_actors (user_id, host, inbox, shared_inbox, key_id,"
        " public_key_pem, document, fetched_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, '{}', now())",
        (
            user_id,
            host,
            f"{actor}/inbox",
            f"https://{host}/inbox",
            f"{actor}#main-key",
            public_key_pem,
        ),
    )
    return int(user_id)


def add_follow(rt: Runtime, follower_id: int, followee_id: int) -> None:
    query(
        rt.db.dsn,
        "INSERT INTO follows (follower_id, followee_id) VALUES (%s, %s)",
        (follower_id, followee_id),
    )


# -- actors ----------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_person_document(rt: Runtime, client: Client) -> None:
    """A local account is a Person at its Account url: its collections,
    inbox, shared inbox, public key, lock, bio and the custom emoji of its
    name; no pictures until it sets them."""
    base = rt.config.server.base_url
    alice = await make_user(rt, "alice", name="Alice :smile:", locked=True)
    alice = await set_user(rt, alice, bio="hi", bio_html="<p>hi</p>")
    code, body = await fetch(client, "/users/alice")
    actor = f"{base}/users/alice"
    assert code == 200
    assert body["@context"][:2] == [
        "https://www.w3.org/ns/activitystreams",
        "https://w3id.org/security/v1",
    ]
    assert body["id"] == body["url"] == actor == alice.ap_id
    assert body["type"] == "Person"
    assert body["preferredUsername"] == "alice"
    assert body["name"] == "Alice :smile:"
    assert body["summary"] == "<p>hi</p>"
    assert (body["inbox"], body["outbox"]) == (f"{actor}/inbox", f"{actor}/outbox")
    assert (body["followers"], body["following"]) == (f"{actor}/followers", f"{actor}/following")
    assert body["endpoints"]["sharedInbox"] == f"{base}/inbox"
    assert body["manuallyApprovesFollowers"] is True
    assert body["discoverable"] is False
    assert body["publicKey"] == {
        "id": f"{actor}#main-key",
        "owner": actor,
        "publicKeyPem": await actor_keys.public_key_pem(rt, alice.id),
    }
    assert body["attachment"] == []
    assert [(t["type"], t["name"]) for t in body["tag"]] == [("Emoji", ":smile:")]
    assert body["tag"][0]["icon"]["url"] == f"{base}/emoji/smile.png"
    assert "icon" not in body and "image" not in body


@pytest_twisted.ensureDeferred
async def test_person_pictures(rt: Runtime, client: Client) -> None:
    """A set avatar and banner are the actor's icon and image."""
    alice = await make_user(rt, "alice")
    await set_user(
        rt,
        alice,
        avatar={"type": "Image", "url": [{"href": "https://cdn.example/a.png"}]},
        banner={"type": "Image", "url": "https://cdn.example/b.png"},
    )
    _, body = await fetch(client, "/users/alice")
    assert body["icon"] == {"type": "Image", "url": "https://cdn.example/a.png"}
    assert body["image"] == {"type": "Image", "url": "https://cdn.example/b.png"}


@pytest_twisted.ensureDeferred
async def test_unknown_deactivated_deleted_and_remote_actors(rt: Runtime, client: Client) -> None:
    """Nobody and remote accounts are 404, a deactivated account 404, a
    deleted one 410 Gone; so are their collections."""
    off = await make_user(rt, "off")
    await set_user(rt, off, deactivated=True)
    gone = await make_user(rt, "gone")
    query(
        rt.db.dsn, "UPDATE users SET deleted = true, deactivated = true WHERE id = %s", (gone.id,)
    )
    remote_user(rt, "carol")
    for suffix in ("", "/followers", "/following", "/outbox"):
        assert (await fetch(client, f"/users/nobody{suffix}"))[0] == 404
        assert (await fetch(client, f"/users/off{suffix}"))[0] == 404
        assert (await fetch(client, f"/users/carol@remote.example{suffix}"))[0] == 404
        assert await fetch(client, f"/users/gone{suffix}") == (410, {"error": "Gone"})


@pytest_twisted.ensureDeferred
async def test_instance_actor(rt: Runtime, client: Client) -> None:
    """/internal/fetch is an Application with its own key and a
    preferredUsername WebFinger knows."""
    base = rt.config.server.base_url
    code, body = await fetch(client, "/internal/fetch")
    assert code == 200
    assert body["type"] == "Application"
    assert body["id"] == f"{base}/internal/fetch"
    assert body["preferredUsername"] == "internal.fetch"
    assert body["publicKey"]["id"] == f"{base}/internal/fetch#main-key"
    assert body["publicKey"]["publicKeyPem"] == await actor_keys.public_key_pem(rt, None)


@pytest_twisted.ensureDeferred
async def test_content_negotiation(rt: Runtime, client: Client) -> None:
    """A browser's Accept gets the document too (no HTML pages yet), and so
    does ActivityStreams JSON-LD; an Accept admitting none of them is 406."""
    await make_user(rt, "alice")
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    ld = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
    for accept in (browser, ld):
        code, body = await fetch(client, "/users/alice", Accept=accept)
        assert (code, body["type"]) == (200, "Person")
    assert (await client.get("/users/alice", headers={"Accept": "text/html"})).code == 406


# -- collections -------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_followers_and_following_pages(rt: Runtime, client: Client) -> None:
    """followers is an OrderedCollection of actor ids with its size and a
    first page; pages go newest first, PAGE_SIZE each, ``next`` while there
    are more; remote followers are listed by their actor ids."""
    alice = await make_user(rt, "alice")
    followers = [await make_user(rt, f"f{i}") for i in range(PAGE_SIZE)]
    carol = remote_user(rt, "carol")
    for follower in followers:
        add_follow(rt, follower.id, alice.id)
    add_follow(rt, carol, alice.id)
    add_follow(rt, alice.id, followers[0].id)
    iri = f"{alice.ap_id}/followers"
    code, body = await fetch(client, "/users/alice/followers")
    assert code == 200
    assert body["id"] == iri and body["type"] == "OrderedCollection"
    assert body["totalItems"] == PAGE_SIZE + 1
    assert body["first"] == f"{iri}?page=true"
    _, first = await fetch(client, "/users/alice/followers?page=true")
    assert first["type"] == "OrderedCollectionPage" and first["partOf"] == iri
    assert first["orderedItems"][0] == "https://remote.example/users/carol"
    assert len(first["orderedItems"]) == PAGE_SIZE
    assert first["next"].startswith(f"{iri}?page=true&max_id=")
    _, second = await fetch(client, first["next"].removeprefix(rt.config.server.base_url))
    assert second["orderedItems"] == [followers[0].ap_id] and "next" not in second
    _, following = await fetch(client, "/users/alice/following?page=1")
    assert following["orderedItems"] == [followers[0].ap_id]


@pytest_twisted.ensureDeferred
async def test_hidden_network_shows_only_its_size(rt: Runtime, client: Client) -> None:
    """An account that hides its followers (or follows) shows only how many
    there are, for the collection and for any page of it."""
    alice = await make_user(rt, "alice")
    bob = await make_user(rt, "bob")
    add_follow(rt, bob.id, alice.id)
    add_follow(rt, alice.id, bob.id)
    await set_user(rt, alice, hide_followers=True, hide_follows=True)
    for kind in ("followers", "following"):
        for query_string in ("", "?page=true"):
            code, body = await fetch(client, f"/users/alice/{kind}{query_string}")
            assert code == 200
            assert {k: v for k, v in body.items() if k != "@context"} == {
                "id": f"{alice.ap_id}/{kind}",
                "type": "OrderedCollection",
                "totalItems": 1,
            }


@pytest_twisted.ensureDeferred
async def test_outbox_pages_public_creates_and_announces(rt: Runtime, client: Client) -> None:
    """The outbox holds public and unlisted posts as Creates and reblogs as
    Announces, newest first; private and direct posts never."""
    alice = await make_user(rt, "alice")
    headers = await bearer(rt, alice)
    public = await posted(client, headers, status="public")
    await posted(client, headers, status="unlisted", visibility="unlisted")
    await posted(client, headers, status="private", visibility="private")
    await posted(client, headers, status="direct", visibility="direct")
    reblogged = await client.post(f"/api/v1/statuses/{public['id']}/reblog", headers=headers)
    assert reblogged.code == 200
    code, body = await fetch(client, "/users/alice/outbox")
    assert (code, body["totalItems"]) == (200, 3)
    _, page = await fetch(client, "/users/alice/outbox?page=true")
    items = page["orderedItems"]
    assert [item["type"] for item in items] == ["Announce", "Create", "Create"]
    assert [item["object"]["content"] for item in items[1:]] == ["unlisted", "public"]
    assert items[0]["object"] == public["uri"]
    assert "next" not in page
    assert "@context" not in items[1] and "@context" not in items[1]["object"]


# -- statuses --------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_note_and_its_create(rt: Runtime, client: Client) -> None:
    """A public reply with a mention, a tag, an emoji and an attachment is a
    Note at its uri, addressed to Public with followers and the mentioned
    in cc; its Create wraps it with the same addressing."""
    base = rt.config.server.base_url
    alice = await make_user(rt, "alice")
    bob = await make_user(rt, "bob")
    parent = await posted(client, await bearer(rt, bob), status="parent")
    media_id = await attachment(rt, alice)
    status = await posted(
        client,
        await bearer(rt, alice),
        status="hi @bob #Cofe :smile:",
        spoiler_text="cw",
        sensitive="true",
        media_ids=[str(media_id)],
        in_reply_to_id=parent["id"],
    )
    assert re.fullmatch(f"{re.escape(base)}/objects/{UUID}", status["uri"])
    code, note = await fetch(client, status["uri"].removeprefix(base))
    assert code == 200
    assert note["id"] == status["uri"] and note["type"] == "Note"
    assert note["attributedTo"] == alice.ap_id
    assert note["to"] == [AS_PUBLIC]
    assert note["cc"] == [f"{alice.ap_id}/followers", bob.ap_id]
    assert note["inReplyTo"] == parent["uri"]
    assert note["url"] == f"{base}/notice/{status['id']}"
    assert note["content"] == status["content"]
    assert (note["summary"], note["sensitive"]) == ("cw", True)
    assert note["context"] == note["conversation"]
    tags = {(t["type"], t["name"]) for t in note["tag"]}
    assert tags == {("Mention", "@bob"), ("Hashtag", "#cofe"), ("Emoji", ":smile:")}
    [document] = note["attachment"]
    assert document["type"] == "Document" and document["mediaType"] == "image/png"
    activities = query(
        rt.db.dsn, "SELECT activity_uuid::text FROM statuses WHERE id = %s", (int(status["id"]),)
    )
    code, create = await fetch(client, f"/activities/{activities[0][0]}")
    assert code == 200
    assert create["type"] == "Create" and create["actor"] == alice.ap_id
    assert create["id"] == f"{base}/activities/{activities[0][0]}"
    assert (create["to"], create["cc"]) == (note["to"], note["cc"])
    assert create["object"] == {k: v for k, v in note.items() if k != "@context"}


def test_addressing_follows_mastodon() -> None:
    """public: to Public, cc followers and mentions; unlisted: to followers,
    cc Public and mentions; private: to followers and mentions; direct: to
    the mentions alone."""
    actor, bob = "https://a.example/users/a", "https://b.example/users/b"
    followers = f"{actor}/followers"
    cases = {
        "public": ([AS_PUBLIC], [followers, bob]),
        "unlisted": ([followers], [AS_PUBLIC, bob]),
        "private": ([followers, bob], []),
        "direct": ([bob], []),
    }
    for visibility, (to, cc) in cases.items():
        address = addressing(visibility, actor, [bob, bob])
        assert (address.to, address.cc) == (to, cc), visibility


@pytest_twisted.ensureDeferred
async def test_private_and_direct_objects_are_404_unsigned(rt: Runtime, client: Client) -> None:
    """Without a signed fetch, private and direct Notes, their Creates and
    their /notice addresses do not exist; unlisted ones do."""
    alice = await make_user(rt, "alice")
    headers = await bearer(rt, alice)
    base = rt.config.server.base_url
    for visibility, expected in (("private", 404), ("direct", 404), ("unlisted", 200)):
        status = await posted(client, headers, status="x", visibility=visibility)
        activity_uuid = query(
            rt.db.dsn,
            "SELECT activity_uuid::text FROM statuses WHERE id = %s",
            (int(status["id"]),),
        )[0][0]
        assert (await fetch(client, status["uri"].removeprefix(base)))[0] == expected
        assert (await fetch(client, f"/activities/{activity_uuid}"))[0] == expected
        notice = await client.get(
            f"/notice/{status['id']}", headers=AP_HEADERS, allow_redirects=False
        )
        assert notice.code == (302 if expected == 200 else 404)


@pytest_twisted.ensureDeferred
async def test_unknown_objects_and_notices(rt: Runtime, client: Client) -> None:
    """Unknown or malformed uuids and ids, remote statuses and statuses of
    deactivated accounts are 404."""
    alice = await make_user(rt, "alice")
    status = await posted(client, await bearer(rt, alice), status="hi")
    base = rt.config.server.base_url
    assert (await fetch(client, status["uri"].removeprefix(base)))[0] == 200
    await set_user(rt, alice, deactivated=True)
    assert (await fetch(client, status["uri"].removeprefix(base)))[0] == 404
    carol = remote_user(rt, "carol")
    remote_uuid = query(
        rt.db.dsn,
        "INSERT INTO statuses (account_id, conversation_id, visibility, ap_id)"
        " VALUES (%s, 1, 'public', 'https://remote.example/notes/1') RETURNING object_uuid::text",
        (carol,),
    )[0][0]
    for path in (
        "/objects/00000000-0000-0000-0000-000000000000",
        "/objects/not-a-uuid",
        f"/objects/{remote_uuid}",
        "/activities/zzz",
        "/notice/123",
        "/notice/abc",
    ):
        code, body = await fetch(client, path)
        assert (code, body) == (404, {"error": "Not found"}), path


@pytest_twisted.ensureDeferred
async def test_notice_redirects_to_the_object(rt: Runtime, client: Client) -> None:
    """/notice/<id> sends an ActivityPub client to the Note; a reblog's to its Announce."""
    alice: User = await make_user(rt, "alice")
    headers = await bearer(rt, alice)
    status = await posted(client, headers, status="hi")
    response = await client.get(
        f"/notice/{status['id']}", headers=AP_HEADERS, allow_redirects=False
    )
    assert response.code == 302
    assert response.headers.getRawHeaders(b"location") == [status["uri"].encode()]
    _, reblog = await answer(
        await client.post(f"/api/v1/statuses/{status['id']}/reblog", headers=headers)
    )
    response = await client.get(
        f"/notice/{reblog['id']}", headers=AP_HEADERS, allow_redirects=False
    )
    location = response.headers.getRawHeaders(b"location")[0].decode()
    assert re.fullmatch(f"{re.escape(rt.config.server.base_url)}/activities/{UUID}", location)
    code, announce = await fetch(client, location.removeprefix(rt.config.server.base_url))
    assert (code, announce["type"], announce["object"]) == (200, "Announce", status["uri"])
    assert announce["to"] == [AS_PUBLIC]
    assert announce["cc"] == [f"{alice.ap_id}/followers", alice.ap_id]


async def signed_get(
    rt: Runtime, client: Client, path: str, key_id: str, private_key_pem: str
) -> Any:
    """GET ``path`` with an HTTP Signature by ``key_id``."""
    headers = sign_headers(
        "GET",
        client.base + path,
        key_id=key_id,
        private_key_pem=private_key_pem,
        now=rt.clock.seconds(),
    )
    return await client.get(path, headers={**headers, **AP_HEADERS}, allow_redirects=False)


@pytest_twisted.ensureDeferred
async def test_signed_fetches_see_what_their_signer_may(rt: Runtime, client: Client) -> None:
    """A followers-only Note is served to the signed fetch of a remote
    follower, a direct one to the signed fetch of the account it mentions;
    another remote account's signed fetch is 404, and a signature that does
    not verify is 401."""
    alice = await make_user(rt, "alice")
    follower_keys, stranger_keys = await generate_key_pair(), await generate_key_pair()
    follower = remote_user(rt, "bob", public_key_pem=follower_keys.public_key_pem)
    remote_user(rt, "eve", public_key_pem=stranger_keys.public_key_pem)
    add_follow(rt, follower, alice.id)
    headers = await bearer(rt, alice)
    private = await posted(client, headers, status="friends", visibility="private")
    direct = await posted(client, headers, status="psst @eve@remote.example", visibility="direct")
    base = rt.config.server.base_url
    bob_key, eve_key = (f"https://remote.example/users/{n}#main-key" for n in ("bob", "eve"))
    for status, allowed, refused in (
        (private, (bob_key, follower_keys), (eve_key, stranger_keys)),
        (direct, (eve_key, stranger_keys), (bob_key, follower_keys)),
    ):
        path = status["uri"].removeprefix(base)
        seen = await signed_get(rt, client, path, allowed[0], allowed[1].private_key_pem)
        assert seen.code == 200
        assert (await seen.json())["id"] == status["uri"]
        notice = await signed_get(
            rt, client, f"/notice/{status['id']}", allowed[0], allowed[1].private_key_pem
        )
        assert notice.code == 302
        unseen = await signed_get(rt, client, path, refused[0], refused[1].private_key_pem)
        assert unseen.code == 404
        forged = await signed_get(rt, client, path, allowed[0], refused[1].private_key_pem)
        assert forged.code == 401
