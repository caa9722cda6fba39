"""Timelines: home, public and an account's statuses — what each lists, for
whom, with which filters, and how they page (Link headers)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg2
import pytest
import pytest_twisted

from pleromad.db.prepared import arguments, execute_call, positional
from pleromad.model import StatusFilters, User
from pleromad.runtime import Runtime
from pleromad.store.loader import load_page_query
from pleromad.store.timelines import account_statuses_query, home_query, public_query
from pleromad.web.pagination import Page
from tests.conftest import Client
from tests.helpers import query
from tests.test_accounts import answer, bearer, make_user, set_user
from tests.test_media import image_bytes, upload
from tests.test_relationships import links

HOME = "/api/v1/timelines/home"
PUBLIC = "/api/v1/timelines/public"
VISIBILITIES = ("public", "unlisted", "private", "direct")


@dataclass(frozen=True)
class Person:
    user: User
    headers: dict[str, str]

    @property
    def id(self) -> str:
        return str(self.user.id)


async def person(rt: Runtime, nickname: str, **kw: Any) -> Person:
    user = await make_user(rt, nickname, **kw)
    return Person(user, await bearer(rt, user))


async def post(client: Client, who: Person, text: str, **fields: Any) -> str:
    """Post a status as ``who``; its id."""
    code, body = await answer(
        await client.post("/api/v1/statuses", headers=who.headers, data={"status": text, **fields})
    )
    assert code == 200, body
    return body["id"]


async def act(client: Client, who: Person, path: str, **fields: Any) -> Any:
    code, body = await answer(await client.post(path, headers=who.headers, data=fields))
    assert code == 200, (path, body)
    return body


async def follow(client: Client, who: Person, target: Person, **fields: Any) -> Any:
    return await act(client, who, f"/api/v1/accounts/{target.id}/follow", **fields)


async def reblog(client: Client, who: Person, status_id: str) -> str:
    return (await act(client, who, f"/api/v1/statuses/{status_id}/reblog"))["id"]


async def favourite(client: Client, who: Person, status_id: str) -> None:
    await act(client, who, f"/api/v1/statuses/{status_id}/favourite")


async def listed(
    client: Client, path: str, who: Person | None = None, **params: Any
) -> list[dict[str, Any]]:
    """The statuses a listing answers ``who`` (None: anonymous)."""
    response = await client.get(path, headers=who.headers if who else {}, params=params)
    body = await response.json()
    assert response.code == 200, body
    return body


async def ids(client: Client, path: str, who: Person | None = None, **params: Any) -> list[str]:
    return [status["id"] for status in await listed(client, path, who, **params)]


def statuses_of(account: Person) -> str:
    return f"/api/v1/accounts/{account.id}/statuses"


async def refused(client: Client, path: str, who: Person | None = None, **params: Any) -> Any:
    response = await client.get(path, headers=who.headers if who else {}, params=params)
    return response.code, await response.json()


# -- home -------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_home_lists_own_and_followed_statuses_newest_first(
    rt: Runtime, client: Client
) -> None:
    """Home holds the reader's own statuses and those of accounts they
    follow, newest first; strangers' statuses and those of an account that
    has not accepted the follow request yet are not in it."""
    me = await person(rt, "me")
    friend = await person(rt, "friend")
    stranger = await person(rt, "stranger")
    locked = await person(rt, "locked", locked=True)
    await follow(client, me, friend)
    await follow(client, me, locked)  # a request, still pending
    first = await post(client, friend, "friend's first")
    await post(client, stranger, "not for me")
    mine = await post(client, me, "my own")
    await post(client, locked, "not accepted yet")
    second = await post(client, friend, "friend's second")

    statuses = await listed(client, HOME, me)
    assert [s["id"] for s in statuses] == [second, mine, first]
    assert statuses[0]["account"]["id"] == friend.id
    assert "second" in statuses[0]["content"]


@pytest_twisted.ensureDeferred
async def test_home_shows_reblogs_unless_the_follow_hides_them(rt: Runtime, client: Client) -> None:
    """A followed account's reblogs are in home, as reblogs wrapping the
    original, unless the reader followed it with ``reblogs=false``."""
    me = await person(rt, "me")
    booster = await person(rt, "booster")
    quiet = await person(rt, "quiet")
    author = await person(rt, "author")
    await follow(client, me, booster)
    await follow(client, me, quiet, reblogs="false")
    original = await post(client, author, "worth sharing")
    boosted = await reblog(client, booster, original)
    await reblog(client, quiet, original)
    own = await post(client, quiet, "quiet's own words")

    statuses = await listed(client, HOME, me)
    assert [s["id"] for s in statuses] == [own, boosted]
    assert statuses[1]["reblog"]["id"] == original
    assert statuses[1]["account"]["id"] == booster.id
    assert await ids(client, HOME, me, exclude_reblogs="true") == [own]


@pytest_twisted.ensureDeferred
async def test_home_leaves_out_muted_and_blocked_accounts(rt: Runtime, client: Client) -> None:
    """Statuses of accounts the reader mutes or blocks are not in home, nor
    are reblogs of their statuses by accounts the reader follows."""
    me = await person(rt, "me")
    friend = await person(rt, "friend")
    muted = await person(rt, "muted")
    blocked = await person(rt, "blocked")
    await follow(client, me, friend)
    await follow(client, me, muted)
    kept = await post(client, friend, "fine")
    by_muted = await post(client, muted, "muted words")
    by_blocked = await post(client, blocked, "blocked words")
    await reblog(client, friend, by_muted)
    await reblog(client, friend, by_blocked)
    await act(client, me, f"/api/v1/accounts/{muted.id}/mute")
    await act(client, me, f"/api/v1/accounts/{blocked.id}/block")

    assert await ids(client, HOME, me) == [kept]


@pytest_twisted.ensureDeferred
async def test_home_needs_a_user_with_the_read_scope(rt: Runtime, client: Client) -> None:
    """Home is a reader's own: anonymous 403 ``Invalid credentials.``, a
    token without ``read`` 403 ``Insufficient permissions: read.``."""
    me = await person(rt, "me")
    assert await refused(client, HOME) == (403, {"error": "Invalid credentials."})
    write_only = Person(me.user, await bearer(rt, me.user, ["write"]))
    assert await refused(client, HOME, write_only) == (
        403,
        {"error": "Insufficient permissions: read."},
    )


# -- public -----------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_public_lists_public_statuses_for_anyone(rt: Runtime, client: Client) -> None:
    """The public timeline lists public statuses only — not unlisted,
    private or direct ones, and not reblogs — to anonymous readers and
    users alike; ``local=true`` keeps local ones (all are, here)."""
    author = await person(rt, "author")
    reader = await person(rt, "reader")
    first = await post(client, author, "one")
    for visibility in ("unlisted", "private", "direct"):
        await post(client, author, f"@reader {visibility}", visibility=visibility)
    second = await post(client, author, "two")
    await reblog(client, reader, second)

    assert await ids(client, PUBLIC) == [second, first]
    assert await ids(client, PUBLIC, reader) == [second, first]
    assert await ids(client, PUBLIC, local="true") == [second, first]
    assert await ids(client, PUBLIC, reader, local="1") == [second, first]


@pytest_twisted.ensureDeferred
async def test_public_applies_the_readers_blocks_and_mutes(rt: Runtime, client: Client) -> None:
    """A reader does not see, in the public timeline, accounts they block or
    mute, nor accounts that block them; others still do."""
    reader = await person(rt, "reader")
    muted = await person(rt, "muted")
    blocked = await person(rt, "blocked")
    blocker = await person(rt, "blocker")
    plain = await person(rt, "plain")
    by = {p.user.nickname: await post(client, p, "hello") for p in (muted, blocked, blocker, plain)}
    await act(client, reader, f"/api/v1/accounts/{muted.id}/mute")
    await act(client, reader, f"/api/v1/accounts/{blocked.id}/block")
    await act(client, blocker, f"/api/v1/accounts/{reader.id}/block")

    assert await ids(client, PUBLIC, reader) == [by["plain"]]
    assert len(await ids(client, PUBLIC)) == 4


@pytest_twisted.ensureDeferred
async def test_only_media_keeps_statuses_with_attachments(rt: Runtime, client: Client) -> None:
    """``only_media=true`` keeps the statuses that carry attachments, on the
    public timeline, home and an account's statuses."""
    author = await person(rt, "author")
    code, media = await upload(client, author.headers, image_bytes())
    assert code == 200, media
    await post(client, author, "words only")
    pictured = await post(client, author, "with a picture", **{"media_ids[]": media["id"]})

    assert await ids(client, PUBLIC, only_media="true") == [pictured]
    assert await ids(client, HOME, author, only_media="true") == [pictured]
    assert await ids(client, statuses_of(author), only_media="true") == [pictured]
    assert len(await ids(client, PUBLIC, only_media="false")) == 2


