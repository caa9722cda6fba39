"""Incoming Create, Update, Delete, Announce, Like and Undo about Notes: what
remote posts, boosts and favourites become here, and what is dropped.

The appliers are driven directly, as the inbox job calls them, with remote
accounts written to the database as actor resolution leaves them."""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor

from pleromad.db.pool import Txn
from pleromad.domain import media
from pleromad.domain import remote_statuses as remote
from pleromad.domain.activities import Applier, Dropped
from pleromad.federation import httpsig
from pleromad.federation.fetch import Fetcher
from pleromad.model import User
from pleromad.runtime import Runtime
from pleromad.store.users import get_user_txn
from pleromad.web.root import build_gateway
from pleromad.web.site import body_limit
from tests import peer as _peer
from tests.conftest import Client, StartRunner
from tests.helpers import query
from tests.peer import StartPeer
from tests.test_accounts import bearer, make_user, set_user
from tests.test_content import XSS_VECTORS, assert_inert, assert_text_only
from tests.test_inbox import REMOTE_HOST, add_actor, applied, one, post_activity, runner_handlers
from tests.test_notifications import follow, post, received, relate

peers = _peer.peers

HOST = "remote.example"
PUBLIC = remote.PUBLIC_COLLECTION
_serial = itertools.count(1)


async def remote_user(rt: Runtime, nick: str, host: str = HOST) -> User:
    """A remote account as actor resolution stores it: a users row and its actor document."""
    ap_id = f"https://{host}/users/{nick}"

    async def txn(t: Txn) -> User:
        row = await t.fetchone(
            "INSERT INTO users (nickname, local, ap_id) VALUES (%s, false, %s) RETURNING id",
            (f"{nick}@{host}", ap_id),
        )
        await t.execute(
            "INSERT INTO remote_actors (user_id, host, inbox, followers_url, key_id,"
            " public_key_pem, document, fetched_at)"
            " VALUES (%s, %s, %s, %s, %s, 'pem', '{}', now())",
            (row["id"], host, f"{ap_id}/inbox", f"{ap_id}/followers", f"{ap_id}#main-key"),
        )
        return row["id"]

    user = await rt.db.run_interaction(
        "get", get_user_txn, await rt.db.run_interaction("remote user", txn)
    )
    assert user is not None
    return user


def note(actor: User, **extra: Any) -> dict[str, Any]:
    """A public Note by ``actor``, as Mastodon sends one."""
    n = next(_serial)
    host = actor.ap_id.split("/")[2]
    return {
        "id": f"https://{host}/objects/{n}",
        "type": "Note",
        "attributedTo": actor.ap_id,
        "url": f"https://{host}/@{actor.nickname.split('@')[0]}/{n}",
        "content": f"<p>note {n}</p>",
        "to": [PUBLIC],
        "cc": [f"{actor.ap_id}/followers"],
        "published": "2026-12-01T10:00:00Z",
        **extra,
    }


def activity(kind: str, actor: User, obj: Any, **extra: Any) -> dict[str, Any]:
    host = actor.ap_id.split("/")[2]
    return {
        "id": f"https://{host}/activities/{next(_serial)}",
        "type": kind,
        "actor": actor.ap_id,
        "object": obj,
        **extra,
    }


async def create(rt: Runtime, actor: User, obj: dict[str, Any]) -> dict[str, Any]:
    await remote.apply_create(rt, activity("Create", actor, obj), actor)
    return obj


async def refused(applier: Applier, rt: Runtime, act: dict[str, Any], actor: User) -> None:
    """``applier`` declines ``act``: the inbox job acknowledges and drops it."""
    with pytest.raises(Dropped):
        await applier(rt, act, actor)


def stored(rt: Runtime, ap_id: str) -> int | None:
    rows = query(rt.db.dsn, "SELECT id FROM statuses WHERE ap_id = %s", (ap_id,))
    return rows[0][0] if rows else None


def local_uri(rt: Runtime, status_id: int) -> str:
    (uuid,) = query(rt.db.dsn, "SELECT object_uuid FROM statuses WHERE id = %s", (status_id,))[0]
    return f"{rt.config.server.base_url}/objects/{uuid}"


