"""Mastodon accounts and the instance: the Account entity, verify/update
credentials, looking accounts up and searching them, and /api/v1/instance."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_twisted

from pleromad import __version__
from pleromad.domain import relationships
from pleromad.domain.profile import hidden_accounts
from pleromad.model import User
from pleromad.runtime import Runtime
from pleromad.store import oauth, users
from pleromad.views.accounts import render_account, render_relationship
from pleromad.web.root import build_gateway
from tests.conftest import Client
from tests.helpers import query

ALL_SCOPES = ["read", "write", "follow", "push"]

ACCOUNT_KEYS = {
    "id", "username", "acct", "display_name", "locked", "bot", "created_at",
    "followers_count", "following_count", "statuses_count", "note", "url", "avatar",
    "avatar_static", "header", "header_static", "emojis", "fields", "source", "pleroma",
}  # fmt: skip
PLEROMA_KEYS = {
    "confirmation_pending", "tags", "hide_followers", "hide_follows", "hide_favorites",
    "relationship", "skip_thread_containment", "background_image",
}  # fmt: skip
NOTIFICATION_KEYS = {"followers", "follows", "non_followers", "non_follows", "remote", "local"}
MASTO_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

# The columns update_credentials may change, to see that a refusal changed none.
PROFILE_COLUMNS = (
    "name, bio, bio_html, locked, hide_favorites, hide_followers, hide_follows,"
    " no_rich_text, show_role, skip_thread_containment, default_scope, settings_store,"
    " updated_at"
)


async def make_user(rt: Runtime, nickname: str, *, password: str | None = None, **kw: Any) -> User:
    password_hash = await rt.passwords.hash(password) if password else None
    kw.setdefault("name", None)
    return await rt.db.run_interaction(
        "user",
        users.create_user_txn,
        nickname=nickname,
        email=f"{nickname}@example.org",
        bio="",
        bio_html="",
        password_hash=password_hash,
        ap_id_prefix=rt.config.server.base_url,
        **kw,
    )


async def set_user(rt: Runtime, user: User, **changes: Any) -> User:
    updated = await rt.db.run_interaction("set", users.update_user_txn, user.id, **changes)
    assert updated is not None
    return updated


async def bearer(rt: Runtime, user: User, scopes: list[str] = ALL_SCOPES) -> dict[str, str]:
    app = await rt.db.run_interaction(
        "app", oauth.create_app_txn, "test", "urn:ietf:wg:oauth:2.0:oob", scopes, None
    )
    issued = await rt.db.run_interaction("token", oauth.create_token_txn, app.id, user.id, scopes)
    return {"Authorization": f"Bearer {issued.access_token}"}


def with_instance(rt: Runtime, serve: Any, **changes: Any) -> tuple[Runtime, Client]:
    config = replace(rt.config, instance=replace(rt.config.instance, **changes))
    new_rt = replace(rt, config=config)
    return new_rt, serve(build_gateway(new_rt), config.instance.upload_limit)


async def answer(response: Any) -> tuple[int, Any]:
    return response.code, await response.json()


def profile_row(rt: Runtime, user: User) -> list[tuple[Any, ...]]:
    return query(rt.db.dsn, f"SELECT {PROFILE_COLUMNS} FROM users WHERE id = %s", (user.id,))


def check_public_account(body: dict[str, Any], user: User, base_url: str) -> None:
    """The keys and types every viewer gets."""
    assert set(body) == ACCOUNT_KEYS
    assert body["id"] == str(user.id)
    assert body["username"] == body["acct"] == user.nickname
    assert isinstance(body["display_name"], str)
    assert body["locked"] is False and body["bot"] is False
    assert MASTO_DATE.match(body["created_at"])
    assert body["followers_count"] == body["following_count"] == body["statuses_count"] == 0
    assert body["note"] == ""
    assert body["url"] == f"{base_url}/users/{user.nickname}"
    assert body["avatar"] == body["avatar_static"] == f"{base_url}/images/avi.png"
    assert body["header"] == body["header_static"] == f"{base_url}/images/banner.png"
    assert body["emojis"] == [] and body["fields"] == []
    pleroma = body["pleroma"]
    assert set(pleroma) >= PLEROMA_KEYS
    assert pleroma["confirmation_pending"] is False
    assert pleroma["tags"] == []
    assert pleroma["hide_followers"] is pleroma["hide_follows"] is False
    assert pleroma["hide_favorites"] is False
    assert pleroma["skip_thread_containment"] is False
    assert pleroma["background_image"] is None


# -- the Account entity ------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_verify_credentials_renders_the_whole_self_account(
    rt: Runtime, client: Client
) -> None:
    """verify_credentials answers the token's account with every key of the
    entity, plus what only the owner sees: source.privacy, the role switches,
    notification_settings (all true by default), settings_store and roles."""
    alice = await make_user(rt, "alice")
    response = await client.get(
        "/api/v1/accounts/verify_credentials", headers=await bearer(rt, alice)
    )
    code, body = await answer(response)
    assert code == 200
    check_public_account(body, alice, rt.config.server.base_url)
    assert body["display_name"] == "alice"
    assert body["source"] == {
        "note": "",
        "sensitive": False,
        "privacy": "public",
        "pleroma": {"show_role": True, "no_rich_text": False},
    }
    assert set(body["pleroma"]) == PLEROMA_KEYS | {
        "is_admin",
        "is_moderator",
        "notification_settings",
        "settings_store",
    }
    assert body["pleroma"]["is_admin"] is body["pleroma"]["is_moderator"] is False
    assert body["pleroma"]["notification_settings"] == dict.fromkeys(NOTIFICATION_KEYS, True)
    assert body["pleroma"]["settings_store"] == {}


@pytest_twisted.ensureDeferred
async def test_other_viewers_see_no_private_settings(rt: Runtime, client: Client) -> None:
    """Another account (or nobody) sees the public keys only: no privacy, no
    notification or stored settings, no deactivated flag."""
    alice = await make_user(rt, "alice")
    bob = await make_user(rt, "bob")
    for headers in (await bearer(rt, bob), {}):
        code, body = await answer(await client.get(f"/api/v1/accounts/{alice.id}", headers=headers))
        assert code == 200
        check_public_account(body, alice, rt.config.server.base_url)
        relationship = body["pleroma"]["relationship"]
        if headers:  # bob sees his relationship to alice; nobody sees none
            assert relationship["id"] == str(alice.id) and relationship["following"] is False
        else:
            assert relationship == {}
        assert body["source"] == {"note": "", "sensitive": False, "pleroma": {}}
        assert set(body["pleroma"]) == PLEROMA_KEYS | {"is_admin", "is_moderator"}


@pytest_twisted.ensureDeferred
async def test_roles_show_only_when_the_account_shows_them(rt: Runtime, client: Client) -> None:
    """is_admin/is_moderator appear to others while show_role is on; the
    owner always sees them."""
    alice = await make_user(rt, "alice", is_moderator=True)
    bob = await make_user(rt, "bob")
    _, body = await answer(await client.get(f"/api/v1/accounts/{alice.id}"))
    assert body["pleroma"]["is_moderator"] is True and body["pleroma"]["is_admin"] is False
    alice = await set_user(rt, alice, show_role=False)
    _, body = await answer(
        await client.get(f"/api/v1/accounts/{alice.id}", headers=await bearer(rt, bob))
    )
    assert "is_admin" not in body["pleroma"] and "is_moderator" not in body["pleroma"]
    _, body = await answer(
        await client.get("/api/v1/accounts/verify_credentials", headers=await bearer(rt, alice))
    )
    assert body["pleroma"]["is_moderator"] is True
    assert body["source"]["pleroma"]["show_role"] is False


@pytest_twisted.ensureDeferred
async def test_deactivated_accounts_render_and_only_admins_see_the_flag(
    rt: Runtime, client: Client
) -> None:
    """A deactivated account is still shown; pleroma.deactivated appears for
    admin viewers only."""
    alice = await make_user(rt, "alice")
    admin = await make_user(rt, "root", is_admin=True)
    bob = await make_user(rt, "bob")
    await set_user(rt, alice, deactivated=True)
    code, body = await answer(
        await client.get(f"/api/v1/accounts/{alice.id}", headers=await bearer(rt, admin))
    )
    assert code == 200 and body["pleroma"]["deactivated"] is True
    code, body = await answer(
        await client.get(f"/api/v1/accounts/{alice.id}", headers=await bearer(rt, bob))
    )
    assert code == 200 and "deactivated" not in body["pleroma"]
    code, body = await answer(
        await client.get(f"/api/v1/accounts/{bob.id}", headers=await bearer(rt, admin))
    )
    assert body["pleroma"]["deactivated"] is False


@pytest_twisted.ensureDeferred
async def test_render_uses_stored_images_settings_and_counts(rt: Runtime) -> None:
    """Stored avatar, banner and background give their URLs; counts and the
    relationship are the caller's; the name loses any tags; created_at keeps
    its milliseconds; notification settings that were turned off show false."""
    alice = await make_user(rt, "alice", name="<b>Alice</b> A.")
    alice = await set_user(
        rt,
        alice,
        avatar={"type": "Image", "url": [{"type": "Link", "href": "https://m.example/a.png"}]},
        banner={"url": "https://m.example/b.png"},
        background={"type": "Image", "url": [{"href": "https://m.example/c.png"}]},
        notification_settings={"follows": False},
    )
    alice = replace(alice, created_at=datetime(2019, 4, 15, 15, 42, 15, 123456, UTC))
    relationship = render_relationship(7)
    body = render_account(
        alice,
        config=rt.config,
        hidden=False,
        viewer_user=alice,
        followers_count=3,
        following_count=2,
        statuses_count=5,
        relationship=relationship,
    )
    assert body["avatar"] == body["avatar_static"] == "https://m.example/a.png"
    assert body["header"] == body["header_static"] == "https://m.example/b.png"
    assert body["pleroma"]["background_image"] == "https://m.example/c.png"
    assert body["display_name"] == "Alice A."
    assert body["created_at"] == "2019-04-15T15:42:15.123Z"
    assert (body["followers_count"], body["following_count"], body["statuses_count"]) == (3, 2, 5)
    assert body["pleroma"]["relationship"] == relationship
    assert body["pleroma"]["notification_settings"]["follows"] is False
    assert body["pleroma"]["notification_settings"]["followers"] is True
    assert "settings_store" not in body["pleroma"]  # only for the credential endpoints


def test_relationship_has_every_key_and_defaults_to_no_relation() -> None:
    """A Relationship carries the documented keys plus blocked_by; with
    nothing known everything is false except showing_reblogs."""
    body = render_relationship(42)
    assert body == {
        "id": "42",
        "following": False,
        "followed_by": False,
        "blocking": False,
        "blocked_by": False,
        "muting": False,
        "muting_notifications": False,
        "subscribing": False,
        "requested": False,
        "domain_blocking": False,
        "showing_reblogs": True,
        "endorsed": False,
    }


@pytest_twisted.ensureDeferred
async def test_unconfirmed_accounts_are_hidden_when_activation_is_required(
    rt: Runtime, serve: Any
) -> None:
    """With activation required, an unconfirmed account renders as {} to
    others and accounts/:id answers 404; itself and staff still see it."""
    rt, client = with_instance(rt, serve, account_activation_required=True)
    alice = await make_user(rt, "alice", confirmation_pending=True)
    bob = await make_user(rt, "bob")
    moderator = await make_user(rt, "mod", is_moderator=True)
    assert hidden_accounts([alice, bob], None, rt.config) == {alice.id}
    assert hidden_accounts([alice, bob], bob, rt.config) == {alice.id}
    assert hidden_accounts([alice, bob], alice, rt.config) == set()
    assert hidden_accounts([alice, bob], moderator, rt.config) == set()
    assert render_account(alice, config=rt.config, hidden=True) == {}
    for headers in ({}, await bearer(rt, bob)):
        code, body = await answer(await client.get(f"/api/v1/accounts/{alice.id}", headers=headers))
        assert (code, body) == (404, {"error": "Can't find user"})
    code, body = await answer(
        await client.get("/api/v1/accounts/alice", headers=await bearer(rt, moderator))
    )
    assert code == 200 and body["pleroma"]["confirmation_pending"] is True


# -- verify_credentials: who may ask ----------------------------------------


@pytest_twisted.ensureDeferred
async def test_verify_credentials_needs_the_read_scope(rt: Runtime, client: Client) -> None:
    """A token without `read` gets 403 Insufficient permissions: read.;
    no or unknown credentials get 403 Invalid credentials."""
    alice = await make_user(rt, "alice")
    response = await client.get(
        "/api/v1/accounts/verify_credentials", headers=await bearer(rt, alice, ["write"])
    )
    assert await answer(response) == (403, {"error": "Insufficient permissions: read."})
    for headers in ({}, {"Authorization": "Bearer nonsense"}):
        response = await client.get("/api/v1/accounts/verify_credentials", headers=headers)
        assert await answer(response) == (403, {"error": "Invalid credentials."})


@pytest_twisted.ensureDeferred
async def test_verify_credentials_with_http_basic(rt: Runtime, client: Client) -> None:
    """HTTP Basic with the nickname and password authenticates (no scopes
    apply to a password); a wrong password is refused."""
    await make_user(rt, "alice", password="hunter2")
    response = await client.get("/api/v1/accounts/verify_credentials", auth=("alice", "hunter2"))
    code, body = await answer(response)
    assert code == 200 and body["acct"] == "alice" and "settings_store" in body["pleroma"]
    response = await client.get("/api/v1/accounts/verify_credentials", auth=("alice", "wrong"))
    assert await answer(response) == (403, {"error": "Invalid credentials."})


@pytest_twisted.ensureDeferred
async def test_a_deactivated_accounts_token_stops_working_at_once(
    rt: Runtime, client: Client
) -> None:
    """Once an account is deactivated, its existing token is refused on the
    very next request."""
    alice = await make_user(rt, "alice")
    headers = await bearer(rt, alice)
    response = await client.get("/api/v1/accounts/verify_credentials", headers=headers)
    assert response.code == 200
    await response.json()
    await set_user(rt, alice, deactivated=True)
    response = await client.get("/api/v1/accounts/verify_credentials", headers=headers)
    assert await answer(response) == (403, {"error": "Invalid credentials."})


# -- update_credentials -----------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_update_credentials_changes_the_profile(rt: Runtime, client: Client) -> None:
    """Every field changes what it names; the note is stored as typed and
    shown as HTML; the settings store is merged key by key; the answer is the
    updated self Account."""
    alice = await make_user(rt, "alice")
    await set_user(rt, alice, settings_store={"keep": 1, "fe": {"old": True}})
    headers = await bearer(rt, alice)
    response = await client.request(
        "PATCH",
        "/api/v1/accounts/update_credentials",
        headers=headers,
        json={
            "display_name": "Alice Liddell",
            "note": "Down the <rabbit> hole\nhttps://example.org/x",
            "locked": True,
            "hide_favorites": "true",
            "hide_followers": "1",
            "hide_follows": "on",
            "no_rich_text": 1,
            "show_role": "false",
            "skip_thread_containment": True,
            "default_scope": "unlisted",
            "pleroma_settings_store": {"fe": {"theme": "dark"}},
        },
    )
    code, body = await answer(response)
    assert code == 200
    assert body["display_name"] == "Alice Liddell"
    assert body["note"] == (
        'Down the &lt;rabbit&gt; hole<br><a href="https://example.org/x" target="_blank"'
        ' rel="nofollow noopener noreferrer">https://example.org/x</a>'
    )
    assert body["source"]["note"] == "Down the <rabbit> hole\nhttps://example.org/x"
    assert body["source"]["privacy"] == "unlisted"
    assert body["source"]["pleroma"] == {"show_role": False, "no_rich_text": True}
    assert body["locked"] is True
    pleroma = body["pleroma"]
    assert pleroma["hide_favorites"] is pleroma["hide_followers"] is pleroma["hide_follows"] is True
    assert pleroma["skip_thread_containment"] is True
    assert pleroma["settings_store"] == {"keep": 1, "fe": {"theme": "dark"}}
    stored = await rt.db.run_interaction("get", users.get_user_txn, alice.id)
    assert stored is not None
    assert (stored.name, stored.locked, stored.default_scope) == ("Alice Liddell", True, "unlisted")
    # What was not sent stays as it was; an empty name falls back to the nickname.
    response = await client.request(
        "PATCH",
        "/api/v1/accounts/update_credentials",
        headers=headers,
        data={"display_name": "", "source[privacy]": "private"},
    )
    code, body = await answer(response)
    assert code == 200 and body["display_name"] == "alice" and body["locked"] is True
    assert body["source"]["privacy"] == "private"
    assert body["source"]["note"] == "Down the <rabbit> hole\nhttps://example.org/x"


@pytest_twisted.ensureDeferred
async def test_update_credentials_refuses_bad_values_and_changes_nothing(
    rt: Runtime, client: Client
) -> None:
    """A name or note over the instance's limits and an unknown default_scope
    are 422 naming the field; a boolean that is not true/false/1/0/on/off and
    a settings store that is not an object are 400; nothing is changed, even
    where other fields of the same request were fine."""
    alice = await make_user(rt, "alice")
    headers = await bearer(rt, alice)
    limits = rt.config.instance
    before = profile_row(rt, alice)
    cases = [
        ({"display_name": "x" * (limits.user_name_length + 1)}, 422, "display_name"),
        ({"note": "x" * (limits.user_bio_length + 1)}, 422, "note"),
        ({"default_scope": "everyone"}, 422, "default_scope"),
        ({"default_scope": ""}, 422, "default_scope"),
        ({"locked": "yes"}, 400, "locked"),
        ({"hide_favorites": 2}, 400, "hide_favorites"),
        ({"show_role": ""}, 400, "show_role"),
        ({"pleroma_settings_store": "dark"}, 400, "pleroma_settings_store"),
        ({"display_name": ["a", "b"]}, 400, "display_name"),
    ]
    for fields, status, named in cases:
        response = await client.request(
            "PATCH",
            "/api/v1/accounts/update_credentials",
            headers=headers,
            json={"display_name": "Fine", "locked": True, **fields},
        )
        code, body = await answer(response)
        assert code == status, (fields, body)
        assert named in body["error"], (fields, body)
        assert profile_row(rt, alice) == before, fields


@pytest_twisted.ensureDeferred
async def test_update_credentials_refuses_an_oversized_settings_store(
    rt: Runtime, client: Client
) -> None:
    """The merged settings store may not grow past its limit: 422, unchanged."""
    alice = await make_user(rt, "alice")
    await set_user(rt, alice, settings_store={"a": "x" * 600_000})
    before = profile_row(rt, alice)
    response = await client.request(
        "PATCH",
        "/api/v1/accounts/update_credentials",
        headers=await bearer(rt, alice),
        json={"pleroma_settings_store": {"b": "y" * 600_000}},
    )
    code, body = await answer(response)
    assert code == 422 and "pleroma_settings_store" in body["error"]
    assert profile_row(rt, alice) == before


@pytest_twisted.ensureDeferred
async def test_update_credentials_needs_the_write_scope(rt: Runtime, client: Client) -> None:
    """A read-only token cannot change the profile; nothing changes."""
    alice = await make_user(rt, "alice")
    before = profile_row(rt, alice)
    response = await client.request(
        "PATCH",
        "/api/v1/accounts/update_credentials",
        headers=await bearer(rt, alice, ["read"]),
        data={"display_name": "Nope"},
    )
    assert await answer(response) == (403, {"error": "Insufficient permissions: write."})
    response = await client.request(
        "PATCH", "/api/v1/accounts/update_credentials", data={"display_name": "Nope"}
    )
    assert await answer(response) == (403, {"error": "Invalid credentials."})
    assert profile_row(rt, alice) == before


# -- accounts/:id -----------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_account_by_id_or_nickname(rt: Runtime, client: Client) -> None:
    """An account is found by its decimal id, its nickname (any case), or
    nick@our-host; an all-digit nickname is found too."""
    alice = await make_user(rt, "alice")
    digits = await make_user(rt, "12345")
    for ref in (str(alice.id), "alice", "ALICE", "alice@localhost", "alice@localhost:4000"):
        code, body = await answer(await client.get(f"/api/v1/accounts/{ref}"))
        assert (code, body["id"]) == (200, str(alice.id)), ref
    code, body = await answer(await client.get("/api/v1/accounts/12345"))
    assert (code, body["id"]) == (200, str(digits.id))


@pytest_twisted.ensureDeferred
async def test_unknown_or_deleted_account_is_404(rt: Runtime, client: Client) -> None:
    """Unknown ids and nicknames, ids out of range and deleted accounts all
    answer 404 Can't find user."""
    gone = await make_user(rt, "gone")
    await rt.db.run_interaction("delete", _mark_deleted, gone.id)
    for ref in ("nobody", "123", "9" * 30, str(gone.id), "gone", "alice@elsewhere.example"):
        response = await client.get(f"/api/v1/accounts/{ref}")
        assert await answer(response) == (404, {"error": "Can't find user"}), ref


