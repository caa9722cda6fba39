"""Statuses: posting (content rendering, limits, replies, attachments,
Idempotency-Key), reading, threads, deleting; favourites and reblogs; who may
see what; the favourites list and its pagination."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg2
import pytest
import pytest_twisted
from twisted.internet.task import Clock

from pleromad.domain import lifecycle
from pleromad.domain.content import (
    HTML,
    MARKDOWN,
    PLAIN,
    MentionTarget,
    markdown_to_html,
    sanitize_text,
)
from pleromad.model import NewMedia, User
from pleromad.runtime import Runtime
from pleromad.store import loader
from pleromad.store import media as media_store
from pleromad.web.root import build_gateway
from tests.conftest import Client
from tests.helpers import query
from tests.test_accounts import ACCOUNT_KEYS, MASTO_DATE, answer, bearer, make_user
from tests.test_content import LINK, assert_inert, rendered

STATUSES = "/api/v1/statuses"
FAVOURITES = "/api/v1/favourites"
NOT_FOUND = (404, {"error": "Record not found"})

STATUS_KEYS = {
    "id", "uri", "url", "account", "in_reply_to_id", "in_reply_to_account_id", "reblog",
    "card", "content", "created_at", "reblogs_count", "replies_count", "favourites_count",
    "reblogged", "favourited", "bookmarked", "muted", "pinned", "sensitive", "spoiler_text",
    "visibility", "media_attachments", "poll", "mentions", "tags", "application", "language",
    "emojis", "pleroma",
}  # fmt: skip
# Pleroma's Announce wrapper has no card or poll (mastodon-subset §2.3).
REBLOG_KEYS = STATUS_KEYS - {"card", "poll"}
PLEROMA_STATUS_KEYS = {
    "local", "conversation_id", "in_reply_to_account_acct", "content", "spoiler_text",
}  # fmt: skip
ATTACHMENT_KEYS = {
    "id", "url", "remote_url", "preview_url", "text_url", "type", "description", "blurhash",
    "pleroma",
}  # fmt: skip

# Hostile input and what must never come out of it.
HOSTILE_HTML = (
    '<p>hi</p><script>alert("x")</script><img src=x onerror="alert(1)">'
    '<a href="javascript:alert(1)">js</a><a href=" JaVa\tScRiPt:alert(1)">js2</a>'
    '<a href="&#106;avascript:alert(1)">js3</a><a href="data:text/html,<b>x</b>">data</a>'
    '<b onmouseover="alert(1)" style="color:red">bold</b><style>p{}</style>'
    '<iframe src="https://evil.example"></iframe><svg onload="alert(1)"><g/></svg>'
    '<a href="https://ok.example/" onclick="alert(1)">ok</a><!-- comment -->'
)
# -- helpers -----------------------------------------------------------------------


async def post(client: Client, headers: dict[str, str], **data: Any) -> tuple[int, Any]:
    return await answer(await client.post(STATUSES, json=data, headers=headers))


async def posted(client: Client, headers: dict[str, str], **data: Any) -> dict[str, Any]:
    code, body = await post(client, headers, **data)
    assert code == 200, body
    return body


async def act(
    client: Client, headers: dict[str, str], status_id: str, action: str
) -> tuple[int, Any]:
    return await answer(await client.post(f"{STATUSES}/{status_id}/{action}", headers=headers))


async def get(client: Client, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    return await answer(await client.get(path, headers=headers or {}))


async def follow(rt: Runtime, follower: User, followee: User) -> None:
    await rt.db.run_interaction(
        "follow",
        lambda txn: txn.execute(
            "INSERT INTO follows (follower_id, followee_id) VALUES (%s, %s)",
            (follower.id, followee.id),
        ),
    )


async def attachment(rt: Runtime, owner: User, name: str = "cat.png") -> int:
    media = await rt.db.run_interaction(
        "media",
        media_store.insert_media_txn,
        owner.id,
        NewMedia(
            "attachment",
            name,
            f"{rt.config.server.base_url}/media/{name}",
            "image/png",
            10,
            "a cat",
        ),
    )
    return media.id


def count(rt: Runtime, sql: str, *args: Any) -> int:
    return query(rt.db.dsn, sql, args)[0][0]


def links(response: Any) -> dict[str, str]:
    """The Link header's URLs by rel."""
    header = response.headers.getRawHeaders("link")
    if not header:
        return {}
    return {rel: url for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', header[0])}


def render(text: str, content_type: str, **mentions: MentionTarget) -> str:
    return rendered(text, content_type, **mentions).html


BOB = MentionTarget(7, "bob", "https://ex.org/users/bob")


# -- the Status entity ---------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_status_entity_has_every_key_and_value_type(rt: Runtime, client: Client) -> None:
    """A posted status has every key of the Status entity with its type:
    string ids, absolute URLs, the author's Account, counts, the reader's
    flags, attachments by media id, mentions, tags, custom emoji and the
    Pleroma extras; a reply names its parent and parent's author."""
    alice = await make_user(rt, "alice")
    bob = await make_user(rt, "bob")
    alice_h, bob_h = await bearer(rt, alice), await bearer(rt, bob)
    media_id = await attachment(rt, alice)
    base = rt.config.server.base_url
    parent = await posted(client, bob_h, status="parent")
    body = await posted(
        client,
        alice_h,
        status="hi @bob #Cofe :smile: https://example.org",
        spoiler_text="cw :heart:",
        sensitive="true",
        media_ids=[str(media_id)],
        in_reply_to_id=parent["id"],
    )
    assert set(body) == STATUS_KEYS
    assert isinstance(body["id"], str) and body["id"].isdigit()
    assert re.fullmatch(re.escape(f"{base}/objects/") + "[0-9a-f-]{36}", body["uri"])
    assert body["url"] == f"{base}/notice/{body['id']}"
    assert set(body["account"]) == ACCOUNT_KEYS and body["account"]["id"] == str(alice.id)
    assert body["account"]["statuses_count"] == 1
    assert body["in_reply_to_id"] == parent["id"]
    assert body["in_reply_to_account_id"] == str(bob.id)
    assert body["reblog"] is None and body["card"] is None and body["poll"] is None
    assert MASTO_DATE.match(body["created_at"])
    for key in ("reblogs_count", "replies_count", "favourites_count"):
        assert body[key] == 0
    for key in ("reblogged", "favourited", "bookmarked", "muted", "pinned"):
        assert body[key] is False
    assert body["sensitive"] is True
    assert body["spoiler_text"] == "cw :heart:"
    assert body["visibility"] == "public"
    [media] = body["media_attachments"]
    assert set(media) == ATTACHMENT_KEYS and media["id"] == str(media_id)
    assert media["type"] == "image" and media["description"] == "a cat"
    assert body["mentions"] == [
        {"id": str(bob.id), "acct": "bob", "username": "bob", "url": f"{base}/users/bob"}
    ]
    assert body["tags"] == [{"name": "cofe", "url": f"{base}/tag/cofe"}]
    assert body["application"] == {"name": "Web", "website": None}
    assert body["language"] is None
    assert sorted(e["shortcode"] for e in body["emojis"]) == ["heart", "smile"]
    for emoji in body["emojis"]:
        assert set(emoji) == {"shortcode", "url", "static_url", "visible_in_picker"}
        assert emoji["url"] == emoji["static_url"] == f"{base}/emoji/{emoji['shortcode']}.png"
        assert emoji["visible_in_picker"] is False
    pleroma = body["pleroma"]
    assert set(pleroma) == PLEROMA_STATUS_KEYS
    assert pleroma["local"] is True
    assert pleroma["conversation_id"] == int(parent["id"])
    assert pleroma["in_reply_to_account_acct"] == "bob"
    assert pleroma["content"] == {"text/plain": "hi @bob #Cofe :smile: https://example.org"}
    assert pleroma["spoiler_text"] == {"text/plain": "cw :heart:"}
    # Attachment links are not appended to the content (DECISIONS 22).
    assert "/media/" not in body["content"]

    code, shown = await get(client, f"{STATUSES}/{body['id']}")
    assert code == 200 and set(shown) == STATUS_KEYS
    assert shown["account"]["pleroma"]["relationship"] == {}
    code, parent_now = await get(client, f"{STATUSES}/{parent['id']}")
    assert parent_now["replies_count"] == 1


@pytest_twisted.ensureDeferred
async def test_reblog_wrapper_entity(rt: Runtime, client: Client) -> None:
    """A reblog is the reblogger's entry wrapping the full original, whose
    ``reblogged`` is true for the reblogger; it has no card or poll."""
    alice, bob = await make_user(rt, "alice"), await make_user(rt, "bob")
    bob_h = await bearer(rt, bob)
    original = await posted(client, await bearer(rt, alice), status="boost me #tag")
    code, wrapper = await act(client, bob_h, original["id"], "reblog")
    assert code == 200
    assert set(wrapper) == REBLOG_KEYS
    assert wrapper["id"] != original["id"]
    assert wrapper["account"]["id"] == str(bob.id)
    assert set(wrapper["reblog"]) == STATUS_KEYS
    assert wrapper["reblog"]["id"] == original["id"]
    assert wrapper["reblog"]["reblogged"] is True and wrapper["reblogged"] is True
    assert wrapper["reblog"]["reblogs_count"] == 1
    assert wrapper["uri"] == original["uri"] and wrapper["url"] == original["url"]
    assert wrapper["content"] == original["content"]
    assert wrapper["tags"] == original["tags"]
    assert wrapper["reblogs_count"] == wrapper["favourites_count"] == 0
    assert wrapper["pleroma"] == {"local": True}
    # The reblog is a status of its own, readable by id.
    code, again = await get(client, f"{STATUSES}/{wrapper['id']}", bob_h)
    assert code == 200 and again["reblog"]["id"] == original["id"]


@pytest_twisted.ensureDeferred
async def test_muted_authors_statuses_say_so(rt: Runtime, client: Client) -> None:
    """A status of an account the reader mutes is ``muted: true`` for that
    reader only."""
    alice, bob = await make_user(rt, "alice"), await make_user(rt, "bob")
    body = await posted(client, await bearer(rt, alice), status="noise")
    query(rt.db.dsn, "INSERT INTO mutes (muter_id, muted_id) VALUES (%s, %s)", (bob.id, alice.id))
    code, seen = await get(client, f"{STATUSES}/{body['id']}", await bearer(rt, bob))
    assert code == 200 and seen["muted"] is True
    code, seen = await get(client, f"{STATUSES}/{body['id']}")
    assert seen["muted"] is False


# -- content ---------------------------------------------------------------------


def test_plain_text_is_escaped_and_linked() -> None:
    """Plain text: markup is escaped, URLs, known @mentions and #tags are
    linked, unknown @names stay text, line breaks become <br>."""
    out = render(
        "<b>hi</b> & @bob @nobody me@bob.example\nhttps://ex.org/a?b=1&c=(2). #Tag C#",
        PLAIN,
        bob=BOB,
    )
    assert out.startswith("&lt;b&gt;hi&lt;/b&gt; &amp; ")
    assert (
        '<span class="h-card"><a class="u-url mention" data-user="7"'
        ' href="https://ex.org/users/bob" rel="ugc">@<span>bob</span></a></span>'
    ) in out
    assert "@nobody me@bob.example<br>" in out
    assert (
        f'<a href="https://ex.org/a?b=1&amp;c=(2)" {LINK}>https://ex.org/a?b=1&amp;c=(2)</a>.'
    ) in out
    assert (
        '<a class="hashtag" data-tag="tag" href="https://ex.org/tag/tag" rel="tag">#Tag</a> C#'
    ) in out


def test_mentions_and_tags_are_reported() -> None:
    """The rendering says which accounts were mentioned (once each) and which
    tags used (lower-cased, once each)."""
    found = rendered("@bob @Bob hi #One #one #two", PLAIN, bob=BOB)
    assert found.mentions == (BOB,)
    assert found.tags == ("one", "two")
    too_long = "#" + "x" * 101
    assert render(too_long, PLAIN) == too_long


@pytest.mark.parametrize("content_type", [HTML, MARKDOWN])
def test_hostile_markup_is_stripped(content_type: str) -> None:
    """HTML and Markdown input keep harmless formatting but lose scripts,
    event handlers, styles, frames and javascript:/data: links."""
    out = render(HOSTILE_HTML, content_type)
    assert_inert(out)
    assert "alert" not in out and "evil.example" not in out
    assert "<b>bold</b>" in out
    assert f'<a href="https://ok.example/" {LINK}>ok</a>' in out


@pytest.mark.parametrize(
    "markup",
    [
        "<scr<script>ipt>alert(1)</script>",
        "<a href='java&#x09;script:alert(1)'>x</a>",
        "<a href='vbscript:msgbox(1)'>x</a>",
        "<a href='//evil.example/x'>x</a>",
        "<div onclick=alert(1)>x</div>",
        "<textarea><script>alert(1)</script></textarea>",
        "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
        '<a href="https://ok.example/" data-user="1" class="u-url mention">forged</a>',
        "<p title='x\" onmouseover=\"alert(1)'>t</p>",
        "[x](javascript:alert(1))",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        "<span class='h-card' style='x'>y</span>",
    ],
)
def test_sanitizer_refuses_classic_vectors(markup: str) -> None:
    """Known filter evasions come out inert, whatever the content type:
    nothing executable, no attribute but the allowed ones, only classes that
    mean something to clients (as any server's HTML may carry)."""
    for content_type in (HTML, MARKDOWN):
        out = render(markup, content_type)
        assert_inert(out)
        # Only our own mentions and hashtags carry data.
        assert "data-user" not in out, out


def test_markdown_subset() -> None:
    """Markdown: emphasis, code (not linked inside), links, lists, quotes and
    fenced code blocks; intra-word underscores stay text."""
    out = render(
        "**bold** *em* _em2_ snake_case_word ~~gone~~ `@bob #code`\n"
        "[site](https://ex.org/x) <https://ex.org/auto>\n\n- one\n- two\n\n"
        "1. first\n\n> quoted @bob\n\n```\n<b>raw</b> #nottag\n```",
        MARKDOWN,
        bob=BOB,
    )
    assert out.startswith("<p><strong>bold</strong> <em>em</em> <em>em2</em> snake_case_word")
    assert "<del>gone</del> <code>@bob #code</code><br>" in out
    assert f'<a href="https://ex.org/x" {LINK}>site</a>' in out
    assert f'<a href="https://ex.org/auto" {LINK}>https://ex.org/auto</a>' in out
    assert "<ul><li>one</li><li>two</li></ul><ol><li>first</li></ol>" in out
    assert '<blockquote><p>quoted <span class="h-card">' in out
    assert "<pre><code>&lt;b&gt;raw&lt;/b&gt; #nottag</code></pre>" in out


def test_markdown_renderer_output_is_still_sanitized() -> None:
    """The Markdown renderer passes inline HTML on: only the sanitizer decides."""
    assert "<script>" in markdown_to_html("<script>x</script>")
    assert "script" not in render("<script>x</script>", MARKDOWN)


def test_spoiler_text_loses_its_markup() -> None:
    """A spoiler keeps its text, escaped; elements (and scripts' insides) go."""
    assert sanitize_text("<b>a</b> & <script>alert(1)</script>b") == "a &amp; b"


@pytest_twisted.ensureDeferred
async def test_each_content_type_through_the_api(rt: Runtime, client: Client) -> None:
    """``content_type`` picks the renderer; an unknown one is plain text."""
    alice = await make_user(rt, "alice")
    headers = await bearer(rt, alice)
    cases = {
        "text/plain": ("*a* <i>b</i>", "*a* &lt;i&gt;b&lt;/i&gt;"),
        "text/markdown": ("*a* <i>b</i>", "<p><em>a</em> <i>b</i></p>"),
        "text/html": ("*a* <i>b</i><script>x</script>", "*a* <i>b</i>"),
        "text/bbcode": ("[b]a[/b] <i>", "[b]a[/b] &lt;i&gt;"),
    }
    for content_type, (text, expected) in cases.items():
        body = await posted(client, headers, status=text, content_type=content_type)
        assert body["content"] == expected, content_type


# -- limits and refusals -------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_length_limit_counts_code_points(rt: Runtime, serve: Any) -> None:
    """status plus spoiler may have at most ``status_limit`` code points; one
    more is 422 and nothing is posted."""
    limited = replace(
        rt, config=replace(rt.config, instance=replace(rt.config.instance, status_limit=10))
    )
    client = serve(build_gateway(limited))
    headers = await bearer(rt, await make_user(rt, "alice"))
    assert (await post(client, headers, status="😀" * 6, spoiler_text="éééé"))[0] == 200
    assert (await post(client, headers, status="  " + "x" * 10 + "\n"))[0] == 200
    too_long = (422, {"error": "The status is over the character limit"})
    assert await post(client, headers, status="😀" * 11) == too_long
    assert await post(client, headers, status="x" * 6, spoiler_text="y" * 5) == too_long
    assert count(rt, "SELECT count(*) FROM statuses") == 2


@pytest_twisted.ensureDeferred
async def test_bad_posts_are_refused_and_change_nothing(rt: Runtime, client: Client) -> None:
    """Empty posts without media, unknown visibilities, attachments of others,
    replies to nothing, polls and bad booleans are refused; nothing is written."""
    alice, bob = await make_user(rt, "alice"), await make_user(rt, "bob")
    headers = await bearer(rt, alice)
    bobs_media = await attachment(rt, bob)
    empty = (422, {"error": "Cannot post an empty status without attachments"})
    assert await post(client, headers, status="") == empty
    assert await post(client, headers, status=" \n ") == empty
    assert await answer(await client.post(STATUSES, data={}, headers=headers)) == empty
    assert (await post(client, headers, status="x", visibility="everyone"))[0] == 422
    assert await post(client, headers, status="x", media_ids=[str(bobs_media)]) == (
        422,
        {"error": "Invalid media_ids: not attachments of yours"},
    )
    assert (await post(client, headers, status="x", media_ids=["nope"]))[0] == 422
    assert await post(client, headers, status="x", in_reply_to_id="123") == NOT_FOUND
    assert await post(client, headers, status="x", in_reply_to_id="abc") == NOT_FOUND
    assert (await post(client, headers, status="x", poll={"options": ["a", "b"]}))[0] == 422
    assert (await post(client, headers, status="x", sensitive="maybe"))[0] == 400
    read_only = await bearer(rt, alice, ["read"])
    assert await post(client, read_only, status="x") == (
        403,
        {"error": "Insufficient permissions: write."},
    )
    assert await post(client, {}, status="x") == (403, {"error": "Invalid credentials."})
    assert count(rt, "SELECT count(*) FROM statuses") == 0


@pytest_twisted.ensureDeferred
async def test_media_only_post_and_form_encoding(rt: Runtime, client: Client) -> None:
    """A post of attachments alone is fine; forms with ``media_ids[]`` work
    as JSON does, in the order given."""
    alice = await make_user(rt, "alice")
    first, second = await attachment(rt, alice, "a.png"), await attachment(rt, alice, "b.png")
    code, body = await answer(
        await client.post(
            STATUSES,
            data=[("media_ids[]", str(second)), ("media_ids[]", str(first)), ("sensitive", "")],
            headers=await bearer(rt, alice),
        )
    )
    assert code == 200, body
    assert [m["id"] for m in body["media_attachments"]] == [str(second), str(first)]
    assert body["content"] == "" and body["sensitive"] is False


# -- replies and threads ------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_replies_inherit_the_thread_and_visibility(rt: Runtime, client: Client) -> None:
    """A reply joins its parent's conversation, takes its visibility unless
    told otherwise, and may not leave a direct thread."""
    alice, bob = await make_user(rt, "alice"), await make_user(rt, "bob")
    alice_h, bob_h = await bearer(rt, alice), await bearer(rt, bob)
    root = await posted(client, alice_h, status="root", visibility="unlisted")
    reply = await posted(client, bob_h, status="reply", in_reply_to_id=root["id"])
    assert reply["visibility"] == "unlisted"
    assert reply["pleroma"]["conversation_id"] == root["pleroma"]["conversation_id"]
    deeper = await posted(client, alice_h, status="again", in_reply_to_id=reply["id"])
    assert deeper["pleroma"]["conversation_id"] == int(root["id"])
    dm = await posted(client, alice_h, status="@bob psst", visibility="direct")
    assert await post(client, bob_h, status="no", in_reply_to_id=dm["id"], visibility="public") == (
        422,
        {"error": "The message visibility must be direct"},
    )
    answer_dm = await posted(client, bob_h, status="ok", in_reply_to_id=dm["id"])
    assert answer_dm["visibility"] == "direct"
    assert [m["acct"] for m in answer_dm["mentions"]] == ["alice"]

    code, thread = await get(client, f"{STATUSES}/{reply['id']}/context")
    assert code == 200
    assert [s["id"] for s in thread["ancestors"]] == [root["id"]]
    assert [s["id"] for s in thread["descendants"]] == [deeper["id"]]


@pytest_twisted.ensureDeferred
async def test_context_shows_only_what_the_reader_may_see(rt: Runtime, client: Client) -> None:
    """Ancestors and descendants the reader may not see are left out."""
    alice, bob, eve = [await make_user(rt, n) for n in ("alice", "bob", "eve")]
    alice_h, bob_h = await bearer(rt, alice), await bearer(rt, bob)
    root = await posted(client, alice_h, status="root")
    secret = await posted(
        client, bob_h, status="secret", in_reply_to_id=root["id"], visibility="private"
    )
    public = await posted(client, bob_h, status="open", in_reply_to_id=root["id"])
    _code, thread = await get(client, f"{STATUSES}/{root['id']}/context", await bearer(rt, eve))
    assert [s["id"] for s in thread["descendants"]] == [public["id"]]
    _code, thread = await get(client, f"{STATUSES}/{root['id']}/context", alice_h)
    assert [s["id"] for s in thread["descendants"]] == [secret["id"], public["id"]]
    assert await get(client, f"{STATUSES}/{secret['id']}/context") == NOT_FOUND
    # Private replies are not counted where anyone could see the number.
    _code, shown = await get(client, f"{STATUSES}/{root['id']}", alice_h)
    assert shown["replies_count"] == 1


# -- visibility --------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_private_and_direct_statuses_are_invisible_to_others(
    rt: Runtime, client: Client
) -> None:
    """A private status is seen by its author, accepted followers and the
    accounts it mentions; a direct one by its author and those it mentions.
    For anyone else either is unknown: 404 on every status endpoint, and no
    favourite, reblog, reply or count reveals it."""
    alice, fan, carol, eve = [await make_user(rt, n) for n in ("alice", "fan", "carol", "eve")]
    await follow(rt, fan, alice)
    alice_h, fan_h, carol_h, eve_h = [await bearer(rt, u) for u in (alice, fan, carol, eve)]
    private = await posted(client, alice_h, status="followers only", visibility="private")
    direct = await posted(client, alice_h, status="@carol secret", visibility="direct")
    readers = {
        private["id"]: {"alice": alice_h, "fan": fan_h},
        direct["id"]: {"alice": alice_h, "carol": carol_h},
    }
    outsiders = {
        private["id"]: {"anonymous": {}, "carol": carol_h, "eve": eve_h},
        direct["id"]: {"anonymous": {}, "fan": fan_h, "eve": eve_h},
    }
    for status_id, allowed in readers.items():
        for name, headers in allowed.items():
            assert (await get(client, f"{STATUSES}/{status_id}", headers))[0] == 200, name
    assert (await act(client, fan_h, private["id"], "favourite"))[0] == 200
    assert (await act(client, carol_h, direct["id"], "favourite"))[0] == 200
    for status_id, refused in outsiders.items():
        for name, headers in refused.items():
            for path in ("", "/context", "/favourited_by", "/reblogged_by"):
                assert await get(client, f"{STATUSES}/{status_id}{path}", headers) == NOT_FOUND, (
                    name,
                    path,
                )
            if headers:
                for action in ("favourite", "unfavourite", "reblog", "unreblog"):
                    assert await act(client, headers, status_id, action) == NOT_FOUND
                assert (
                    await post(client, headers, status="hm", in_reply_to_id=status_id) == NOT_FOUND
                )
                assert (
                    await answer(
                        await client.request("DELETE", f"{STATUSES}/{status_id}", headers=headers)
                    )
                    == NOT_FOUND
                )
            code, several = await get(client, f"{STATUSES}?id[]={status_id}", headers)
            assert (code, several) == (200, [])
    # What the readers see counts the favourite; the account counts no hidden post.
    code, seen = await get(client, f"{STATUSES}/{private['id']}", fan_h)
    assert seen["favourites_count"] == 1 and seen["favourited"] is True
    assert seen["account"]["statuses_count"] == 0
    code, likers = await get(client, f"{STATUSES}/{private['id']}/favourited_by", alice_h)
    assert [a["id"] for a in likers] == [str(fan.id)]
    # A follower who leaves no longer sees it, not even in their own favourites.
    query(rt.db.dsn, "DELETE FROM follows WHERE follower_id = %s", (fan.id,))
    assert await get(client, f"{STATUSES}/{private['id']}", fan_h) == NOT_FOUND
    assert await get(client, FAVOURITES, fan_h) == (200, [])
    assert count(rt, "SELECT count(*) FROM statuses WHERE reblog_of_id IS NOT NULL") == 0


