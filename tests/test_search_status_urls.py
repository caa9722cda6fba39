"""Searching for a post by its URL (`GET /api/v2/search?q=<url>`): ours,
one stored, or — resolving, for a signed-in reader — fetched from its server
and stored as a Create would store it.

The remote server is the small Twisted site of ``tests/test_inbox.py`` on
127.0.0.2, serving its Notes at their ids and at their pages.
"""

from __future__ import annotations

from typing import Any

import pytest_twisted

from pleromad.runtime import Runtime
from tests.conftest import Client
from tests.helpers import query
from tests.test_accounts import bearer, make_user
from tests.test_inbox import RemoteActor, alice, config, peers, remote
from tests.test_statuses import posted

__all__ = ["alice", "config", "peers", "remote"]  # fixtures, for pytest

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


def publish_note(actor: RemoteActor, n: int, *, to: list[str] | None = None) -> dict[str, Any]:
    """A Note of ``actor`` served at its id and at its page (``/@nick/<n>``),
    which answers ActivityPub JSON too."""
    document = {
        "id": f"{actor.id}/statuses/{n}",
        "type": "Note",
        "attributedTo": actor.id,
        "url": f"{actor.base}/@{actor.username}/{n}",
        "content": f"<p>note {n}<script>x()</script></p>",
        "to": to if to is not None else [PUBLIC],
        "cc": [f"{actor.id}/followers"],
        "published": "2026-12-01T10:00:00Z",
    }
    actor.peer.document(f"/users/{actor.username}/statuses/{n}", document)
    actor.peer.document(f"/@{actor.username}/{n}", document)
    return document


async def search(
    client: Client, q: str, headers: dict[str, str] | None = None, resolve: bool = True
) -> dict[str, Any]:
    answer = await client.get(
        "/api/v2/search",
        params={"q": q, "resolve": "true" if resolve else "false"},
        headers=headers,
    )
    assert answer.code == 200, await answer.text()
    body: dict[str, Any] = await answer.json()
    return body


@pytest_twisted.ensureDeferred
async def test_a_remote_posts_page_resolves_to_the_post(
    rt: Runtime, client: Client, alice: RemoteActor
) -> None:
    """Resolving the page of a remote Note fetches it (and its author),
    stores it sanitized and answers it in `statuses`, alone; its id then
    finds the same status without any fetch, and so does its page without
    resolve."""
    reader = await make_user(rt, "reader")
    headers = await bearer(rt, reader)
    note = publish_note(alice, 1)
    found = await search(client, note["url"], headers)
    assert [(s["uri"], s["url"], s["content"]) for s in found["statuses"]] == [
        (note["id"], note["url"], "<p>note 1</p>")
    ]
    assert found["statuses"][0]["account"]["acct"] == f"alice@{alice.base.removeprefix('http://')}"
    assert found["accounts"] == []
    fetches = len(alice.peer.received)
    again = await search(client, note["id"], headers, resolve=False)
    assert [s["id"] for s in again["statuses"]] == [found["statuses"][0]["id"]]
    by_page = await search(client, note["url"], None, resolve=False)
    assert [s["id"] for s in by_page["statuses"]] == [found["statuses"][0]["id"]]
    assert len(alice.peer.received) == fetches
    assert query(rt.db.dsn, "SELECT count(*) FROM statuses") == [(1,)]


@pytest_twisted.ensureDeferred
async def test_urls_that_name_no_visible_post_answer_nothing(
    rt: Runtime, client: Client, alice: RemoteActor
) -> None:
    """Not a Note (an actor), nothing there (404), a post the reader may not
    see (followers-only), or an anonymous search (which never fetches):
    an empty `statuses`, not an error."""
    reader = await make_user(rt, "reader")
    headers = await bearer(rt, reader)
    private = publish_note(alice, 2, to=[f"{alice.id}/followers"])
    public = publish_note(alice, 3)
    assert (await search(client, alice.id, headers, resolve=True))["statuses"] == []
    assert (await search(client, f"{alice.base}/@alice/404", headers))["statuses"] == []
    assert (await search(client, private["url"], headers))["statuses"] == []
    fetches = len(alice.peer.received)
    assert (await search(client, public["url"]))["statuses"] == []
    assert len(alice.peer.received) == fetches


@pytest_twisted.ensureDeferred
async def test_a_local_posts_urls_answer_the_local_post(rt: Runtime, client: Client) -> None:
    """Our own post's `uri` (its Note) and `url` (`/notice/<id>`) find it,
    resolving or not."""
    alice = await make_user(rt, "alice")
    post = await posted(client, await bearer(rt, alice), status="here")
    for url, resolve in ((post["uri"], True), (post["url"], False)):
        found = await search(client, url, await bearer(rt, alice), resolve=resolve)
        assert [s["id"] for s in found["statuses"]] == [post["id"]]