async def _mark_deleted(txn: Any, user_id: int) -> None:
    await txn.execute("UPDATE users SET deleted = true WHERE id = %s", (user_id,))


@pytest_twisted.ensureDeferred
async def test_fixed_account_routes_win_over_the_id_route(rt: Runtime, client: Client) -> None:
    """verify_credentials and search are routes of their own, even if an
    account were named so; trailing slashes are accepted."""
    response = await client.get("/api/v1/accounts/verify_credentials/")
    assert await answer(response) == (403, {"error": "Invalid credentials."})
    response = await client.get("/api/v1/accounts/search")
    assert await answer(response) == (400, {"error": "Missing field: q"})


# -- search -----------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_search_puts_the_exact_nickname_first(rt: Runtime, client: Client) -> None:
    """Prefix matches on nickname and name, any case; the exact nickname (or
    @nick, or nick@our-host) comes first, then nickname matches, then names."""
    await make_user(rt, "alicebeth")
    await make_user(rt, "ali")
    await make_user(rt, "carol", name="Alison Carroll")
    await make_user(rt, "alice")
    await make_user(rt, "bob", name="bob not ali")
    for q in ("alice", "ALICE", "@alice", "alice@localhost"):
        code, body = await answer(await client.get("/api/v1/accounts/search", params={"q": q}))
        assert code == 200
        assert [a["acct"] for a in body] == ["alice", "alicebeth"], q
    _, body = await answer(await client.get("/api/v1/accounts/search", params={"q": "ali"}))
    assert [a["acct"] for a in body] == ["ali", "alice", "alicebeth", "carol"]
    _, body = await answer(await client.get("/api/v1/accounts/search", params={"q": "ALIS"}))
    assert [a["acct"] for a in body] == ["carol"]


