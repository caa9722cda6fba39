"""A real client library, unmodified, drives the daemon end to end.

Mastodon.py is synchronous (requests); it runs in a thread against the
daemon's tree served on a loopback port, while the reactor serves it.
"""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import pytest
import pytest_twisted
import requests
from mastodon import (
    Mastodon,
    MastodonAPIError,
    MastodonIllegalArgumentError,
    MastodonNotFoundError,
)
from PIL import Image
from twisted.internet.threads import deferToThread

from pleromad.runtime import Runtime
from pleromad.store import users
from tests.conftest import Client

OOB = "urn:ietf:wg:oauth:2.0:oob"
SCOPES = ["read", "write", "follow", "push"]

# The libraries' answers are checked against the OpenAPI document as ours are.
pytestmark = pytest.mark.usefixtures("checked_requests")


async def make_user(rt: Runtime, nickname: str, password: str) -> None:
    await rt.db.run_interaction(
        "user",
        users.create_user_txn,
        nickname=nickname,
        email=f"{nickname}@example.org",
        name=nickname.title(),
        bio="",
        bio_html="",
        password_hash=await rt.passwords.hash(password),
        ap_id_prefix=rt.config.server.base_url,
    )


class _Form(HTMLParser):
    """The fields of the first form on a page, as a browser would submit them."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = attributes.get("action") or ""
        if tag == "input" and attributes.get("name"):
            kind = attributes.get("type", "text")
            if kind == "checkbox" and "checked" not in attributes:
                return
            self.fields.append((attributes["name"], attributes.get("value") or ""))


def browser_login(
    session: requests.Session, url: str, name: str, password: str
) -> requests.Response:
    """Open the authorize page, fill in the login form and submit it."""
    page = session.get(url, timeout=30)
    assert page.status_code == 200, page.text
    form = _Form()
    form.feed(page.text)
    fields = [
        (key, name if key.endswith("[name]") else password if key.endswith("[password]") else value)
        for key, value in form.fields
    ]
    target = requests.compat.urljoin(url, form.action or url)
    return session.post(target, data=fields, allow_redirects=False, timeout=30)


@pytest.fixture
def base(client: Client) -> str:
    return client.base


@pytest_twisted.ensureDeferred
async def test_mastodon_py_password_login(rt: Runtime, base: str) -> None:
    """Mastodon.py registers an app, logs in with a password and reads me()."""
    await make_user(rt, "alice", "correct horse")

    def flow() -> dict[str, Any]:
        client_id, client_secret = Mastodon.create_app(
            "pleromad test", scopes=SCOPES, api_base_url=base
        )
        api = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=base)
        api.log_in("alice", "correct horse", scopes=SCOPES)
        return api.me()

    me = await deferToThread(flow)
    assert me["username"] == "alice" and me["acct"] == "alice"
    assert me["display_name"] == "Alice"


@pytest_twisted.ensureDeferred
async def test_mastodon_py_code_login_through_the_form(rt: Runtime, base: str) -> None:
    """The authorize form logs a person in, shows the out-of-band code, and the
    client exchanges it; the form also left a working _pleroma_key cookie."""
    await make_user(rt, "alice", "correct horse")

    def flow() -> tuple[dict[str, Any], int, str]:
        client_id, client_secret = Mastodon.create_app(
            "pleromad test", scopes=SCOPES, api_base_url=base, redirect_uris=OOB
        )
        api = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=base)
        url = api.auth_request_url(redirect_uris=OOB, scopes=SCOPES)
        browser = requests.Session()
        answer = browser_login(browser, url, "alice", "correct horse")
        assert answer.status_code == 200, answer.text
        code = re.search(r"<code>([^<]+)</code>", answer.text)
        assert code is not None, answer.text
        api.log_in(code=code.group(1), redirect_uri=OOB, scopes=SCOPES)
        me = api.me()
        with_cookie = browser.get(f"{base}/api/v1/accounts/verify_credentials", timeout=30)
        return me, with_cookie.status_code, with_cookie.json().get("username", "")

    me, cookie_status, cookie_user = await deferToThread(flow)
    assert me["username"] == "alice"
    assert (cookie_status, cookie_user) == (200, "alice")


@pytest_twisted.ensureDeferred
async def test_http_basic_on_an_authenticated_endpoint(rt: Runtime, base: str) -> None:
    """HTTP Basic with nickname or e-mail reaches verify_credentials."""
    await make_user(rt, "alice", "correct horse")

    def flow() -> list[int]:
        url = f"{base}/api/v1/accounts/verify_credentials"
        return [
            requests.get(url, auth=("alice", "correct horse"), timeout=30).status_code,
            requests.get(url, auth=("alice@example.org", "correct horse"), timeout=30).status_code,
            requests.get(url, auth=("alice", "wrong"), timeout=30).status_code,
        ]

    assert await deferToThread(flow) == [200, 200, 403]


@pytest_twisted.ensureDeferred
async def test_disabled_account_is_locked_out_everywhere_at_once(rt: Runtime, base: str) -> None:
    """After disable_account, the account's token, cookie and password stop working
    on the very next request."""
    await make_user(rt, "alice", "correct horse")

    def flow() -> dict[str, Any]:
        client_id, client_secret = Mastodon.create_app(
            "pleromad test", scopes=SCOPES, api_base_url=base, redirect_uris=OOB
        )
        api = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=base)
        api.log_in("alice", "correct horse", scopes=SCOPES)
        browser = requests.Session()
        browser_login(
            browser,
            api.auth_request_url(redirect_uris=OOB, scopes=SCOPES),
            "alice",
            "correct horse",
        )
        verify = f"{base}/api/v1/accounts/verify_credentials"
        assert browser.get(verify, timeout=30).status_code == 200
        result = requests.post(
            f"{base}/api/pleroma/disable_account",
            data={"password": "correct horse"},
            headers={"Authorization": f"Bearer {api.access_token}"},
            timeout=30,
        )
        outcome: dict[str, Any] = {"disable": result.json()}
        try:
            api.me()
            outcome["token"] = "still works"
        except MastodonAPIError as e:
            outcome["token"] = e.args[1]
        outcome["cookie"] = browser.get(verify, timeout=30).status_code
        outcome["basic"] = requests.get(
            verify, auth=("alice", "correct horse"), timeout=30
        ).status_code
        fresh = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=base)
        try:
            fresh.log_in("alice", "correct horse", scopes=SCOPES)
            outcome["password"] = "still works"
        except MastodonIllegalArgumentError:
            outcome["password"] = "refused"
        return outcome

    outcome = await deferToThread(flow)
    assert outcome["disable"] == {"status": "success"}
    assert outcome["token"] == 403
    assert outcome["cookie"] == 403
    assert outcome["basic"] == 403
    assert outcome["password"] == "refused"


@pytest_twisted.ensureDeferred
async def test_mastodon_py_creates_an_account(rt: Runtime, base: str) -> None:
    """Mastodon.py's create_account (POST /api/v1/accounts with an app token)
    registers an account and logs the client in as it."""

    def flow() -> dict[str, Any]:
        client_id, client_secret = Mastodon.create_app(
            "pleromad test", scopes=SCOPES, api_base_url=base
        )
        api = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=base)
        api.create_account(
            "newbie", "a long password", "newbie@example.org", agreement=True, scopes=SCOPES
        )
        return api.me()

    me = await deferToThread(flow)
    assert me["username"] == "newbie"


# -- everyday use: two people, posting, following, notifications, media --------


def logged_in(base: str, nickname: str, password: str = "correct horse") -> Mastodon:
    """A Mastodon.py client of a fresh app, logged in with a password."""
    client_id, client_secret = Mastodon.create_app(
        "pleromad test", scopes=SCOPES, api_base_url=base
    )
    api = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=base)
    api.log_in(nickname, password, scopes=SCOPES)
    return api


async def two_people(rt: Runtime, base: str) -> tuple[Mastodon, Mastodon]:
    """alice and bob, each logged in with a client of their own."""
    await make_user(rt, "alice", "correct horse")
    await make_user(rt, "bob", "correct horse")
    return await deferToThread(lambda: (logged_in(base, "alice"), logged_in(base, "bob")))


def png(width: int = 4, height: int = 3) -> bytes:
    """A small real PNG, drawn with Pillow."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 60)).save(out, format="PNG")
    return out.getvalue()