async def shown(client: Client, status_id: int, headers: Any = None) -> tuple[int, Any]:
    response = await client.get(f"/api/v1/statuses/{status_id}", headers=headers)
    return response.code, await response.json()


# -- Create ----------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_a_remote_post_is_shown_like_a_local_one(rt: Runtime, client: Client) -> None:
    """A Create of a Note is a status of its remote author: ``uri`` its id,
    ``url`` its page, the account ``nick@host`` and not local, its tags,
    custom emoji and attachments (by their remote URLs, with description,
    blurhash and size) as the Note gave them."""
    bob = await remote_user(rt, "bob")
    obj = await create(
        rt,
        bob,
        note(
            bob,
            content='<p>Hello <a href="https://remote.example/tags/fedi" class="hashtag">#fedi</a> :blob:</p>',
            summary="cw here",
            sensitive=True,
            tag=[
                {"type": "Hashtag", "name": "#Fedi", "href": "https://remote.example/tags/fedi"},
                {
                    "type": "Emoji",
                    "name": ":blob:",
                    "icon": {"type": "Image", "url": "https://remote.example/emoji/blob.png"},
                },
            ],
            attachment=[
                {
                    "type": "Document",
                    "mediaType": "image/png",
                    "url": "https://files.remote.example/a.png",
                    "name": "a cat",
                    "blurhash": "UBL_:rOpGG-oBUNG,qRj2so|=eE1w^n4S5NH",
                    "width": 640,
                    "height": 480,
                }
            ],
        ),
    )
    status_id = stored(rt, obj["id"])
    assert status_id is not None
    code, body = await shown(client, status_id)
    assert code == 200
    assert body["uri"] == obj["id"] and body["url"] == obj["url"]
    assert body["account"]["acct"] == "bob@remote.example"
    assert body["account"]["username"] == "bob"
    assert body["account"]["url"] == bob.ap_id
    assert body["pleroma"]["local"] is False
    assert body["visibility"] == "public"
    assert body["spoiler_text"] == "cw here" and body["sensitive"] is True
    assert "Hello" in body["content"]
    assert body["created_at"] == "2026-12-01T10:00:00.000Z"
    assert [t["name"] for t in body["tags"]] == ["fedi"]
    assert body["emojis"][0]["shortcode"] == "blob"
    assert body["emojis"][0]["url"] == "https://remote.example/emoji/blob.png"
    (attachment,) = body["media_attachments"]
    for key in ("url", "remote_url", "preview_url"):
        assert attachment[key] == "https://files.remote.example/a.png"
    assert attachment["type"] == "image" and attachment["description"] == "a cat"
    assert attachment["blurhash"] == "UBL_:rOpGG-oBUNG,qRj2so|=eE1w^n4S5NH"
    assert attachment["meta"]["original"]["size"] == "640x480"
    # Referenced, never stored here.
    assert query(rt.db.dsn, "SELECT path, size, user_id FROM media") == [(None, None, bob.id)]


@pytest.mark.parametrize(
    "to, cc, visibility",
    [
        ([PUBLIC], ["FOLLOWERS"], "public"),
        (["as:Public"], [], "public"),
        (["FOLLOWERS"], [PUBLIC], "unlisted"),
        (["FOLLOWERS"], [], "private"),
        (["https://elsewhere.example/users/x"], [], "direct"),
        ([], ["FOLLOWERS"], "direct"),
    ],
)
@pytest_twisted.ensureDeferred
async def test_visibility_comes_from_the_addressing_as_mastodon_reads_it(
    rt: Runtime, to: list[str], cc: list[str], visibility: str
) -> None:
    """Public in ``to``: public; in ``cc``: unlisted; the author's followers
    collection in ``to``: private; anything else: direct."""
    bob = await remote_user(rt, "bob")
    followers = f"{bob.ap_id}/followers"
    spell = [followers if a == "FOLLOWERS" else a for a in to]
    spell_cc = [followers if a == "FOLLOWERS" else a for a in cc]
    obj = await create(rt, bob, note(bob, to=spell, cc=spell_cc))
    rows = query(rt.db.dsn, "SELECT visibility FROM statuses WHERE ap_id = %s", (obj["id"],))
    assert rows == [(visibility,)]