@pytest_twisted.ensureDeferred
async def test_search_leaves_out_accounts_nobody_may_find(rt: Runtime, serve: Any) -> None:
    """Deleted, deactivated and (with activation required) unconfirmed
    accounts are not found; LIKE wildcards in q are taken literally."""
    rt, client = with_instance(rt, serve, account_activation_required=True)
    await make_user(rt, "ann")
    gone = await make_user(rt, "anngone")
    await rt.db.run_interaction("delete", _mark_deleted, gone.id)
    off = await make_user(rt, "annoff")
    await set_user(rt, off, deactivated=True)
    await make_user(rt, "annnew", confirmation_pending=True)
    _, body = await answer(await client.get("/api/v1/accounts/search", params={"q": "ann"}))
    assert [a["acct"] for a in body] == ["ann"]
    for q in ("%", "_nn", "a%"):
        _, body = await answer(await client.get("/api/v1/accounts/search", params={"q": q}))
        assert body == [], q


@pytest_twisted.ensureDeferred
async def test_search_limit_and_parameters(rt: Runtime, client: Client) -> None:
    """limit defaults to 40 and is capped at 80; offset pages; a blank q
    finds nobody; a malformed limit or boolean is 400."""
    for n in range(85):
        await make_user(rt, f"user{n:02d}")
    search = "/api/v1/accounts/search"
    _, body = await answer(await client.get(search, params={"q": "user"}))
    assert len(body) == 40
    _, body = await answer(await client.get(search, params={"q": "user", "limit": "500"}))
    assert len(body) == 80
    _, body = await answer(
        await client.get(search, params={"q": "user", "limit": "2", "offset": "2"})
    )
    assert [a["acct"] for a in body] == ["user02", "user03"]
    _, body = await answer(
        await client.get(search, params={"q": "user", "resolve": "true", "following": "false"})
    )
    assert len(body) == 40
    _, body = await answer(await client.get(search, params={"q": " "}))
    assert body == []
    for params in ({"limit": "many"}, {"resolve": "perhaps"}):
        code, body = await answer(await client.get(search, params={"q": "user", **params}))
        assert code == 400 and next(iter(params)) in body["error"]