# -- an account's statuses ---------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_account_statuses_and_their_filters(rt: Runtime, client: Client) -> None:
    """An account's statuses hold its posts and reblogs, newest first;
    ``exclude_replies`` drops its replies, ``exclude_reblogs`` its reblogs,
    ``tagged`` keeps those with the tag, and ``pinned=true`` is empty."""
    author = await person(rt, "author")
    other = await person(rt, "other")
    theirs = await post(client, other, "a thought")
    top = await post(client, author, "top level #Cats")
    reply = await post(client, author, "a reply", in_reply_to_id=theirs)
    boosted = await reblog(client, author, theirs)

    path = statuses_of(author)
    assert await ids(client, path) == [boosted, reply, top]
    assert await ids(client, path, exclude_replies="true") == [boosted, top]
    assert await ids(client, path, exclude_reblogs="true") == [reply, top]
    assert await ids(client, path, exclude_replies="1", exclude_reblogs="1") == [top]
    assert await ids(client, path, tagged="cats") == [top]
    assert await ids(client, path, pinned="true") == []
    assert await ids(client, f"/api/v1/accounts/{author.user.nickname}/statuses") == [
        boosted,
        reply,
        top,
    ]


@pytest_twisted.ensureDeferred
async def test_account_statuses_of_an_unknown_account_are_404(rt: Runtime, client: Client) -> None:
    """An account that does not exist (or is deleted) has no statuses: 404
    ``Record not found``."""
    gone = await person(rt, "gone")
    await set_user(rt, gone.user, deactivated=True)
    query(rt.db.dsn, "UPDATE users SET deleted = true WHERE id = %s", (gone.user.id,))
    for ref in ("123456789", "nobody", gone.id):
        assert await refused(client, f"/api/v1/accounts/{ref}/statuses") == (
            404,
            {"error": "Record not found"},
        )