@pytest_twisted.ensureDeferred
async def test_mentions_notify_local_accounts_and_grant_direct_posts(
    rt: Runtime, client: Client
) -> None:
    """A Mention tag naming a local account makes it mentioned (and able to
    see a direct post) and notifies it once; a second Create of the same
    object stores and notifies nothing more.  A local account that turned
    off notifications from remote accounts is not notified."""
    alice = await make_user(rt, "alice")
    quiet = await make_user(rt, "quiet")
    await set_user(rt, quiet, notification_settings={"remote": False})
    bob = await remote_user(rt, "bob")
    obj = note(
        bob,
        to=[alice.ap_id, quiet.ap_id],
        cc=[],
        tag=[
            {"type": "Mention", "href": alice.ap_id, "name": "@alice"},
            {"type": "Mention", "href": quiet.ap_id, "name": "@quiet"},
        ],
    )
    await create(rt, bob, obj)
    await create(rt, bob, obj)
    status_id = stored(rt, obj["id"])
    assert query(rt.db.dsn, "SELECT count(*) FROM statuses") == [(1,)]
    assert received(rt, alice) == [("mention", bob.id, status_id)]
    assert received(rt, quiet) == []
    code, body = await shown(client, status_id, await bearer(rt, alice))
    assert code == 200 and body["visibility"] == "direct"
    assert {m["acct"] for m in body["mentions"]} == {"alice", "quiet"}
    stranger = await make_user(rt, "stranger")
    assert (await shown(client, status_id, await bearer(rt, stranger)))[0] == 404
    assert (await shown(client, status_id))[0] == 404


@pytest_twisted.ensureDeferred
async def test_timelines_list_remote_posts(rt: Runtime, client: Client) -> None:
    """The public timeline lists remote posts unless ``local=true``, and only
    them with ``remote=true`` (Mastodon's federated-only view; both leave
    nothing); a local follower's home timeline lists the followed remote
    author's posts, a followers-only one included."""
    alice = await make_user(rt, "alice")
    bob = await remote_user(rt, "bob")
    await follow(rt, alice, bob)
    public = await create(rt, bob, note(bob))
    private = await create(rt, bob, note(bob, to=[f"{bob.ap_id}/followers"], cc=[]))
    ours = await post(rt, alice)

    async def ids(path: str, headers: Any = None) -> list[str]:
        return [s["id"] for s in await (await client.get(path, headers=headers)).json()]

    public_id, private_id = str(stored(rt, public["id"])), str(stored(rt, private["id"]))
    assert await ids("/api/v1/timelines/public") == [str(ours), public_id]
    assert await ids("/api/v1/timelines/public?local=true") == [str(ours)]
    assert await ids("/api/v1/timelines/public?remote=true") == [public_id]
    assert await ids("/api/v1/timelines/public?remote=1&local=1") == []
    home = await ids("/api/v1/timelines/home", await bearer(rt, alice))
    assert home == [str(ours), private_id, public_id]


HOSTILE = '<p>hi</p><script>alert("x")</script><img src=x onerror="alert(1)"><a href="javascript:alert(1)">x</a>'


@pytest_twisted.ensureDeferred
async def test_hostile_html_and_urls_are_made_harmless(rt: Runtime, client: Client) -> None:
    """Content is sanitized, the summary and attachment descriptions keep no
    markup, and attachments, emoji and pages whose URLs are not http(s) (or
    are on another host, for the page) are left out."""
    bob = await remote_user(rt, "bob")
    obj = await create(
        rt,
        bob,
        note(
            bob,
            content=HOSTILE,
            summary='<b onmouseover="x()">cw</b><script>bad()</script>',
            url="https://evil.example/phish",
            tag=[
                {"type": "Emoji", "name": ":x:", "icon": {"url": "javascript:alert(1)"}},
                {"type": "Emoji", "name": ":<script>:", "icon": {"url": "https://r.example/e"}},
                {"type": "Hashtag", "name": "#<b>bad</b>"},
            ],
            attachment=[
                {"type": "Document", "url": "javascript:alert(1)", "mediaType": "image/png"},
                {"type": "Document", "url": "data:image/png;base64,AAAA"},
                {
                    "type": "Document",
                    "url": "https://files.remote.example/b.png",
                    "mediaType": "<script>",
                    "name": '<img src=x onerror="alert(1)">alt',
                    "blurhash": "<script>alert(1)</script>",
                    "width": True,
                },
            ],
        ),
    )
    code, body = await shown(client, stored(rt, obj["id"]))
    assert code == 200
    rendered = repr(body)
    for bad in ("<script", "onerror", "onmouseover", "javascript:", "data:", "<img", "<b"):
        assert bad not in rendered, bad
    assert "hi" in body["content"] and body["spoiler_text"] == "cw"
    assert body["url"] == obj["id"]
    assert body["emojis"] == [] and body["tags"] == []
    (attachment,) = body["media_attachments"]
    assert attachment["url"] == "https://files.remote.example/b.png"
    assert attachment["description"] == "alt"
    assert attachment["type"] == "unknown" and attachment["blurhash"] is None
    assert "meta" not in attachment