@pytest_twisted.ensureDeferred
async def test_search_renders_for_the_viewer(rt: Runtime, client: Client) -> None:
    """A signed-in reader finding itself sees its own settings; a token
    without `read` (or nobody) sees what anyone sees."""
    alice = await make_user(rt, "alice")
    response = await client.get(
        "/api/v1/accounts/search", params={"q": "alice"}, headers=await bearer(rt, alice)
    )
    _, body = await answer(response)
    assert body[0]["source"]["privacy"] == "public"
    response = await client.get(
        "/api/v1/accounts/search",
        params={"q": "alice"},
        headers=await bearer(rt, alice, ["write"]),
    )
    _, body = await answer(response)
    assert "privacy" not in body[0]["source"]


# -- instance ---------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_instance_describes_the_server(rt: Runtime, client: Client) -> None:
    """/api/v1/instance (also with a trailing slash, as Mastodon.py asks)
    has every key, a version Mastodon.py reads as 2.7.2, and counts active
    local users only."""
    await make_user(rt, "alice")
    await make_user(rt, "bob")
    off = await make_user(rt, "carol")
    await set_user(rt, off, deactivated=True)
    gone = await make_user(rt, "dave")
    await rt.db.run_interaction("delete", _mark_deleted, gone.id)
    base_url = rt.config.server.base_url
    for path in ("/api/v1/instance", "/api/v1/instance/"):
        code, body = await answer(await client.get(path))
        assert code == 200
        limits = rt.config.instance
        assert body == {
            "uri": base_url,
            "title": limits.name,
            "description": limits.description,
            "version": f"2.7.2 (compatible; Pleroma {__version__})",
            "email": limits.email,
            "urls": {"streaming_api": "ws://localhost:4000"},
            "stats": {"user_count": 2, "status_count": 0, "domain_count": 0},
            "thumbnail": f"{base_url}/instance/thumbnail.jpeg",
            "languages": ["en"],
            "registrations": True,
            "max_toot_chars": 5000,
            "upload_limit": limits.upload_limit,
            "avatar_upload_limit": limits.avatar_upload_limit,
            "banner_upload_limit": limits.banner_upload_limit,
            "background_upload_limit": limits.background_upload_limit,
            "poll_limits": {
                "max_options": 20,
                "max_option_chars": 200,
                "min_expiration": 0,
                "max_expiration": 31_536_000,
            },
            "invites_enabled": False,
            "account_activation_required": False,
        }
    assert re.match(r"^\d+\.\d+\.\d+ ", body["version"])
    code, body = await answer(await client.get("/api/v1/instance/peers"))
    assert (code, body) == (200, [])


