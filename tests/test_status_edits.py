"""Editing statuses: `PUT /api/v1/statuses/:id`, `/history` and `/source`,
incoming Updates of Notes kept as versions, and an edit reaching another
pleromad server."""

from __future__ import annotations

from typing import Any

import pytest_twisted

from pleromad.domain import remote_statuses as remote
from pleromad.domain.remote_actors import resolve_acct
from pleromad.runtime import Runtime
from tests.conftest import Client
from tests.federation_peers import Server, StartServer, fediverse
from tests.helpers import eventually, query
from tests.test_accounts import bearer, make_user
from tests.test_federation_actions import call, follows, local_id
from tests.test_federation_peers import WAIT
from tests.test_remote_statuses import activity, create, note, refused, remote_user, stored
from tests.test_statuses import STATUSES, answer, attachment, posted

__all__ = ["fediverse"]  # the fixture, for pytest

EDIT_KEYS = {
    "content",
    "spoiler_text",
    "sensitive",
    "created_at",
    "account",
    "media_attachments",
    "emojis",
}


async def put(client: Client, headers: dict[str, str], status_id: str, **data: Any) -> Any:
    return await answer(await client.put(f"{STATUSES}/{status_id}", json=data, headers=headers))


async def get(client: Client, path: str, headers: dict[str, str] | None = None) -> Any:
    return await answer(await client.get(path, headers=headers))


def versions(history: list[dict[str, Any]]) -> list[tuple[str, str, bool, list[str]]]:
    return [
        (
            v["content"],
            v["spoiler_text"],
            v["sensitive"],
            [m["url"] for m in v["media_attachments"]],
        )
        for v in history
    ]


@pytest_twisted.ensureDeferred
async def test_an_edit_replaces_the_post_and_keeps_the_version_it_replaced(
    rt: Runtime, client: Client
) -> None:
    """The author's PUT changes the text, spoiler, sensitivity and
    attachments and answers the Status, with the same keys as ever; the
    history lists the first version, then the current one (Mastodon's
    StatusEdit, oldest first); the source is the text as typed.  Anyone who
    may see the post may read its history; a post never edited has one
    version."""
    alice = await make_user(rt, "alice")
    headers = await bearer(rt, alice)
    cat = await attachment(rt, alice, "cat.png")
    post = await posted(client, headers, status="first #one", media_ids=[str(cat)])
    code, history = await get(client, f"{STATUSES}/{post['id']}/history")
    assert (code, len(history)) == (200, 1)

    dog = await attachment(rt, alice, "dog.png")
    code, edited = await put(
        client,
        headers,
        post["id"],
        status="second *take* #two",
        spoiler_text="cw",
        sensitive=True,
        media_ids=[str(dog)],
        content_type="text/markdown",
    )
    assert code == 200, edited
    assert edited.keys() == post.keys()
    assert (edited["id"], edited["created_at"]) == (post["id"], post["created_at"])
    assert edited["content"].startswith("<p>second <em>take</em>")
    assert [t["name"] for t in edited["tags"]] == ["two"]
    assert (edited["spoiler_text"], edited["sensitive"]) == ("cw", True)

    code, history = await get(client, f"{STATUSES}/{post['id']}/history")
    assert code == 200, history
    assert [set(v) for v in history] == [EDIT_KEYS, EDIT_KEYS]
    base = rt.config.server.base_url
    assert versions(history) == [
        (post["content"], "", False, [f"{base}/media/cat.png"]),
        (edited["content"], "cw", True, [f"{base}/media/dog.png"]),
    ]
    assert history[0]["created_at"] == post["created_at"]
    assert history[1]["created_at"] >= history[0]["created_at"]
    assert history[0]["account"]["id"] == str(alice.id)

    assert await get(client, f"{STATUSES}/{post['id']}/source", headers) == (
        200,
        {"id": post["id"], "text": "second *take* #two", "spoiler_text": "cw"},
    )


