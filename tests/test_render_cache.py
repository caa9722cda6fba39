"""Rendered statuses and accounts are reused, never shown past a change.

Two daemons on one database each keep their own renderings; after every
change that decides who sees what (or what they see), every listing each
of them answers every reader equals what a daemon with nothing kept
answers.  A page costs the same few queries whatever it holds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import ensureDeferred, gatherResults

from pleromad.db.pool import Txn
from pleromad.runtime import Runtime, build_runtime
from pleromad.views.cache import RenderCache
from pleromad.web.root import build_gateway
from pleromad.web.site import body_limit
from tests.conftest import CHEAP_PASSWORDS, Client
from tests.test_accounts import set_user
from tests.test_media import image_bytes, upload
from tests.test_timelines import HOME, PUBLIC, Person, act, favourite, follow, person, post, reblog


def test_cache_keeps_the_newest_version_of_at_most_size_entries() -> None:
    """An entry is used only at the version it was rendered from; a new
    version replaces it; past the size bound the least recently used goes."""
    cache = RenderCache(size=2)
    renders: list[str] = []

    def render(value: str) -> Callable[[], dict[str, Any]]:
        return lambda: renders.append(value) or {"v": value}

    assert cache.render("status", 1, 10, render("a")) == {"v": "a"}
    assert cache.render("status", 1, 10, render("never")) == {"v": "a"}
    assert cache.render("status", 1, 11, render("b")) == {"v": "b"}
    cache.render("account", 1, 5, render("c"))
    cache.render("status", 1, 11, render("never"))  # now the most recently used
    cache.render("status", 2, 1, render("d"))  # evicts ("account", 1)
    assert len(cache) == 2
    assert cache.render("account", 1, 5, render("e")) == {"v": "e"}
    assert renders == ["a", "b", "c", "d", "e"]
    assert (cache.hits, cache.misses) == (2, 5)


def node(rt: Runtime, serve: Callable[..., Client]) -> tuple[Runtime, Client]:
    """Another daemon on the same database, with renderings of its own."""
    other = build_runtime(rt.config, rt.db, reactor, b"s" * 32, passwords=CHEAP_PASSWORDS)
    return other, serve(build_gateway(other), body_limit(rt.config.instance.upload_limit))


async def everything(
    client: Client, reader: Person | None, people: dict[str, Person], ids: list[str]
) -> dict[str, Any]:
    """Every listing a reader can ask for, as answered: (code, body) by path."""
    paths = [
        PUBLIC,
        f"{PUBLIC}?local=true",
        "/api/v2/search?q=cached&resolve=false",
        f"/api/v1/pleroma/accounts/{people['dave'].id}/favourites",
        f"/api/v1/accounts/{people['alice'].id}/statuses",
        *(f"/api/v1/statuses/{i}" for i in ids),
        f"/api/v1/statuses/{ids[0]}/context",
    ]
    if reader is not None:
        paths += [HOME, "/api/v1/notifications"]

    async def ask(path: str) -> tuple[int, Any]:
        response = await client.get(path, headers=reader.headers if reader else {})
        return response.code, await response.json()

    answers = await gatherResults([ensureDeferred(ask(path)) for path in paths])
    return dict(zip(paths, answers, strict=True))


@pytest_twisted.ensureDeferred
async def test_no_listing_shows_what_a_change_hid(
    rt: Runtime, client: Client, serve: Callable[..., Client]
) -> None:
    """Statuses and accounts are rendered once and reused by two daemons on
    one database; after each change (a profile edit, a status edit, an unfollow hiding
    private posts, a block, a mute, a deletion, a deactivation) both answer
    every listing, for every reader, exactly as a daemon that kept nothing."""
    rt_b, client_b = node(rt, serve)
    people = {name: await person(rt, name) for name in ("alice", "bob", "carol", "dave")}
    alice, bob, carol, dave = (people[n] for n in ("alice", "bob", "carol", "dave"))
    await follow(client, bob, alice)
    await follow(client, carol, alice)
    _, media = await upload(client, alice.headers, image_bytes())
    first = await post(client, alice, "cached #first @bob", **{"media_ids[]": media["id"]})
    private = await post(client, alice, "cached private", visibility="private")
    reply = await post(client, bob, "cached reply", in_reply_to_id=first)
    other = await post(client, carol, "cached by carol @alice")
    boost = await reblog(client, bob, first)
    await favourite(client, dave, first)
    await favourite(client, dave, other)
    ids = [first, private, reply, other, boost]
    readers: dict[str, Person | None] = {
        "anonymous": None,
        "bob": bob,
        "carol": carol,
        "dave": dave,
    }

    async def check(what: str) -> dict[str, dict[str, Any]]:
        """Both warm daemons answer as a cold one; the cold one's answers."""
        _, cold = node(rt, serve)
        answers = {}
        for name, reader in readers.items():
            expected = await everything(cold, reader, people, ids)
            assert await everything(client, reader, people, ids) == expected, (what, name)
            assert await everything(client_b, reader, people, ids) == expected, (what, name)
            answers[name] = expected
        return answers

    for reader in readers.values():
        await everything(client, reader, people, ids)
        await everything(client_b, reader, people, ids)
    # What both daemons keep from now on is what is at stake.
    assert rt.renders.hits and rt_b.renders.hits

    edited = await client.request(
        "PATCH",
        "/api/v1/accounts/update_credentials",
        headers=alice.headers,
        data={"display_name": "Alice II"},
    )
    assert edited.code == 200
    seen = await check("a profile edit")
    assert seen["bob"][HOME][1][-1]["account"]["display_name"] == "Alice II"

    # An edit made through the other daemon.
    revised = await client_b.put(
        f"/api/v1/statuses/{first}", json={"status": "cached #second"}, headers=alice.headers
    )
    assert revised.code == 200
    seen = await check("a status edit")
    assert (
        "#second" in seen["bob"][f"/api/v1/statuses/{first}"][1]["pleroma"]["content"]["text/plain"]
    )

    await act(client, carol, f"/api/v1/accounts/{alice.id}/unfollow")
    seen = await check("an unfollow")
    assert private not in {s["id"] for s in seen["carol"][HOME][1]}
    assert seen["carol"][f"/api/v1/statuses/{private}"][0] == 404

    await act(client, carol, f"/api/v1/accounts/{bob.id}/block")
    await act(client, dave, f"/api/v1/accounts/{carol.id}/mute")
    seen = await check("a block and a mute")
    assert reply not in {s["id"] for s in seen["carol"][PUBLIC][1]}
    assert other not in {s["id"] for s in seen["dave"][PUBLIC][1]}

    deleted = await client_b.request("DELETE", f"/api/v1/statuses/{reply}", headers=bob.headers)
    assert deleted.code == 200
    seen = await check("a deletion")
    assert seen["anonymous"][f"/api/v1/statuses/{reply}"][0] == 404

    await set_user(rt, alice.user, deactivated=True)
    seen = await check("a deactivation")
    assert first not in {s["id"] for s in seen["anonymous"][PUBLIC][1]}