@pytest_twisted.ensureDeferred
async def test_instance_follows_the_configuration(rt: Runtime, serve: Any) -> None:
    """Title, limits and registration switches come from [instance]; an
    https base_url streams over wss."""
    server = replace(rt.config.server, base_url="https://social.example")
    rt = replace(rt, config=replace(rt.config, server=server))
    rt, client = with_instance(
        rt,
        serve,
        name="Cofe",
        status_limit=500,
        registrations_open=False,
        invites_enabled=True,
        account_activation_required=True,
    )
    _, body = await answer(await client.get("/api/v1/instance"))
    assert body["uri"] == "https://social.example"
    assert body["urls"]["streaming_api"] == "wss://social.example"
    assert (body["title"], body["max_toot_chars"], body["registrations"]) == ("Cofe", 500, False)
    assert body["invites_enabled"] is body["account_activation_required"] is True


@pytest_twisted.ensureDeferred
async def test_update_credentials_refuses_nul_characters(rt: Runtime, client: Client) -> None:
    """A NUL character, which PostgreSQL cannot store, is a 400 naming the
    field, in the name, the note or anywhere in the settings store."""
    alice = await make_user(rt, "alice")
    headers = await bearer(rt, alice)
    before = profile_row(rt, alice)
    for fields, status, named in [
        ({"display_name": "a\x00b"}, 400, "display_name"),
        ({"note": "\x00"}, 400, "note"),
        ({"pleroma_settings_store": {"fe": "a\x00"}}, 400, "pleroma_settings_store"),
        ({"pleroma_settings_store": {"\x00": 1}}, 400, "pleroma_settings_store"),
    ]:
        response = await client.request(
            "PATCH", "/api/v1/accounts/update_credentials", headers=headers, json=fields
        )
        code, body = await answer(response)
        assert code == status and named in body["error"], (fields, code, body)
    assert profile_row(rt, alice) == before