@pytest_twisted.ensureDeferred
async def test_blocked_readers_and_deactivated_authors(rt: Runtime, client: Client) -> None:
    """An author who blocks the reader is invisible to them; a deactivated
    author's statuses are invisible to all, and so are their favourites and
    reblogs in counts."""
    alice, bob, eve = [await make_user(rt, n) for n in ("alice", "bob", "eve")]
    body = await posted(client, await bearer(rt, alice), status="hello")
    bob_h = await bearer(rt, bob)
    await act(client, bob_h, body["id"], "favourite")
    await act(client, bob_h, body["id"], "reblog")
    query(
        rt.db.dsn, "INSERT INTO blocks (blocker_id, blocked_id) VALUES (%s, %s)", (alice.id, eve.id)
    )
    assert await get(client, f"{STATUSES}/{body['id']}", await bearer(rt, eve)) == NOT_FOUND
    query(rt.db.dsn, "UPDATE users SET deactivated = true WHERE id = %s", (bob.id,))
    _code, seen = await get(client, f"{STATUSES}/{body['id']}")
    assert seen["favourites_count"] == seen["reblogs_count"] == 0
    assert (await get(client, f"{STATUSES}/{body['id']}/favourited_by"))[1] == []
    query(rt.db.dsn, "UPDATE users SET deactivated = true WHERE id = %s", (alice.id,))
    assert await get(client, f"{STATUSES}/{body['id']}") == NOT_FOUND