class Counted:
    """Counts the statements every transaction runs."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.statements = 0
        for name in ("execute", "fetchall", "fetchone", "fetchval"):
            original = getattr(Txn, name)
            monkeypatch.setattr(Txn, name, self._counting(original))

    def _counting(self, original: Any) -> Any:
        async def counting(txn: Txn, *args: Any, **kwargs: Any) -> Any:
            self.statements += 1
            return await original(txn, *args, **kwargs)

        return counting

    async def of(self, client: Client, path: str, reader: Person) -> int:
        before = self.statements
        response = await client.get(path, headers=reader.headers)
        assert response.code == 200, await response.json()
        return self.statements - before


@pytest_twisted.ensureDeferred
async def test_a_page_takes_the_same_queries_whatever_it_holds(
    rt: Runtime, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A home page of 20 statuses by many authors, with replies, mentions,
    attachments and reblogs, costs a fixed number of statements: read for
    the first time, the token, the statuses' figures, their posts, the
    figures of mentioned accounts that wrote none of them, the accounts and
    the attachments (6); read again, with the posts and accounts kept, 4.
    A page of one post with an attachment costs no more (5, then 3)."""
    reader = await person(rt, "reader")
    authors = [await person(rt, f"author{i}") for i in range(5)]
    for author in authors:
        await follow(client, reader, author)
    _, media = await upload(client, authors[0].headers, image_bytes())
    await post(client, authors[0], "just one", **{"media_ids[]": media["id"]})
    counted = Counted(monkeypatch)
    assert await counted.of(client, f"{HOME}?limit=1", reader) == 5
    assert await counted.of(client, f"{HOME}?limit=1", reader) == 3

    for i in range(20):
        author = authors[i % len(authors)]
        extra = {}
        if i % 5 == 0:
            extra["media_ids[]"] = (await upload(client, author.headers, image_bytes()))[1]["id"]
        status = await post(client, author, f"number {i} @reader @author{(i + 1) % 5}", **extra)
        if i % 4 == 0:
            await reblog(client, authors[(i + 1) % len(authors)], status)
        if i % 3 == 0:
            await post(client, authors[(i + 2) % len(authors)], "a reply", in_reply_to_id=status)
    assert await counted.of(client, f"{HOME}?limit=20", reader) == 6
    assert await counted.of(client, f"{HOME}?limit=20", reader) == 4