@pytest_twisted.ensureDeferred
async def test_mastodon_py_posts_replies_favourites_and_reblogs(rt: Runtime, base: str) -> None:
    """Posting with visibility and a content warning, replying, favouriting,
    unfavouriting and reblogging, as Mastodon.py does them; a direct post
    reaches the account it mentions, a followers-only one no stranger."""
    alice, bob = await two_people(rt, base)

    def flow() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        post = alice.status_post("hello @bob", visibility="unlisted", spoiler_text="greeting")
        seen["post"] = post
        direct = alice.status_post("just for @bob", visibility="direct")
        seen["direct"] = bob.status(direct["id"])
        private = alice.status_post("followers only", visibility="private")
        try:
            bob.status(private["id"])
            seen["private"] = "shown"
        except MastodonNotFoundError:
            seen["private"] = "hidden"
        reply = bob.status_post("hi alice", in_reply_to_id=post["id"], visibility="public")
        seen["reply"] = reply
        seen["context"] = alice.status_context(post["id"])
        seen["favourited"] = bob.status_favourite(post["id"])
        seen["favourited_by"] = alice.status_favourited_by(post["id"])
        seen["unfavourited"] = bob.status_unfavourite(post["id"])
        seen["favourited_by_after"] = alice.status_favourited_by(post["id"])
        seen["reblog"] = alice.status_reblog(reply["id"])
        seen["reblogged_by"] = bob.status_reblogged_by(reply["id"])
        seen["unreblog"] = alice.status_unreblog(reply["id"])
        seen["bobs_view"] = bob.status(post["id"])
        return seen

    seen = await deferToThread(flow)
    post, reply = seen["post"], seen["reply"]
    assert post["visibility"] == "unlisted" and post["spoiler_text"] == "greeting"
    assert post["account"]["username"] == "alice"
    assert [m["acct"] for m in post["mentions"]] == ["bob"]
    assert post["content"].startswith('hello <span class="h-card">')
    assert 'href="http://localhost:4000/users/bob"' in post["content"]
    assert seen["direct"]["visibility"] == "direct"
    assert seen["private"] == "hidden"
    assert reply["in_reply_to_id"] == post["id"]
    assert reply["in_reply_to_account_id"] == post["account"]["id"]
    assert [s["id"] for s in seen["context"]["descendants"]] == [reply["id"]]
    favourited = seen["favourited"]
    assert favourited["favourited"] is True and favourited["favourites_count"] == 1
    assert [a["username"] for a in seen["favourited_by"]] == ["bob"]
    assert seen["unfavourited"]["favourited"] is False
    assert seen["unfavourited"]["favourites_count"] == 0
    assert seen["favourited_by_after"] == []
    reblog = seen["reblog"]
    assert reblog["account"]["username"] == "alice"
    assert reblog["reblog"]["id"] == reply["id"] and reblog["reblog"]["reblogged"] is True
    assert [a["username"] for a in seen["reblogged_by"]] == ["alice"]
    assert seen["unreblog"]["reblogged"] is False and seen["unreblog"]["reblogs_count"] == 0
    assert seen["bobs_view"]["replies_count"] == 1