# -- who sees what ------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_no_listing_shows_a_status_to_someone_who_may_not_see_it(
    rt: Runtime, client: Client
) -> None:
    """Public and unlisted statuses are for everyone; private ones for the
    author, accepted followers and the accounts they mention; direct ones
    for the author and the accounts they mention — in home, the public
    timeline, the author's statuses and the favourites of an account that
    favourited them all.  A pending follow request sees no private status."""
    author = await person(rt, "author", locked=True)
    follower = await person(rt, "follower")
    mentioned = await person(rt, "mentioned")
    requester = await person(rt, "requester")
    stranger = await person(rt, "stranger")
    await follow(client, follower, author)
    await act(client, author, f"/api/v1/follow_requests/{follower.id}/authorize")
    await follow(client, requester, author)  # stays pending
    posted = {v: await post(client, author, f"@mentioned {v}", visibility=v) for v in VISIBILITIES}
    for status_id in posted.values():
        await favourite(client, author, status_id)
    shown = {v: i for i, v in enumerate(VISIBILITIES)}

    def expected(*visibilities: str) -> list[str]:
        return [posted[v] for v in sorted(visibilities, key=shown.__getitem__, reverse=True)]

    everyone = expected("public", "unlisted")
    may_see = [
        (None, everyone),
        (stranger, everyone),
        (requester, everyone),
        (follower, expected("public", "unlisted", "private")),
        (mentioned, expected(*VISIBILITIES)),
        (author, expected(*VISIBILITIES)),
    ]
    favourites = f"/api/v1/pleroma/accounts/{author.id}/favourites"
    for reader, visible in may_see:
        assert await ids(client, statuses_of(author), reader) == visible, reader
        assert await ids(client, favourites, reader) == visible, reader
        assert await ids(client, PUBLIC, reader) == [posted["public"]]
    assert await ids(client, HOME, follower) == expected("public", "unlisted", "private")
    assert await ids(client, HOME, author) == expected(*VISIBILITIES)
    # Mentioned, the account sees them in its home without following.
    assert await ids(client, HOME, mentioned) == expected(*VISIBILITIES)
    for reader in (stranger, requester):
        assert await ids(client, HOME, reader) == []


