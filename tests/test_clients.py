"""A real client library, unmodified, drives the daemon end to end.

Mastodon.py is synchronous (requests); it runs in a thread against the
daemon's tree served on a loopback port, while the reactor serves it.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest
import pytest_twisted
import requests
from mastodon import Mastodon, MastodonAPIError, MastodonIllegalArgumentError
from twisted.internet.threads import deferToThread

from pleromad.runtime import Runtime
from pleromad.store import users
from tests.conftest import Client

OOB = "urn:ietf:wg:oauth:2.0:oob"
SCOPES = ["read", "write", "follow", "push"]


async def make_user(rt: Runtime, nickname: str, password: str) -> None:
    await rt.db.run_interaction(
        "user", users.create_user_txn, nickname=nickname, email=f"{nickname}@example.org",
        name=nickname.title(), bio="", bio_html="",
        password_hash=await rt.passwords.hash(password), ap_id_prefix=rt.config.server.base_url,
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


def browser_login(session: requests.Session, url: str, name: str, password: str) -> requests.Response:
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
        browser_login(browser, api.auth_request_url(redirect_uris=OOB, scopes=SCOPES),
                      "alice", "correct horse")
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