@pytest_twisted.ensureDeferred
async def test_nul_characters_are_refused(rt: Runtime, client: Client) -> None:
    """A NUL character in an account reference or a search is a 400, never a 500."""
    await make_user(rt, "alice")
    response = await client.get("/api/v1/accounts/ali%00ce")
    assert await answer(response) == (400, {"error": "Invalid characters in id"})
    response = await client.get("/api/v1/accounts/search", params={"q": "ali\x00"})
    assert await answer(response) == (400, {"error": "Invalid characters in q"})


async def app_token(rt: Runtime) -> dict[str, str]:
    app = await rt.db.run_interaction(
        "app", oauth.create_app_txn, "client", "urn:ietf:wg:oauth:2.0:oob", ["read", "write"], None
    )
    issued = await rt.db.run_interaction(
        "app token", oauth.create_token_txn, app.id, None, app.scopes
    )
    return {"Authorization": f"Bearer {issued.access_token}"}


@pytest_twisted.ensureDeferred
async def test_mastodon_registration_issues_a_token(rt: Runtime, client: Client) -> None:
    """POST /api/v1/accounts with an app token creates the account and answers a
    token for it whose scope is a string of the app's scopes."""
    response = await client.post(
        "/api/v1/accounts",
        headers=await app_token(rt),
        json={"username": "newbie", "email": "n@example.org", "password": "pw", "agreement": True},
    )
    code, body = await answer(response)
    assert code == 200, body
    assert body["token_type"] == "Bearer" and body["scope"] == "read write"
    assert response.headers.getRawHeaders("x-ratelimit-limit") == ["5"]
    me = await client.get(
        "/api/v1/accounts/verify_credentials",
        headers={"Authorization": f"Bearer {body['access_token']}"},
    )
    assert (await answer(me))[1]["username"] == "newbie"