# -- favourites and reblogs ------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_favourite_and_unfavourite_are_idempotent(rt: Runtime, client: Client) -> None:
    """Favouriting twice and unfavouriting what is not favourited are 200s
    with the status (DECISIONS 7); one row, one notification."""
    alice, bob = await make_user(rt, "alice"), await make_user(rt, "bob")
    body = await posted(client, await bearer(rt, alice), status="like me")
    bob_h = await bearer(rt, bob)
    for _ in range(2):
        code, shown = await act(client, bob_h, body["id"], "favourite")
        assert code == 200 and shown["favourited"] is True and shown["favourites_count"] == 1
    assert count(rt, "SELECT count(*) FROM favourites") == 1
    assert count(rt, "SELECT count(*) FROM notifications WHERE type = 'favourite'") == 1
    for _ in range(2):
        code, shown = await act(client, bob_h, body["id"], "unfavourite")
        assert code == 200 and shown["favourited"] is False and shown["favourites_count"] == 0
    assert count(rt, "SELECT count(*) FROM favourites") == 0
    assert await act(client, bob_h, "999", "favourite") == NOT_FOUND
    assert await act(client, bob_h, "x", "unfavourite") == NOT_FOUND


@pytest_twisted.ensureDeferred
async def test_reblog_and_unreblog_are_idempotent(rt: Runtime, client: Client) -> None:
    """Reblogging twice answers the same reblog; unreblogging what is not
    reblogged is a 200 with the original; acting on a reblog acts on its
    original."""
    alice, bob, carol = [await make_user(rt, n) for n in ("alice", "bob", "carol")]
    body = await posted(client, await bearer(rt, alice), status="boost")
    bob_h, carol_h = await bearer(rt, bob), await bearer(rt, carol)
    code, first = await act(client, bob_h, body["id"], "reblog")
    code, second = await act(client, bob_h, body["id"], "reblog")
    assert code == 200 and first["id"] == second["id"]
    assert count(rt, "SELECT count(*) FROM statuses WHERE reblog_of_id = %s", int(body["id"])) == 1
    assert count(rt, "SELECT count(*) FROM notifications WHERE type = 'reblog'") == 1
    # Through the reblog's id: carol favourites and reblogs the original.
    code, liked = await act(client, carol_h, first["id"], "favourite")
    assert liked["id"] == body["id"] and liked["favourited"] is True
    code, boosted = await act(client, carol_h, first["id"], "reblog")
    assert boosted["reblog"]["id"] == body["id"] and boosted["reblog"]["reblogs_count"] == 2
    code, who = await get(client, f"{STATUSES}/{body['id']}/reblogged_by")
    assert [a["id"] for a in who] == [str(carol.id), str(bob.id)]
    for _ in range(2):
        code, original = await act(client, bob_h, body["id"], "unreblog")
        assert code == 200 and original["id"] == body["id"] and original["reblogged"] is False
    assert await get(client, f"{STATUSES}/{first['id']}") == NOT_FOUND


