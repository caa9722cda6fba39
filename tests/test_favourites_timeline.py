"""`GET /api/v1/pleroma/accounts/<id>/favourites` (DECISIONS 17): who may
read an account's favourites, which of them, in which order, how they page,
and that a page walks the favourites index however large the table is."""

from __future__ import annotations

import itertools
from urllib.parse import parse_qs, urlsplit

import pytest_twisted

from pleromad.runtime import Runtime
from pleromad.store.loader import load_page_query
from pleromad.store.timelines import favourites_query
from pleromad.web.pagination import Page
from tests.conftest import Client
from tests.helpers import query
from tests.test_accounts import set_user
from tests.test_relationships import links
from tests.test_timelines import (
    Person,
    act,
    explain,
    explain_kept,
    favourite,
    follow,
    ids,
    person,
    post,
    reads,
    refused,
)


def favourites_of(account: Person | str) -> str:
    account_id = account if isinstance(account, str) else account.id
    return f"/api/v1/pleroma/accounts/{account_id}/favourites"


def favourite_ids(rt: Runtime, fan: Person) -> list[str]:
    """The fan's favourite ids, newest first."""
    rows = query(
        rt.db.dsn,
        "SELECT id FROM favourites WHERE account_id = %s ORDER BY id DESC",
        (fan.user.id,),
    )
    return [str(row[0]) for row in rows]


@pytest_twisted.ensureDeferred
async def test_anyone_reads_favourites_newest_favourite_first(rt: Runtime, client: Client) -> None:
    """An account's favourites are readable by anyone, anonymous or not, as
    Status entities, ordered by when they were favourited — not by when
    the statuses were posted."""
    fan = await person(rt, "fan")
    author = await person(rt, "author")
    reader = await person(rt, "reader")
    older = await post(client, author, "posted first")
    newer = await post(client, author, "posted second")
    await favourite(client, fan, newer)
    await favourite(client, fan, older)

    for who in (None, reader, fan):
        assert await ids(client, favourites_of(fan), who) == [older, newer]
    response = await client.get(favourites_of(fan))
    first = (await response.json())[0]
    assert first["account"]["id"] == author.id
    assert "posted first" in first["content"]


@pytest_twisted.ensureDeferred
async def test_hidden_favourites_are_403_for_everyone_but_the_owner(
    rt: Runtime, client: Client
) -> None:
    """With ``hide_favorites`` on, others — anonymous or signed in — get 403
    ``Can't get favorites``; the owner still reads their own list."""
    fan = await person(rt, "fan")
    reader = await person(rt, "reader")
    liked = await post(client, reader, "nice")
    await favourite(client, fan, liked)
    response = await client.request(
        "PATCH",
        "/api/v1/accounts/update_credentials",
        headers=fan.headers,
        data={"hide_favorites": "true"},
    )
    assert response.code == 200, await response.json()

    hidden = (403, {"error": "Can't get favorites"})
    assert await refused(client, favourites_of(fan)) == hidden
    assert await refused(client, favourites_of(fan), reader) == hidden
    assert await ids(client, favourites_of(fan), fan) == [liked]


@pytest_twisted.ensureDeferred
async def test_only_statuses_the_reader_may_see_are_listed(rt: Runtime, client: Client) -> None:
    """A favourited private status is listed only for readers who may see
    it (its author and the author's followers), a direct one only for its
    author and the accounts it names; statuses of authors the reader
    blocks, or who block the reader, are left out."""
    fan = await person(rt, "fan")
    author = await person(rt, "author")
    follower = await person(rt, "follower")
    stranger = await person(rt, "stranger")
    for who in (fan, follower):
        await follow(client, who, author)
    public = await post(client, author, "for all")
    private = await post(client, author, "for followers", visibility="private")
    direct = await post(client, author, "@fan just us", visibility="direct")
    for status_id in (public, private, direct):
        await favourite(client, fan, status_id)

    assert await ids(client, favourites_of(fan), fan) == [direct, private, public]
    assert await ids(client, favourites_of(fan), follower) == [private, public]
    assert await ids(client, favourites_of(fan), stranger) == [public]
    assert await ids(client, favourites_of(fan)) == [public]
    assert await ids(client, favourites_of(fan), author) == [direct, private, public]

    await act(client, stranger, f"/api/v1/accounts/{author.id}/block")
    await act(client, author, f"/api/v1/accounts/{follower.id}/block")
    assert await ids(client, favourites_of(fan), stranger) == []
    assert await ids(client, favourites_of(fan), follower) == []


@pytest_twisted.ensureDeferred
async def test_unfavourited_and_deleted_statuses_leave_the_list(
    rt: Runtime, client: Client
) -> None:
    """Taking a favourite back or deleting the status removes it from the list."""
    fan = await person(rt, "fan")
    author = await person(rt, "author")
    kept, taken_back, deleted = [await post(client, author, f"n{n}") for n in range(3)]
    for status_id in (kept, taken_back, deleted):
        await favourite(client, fan, status_id)
    await act(client, fan, f"/api/v1/statuses/{taken_back}/unfavourite")
    response = await client.request("DELETE", f"/api/v1/statuses/{deleted}", headers=author.headers)
    assert response.code == 200
    assert await ids(client, favourites_of(fan)) == [kept]