@pytest_twisted.ensureDeferred
async def test_attachments_beyond_the_cap_are_ignored(rt: Runtime) -> None:
    """A Note with a thousand attachments stores the first MAX_ATTACHMENTS."""
    bob = await remote_user(rt, "bob")
    many = [
        {"type": "Document", "mediaType": "image/png", "url": f"https://f.remote.example/{i}"}
        for i in range(1000)
    ]
    obj = await create(rt, bob, note(bob, attachment=many))
    rows = query(
        rt.db.dsn,
        "SELECT m.url FROM status_media sm JOIN media m ON m.id = sm.media_id"
        " WHERE sm.status_id = %s ORDER BY sm.position",
        (stored(rt, obj["id"]),),
    )
    assert [r[0] for r in rows] == [f"https://f.remote.example/{i}" for i in range(16)]
    assert remote.MAX_ATTACHMENTS == 16


@pytest_twisted.ensureDeferred
async def test_a_note_not_of_its_actor_or_host_is_dropped(rt: Runtime) -> None:
    """Nothing is stored for an object whose id is on another host than the
    actor, one attributed to someone else, or an object that is not a post."""
    bob = await remote_user(rt, "bob")
    carol = await remote_user(rt, "carol", "other.example")
    for obj in (
        note(bob, id="https://other.example/objects/stolen"),
        note(bob, attributedTo=carol.ap_id),
        {**note(bob), "type": "Person"},
        "https://remote.example/o/1",
    ):
        await refused(remote.apply_create, rt, activity("Create", bob, obj), bob)
    assert query(rt.db.dsn, "SELECT count(*) FROM statuses") == [(0,)]


@pytest_twisted.ensureDeferred
async def test_an_article_is_its_title_and_a_link(rt: Runtime, client: Client) -> None:
    """An Article is shown as Mastodon shows one: its title and a link to it."""
    bob = await remote_user(rt, "bob")
    obj = note(bob, content="<p>long text</p>", name="A <i>title</i>")
    obj["type"] = "Article"
    await create(rt, bob, obj)
    code, body = await shown(client, stored(rt, obj["id"]))
    assert code == 200
    assert "A title" in body["content"] and "long text" not in body["content"]
    assert f'href="{obj["url"]}"' in body["content"]


@pytest_twisted.ensureDeferred
async def test_replies_thread_under_statuses_their_author_may_see(
    rt: Runtime, client: Client
) -> None:
    """A reply to a local status is threaded under it (its conversation, its
    author); a reply to a private status its author may not see is not; a
    reply whose parent is unknown joins the conversation its ``context``
    names: one of ours, or that of a remote status sharing it."""
    alice = await make_user(rt, "alice")
    bob = await remote_user(rt, "bob")
    parent = await post(rt, alice)
    secret = await post(rt, alice, visibility="private")
    reply = await create(rt, bob, note(bob, inReplyTo=local_uri(rt, parent), context="ctx:1"))
    sneaky = await create(rt, bob, note(bob, inReplyTo=local_uri(rt, secret)))
    orphan = await create(
        rt, bob, note(bob, inReplyTo="https://remote.example/objects/gone", context="ctx:1")
    )
    ours = f"{rt.config.server.base_url}/contexts/{secret}"
    in_our_thread = await create(rt, bob, note(bob, context=ours))
    unknown_thread = await create(
        rt, bob, note(bob, context=f"{rt.config.server.base_url}/contexts/12345")
    )
    rows = dict(
        (r[0], r[1:])
        for r in query(
            rt.db.dsn,
            "SELECT ap_id, in_reply_to_id, in_reply_to_account_id, conversation_id FROM statuses"
            " WHERE ap_id IS NOT NULL",
        )
    )
    assert rows[reply["id"]] == (parent, alice.id, parent)
    assert rows[sneaky["id"]][:2] == (None, None)
    assert rows[orphan["id"]] == (None, None, parent)
    assert rows[in_our_thread["id"]][2] == secret
    assert rows[unknown_thread["id"]][2] == stored(rt, unknown_thread["id"])
    context = await (await client.get(f"/api/v1/statuses/{parent}/context")).json()
    assert [s["uri"] for s in context["descendants"]] == [reply["id"]]
    assert received(rt, alice) == []