@pytest_twisted.ensureDeferred
async def test_private_and_direct_statuses_cannot_be_reblogged(rt: Runtime, client: Client) -> None:
    """Only public and unlisted statuses are reblogged; others get 403 with
    a message, even from their author, and nothing is written."""
    alice, fan = await make_user(rt, "alice"), await make_user(rt, "fan")
    await follow(rt, fan, alice)
    alice_h, fan_h = await bearer(rt, alice), await bearer(rt, fan)
    private = await posted(client, alice_h, status="mine", visibility="private")
    direct = await posted(client, alice_h, status="@fan hi", visibility="direct")
    refused = (403, {"error": "Only public and unlisted statuses can be reblogged"})
    for status_id in (private["id"], direct["id"]):
        assert await act(client, fan_h, status_id, "reblog") == refused
        assert await act(client, alice_h, status_id, "reblog") == refused
    unlisted = await posted(client, alice_h, status="quiet", visibility="unlisted")
    code, wrapper = await act(client, fan_h, unlisted["id"], "reblog")
    assert code == 200 and wrapper["visibility"] == "unlisted"
    assert count(rt, "SELECT count(*) FROM statuses WHERE reblog_of_id IS NOT NULL") == 1


# -- the favourites list ---------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_favourites_newest_favourite_first_with_link_headers(
    rt: Runtime, client: Client
) -> None:
    """``/api/v1/favourites`` lists the reader's favourites by when they were
    given, paginated by the favourite's id with Link headers that keep the
    other parameters (never the token)."""
    alice, bob = await make_user(rt, "alice"), await make_user(rt, "bob")
    alice_h, bob_h = await bearer(rt, alice), await bearer(rt, bob)
    ids = [(await posted(client, alice_h, status=f"s{i}"))["id"] for i in range(5)]
    # Favourited oldest status last: the list follows the favourites, not the statuses.
    order = [ids[1], ids[3], ids[4], ids[2], ids[0]]
    for status_id in order:
        await act(client, bob_h, status_id, "favourite")
    newest_first = list(reversed(order))
    fav_ids = [
        str(row[0])
        for row in query(
            rt.db.dsn, "SELECT id FROM favourites WHERE account_id = %s ORDER BY id DESC", (bob.id,)
        )
    ]

    # The links name the endpoint itself, without the trailing slash.
    response = await client.get(f"{FAVOURITES}/?limit=2&only_media=false", headers=bob_h)
    page = await response.json()
    assert [s["id"] for s in page] == newest_first[:2]
    assert all(s["favourited"] for s in page)
    link = links(response)
    base = rt.config.server.base_url
    assert set(link) == {"next", "prev"}
    for rel, cursor, value in (("next", "max_id", fav_ids[1]), ("prev", "min_id", fav_ids[0])):
        parts = urlsplit(link[rel])
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{base}{FAVOURITES}"
        assert parse_qs(parts.query) == {"limit": ["2"], "only_media": ["false"], cursor: [value]}

    following = await client.get(link["next"][len(base) :], headers=bob_h)
    assert [s["id"] for s in await following.json()] == newest_first[2:4]
    back = await client.get(links(following)["prev"][len(base) :], headers=bob_h)
    assert [s["id"] for s in await back.json()] == newest_first[:2]
    _code, body = await get(client, f"{FAVOURITES}?since_id={fav_ids[2]}", bob_h)
    assert [s["id"] for s in body] == newest_first[:2]
    _code, body = await get(client, f"{FAVOURITES}?max_id={fav_ids[3]}&limit=500", bob_h)
    assert [s["id"] for s in body] == newest_first[4:]

    token = bob_h["Authorization"].split()[1]
    response = await client.get(f"{FAVOURITES}?access_token={token}&limit=1")
    assert token not in response.headers.getRawHeaders("link")[0]
    empty = await client.get(f"{FAVOURITES}?max_id={fav_ids[-1]}", headers=bob_h)
    assert await empty.json() == [] and not empty.headers.getRawHeaders("link")
    assert (await get(client, f"{FAVOURITES}?limit=x", bob_h))[0] == 400
    assert (await get(client, f"{FAVOURITES}?limit=-1", bob_h))[0] == 400
    assert (await get(client, f"{FAVOURITES}?max_id=abc", bob_h))[0] == 400
    assert (await get(client, FAVOURITES))[0] == 403