@pytest_twisted.ensureDeferred
async def test_unknown_accounts_are_404(rt: Runtime, client: Client) -> None:
    """An id that names no account — a number, a word, a nickname (there is
    no nickname lookup here), a deleted account (whatever it favourited) —
    is 404 ``Record not found``."""
    fan = await person(rt, "fan")
    gone = await person(rt, "gone")
    await favourite(client, gone, await post(client, fan, "liked before leaving"))
    await set_user(rt, gone.user, deactivated=True)
    query(rt.db.dsn, "UPDATE users SET deleted = true WHERE id = %s", (gone.user.id,))
    missing = (404, {"error": "Record not found"})
    for ref in ("123456789", "test", "fan", gone.id, "99999999999999999999"):
        assert await refused(client, favourites_of(ref)) == missing, ref
        assert await refused(client, favourites_of(ref), fan) == missing, ref


@pytest_twisted.ensureDeferred
async def test_favourites_page_by_the_favourites_id(rt: Runtime, client: Client) -> None:
    """``limit`` (at most 40), ``max_id``, ``since_id`` and ``min_id`` are
    favourite ids, and the Link header carries favourite ids: ``next`` with
    ``max_id`` = the page's last, ``prev`` with ``min_id`` = its first, on
    this endpoint, keeping the other parameters."""
    fan = await person(rt, "fan")
    author = await person(rt, "author")
    posted = [await post(client, author, f"n{n}") for n in range(5)]
    for status_id in reversed(posted):  # favourited in the opposite order
        await favourite(client, fan, status_id)
    by_favourite = posted  # newest favourite first
    keys = favourite_ids(rt, fan)

    response = await client.get(favourites_of(fan), params={"limit": "2"})
    assert [s["id"] for s in await response.json()] == by_favourite[:2]
    found = links(response)
    base = rt.config.server.base_url
    for rel, cursor, key in (("next", "max_id", keys[1]), ("prev", "min_id", keys[0])):
        url = urlsplit(found[rel])
        assert f"{url.scheme}://{url.netloc}{url.path}" == base + favourites_of(fan)
        assert parse_qs(url.query) == {"limit": ["2"], cursor: [key]}

    path = favourites_of(fan)
    assert await ids(client, path, limit=2, max_id=keys[1]) == by_favourite[2:4]
    assert await ids(client, path, limit=2, min_id=keys[4]) == by_favourite[2:4]
    assert await ids(client, path, limit=2, since_id=keys[4]) == by_favourite[:2]
    assert await ids(client, path, max_id=keys[0], since_id=keys[3]) == by_favourite[1:3]
    response = await client.get(path, params={"max_id": keys[4]})
    assert await response.json() == []
    assert response.headers.getRawHeaders("link") is None
    code, body = await refused(client, path, limit="lots")
    assert code == 400 and "error" in body

    query(
        rt.db.dsn,
        "WITH made AS (INSERT INTO statuses (account_id, conversation_id, visibility)"
        " SELECT %(author)s, 0, 'public' FROM generate_series(1, 45) RETURNING id)"
        " INSERT INTO favourites (account_id, status_id) SELECT %(fan)s, id FROM made",
        {"author": author.user.id, "fan": fan.user.id},
    )
    assert len(await ids(client, path, limit=100)) == 40
    assert len(await ids(client, path)) == 20


# -- the cost of a page -------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_a_page_walks_the_favourites_index_with_100000_favourites(
    rt: Runtime,
) -> None:
    """With 100,000 favourites in the table, the page query — the very SQL
    the store runs, for every reader and every kind of page — walks
    ``favourites_account_idx`` from the page's bound and never reads the
    favourites (or statuses) table whole: no sequential scan, no bitmap
    scan of all the owner's favourites to sort them."""
    author, fan, other = [await person(rt, name) for name in ("author", "fan", "other")]
    dsn = rt.db.dsn
    query(
        dsn,
        "INSERT INTO statuses (account_id, conversation_id, visibility)"
        " SELECT %s, 0, CASE WHEN g %% 10 = 0 THEN 'private' ELSE 'public' END"
        " FROM generate_series(1, 100000) g",
        (author.user.id,),
    )
    query(
        dsn,
        "INSERT INTO favourites (account_id, status_id)"
        " SELECT CASE WHEN id %% 4 = 0 THEN %s ELSE %s END, id FROM statuses",
        (other.user.id, fan.user.id),
    )
    assert query(dsn, "SELECT count(*) FROM favourites") == [(100000,)]
    middle = int(favourite_ids(rt, fan)[30000])
    pages = [
        Page(limit=20),
        Page(limit=40, max_id=middle),
        Page(limit=20, since_id=middle),
        Page(limit=20, min_id=middle),
    ]
    # The statistics autovacuum keeps, gathered now rather than in a minute.
    query(dsn, "ANALYZE favourites")
    query(dsn, "ANALYZE statuses")
    for viewer in (None, other.user.id, fan.user.id):
        for page, shown in itertools.product(pages, (False, True)):
            built = favourites_query(fan.user.id, viewer, page, shown_by_owner=shown)
            # The page query alone, and inside the loader's statement as the
            # daemon runs it: prepared.
            for nodes in (
                explain(dsn, built),
                explain_kept(dsn, load_page_query(built, viewer, status_column="status_id")),
            ):
                assert "favourites_account_idx" in reads(nodes, "favourites"), nodes
                read_whole = (reads(nodes, "favourites") | reads(nodes, "statuses")) & {
                    "Seq Scan",
                    "Bitmap Heap Scan",
                }
                assert not read_whole, nodes