@pytest_twisted.ensureDeferred
async def test_statuses_of_deactivated_or_blocking_authors_are_in_no_listing(
    rt: Runtime, client: Client
) -> None:
    """A deactivated author's statuses are listed nowhere; an author who
    blocks the reader is invisible to that reader in every listing."""
    reader = await person(rt, "reader")
    blocker = await person(rt, "blocker")
    leaver = await person(rt, "leaver")
    await follow(client, reader, blocker)
    await follow(client, reader, leaver)
    blocked_out = await post(client, blocker, "you will not see this")
    await post(client, leaver, "soon gone")
    await favourite(client, reader, blocked_out)
    await act(client, blocker, f"/api/v1/accounts/{reader.id}/block")
    await set_user(rt, leaver.user, deactivated=True)

    assert await ids(client, HOME, reader) == []
    assert await ids(client, PUBLIC, reader) == []
    assert await ids(client, statuses_of(blocker), reader) == []
    assert await ids(client, f"/api/v1/pleroma/accounts/{reader.id}/favourites", reader) == []
    assert await ids(client, PUBLIC) == [blocked_out]


# -- pagination -------------------------------------------------------------------


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


@pytest_twisted.ensureDeferred
async def test_timelines_page_by_status_id_with_link_headers(rt: Runtime, client: Client) -> None:
    """``limit`` pages newest first; ``Link`` points at the same endpoint
    with an absolute URL, keeps the other parameters, and carries ``max_id``
    = the page's last id (next) and ``min_id`` = its first (prev);
    ``since_id`` gives the newest above it, ``min_id`` those just above it."""
    author = await person(rt, "author")
    posted = [await post(client, author, f"number {n}") for n in range(5)]
    newest = posted[::-1]
    base = rt.config.server.base_url

    for path, who in ((PUBLIC, None), (HOME, author), (statuses_of(author), None)):
        response = await client.get(
            path, headers=who.headers if who else {}, params={"limit": "2", "local": "true"}
        )
        assert [s["id"] for s in await response.json()] == newest[:2]
        found = links(response)
        assert found["next"].startswith(f"{base}{path}?")
        kept = {"limit": ["2"], "local": ["true"]}
        assert query_of(found["next"]) == {**kept, "max_id": [newest[1]]}
        assert query_of(found["prev"]) == {**kept, "min_id": [newest[0]]}

        assert await ids(client, path, who, limit=2, max_id=newest[1]) == newest[2:4]
        assert await ids(client, path, who, limit=2, min_id=newest[4]) == newest[2:4]
        assert await ids(client, path, who, limit=2, since_id=newest[4]) == newest[:2]
        assert await ids(client, path, who, max_id=newest[0], since_id=newest[3]) == newest[1:3]
        assert await ids(client, path, who, limit=0) == []

        response = await client.get(
            path, headers=who.headers if who else {}, params={"max_id": newest[4]}
        )
        assert await response.json() == []
        assert response.headers.getRawHeaders("link") is None