@pytest_twisted.ensureDeferred
async def test_favourites_limit_is_clamped_to_40(rt: Runtime, client: Client) -> None:
    """``limit`` above 40 gives 40 statuses (DECISIONS 8)."""
    alice = await make_user(rt, "alice")
    headers = await bearer(rt, alice)
    for i in range(41):
        body = await posted(client, headers, status=f"s{i}")
        await act(client, headers, body["id"], "favourite")
    code, body = await get(client, f"{FAVOURITES}?limit=100", headers)
    assert code == 200 and len(body) == 40
    code, body = await get(client, FAVOURITES, headers)
    assert len(body) == 20


# -- Idempotency-Key ---------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_idempotency_key_replays_the_first_answer(
    rt: Runtime, serve: Callable[..., Client], clock: Clock
) -> None:
    """A post repeated with the same Idempotency-Key gets the first answer
    again with ``Idempotent-Replayed: true`` and posts nothing; the key is
    per account and lasts 6 hours by the runtime's clock (DECISIONS 26)."""
    rt = replace(rt, clock=clock)
    client = serve(build_gateway(rt))
    alice, bob = await make_user(rt, "alice"), await make_user(rt, "bob")
    alice_h = {**await bearer(rt, alice), "Idempotency-Key": "k-1"}
    first = await client.post(STATUSES, json={"status": "once"}, headers=alice_h)
    first_body = await first.json()
    assert first.code == 200
    assert first.headers.getRawHeaders("idempotency-key") == ["k-1"]
    assert not first.headers.getRawHeaders("idempotent-replayed")
    # Even with other parameters, the key decides.
    again = await client.post(STATUSES, json={"status": "twice"}, headers=alice_h)
    assert again.code == 200 and await again.json() == first_body
    assert again.headers.getRawHeaders("idempotent-replayed") == ["true"]
    assert count(rt, "SELECT count(*) FROM statuses") == 1

    bob_h = {**await bearer(rt, bob), "Idempotency-Key": "k-1"}
    other = await (await client.post(STATUSES, json={"status": "bob's"}, headers=bob_h)).json()
    assert other["id"] != first_body["id"]
    plain = await bearer(rt, alice)
    assert (await post(client, plain, status="no key"))[1]["id"] != first_body["id"]

    oversized = {**alice_h, "Idempotency-Key": "k" * 513}
    assert await post(client, oversized, status="x") == (400, {"error": "Invalid Idempotency-Key"})

    clock.advance(7 * 3600)
    later = await client.post(STATUSES, json={"status": "new day"}, headers=alice_h)
    assert (await later.json())["id"] != first_body["id"]
    assert not later.headers.getRawHeaders("idempotent-replayed")
    assert count(rt, "SELECT count(*) FROM statuses") == 4