@pytest_twisted.ensureDeferred
async def test_mastodon_registration_refusals(rt: Runtime, client: Client) -> None:
    """No token or a user's token: 403; missing parameters or no agreement: 400
    Missing parameters; nothing is created."""
    alice = await make_user(rt, "alice")
    fields = {"username": "newbie", "email": "n@example.org", "password": "pw", "agreement": True}
    for headers in ({}, await bearer(rt, alice)):
        response = await client.post("/api/v1/accounts", headers=headers, json=fields)
        assert await answer(response) == (403, {"error": "Invalid credentials"})
    app = await app_token(rt)
    for missing in ("username", "email", "password", "agreement"):
        partial = {k: v for k, v in fields.items() if k != missing}
        response = await client.post("/api/v1/accounts", headers=app, json=partial)
        assert await answer(response) == (400, {"error": "Missing parameters"})
    assert query(rt.db.dsn, "SELECT count(*) FROM users") == [(1,)]


# -- lookup -----------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_lookup_finds_an_account_by_nickname(rt: Runtime, client: Client) -> None:
    """/api/v1/accounts/lookup finds `acct` in any case, with a leading @ or
    our host, and renders it as /api/v1/accounts/:id does for the reader."""
    alice = await make_user(rt, "alice")
    as_bob = await bearer(rt, await make_user(rt, "bob"))
    for headers in ({}, as_bob):
        by_id = await answer(await client.get(f"/api/v1/accounts/{alice.id}", headers=headers))
        for acct in ("alice", "ALICE", "@alice", "@Alice@localhost"):
            response = await client.get(
                "/api/v1/accounts/lookup", headers=headers, params={"acct": acct}
            )
            assert await answer(response) == by_id, acct