@pytest_twisted.ensureDeferred
async def test_limit_is_clamped_to_40(rt: Runtime, client: Client) -> None:
    """No listing gives more than 40 statuses at once, whatever ``limit`` asks."""
    author = await person(rt, "author")
    query(
        rt.db.dsn,
        "INSERT INTO statuses (account_id, conversation_id, visibility, content)"
        " SELECT %s, 0, 'public', 'many' FROM generate_series(1, 45)",
        (author.user.id,),
    )
    assert len(await ids(client, PUBLIC, limit=100)) == 40
    assert len(await ids(client, statuses_of(author), limit=41)) == 40
    assert len(await ids(client, HOME, author, limit=1000)) == 40
    assert len(await ids(client, PUBLIC)) == 20


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "many"},
        {"limit": "-1"},
        {"max_id": "newest"},
        {"only_media": "perhaps"},
        {"local": "2"},
        {"remote": "yes please"},
        {"exclude_replies": "maybe"},
    ],
)
@pytest_twisted.ensureDeferred
async def test_malformed_parameters_are_400(
    rt: Runtime, client: Client, params: dict[str, str]
) -> None:
    """A parameter of the wrong type is a 400 with a JSON error, on every listing."""
    author = await person(rt, "author")
    await post(client, author, "hello")
    for path in (PUBLIC, HOME, statuses_of(author)):
        if {"local", "remote"} & params.keys() and path != PUBLIC:
            continue
        code, body = await refused(client, path, author, **params)
        assert code == 400 and "error" in body, (path, body)


# -- the cost of a page ---------------------------------------------------------


def plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from plan_nodes(child)