@pytest_twisted.ensureDeferred
async def test_refused_post_does_not_use_up_its_key(rt: Runtime, client: Client) -> None:
    """A post refused for its content leaves its Idempotency-Key unused:
    the corrected retry is posted."""
    headers = {**await bearer(rt, await make_user(rt, "alice")), "Idempotency-Key": "k"}
    assert (await post(client, headers, status=""))[0] == 422
    code, body = await post(client, headers, status="fixed")
    assert code == 200 and body["content"] == "fixed"
    assert count(rt, "SELECT count(*) FROM idempotency_keys") == 1


# -- deleting ------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_delete_answers_the_status_and_removes_it(rt: Runtime, client: Client) -> None:
    """The author deletes a status and gets it back with its source text;
    its favourites and reblogs go with it; others may not delete it."""
    alice, bob = await make_user(rt, "alice"), await make_user(rt, "bob")
    alice_h, bob_h = await bearer(rt, alice), await bearer(rt, bob)
    body = await posted(client, alice_h, status="*oops*", content_type="text/markdown")
    await act(client, bob_h, body["id"], "favourite")
    await act(client, bob_h, body["id"], "reblog")
    path = f"{STATUSES}/{body['id']}"
    assert await answer(await client.request("DELETE", path, headers=bob_h)) == (
        403,
        {"error": "Can't delete this post"},
    )
    code, deleted = await answer(await client.request("DELETE", path, headers=alice_h))
    assert code == 200 and deleted["id"] == body["id"] and deleted["text"] == "*oops*"
    assert await get(client, path) == NOT_FOUND
    assert await answer(await client.request("DELETE", path, headers=alice_h)) == NOT_FOUND
    assert count(rt, "SELECT count(*) FROM statuses") == 0
    assert count(rt, "SELECT count(*) FROM favourites") == 0