@pytest_twisted.ensureDeferred
async def test_mastodon_py_follows_and_follow_requests(rt: Runtime, base: str) -> None:
    """Following an open account, then a locked one through its follow
    request, with relationships and follower lists along the way."""
    alice, bob = await two_people(rt, base)

    def flow() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        alice_id, bob_id = alice.me()["id"], bob.me()["id"]
        seen["follow"] = alice.account_follow(bob_id)
        seen["relationships"] = alice.account_relationships([bob_id])
        seen["bobs_followers"] = bob.account_followers(bob_id)
        seen["alices_following"] = alice.account_following(alice_id)
        seen["locked"] = alice.account_update_credentials(locked=True)
        seen["request"] = bob.account_follow(alice_id)
        seen["requests"] = alice.follow_requests()
        seen["authorized"] = alice.follow_request_authorize(bob_id)
        seen["requests_after"] = alice.follow_requests()
        seen["bob_to_alice"] = bob.account_relationships(alice_id)
        seen["alices_followers"] = alice.account_followers(alice_id)
        seen["unfollow"] = alice.account_unfollow(bob_id)
        return seen

    seen = await deferToThread(flow)
    assert seen["follow"]["following"] is True and seen["follow"]["requested"] is False
    [relationship] = seen["relationships"]
    assert relationship["following"] is True and relationship["followed_by"] is False
    assert [a["username"] for a in seen["bobs_followers"]] == ["alice"]
    assert [a["username"] for a in seen["alices_following"]] == ["bob"]
    assert seen["locked"]["locked"] is True
    assert seen["request"]["following"] is False and seen["request"]["requested"] is True
    assert [a["username"] for a in seen["requests"]] == ["bob"]
    assert seen["authorized"]["followed_by"] is True
    assert seen["requests_after"] == []
    [bob_to_alice] = seen["bob_to_alice"]
    assert bob_to_alice["following"] is True and bob_to_alice["followed_by"] is True
    assert [a["username"] for a in seen["alices_followers"]] == ["bob"]
    assert seen["unfollow"]["following"] is False