@pytest_twisted.ensureDeferred
async def test_a_removed_remote_accounts_attachments_go_without_files(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Removing a remote account's media (a step of account deletion) drops
    the rows of its attachments and asks the uploader to delete no file."""
    bob = await remote_user(rt, "bob")
    await create(
        rt, bob, note(bob, attachment=[{"type": "Document", "url": "https://f.remote.example/1"}])
    )
    deleted: list[str] = []

    async def delete(path: str) -> None:
        deleted.append(path)

    monkeypatch.setattr(rt.uploader, "delete", delete)
    await media.remove_user_media(rt, bob.id)
    assert query(rt.db.dsn, "SELECT count(*) FROM media") == [(0,)]
    assert deleted == []


# -- Update and Delete -------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_update_edits_the_authors_post_only(rt: Runtime, client: Client) -> None:
    """An Update by the author replaces text, spoiler, sensitivity and
    attachments; one by another actor changes nothing."""
    bob = await remote_user(rt, "bob")
    mallory = await remote_user(rt, "mallory")
    obj = await create(
        rt, bob, note(bob, attachment=[{"type": "Document", "url": "https://f.remote.example/1"}])
    )
    status_id = stored(rt, obj["id"])
    forged = {**obj, "content": "<p>pwned</p>", "attributedTo": mallory.ap_id}
    await refused(remote.apply_update_note, rt, activity("Update", mallory, forged), mallory)
    await refused(remote.apply_update_note, rt, activity("Update", mallory, obj), mallory)
    assert "pwned" not in (await shown(client, status_id))[1]["content"]
    edited = {
        **obj,
        "content": "<p>edited<script>x</script></p>",
        "summary": "now with cw",
        "sensitive": True,
        "attachment": [{"type": "Document", "url": "https://f.remote.example/2"}],
    }
    await remote.apply_update_note(rt, activity("Update", bob, edited), bob)
    body = (await shown(client, status_id))[1]
    assert body["content"] == "<p>edited</p>"
    assert body["spoiler_text"] == "now with cw" and body["sensitive"] is True
    assert [a["url"] for a in body["media_attachments"]] == ["https://f.remote.example/2"]
    assert query(rt.db.dsn, "SELECT url FROM media") == [("https://f.remote.example/2",)]


@pytest.mark.parametrize("form", ["id", "Tombstone", "Note"])
@pytest_twisted.ensureDeferred
async def test_delete_removes_the_authors_post_only(rt: Runtime, form: str) -> None:
    """A Delete by the author (of a bare id, a Tombstone or the Note) removes
    the post and its attachments; a Delete by another actor removes nothing."""
    bob = await remote_user(rt, "bob")
    mallory = await remote_user(rt, "mallory")
    obj = await create(
        rt, bob, note(bob, attachment=[{"type": "Document", "url": "https://f.remote.example/1"}])
    )
    named = {"id": obj["id"], "Tombstone": {"id": obj["id"], "type": "Tombstone"}}.get(form, obj)
    await refused(remote.apply_delete_object, rt, activity("Delete", mallory, named), mallory)
    assert stored(rt, obj["id"]) is not None
    await remote.apply_delete_object(rt, activity("Delete", bob, named), bob)
    assert stored(rt, obj["id"]) is None
    assert query(rt.db.dsn, "SELECT count(*) FROM media") == [(0,)]


# -- Announce ------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_announce_reblogs_and_undo_takes_it_back(rt: Runtime, client: Client) -> None:
    """An Announce of a local public status is a reblog by the remote actor
    (counted, its author notified, shown on the reblogger's behalf); a
    replay changes nothing; Undo by the Announce's id, or with the Announce
    embedded, removes it."""
    alice = await make_user(rt, "alice")
    bob = await remote_user(rt, "bob")
    carol = await remote_user(rt, "carol", "other.example")
    status_id = await post(rt, alice)
    boost = activity("Announce", bob, local_uri(rt, status_id), to=[PUBLIC])
    await remote.apply_announce(rt, boost, bob)
    await remote.apply_announce(rt, boost, bob)
    other = activity("Announce", carol, {"id": local_uri(rt, status_id)})
    await remote.apply_announce(rt, other, carol)
    assert received(rt, alice) == [("reblog", bob.id, status_id), ("reblog", carol.id, status_id)]
    body = (await shown(client, status_id))[1]
    assert body["reblogs_count"] == 2
    reblog_id = stored(rt, boost["id"])
    code, wrapped = await shown(client, reblog_id)
    assert code == 200 and wrapped["reblog"]["id"] == str(status_id)
    assert wrapped["account"]["acct"] == "bob@remote.example"
    # Only the reblogger can take it back.
    await remote.apply_undo_announce(rt, activity("Undo", carol, boost["id"]), carol)
    await remote.apply_undo_announce(rt, activity("Undo", bob, boost["id"]), bob)
    await remote.apply_undo_announce(rt, activity("Undo", carol, other), carol)
    assert (await shown(client, status_id))[1]["reblogs_count"] == 0


@pytest_twisted.ensureDeferred
async def test_announces_that_may_not_be_are_dropped(rt: Runtime) -> None:
    """No reblog comes of an Announce of a private status (even by a
    follower, even of a remote private post), of a status whose author
    blocks the actor, of an unknown status of ours, or with an id on
    another host."""
    alice = await make_user(rt, "alice")
    bob = await remote_user(rt, "bob")
    dave = await remote_user(rt, "dave")
    await follow(rt, bob, alice)
    private = await post(rt, alice, visibility="private")
    public = await post(rt, alice)
    await relate(rt, "blocks", alice, dave)
    remote_private = await create(rt, dave, note(dave, to=[f"{dave.ap_id}/followers"], cc=[]))
    for actor, target, extra in [
        (bob, local_uri(rt, private), {}),
        (dave, local_uri(rt, public), {}),
        (bob, remote_private["id"], {}),
        (bob, f"{rt.config.server.base_url}/objects/{uuid.uuid4()}", {}),
        (bob, local_uri(rt, public), {"id": "https://other.example/activities/1"}),
    ]:
        announce = activity("Announce", actor, target, **extra)
        await refused(remote.apply_announce, rt, announce, actor)
    assert query(rt.db.dsn, "SELECT count(*) FROM statuses WHERE reblog_of_id IS NOT NULL") == [
        (0,)
    ]
    assert [n for n in received(rt, alice) if n[0] == "reblog"] == []


# -- Like ----------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_like_favourites_and_undo_takes_it_back(rt: Runtime, client: Client) -> None:
    """A Like is a favourite by the remote actor (counted, its author
    notified once); Undo by the Like's id or with the Like embedded removes
    it, and only the actor's own."""
    alice = await make_user(rt, "alice")
    bob = await remote_user(rt, "bob")
    carol = await remote_user(rt, "carol")
    status_id = await post(rt, alice)
    like = activity("Like", bob, local_uri(rt, status_id))
    await remote.apply_like(rt, like, bob)
    await remote.apply_like(rt, like, bob)
    other = activity("Like", carol, local_uri(rt, status_id))
    await remote.apply_like(rt, other, carol)
    assert received(rt, alice) == [
        ("favourite", bob.id, status_id),
        ("favourite", carol.id, status_id),
    ]
    assert (await shown(client, status_id))[1]["favourites_count"] == 2
    await remote.apply_undo_like(rt, activity("Undo", carol, like["id"]), carol)
    assert (await shown(client, status_id))[1]["favourites_count"] == 2
    await remote.apply_undo_like(rt, activity("Undo", bob, like["id"]), bob)
    await remote.apply_undo_like(
        rt, activity("Undo", carol, {"type": "Like", "object": other["object"]}), carol
    )
    assert (await shown(client, status_id))[1]["favourites_count"] == 0


@pytest_twisted.ensureDeferred
async def test_likes_of_what_the_actor_may_not_see_are_dropped(rt: Runtime) -> None:
    """A Like of a private status by someone who does not follow its author,
    of a direct status not addressed to the actor, or of a status whose
    author blocks the actor, favourites nothing and notifies no one."""
    alice = await make_user(rt, "alice")
    bob = await remote_user(rt, "bob")
    await follow(rt, bob, alice)
    carol = await remote_user(rt, "carol")
    private = await post(rt, alice, visibility="private")
    direct = await post(rt, alice, visibility="direct")
    public = await post(rt, alice)
    await relate(rt, "blocks", alice, bob)
    for actor, status_id in [(carol, private), (carol, direct), (bob, public)]:
        like = activity("Like", actor, local_uri(rt, status_id))
        await refused(remote.apply_like, rt, like, actor)
    assert query(rt.db.dsn, "SELECT count(*) FROM favourites") == [(0,)]
    assert received(rt, alice) == [("follow", bob.id, None)]


# -- fetching what an Announce names -----------------------------------------------------


def fetching(rt: Runtime) -> Runtime:
    """``rt`` allowed to fetch from the loopback peers."""
    federation = dataclasses.replace(rt.config.federation, allow_private_addresses=True, timeout=5)
    return dataclasses.replace(
        rt,
        config=dataclasses.replace(rt.config, federation=federation),
        fetcher=Fetcher(reactor, federation, allow_http=True),
    )


@pytest_twisted.ensureDeferred
async def test_an_announce_of_an_unknown_post_fetches_it(rt: Runtime, peers: StartPeer) -> None:
    """An Announce of a post we do not have fetches it from its server,
    signed by the instance actor, stores it as its author's (an account of
    that host) and reblogs it; a second Announce of it fetches nothing."""
    rt = fetching(rt)
    peer = peers()
    host = peer.base.split("/")[2]
    bob = await remote_user(rt, "bob", host)
    carol = await remote_user(rt, "carol", "other.example")
    dave = await remote_user(rt, "dave", "other.example")
    obj = {**note(bob), "id": f"{peer.base}/objects/1", "url": f"{peer.base}/@bob/1"}
    peer.document("/objects/1", obj)
    await remote.apply_announce(rt, activity("Announce", carol, obj["id"]), carol)
    await remote.apply_announce(rt, activity("Announce", dave, obj["id"]), dave)
    status_id = stored(rt, obj["id"])
    assert status_id is not None
    assert query(rt.db.dsn, "SELECT account_id FROM statuses WHERE id = %s", (status_id,)) == [
        (bob.id,)
    ]
    reblogs = query(
        rt.db.dsn,
        "SELECT account_id FROM statuses WHERE reblog_of_id = %s ORDER BY id",
        (status_id,),
    )
    assert reblogs == [(carol.id,), (dave.id,)]
    [request] = peer.received
    signature = httpsig.parse_signature(request.headers["signature"])
    assert signature.key_id == f"{rt.config.server.base_url}/internal/fetch#main-key"


@pytest_twisted.ensureDeferred
async def test_fetched_posts_that_may_not_be_reblogged_are_not(
    rt: Runtime, peers: StartPeer
) -> None:
    """A fetched object attributed to an actor of another host is not
    stored; a fetched followers-only post is stored but not reblogged; an
    object that cannot be fetched reblogs nothing."""
    rt = fetching(rt)
    peer = peers()
    host = peer.base.split("/")[2]
    bob = await remote_user(rt, "bob", host)
    carol = await remote_user(rt, "carol", "other.example")
    foreign = {**note(carol), "id": f"{peer.base}/objects/foreign"}
    private = {
        **note(bob),
        "id": f"{peer.base}/objects/private",
        "to": [f"{bob.ap_id}/followers"],
        "cc": [],
    }
    peer.document("/objects/foreign", foreign)
    peer.document("/objects/private", private)
    for target in (foreign["id"], private["id"], f"{peer.base}/objects/missing"):
        await refused(remote.apply_announce, rt, activity("Announce", carol, target), carol)
    assert stored(rt, foreign["id"]) is None
    assert stored(rt, private["id"]) is not None
    assert query(rt.db.dsn, "SELECT count(*) FROM statuses WHERE reblog_of_id IS NOT NULL") == [
        (0,)
    ]


@pytest_twisted.ensureDeferred
async def test_every_xss_vector_in_a_remote_note_renders_inert(rt: Runtime, client: Client) -> None:
    """Each known vector arriving as a remote Note's content, summary,
    attachment description, hashtag, emoji and page URL: ``content`` is
    inert, ``spoiler_text`` and descriptions are text, and every URL a
    client follows is the http(s) one the Note gave or its id."""
    bob = await remote_user(rt, "bob")
    for vector in XSS_VECTORS:
        await create(
            rt,
            bob,
            note(
                bob,
                content=vector,
                summary=vector,
                url=vector,
                tag=[
                    {"type": "Hashtag", "name": vector},
                    {"type": "Emoji", "name": vector, "icon": {"url": vector}},
                ],
                attachment=[
                    {"type": "Document", "url": "https://f.remote.example/x", "name": vector},
                    {"type": "Document", "url": vector, "name": "x"},
                ],
            ),
        )
    read: list[dict[str, Any]] = []
    page = f"/api/v1/accounts/{bob.id}/statuses?limit=40"
    while len(read) < len(XSS_VECTORS):
        response = await client.get(page)
        statuses = await response.json()
        assert response.code == 200 and statuses
        read.extend(statuses)
        page = f"/api/v1/accounts/{bob.id}/statuses?limit=40&max_id={statuses[-1]['id']}"
    assert len(read) == len(XSS_VECTORS)
    for status in read:
        assert_inert(status["content"])
        assert_text_only(status["spoiler_text"])
        assert status["url"] == status["uri"]
        assert status["tags"] == [] and status["emojis"] == []
        (attachment,) = status["media_attachments"]
        assert attachment["url"] == "https://f.remote.example/x"
        assert_text_only(attachment["description"])


# -- through the inbox -------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_a_signed_create_and_like_through_the_inbox(
    rt: Runtime, serve: Any, peers: StartPeer, start_runner: StartRunner
) -> None:
    """A Create of a Note mentioning a local account and a Like of that
    account's status, POSTed signed to the shared inbox by a remote actor
    whose server is on loopback, are answered 202 and applied by the job:
    the post is on the public timeline as the remote account's, the
    mentioned account is notified of it, the status is favourited."""
    rt = fetching(rt)
    client = serve(build_gateway(rt), body_limit(rt.config.instance.upload_limit))
    alice = await add_actor(peers(REMOTE_HOST), "alice")
    bob = await make_user(rt, "bob")
    status_id = await post(rt, bob)
    obj = {
        "id": f"{alice.id}/statuses/1",
        "type": "Note",
        "attributedTo": alice.id,
        "content": '<p><span class="h-card"><a class="u-url mention" href="x">@bob</a></span> hi</p>',
        "to": [PUBLIC],
        "cc": [f"{alice.id}/followers", bob.ap_id],
        "tag": [{"type": "Mention", "href": bob.ap_id, "name": "@bob"}],
    }
    create = {"id": f"{alice.id}/statuses/1/activity", "type": "Create", "actor": alice.id}
    like = {"id": f"{alice.id}/likes/1", "type": "Like", "actor": alice.id}
    for sent in ({**create, "object": obj}, {**like, "object": local_uri(rt, status_id)}):
        answer = await post_activity(client, "/inbox", sent, alice)
        assert answer.code == 202, await answer.text()
    await start_runner(runner_handlers(rt))
    await applied(rt.db.dsn)
    timeline = await (await client.get("/api/v1/timelines/public")).json()
    assert [s["uri"] for s in timeline] == [obj["id"], local_uri(rt, status_id)]
    assert timeline[0]["account"]["acct"] == f"alice@{REMOTE_HOST}:{alice.peer.port}"
    assert timeline[1]["favourites_count"] == 1
    author = one(rt.db.dsn, "SELECT id FROM users WHERE ap_id = %s", (alice.id,))
    assert set(received(rt, bob)) == {
        ("mention", author, stored(rt, obj["id"])),
        ("favourite", author, status_id),
    }