def explain(dsn: str, built: tuple[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The nodes of the plan of the SQL a store function runs."""
    sql, args = built
    [(plan,)] = query(dsn, "EXPLAIN (FORMAT JSON) " + sql, args)
    return list(plan_nodes(plan[0]["Plan"]))


def explain_kept(dsn: str, built: tuple[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The nodes of the plan PostgreSQL runs the statement with once the
    daemon has prepared it (:mod:`pleromad.db.prepared`) and run it a few
    times: the plan it keeps for any parameters when that is no worse than
    those made for each run's values, else one made for these."""
    text, keys = positional(built[0])
    call = execute_call("kept", len(keys))
    values = arguments(keys, built[1])
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("PREPARE kept AS " + text)
            for _ in range(6):  # PostgreSQL weighs a generic plan after five runs
                cur.execute(call, values)
            cur.execute("EXPLAIN (FORMAT JSON) " + call, values)
            [(plan,)] = cur.fetchall()
    finally:
        conn.close()
    return list(plan_nodes(plan[0]["Plan"]))


def reads(nodes: list[dict[str, Any]], table: str) -> set[str]:
    """How ``table`` is read: node types, and the index of index scans."""
    return {
        node.get("Index Name") or node["Node Type"]
        for node in nodes
        if node.get("Relation Name") == table
    }


@pytest_twisted.ensureDeferred
async def test_home_and_account_pages_walk_the_account_index(rt: Runtime) -> None:
    """With 40,000 statuses of 100 accounts, half of them mentioning someone
    (4,000 the reader), a page of home or of an account's statuses — the
    very SQL the store runs, for anonymous and signed-in readers and every
    kind of page — walks each account's statuses through
    ``statuses_account_idx`` and stops at the page, never reading the
    statuses table whole (no sequential or bitmap scan); home reads the
    reader's mentions from ``status_mentions_account_idx`` from the keyset
    bound (no sequential scan of the mentions either), and the public
    timeline reads statuses through an index."""
    me = await person(rt, "me")
    dsn = rt.db.dsn
    query(
        dsn,
        "INSERT INTO users (nickname, email, ap_id)"
        " SELECT 'u' || g, 'u' || g || '@example.org', 'https://example.org/u' || g"
        " FROM generate_series(1, 100) g",
    )
    query(
        dsn,
        "INSERT INTO statuses (account_id, conversation_id, visibility)"
        " SELECT u.id, 0, CASE WHEN g % 7 = 0 THEN 'private' ELSE 'public' END"
        " FROM generate_series(1, 400) g CROSS JOIN users u WHERE u.nickname LIKE 'u%'",
    )
    query(
        dsn,
        "INSERT INTO follows (follower_id, followee_id)"
        " SELECT %s, id FROM users WHERE nickname LIKE 'u1%%'",
        (me.user.id,),
    )
    query(
        dsn,
        "INSERT INTO status_mentions (status_id, account_id)"
        " SELECT s.id, CASE WHEN s.id %% 5 = 0 THEN %s ELSE"
        "  (SELECT u.id FROM users u WHERE u.nickname = 'u' || (s.id %% 100 + 1)) END"
        " FROM statuses s WHERE s.id %% 2 = 0 ON CONFLICT DO NOTHING",
        (me.user.id,),
    )
    query(dsn, "ANALYZE")
    someone = query(dsn, "SELECT id FROM users WHERE nickname = 'u5'")[0][0]
    middle = query(dsn, "SELECT id FROM statuses ORDER BY id DESC OFFSET 20000 LIMIT 1")[0][0]
    pages = [
        Page(limit=20),
        Page(limit=40, max_id=middle),
        Page(limit=20, since_id=middle),
        Page(limit=20, min_id=middle),
    ]
    for page in pages:
        homes = [
            explain(dsn, home_query(me.user.id, page, StatusFilters())),
            explain(dsn, home_query(me.user.id, page, StatusFilters(exclude_replies=True))),
        ]
        for nodes in homes:
            mentions = [node for node in nodes if node.get("Alias") == "hm"]
            assert [node.get("Index Name") for node in mentions] == [
                "status_mentions_account_idx"
            ], mentions
            if page != Page(limit=page.limit):  # the keyset bound is an index condition
                assert "status_id" in mentions[0]["Index Cond"], mentions
            assert "Seq Scan" not in reads(nodes, "status_mentions"), nodes
        viewers = (None, me.user.id)
        accounts = [account_statuses_query(someone, v, page, StatusFilters()) for v in viewers]
        plans = homes + [explain(dsn, built) for built in accounts]
        # What the daemon runs: the page inside the loader's statement,
        # prepared, with the plan PostgreSQL keeps for any parameters.
        home = home_query(me.user.id, page, StatusFilters())
        kept = [explain_kept(dsn, load_page_query(home, me.user.id))] + [
            explain_kept(dsn, load_page_query(built, viewer))
            for built, viewer in zip(accounts, viewers, strict=True)
        ]
        for nodes in plans + kept:
            assert "statuses_account_idx" in reads(nodes, "statuses"), nodes
            assert not reads(nodes, "statuses") & {"Seq Scan", "Bitmap Heap Scan"}, nodes
        for viewer in (None, me.user.id):
            nodes = explain(dsn, public_query(viewer, page, StatusFilters(local_only=True)))
            assert "Seq Scan" not in reads(nodes, "statuses"), nodes


# -- home: statuses that mention the reader ------------------------------------


@pytest_twisted.ensureDeferred
async def test_home_lists_mentions_and_dms_from_accounts_not_followed(
    rt: Runtime, client: Client
) -> None:
    """A status that mentions the reader is in their home though they do not
    follow its author — a direct message, a followers-only or a public
    mention, a reply to them — but not in the home of someone it does not
    address; the author's other statuses stay out."""
    me = await person(rt, "me")
    stranger = await person(rt, "stranger")
    bystander = await person(rt, "bystander")
    mine = await post(client, me, "anyone there?")
    dm = await post(client, stranger, "@me psst", visibility="direct")
    await post(client, stranger, "not about you")
    private = await post(client, stranger, "@me for followers", visibility="private")
    public = await post(client, stranger, "hello @me")
    reply = await post(client, stranger, "yes", in_reply_to_id=mine)

    statuses = await listed(client, HOME, me)
    assert [s["id"] for s in statuses] == [reply, public, private, dm, mine]
    assert statuses[3]["visibility"] == "direct"
    assert statuses[3]["account"]["id"] == stranger.id
    assert await ids(client, HOME, bystander) == []
    assert await ids(client, HOME, me, exclude_replies="true") == [public, private, dm, mine]


@pytest_twisted.ensureDeferred
async def test_home_leaves_out_mentions_by_blocked_muted_or_blocking_accounts(
    rt: Runtime, client: Client
) -> None:
    """A status mentioning the reader stays out of home when its author is
    blocked or muted by the reader, blocks the reader, or is deactivated."""
    me = await person(rt, "me")
    blocked = await person(rt, "blocked")
    muted = await person(rt, "muted")
    blocker = await person(rt, "blocker")
    leaver = await person(rt, "leaver")
    plain = await person(rt, "plain")
    for author in (blocked, muted, blocker, leaver):
        await post(client, author, "@me hi", visibility="direct")
        await post(client, author, "@me hello")
    kept = await post(client, plain, "@me hey")
    await act(client, me, f"/api/v1/accounts/{blocked.id}/block")
    await act(client, me, f"/api/v1/accounts/{muted.id}/mute")
    await act(client, blocker, f"/api/v1/accounts/{me.id}/block")
    await set_user(rt, leaver.user, deactivated=True)

    assert await ids(client, HOME, me) == [kept]


@pytest_twisted.ensureDeferred
async def test_home_lists_a_followed_account_mentioning_the_reader_once(
    rt: Runtime, client: Client
) -> None:
    """A status found both ways — by an account the reader follows, and
    mentioning the reader — is listed once, in its place."""
    me = await person(rt, "me")
    friend = await person(rt, "friend")
    await follow(client, me, friend)
    before = await post(client, friend, "plain")
    both = await post(client, friend, "@me look", visibility="private")
    dm = await post(client, friend, "@me only you", visibility="direct")
    after = await post(client, friend, "plain again")

    assert await ids(client, HOME, me) == [after, dm, both, before]
    assert await ids(client, HOME, me, limit=2, max_id=after) == [dm, both]
    assert await ids(client, HOME, me, limit=1, min_id=both) == [dm]


@pytest_twisted.ensureDeferred
async def test_home_pages_across_followed_and_mentioning_statuses(
    rt: Runtime, client: Client
) -> None:
    """Pages of home interleave the followed accounts' statuses with those
    mentioning the reader by id: ``max_id``, ``since_id`` and ``min_id``
    bound both alike, and following the ``next`` links visits every status
    once, newest first."""
    me = await person(rt, "me")
    friend = await person(rt, "friend")
    stranger = await person(rt, "stranger")
    await follow(client, me, friend)
    posted = []
    for n in range(4):
        posted.append(await post(client, friend, f"friend {n}"))
        posted.append(await post(client, stranger, f"@me stranger {n}", visibility="direct"))
        posted.append(await post(client, friend, f"@me both {n}"))
        await post(client, stranger, f"not for me {n}")
    newest = posted[::-1]

    assert await ids(client, HOME, me, limit=40) == newest
    assert await ids(client, HOME, me, limit=3) == newest[:3]
    assert await ids(client, HOME, me, limit=3, max_id=newest[2]) == newest[3:6]
    assert await ids(client, HOME, me, limit=3, since_id=newest[6]) == newest[:3]
    assert await ids(client, HOME, me, limit=3, min_id=newest[6]) == newest[3:6]
    assert await ids(client, HOME, me, max_id=newest[1], since_id=newest[5]) == newest[2:5]
    assert await ids(client, HOME, me, max_id=newest[1], min_id=newest[5]) == newest[2:5]

    seen: list[str] = []
    params: dict[str, Any] = {"limit": "5"}
    while True:
        response = await client.get(HOME, headers=me.headers, params=params)
        page = [status["id"] for status in await response.json()]
        if not page:
            break
        seen += page
        params = {k: v[0] for k, v in query_of(links(response)["next"]).items()}
    assert seen == newest


@pytest_twisted.ensureDeferred
async def test_home_filters_apply_to_mentions(rt: Runtime, client: Client) -> None:
    """``only_media`` and ``exclude_replies`` narrow the statuses mentioning
    the reader as they do the followed accounts' ones."""
    me = await person(rt, "me")
    stranger = await person(rt, "stranger")
    code, media = await upload(client, stranger.headers, image_bytes())
    assert code == 200, media
    mine = await post(client, me, "a question")
    words = await post(client, stranger, "@me words only")
    pictured = await post(client, stranger, "@me look", **{"media_ids[]": media["id"]})
    reply = await post(client, stranger, "an answer", in_reply_to_id=mine)

    assert await ids(client, HOME, me) == [reply, pictured, words, mine]
    assert await ids(client, HOME, me, only_media="true") == [pictured]
    assert await ids(client, HOME, me, exclude_replies="true") == [pictured, words, mine]
    assert await ids(client, HOME, me, exclude_reblogs="true") == [reply, pictured, words, mine]