@pytest_twisted.ensureDeferred
async def test_mastodon_py_notifications(rt: Runtime, base: str) -> None:
    """bob's mention, favourite and follow reach alice as notifications she
    can read, fetch one by one, dismiss and clear."""
    alice, bob = await two_people(rt, base)

    def flow() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        alice_id = alice.me()["id"]
        post = alice.status_post("something to like")
        seen["mention_id"] = bob.status_post("hey @alice")["id"]
        bob.status_favourite(post["id"])
        bob.account_follow(alice_id)
        listed = alice.notifications()
        seen["listed"] = listed
        seen["one"] = alice.notifications(id=listed[0]["id"])
        seen["mentions"] = alice.notifications(types=["mention"])
        alice.notifications_dismiss(listed[0]["id"])
        seen["after_dismiss"] = alice.notifications()
        alice.notifications_clear()
        seen["after_clear"] = alice.notifications()
        seen["bobs"] = bob.notifications()
        return seen

    seen = await deferToThread(flow)
    listed = seen["listed"]
    assert [n["type"] for n in listed] == ["follow", "favourite", "mention"]
    assert all(n["account"]["username"] == "bob" for n in listed)
    assert listed[1]["status"]["content"] == "something to like"
    assert [m["username"] for m in listed[2]["status"]["mentions"]] == ["alice"]
    assert listed[2]["status"]["id"] == seen["mention_id"]
    assert seen["one"]["id"] == listed[0]["id"] and seen["one"]["type"] == "follow"
    assert [n["type"] for n in seen["mentions"]] == ["mention"]
    assert [n["id"] for n in seen["after_dismiss"]] == [n["id"] for n in listed[1:]]
    assert seen["after_clear"] == []
    assert seen["bobs"] == []


@pytest_twisted.ensureDeferred
async def test_mastodon_py_media_and_timelines(rt: Runtime, base: str) -> None:
    """A PNG uploaded, described and attached to a post, which then shows in
    the author's statuses and on the home and public timelines."""
    alice, bob = await two_people(rt, base)
    picture = png()

    def flow() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        bob.account_follow(alice.me()["id"])
        uploaded = alice.media_post(picture, mime_type="image/png", description="a red dot")
        seen["uploaded"] = uploaded
        seen["described"] = alice.media_update(uploaded["id"], description="a red square")
        post = alice.status_post("look", media_ids=[uploaded["id"]])
        seen["post"] = post
        # The configured base URL is not this test's port: fetch the path here.
        path = urlsplit(post["media_attachments"][0]["url"]).path
        seen["file"] = requests.get(base + path, timeout=30)
        seen["home"] = bob.timeline_home()
        seen["public"] = bob.timeline_public()
        seen["statuses"] = bob.account_statuses(alice.me()["id"])
        seen["own_home"] = alice.timeline_home()
        return seen

    seen = await deferToThread(flow)
    uploaded = seen["uploaded"]
    assert uploaded["type"] == "image" and uploaded["description"] == "a red dot"
    assert seen["described"]["id"] == uploaded["id"]
    assert seen["described"]["description"] == "a red square"
    [attachment] = seen["post"]["media_attachments"]
    assert attachment["id"] == uploaded["id"] and attachment["description"] == "a red square"
    assert seen["file"].status_code == 200 and seen["file"].content == picture
    post_id = seen["post"]["id"]
    assert [s["id"] for s in seen["home"]] == [post_id]
    assert [s["id"] for s in seen["public"]] == [post_id]
    assert [s["id"] for s in seen["statuses"]] == [post_id]
    assert [s["id"] for s in seen["own_home"]] == [post_id]