@pytest_twisted.ensureDeferred
async def test_lookup_of_nobody_is_404_and_acct_is_required(rt: Runtime, client: Client) -> None:
    """An unknown, remote or deleted nickname, or an id (lookup never takes
    one), is 404 Can't find user, as /api/v1/accounts/:id; no `acct` is 400."""
    alice = await make_user(rt, "alice")
    gone = await make_user(rt, "gone")
    await rt.db.run_interaction("delete", _mark_deleted, gone.id)
    for acct in ("nobody", str(alice.id), "gone", "alice@elsewhere.example", "@", " "):
        response = await client.get("/api/v1/accounts/lookup", params={"acct": acct})
        assert await answer(response) == (404, {"error": "Can't find user"}), acct
    assert await answer(await client.get("/api/v1/accounts/lookup")) == (
        400,
        {"error": "Missing field: acct"},
    )


@pytest.mark.parametrize("path", ["/api/v1/accounts/lookup", "/api/v1/accounts/lookup/"])
@pytest_twisted.ensureDeferred
async def test_lookup_is_not_taken_for_an_account_id(
    rt: Runtime, client: Client, path: str
) -> None:
    """The fixed path wins over /api/v1/accounts/:id even when an account
    is named `lookup`, with or without a trailing slash."""
    await make_user(rt, "lookup")
    alice = await make_user(rt, "alice")
    code, body = await answer(await client.get(path, params={"acct": "alice"}))
    assert (code, body["id"]) == (200, str(alice.id))
    assert await answer(await client.get(path)) == (400, {"error": "Missing field: acct"})


# -- search following ----------------------------------------------------------


def _found_accounts(path: str, body: Any) -> list[str]:
    return [a["acct"] for a in (body if path == "/api/v1/accounts/search" else body["accounts"])]


@pytest.mark.parametrize("path", ["/api/v1/accounts/search", "/api/v2/search"])
@pytest_twisted.ensureDeferred
async def test_search_following_keeps_the_readers_follows(
    rt: Runtime, client: Client, path: str
) -> None:
    """`following=true` finds only accounts the reader follows (a pending
    request is no follow); an anonymous reader, or a token without `read`,
    follows nobody and finds nothing; `following=false` finds everyone."""
    alice = await make_user(rt, "alice")
    followed = await make_user(rt, "annfollowed")
    await make_user(rt, "ann")
    shy = await make_user(rt, "annshy", locked=True)
    for target in (followed, shy):
        await relationships.follow(rt, alice, str(target.id), None)
    as_alice = await bearer(rt, alice)
    for headers, following, expected in (
        (as_alice, "true", ["annfollowed"]),
        (as_alice, "false", ["ann", "annshy", "annfollowed"]),
        ({}, "true", []),
        (await bearer(rt, alice, ["write", "follow"]), "true", []),
    ):
        response = await client.get(
            path, headers=headers, params={"q": "ann", "following": following}
        )
        code, body = await answer(response)
        assert code == 200
        assert _found_accounts(path, body) == expected, (headers, following)