@pytest_twisted.ensureDeferred
async def test_account_deletion_removes_statuses_favourites_and_reblogs(
    rt: Runtime, client: Client
) -> None:
    """Removing a deleted account's content deletes its statuses, reblogs and
    favourites (and others' reblogs of its statuses), and may run again."""
    alice, bob = await make_user(rt, "alice"), await make_user(rt, "bob")
    alice_h, bob_h = await bearer(rt, alice), await bearer(rt, bob)
    mine = await posted(client, alice_h, status="mine")
    theirs = await posted(client, bob_h, status="theirs")
    await act(client, alice_h, theirs["id"], "favourite")
    await act(client, alice_h, theirs["id"], "reblog")
    await act(client, bob_h, mine["id"], "reblog")
    await lifecycle.delete_account(rt, alice.id)
    # Hidden at once, before the job has run.
    assert await get(client, f"{STATUSES}/{mine['id']}") == NOT_FOUND
    for _ in range(2):
        await lifecycle.remove_content(rt, alice.id)
    assert count(rt, "SELECT count(*) FROM statuses") == 1
    assert count(rt, "SELECT count(*) FROM favourites") == 0
    _code, left = await get(client, f"{STATUSES}/{theirs['id']}")
    assert left["favourites_count"] == left["reblogs_count"] == 0