@pytest_twisted.ensureDeferred
async def test_mastodon_py_generic_requests_reach_pleroma_endpoints(rt: Runtime, base: str) -> None:
    """Pleroma's own endpoints through Mastodon.py's generic request method:
    the one every method of the library goes through (the token, errors as
    exceptions, the JSON parsed), which 2.3.3 keeps name-mangled."""
    alice, bob = await two_people(rt, base)
    picture = png(8, 8)

    def call(api: Mastodon, method: str, path: str, **kwargs: Any) -> Any:
        response = api._Mastodon__api_request(  # type: ignore[attr-defined]
            method, path, return_response_object=True, **kwargs
        )
        return response.status_code, response.json()

    def flow() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        seen["emoji"] = call(alice, "GET", "/api/pleroma/emoji")
        seen["custom_emojis"] = alice.custom_emojis()
        seen["healthcheck"] = call(alice, "GET", "/api/pleroma/healthcheck")
        seen["default_mascot"] = call(alice, "GET", "/api/v1/pleroma/mascot")
        files = {"file": ("mascot.png", picture, "image/png")}
        seen["set_mascot"] = call(alice, "PUT", "/api/v1/pleroma/mascot", files=files)
        seen["mascot"] = call(alice, "GET", "/api/v1/pleroma/mascot")
        seen["settings"] = call(
            alice, "PUT", "/api/pleroma/notification_settings", params={"non_follows": False}
        )
        seen["me"] = alice.me()
        post = alice.status_post("favourite me")
        bob.status_favourite(post["id"])
        seen["alices_notifications"] = alice.notifications()
        alice.status_post("hey @bob")
        [mention] = bob.notifications()
        seen["before_read"] = mention
        seen["read"] = call(
            bob, "POST", "/api/pleroma/notifications/read", params={"id": mention["id"]}
        )
        seen["after_read"] = bob.notifications(id=mention["id"])
        seen["favourites"] = call(
            alice, "GET", f"/api/v1/pleroma/accounts/{bob.me()['id']}/favourites"
        )
        seen["post"] = post
        return seen

    seen = await deferToThread(flow)
    status, emoji = seen["emoji"]
    assert status == 200
    assert sorted(emoji) == sorted(e["shortcode"] for e in seen["custom_emojis"])
    assert emoji["smile"] == {"image_url": "/emoji/smile.png", "tags": ["Custom"]}
    status, health = seen["healthcheck"]
    assert status == 200 and health["healthy"] is True and health["pool_size"] == 4
    status, mascot = seen["default_mascot"]
    assert status == 200 and mascot["url"].endswith("/images/mascot.png")
    status, chosen = seen["set_mascot"]
    assert status == 200 and chosen["type"] == "image"
    assert chosen["pleroma"]["mime_type"] == "image/png"
    assert seen["mascot"] == (200, chosen)
    assert seen["settings"] == (200, {"status": "success"})
    assert seen["me"]["pleroma"]["notification_settings"]["non_follows"] is False
    # alice follows no one: with non_follows off, bob's favourite stays silent.
    assert seen["alices_notifications"] == []
    assert seen["before_read"]["pleroma"]["is_seen"] is False
    assert seen["read"] == (200, {"status": "success"})
    assert seen["after_read"]["pleroma"]["is_seen"] is True
    status, favourites = seen["favourites"]
    assert status == 200 and [s["id"] for s in favourites] == [seen["post"]["id"]]