@pytest_twisted.ensureDeferred
async def test_edits_others_may_not_make_or_see_change_nothing(rt: Runtime, client: Client) -> None:
    """Only the author edits (403 for another reader, 404 for one who may
    not see the post) or reads the source; an edit is checked as a post
    is (empty, media of someone else: 422) and a refused one keeps no
    version.  A private post's history is 404 to those it is hidden from."""
    alice, bob = await make_user(rt, "alice"), await make_user(rt, "bob")
    mine, theirs = await bearer(rt, alice), await bearer(rt, bob)
    post = await posted(client, mine, status="mine")
    private = await posted(client, mine, status="ours", visibility="private")
    assert await put(client, theirs, post["id"], status="hijacked") == (
        403,
        {"error": "Can't edit this post"},
    )
    assert (await put(client, theirs, private["id"], status="x"))[0] == 404
    assert (await put(client, mine, "123", status="x"))[0] == 404
    assert await put(client, mine, post["id"], status=" ") == (
        422,
        {"error": "Cannot post an empty status without attachments"},
    )
    bobs_media = await attachment(rt, bob)
    assert (await put(client, mine, post["id"], status="x", media_ids=[str(bobs_media)]))[0] == 422
    assert (await put(client, {}, post["id"], status="x"))[0] == 403
    assert await get(client, f"{STATUSES}/{post['id']}/source", theirs) == (
        403,
        {"error": "Can't see the source of this post"},
    )
    assert (await get(client, f"{STATUSES}/{private['id']}/history"))[0] == 404
    assert query(rt.db.dsn, "SELECT count(*) FROM status_edits") == [(0,)]
    assert (await get(client, f"{STATUSES}/{post['id']}", mine))[1]["content"] == post["content"]


@pytest_twisted.ensureDeferred
async def test_an_incoming_update_keeps_the_version_it_replaces(
    rt: Runtime, client: Client
) -> None:
    """An Update of a remote post by its author is sanitized as a Create is
    and keeps the version it replaces, attachments included (their rows
    are replaced); an Update by anyone else is dropped, and one that
    changes nothing a reader sees keeps no version."""
    bob = await remote_user(rt, "bob")
    mallory = await remote_user(rt, "mallory")
    first = "https://f.remote.example/1"
    obj = await create(rt, bob, note(bob, attachment=[{"type": "Document", "url": first}]))
    status_id = stored(rt, obj["id"])
    await refused(remote.apply_update_note, rt, activity("Update", mallory, obj), mallory)
    await remote.apply_update_note(rt, activity("Update", bob, {**obj, "tag": []}), bob)
    assert query(rt.db.dsn, "SELECT count(*) FROM status_edits") == [(0,)]

    edited = {
        **obj,
        "content": "<p>edited<script>alert(1)</script></p>",
        "summary": "cw",
        "attachment": [],
        "updated": "2026-12-01T11:00:00Z",
    }
    await remote.apply_update_note(rt, activity("Update", bob, edited), bob)
    code, history = await get(client, f"{STATUSES}/{status_id}/history")
    assert code == 200, history
    assert versions(history) == [
        (obj["content"], "", False, [first]),
        ("<p>edited</p>", "cw", False, []),
    ]
    assert [v["created_at"] for v in history] == [
        "2026-12-01T10:00:00.000Z",
        "2026-12-01T11:00:00.000Z",
    ]


@pytest_twisted.async_fixture
async def pair(fediverse: StartServer) -> tuple[Server, Server]:
    return await fediverse("127.0.0.2"), await fediverse("127.0.0.3")


@pytest_twisted.ensureDeferred
async def test_an_edit_on_one_server_is_seen_on_the_other_with_its_history(
    pair: tuple[Server, Server],
) -> None:
    """B's bob follows A's alice; alice's post reaches B, then her edit on A
    goes out as an Update of the Note, and B shows the post edited, with
    both versions in its history, each dated as on A (the Note's
    `published` and `updated`)."""
    a, b = pair
    alice = await make_user(a.rt, "alice")
    bob = await make_user(b.rt, "bob")
    await follows(b, bob, await resolve_acct(b.rt, a.acct("alice")))
    code, post = await call(a, alice, "POST", "/api/v1/statuses", {"status": "Hello B"})
    assert code == 200, post
    at_b = await eventually(lambda: local_id(b, post["uri"]), "the post at B", WAIT)

    code, edited = await call(
        a, alice, "PUT", f"/api/v1/statuses/{post['id']}", {"status": "Hello again B"}
    )
    assert code == 200, edited

    async def content_at_b() -> str:
        code, status = await call(b, bob, "GET", f"/api/v1/statuses/{at_b}")
        assert code == 200, status
        return str(status["content"])

    async def edited_at_b() -> bool:
        return "again" in await content_at_b()

    await eventually(edited_at_b, "the edit at B", WAIT)
    code, history = await call(b, bob, "GET", f"/api/v1/statuses/{at_b}/history")
    assert code == 200, history
    assert [v["content"] for v in history] == [post["content"], edited["content"]]
    code, history_at_a = await call(a, alice, "GET", f"/api/v1/statuses/{post['id']}/history")
    assert code == 200, history_at_a
    assert [v["created_at"] for v in history] == [v["created_at"] for v in history_at_a]