# -- notifications -------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_mentions_notify_in_the_posting_transaction(rt: Runtime, client: Client) -> None:
    """A post calls the notification hook: the mentioned account is notified."""
    alice, bob = await make_user(rt, "alice"), await make_user(rt, "bob")
    body = await posted(client, await bearer(rt, alice), status="hey @bob")
    rows = query(
        rt.db.dsn,
        "SELECT user_id, type, status_id FROM notifications WHERE actor_id = %s",
        (alice.id,),
    )
    assert rows == [(bob.id, "mention", int(body["id"]))]


# -- cost ---------------------------------------------------------------------------


def explain(dsn: str, sql: str, args: Any) -> str:
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("EXPLAIN " + sql, args)
            return "\n".join(row[0] for row in cur.fetchall())
    finally:
        conn.close()


@pytest_twisted.ensureDeferred
async def test_loading_statuses_uses_indexes_only(rt: Runtime, client: Client) -> None:
    """Loading statuses for display (counts, flags, mentions, media, ...)
    looks everything up by index: with thousands of statuses, reblogs and
    favourites, no sequential scan of statuses or favourites, so it costs
    the same however large they grow."""
    alice, bob = await make_user(rt, "alice"), await make_user(rt, "bob")
    alice_h, bob_h = await bearer(rt, alice), await bearer(rt, bob)
    body = await posted(
        client, alice_h, status="@bob #t :smile:", media_ids=[str(await attachment(rt, alice))]
    )
    await act(client, bob_h, body["id"], "favourite")
    _code, wrapper = await act(client, bob_h, body["id"], "reblog")
    query(
        rt.db.dsn,
        "INSERT INTO statuses (account_id, conversation_id, visibility, in_reply_to_id)"
        " SELECT %s, 0, 'public', CASE WHEN n %% 2 = 0 THEN %s END FROM generate_series(1, 5000) n",
        (alice.id, int(body["id"])),
    )
    query(
        rt.db.dsn,
        "WITH chosen AS (SELECT id FROM statuses WHERE reblog_of_id IS NULL LIMIT 3000)"
        " INSERT INTO favourites (account_id, status_id) SELECT %s, id FROM chosen"
        " ON CONFLICT DO NOTHING",
        (alice.id,),
    )
    query(
        rt.db.dsn,
        "INSERT INTO statuses (account_id, conversation_id, visibility, reblog_of_id)"
        " SELECT %s, 0, 'public', id FROM statuses WHERE reblog_of_id IS NULL LIMIT 3000"
        " ON CONFLICT DO NOTHING",
        (alice.id,),
    )
    query(rt.db.dsn, "ANALYZE")
    plan = explain(rt.db.dsn, *loader.load_query([int(wrapper["id"]), int(body["id"])], bob.id))
    assert "Seq Scan on statuses" not in plan, plan
    assert "Seq Scan on favourites" not in plan, plan
