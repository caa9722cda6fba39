"""OAuth (mastodon-subset §1, DECISIONS 1-4, 24, 28): apps, the authorize form,
the token grants, revocation, the session cookie and what each credential
then authorises."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import pytest_twisted
from twisted.internet.task import Clock

from pleromad.domain.oauth import CODE_TTL
from pleromad.model import User
from pleromad.runtime import Runtime
from pleromad.store import users
from pleromad.web.auth import Auth
from pleromad.web.base import Call, api_app, route
from pleromad.web.root import build_gateway
from pleromad.web.site import Gateway
from tests.conftest import Client
from tests.helpers import query

OOB = "urn:ietf:wg:oauth:2.0:oob"
PASSWORD = "correct horse battery"
ALL_SCOPES = "read write follow push"


class Probe:
    """A test-only family: which user (and token) a credential authenticates."""

    app = api_app()

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    @route(app, "/probe/read", "GET", auth=Auth.REQUIRED, scope="read")
    async def read(self, call: Call) -> Any:
        return {"nickname": call.user.nickname, "token": call.viewer.token is not None}

    @route(app, "/probe/write", "POST", auth=Auth.REQUIRED, scope="write")
    async def write(self, call: Call) -> Any:
        return {"nickname": call.user.nickname}


@pytest.fixture
def probe(rt: Runtime, serve: Any) -> Client:
    return serve(Gateway(Probe(rt).app.resource(), 10_000_000), contract=False)


async def body(response: Any) -> Any:
    return json.loads(await response.text("utf-8"))


async def make_user(rt: Runtime, nickname: str = "alice", password: str = PASSWORD) -> User:
    password_hash = await rt.passwords.hash(password)
    return await rt.db.run_interaction(
        "test user",
        users.create_user_txn,
        nickname=nickname,
        email=f"{nickname}@example.org",
        name=None,
        bio="",
        bio_html="",
        password_hash=password_hash,
        ap_id_prefix=rt.config.server.base_url,
    )


async def register(client: Client, **fields: Any) -> dict[str, Any]:
    data = {"client_name": "Test client", "redirect_uris": OOB, "scopes": ALL_SCOPES}
    data.update(fields)
    response = await client.post("/api/v1/apps", data=data)
    assert response.code == 200, await response.text()
    return await body(response)


def client_auth(app: dict[str, Any]) -> dict[str, str]:
    return {"client_id": app["client_id"], "client_secret": app["client_secret"]}


async def token(client: Client, app: dict[str, Any], **fields: str) -> Any:
    data = {"grant_type": "password", "username": "alice", "password": PASSWORD}
    data.update(client_auth(app))
    data.update(fields)
    return await client.post("/oauth/token", data=data)


async def access_token(client: Client, app: dict[str, Any], **fields: str) -> str:
    response = await token(client, app, **fields)
    assert response.code == 200, await response.text()
    return (await body(response))["access_token"]


def bearer(access: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access}"}


async def login(
    client: Client,
    app: dict[str, Any],
    name: str = "alice",
    password: str = PASSWORD,
    **fields: str,
) -> Any:
    """Submit the authorize form as a browser would."""
    data = {
        "authorization[name]": name,
        "authorization[password]": password,
        "authorization[client_id]": app["client_id"],
        "authorization[redirect_uri]": OOB,
        "authorization[response_type]": "code",
        "authorization[scope]": ALL_SCOPES,
    }
    data.update({f"authorization[{k}]": v for k, v in fields.items()})
    return await client.post("/oauth/authorize", data=data, allow_redirects=False)


def oob_code(page: str) -> str:
    match = re.search(r"<code>([^<]+)</code>", page)
    assert match, page
    return match[1]


def session_cookie(response: Any) -> tuple[str, str]:
    """The _pleroma_key value a response set, and its whole Set-Cookie line."""
    (line,) = [
        c
        for c in response.headers.getRawHeaders("set-cookie") or []
        if c.startswith("_pleroma_key=")
    ]
    return line.split(";", 1)[0].split("=", 1)[1], line


def count(dsn: str, table: str) -> int:
    return query(dsn, f"SELECT count(*) FROM {table}")[0][0]


# -- app registration -------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_register_app_with_a_form(client: Client, dsn: str) -> None:
    """A form registration answers id (a string), name, client_id and
    client_secret (43-character URL-safe secrets), redirect_uri as given and
    website; the app keeps its scopes."""
    app = await register(
        client,
        redirect_uris=f"{OOB} https://cb.example/cb",
        scopes="read write",
        website="https://client.example",
    )
    assert set(app) == {"id", "name", "client_id", "client_secret", "redirect_uri", "website"}
    assert isinstance(app["id"], str) and app["id"].isdigit()
    assert app["name"] == "Test client"
    assert app["redirect_uri"] == f"{OOB} https://cb.example/cb"
    assert app["website"] == "https://client.example"
    for secret in (app["client_id"], app["client_secret"]):
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", secret)
    assert query(dsn, "SELECT scopes FROM apps") == [(["read", "write"],)]


@pytest_twisted.ensureDeferred
async def test_register_app_with_json_and_scope_variants(client: Client, dsn: str) -> None:
    """JSON bodies work too (toot); scopes come as a list or a string split on
    whitespace and commas, `scope` is accepted for `scopes`, and absent
    scopes mean ["read"]; an empty website is null."""
    cases = [
        ({"scopes": ["read", "write"]}, ["read", "write"]),
        ({"scope": "read,write  follow"}, ["read", "write", "follow"]),
        ({}, ["read"]),
    ]
    for extra, expected in cases:
        payload = {"client_name": "toot", "redirect_uris": OOB, "website": "", **extra}
        response = await client.post(
            "/api/v1/apps",
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
        )
        assert response.code == 200
        app = await body(response)
        assert app["website"] is None
        assert query(dsn, "SELECT scopes FROM apps WHERE client_id = %s", (app["client_id"],)) == [
            (expected,)
        ]


@pytest_twisted.ensureDeferred
async def test_register_app_refuses_bad_input(client: Client, dsn: str) -> None:
    """Missing name or redirect URIs: 422 "can't be blank" per missing field;
    unknown scopes (sub-scopes included) and relative or fragment redirect
    URIs: 422 naming them; nothing is stored."""
    cases = [
        ({"redirect_uris": OOB}, "can't be blank"),
        ({"client_name": "x", "redirect_uris": "  "}, "can't be blank"),
        ({}, "can't be blank, can't be blank"),
        (
            {"client_name": "x", "redirect_uris": OOB, "scopes": "read admin"},
            "Unknown scope: admin (known scopes: read, write, follow, push)",
        ),
        (
            {"client_name": "x", "redirect_uris": OOB, "scopes": "read:statuses"},
            "Unknown scope: read:statuses (known scopes: read, write, follow, push)",
        ),
        (
            {"client_name": "x", "redirect_uris": "/relative"},
            "Invalid redirect URI: /relative (an absolute URI without a fragment is required)",
        ),
        (
            {"client_name": "x", "redirect_uris": "https://cb.example/#frag"},
            "Invalid redirect URI: https://cb.example/#frag"
            " (an absolute URI without a fragment is required)",
        ),
    ]
    for data, message in cases:
        response = await client.post("/api/v1/apps", data=data)
        assert response.code == 422, data
        assert await body(response) == {"error": message}
    assert count(dsn, "apps") == 0


@pytest_twisted.ensureDeferred
async def test_app_verify_credentials(rt: Runtime, client: Client) -> None:
    """Any token of the app, a user's or an app-only one, tells its name and
    website; no token or a bad one is 403 "Invalid credentials."."""
    await make_user(rt)
    app = await register(client, website="https://client.example")
    user_token = await access_token(client, app)
    response = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials", **client_auth(app)}
    )
    app_token = (await body(response))["access_token"]
    for headers in (bearer(user_token), bearer(app_token)):
        response = await client.get("/api/v1/apps/verify_credentials", headers=headers)
        assert response.code == 200
        assert await body(response) == {"name": "Test client", "website": "https://client.example"}
    response = await client.get(f"/api/v1/apps/verify_credentials?access_token={app_token}")
    assert response.code == 200
    for headers in ({}, bearer("nonsense")):
        response = await client.get("/api/v1/apps/verify_credentials", headers=headers)
        assert response.code == 403
        assert await body(response) == {"error": "Invalid credentials."}


# -- the authorize form -----------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_authorize_form_renders_the_fields(client: Client) -> None:
    """GET /oauth/authorize (also as /oauth/authorize/, as toot asks) shows a
    login form posting authorization[name] and [password] with the client
    id, redirect URI, state, response type and requested scopes hidden."""
    app = await register(client)
    for path in ("/oauth/authorize", "/oauth/authorize/"):
        response = await client.get(
            path,
            params={
                "response_type": "code",
                "redirect_uri": OOB,
                "scope": "read write",
                "client_id": app["client_id"],
                "state": "xyz",
                "force_login": "False",
            },
        )
        assert response.code == 200, path
        assert response.headers.getRawHeaders("content-type") == ["text/html; charset=utf-8"]
        page = await response.text("utf-8")
        assert '<form method="post" action="/oauth/authorize">' in page
        assert 'name="authorization[name]"' in page
        assert 'type="password" name="authorization[password]"' in page
        for field, value in [
            ("client_id", app["client_id"]),
            ("redirect_uri", OOB),
            ("response_type", "code"),
            ("state", "xyz"),
            ("scope", "read write"),
        ]:
            assert f'type="hidden" name="authorization[{field}]" value="{value}"' in page


@pytest_twisted.ensureDeferred
async def test_authorize_form_escapes_hostile_values(client: Client) -> None:
    """The app's name, its redirect URI and the state are escaped in the page."""
    hostile_uri = 'https://cb.example/?q="><script>alert(1)</script>'
    app = await register(
        client, client_name="<img src=x onerror=alert(1)>", redirect_uris=hostile_uri
    )
    response = await client.get(
        "/oauth/authorize",
        params={
            "client_id": app["client_id"],
            "redirect_uri": hostile_uri,
            "state": '"><script>alert(2)</script>',
        },
    )
    assert response.code == 200
    page = await response.text("utf-8")
    assert "<script" not in page and "<img" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert 'value="&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;"' in page


@pytest_twisted.ensureDeferred
async def test_authorize_form_that_cannot_work_is_an_error_page(client: Client) -> None:
    """An unknown client_id, a redirect URI the app did not register, or
    scopes beyond the app's get a 400 page instead of a form."""
    app = await register(client, scopes="read")
    cases = [
        ({"client_id": "nope", "redirect_uri": OOB}, "not registered"),
        ({"client_id": app["client_id"], "redirect_uri": "https://evil.example/"}, "redirect URI"),
        (
            {"client_id": app["client_id"], "redirect_uri": OOB, "scope": "read write"},
            "outside the authorized scopes",
        ),
    ]
    for params, words in cases:
        response = await client.get("/oauth/authorize", params=params)
        assert response.code == 400, params
        page = await response.text("utf-8")
        assert words in page and "<form" not in page


@pytest_twisted.ensureDeferred
async def test_authorize_out_of_band_shows_the_code(rt: Runtime, client: Client) -> None:
    """Logging in for the OOB URI answers a page with the code in <code>; the
    code exchanges once for a token of the requested scopes, and never again."""
    await make_user(rt)
    app = await register(client)
    response = await login(client, app, scope="read follow")
    assert response.code == 200
    code = oob_code(await response.text("utf-8"))
    exchange = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": OOB,
        **client_auth(app),
    }
    response = await client.post("/oauth/token", data=exchange)
    assert response.code == 200
    granted = await body(response)
    assert granted["scope"] == "read follow"
    assert granted["me"] == f"{rt.config.server.base_url}/users/alice"
    response = await client.post("/oauth/token", data=exchange)
    assert response.code == 400
    assert await body(response) == {"error": "Invalid credentials"}


@pytest_twisted.ensureDeferred
async def test_authorize_redirects_with_code_and_state(rt: Runtime, client: Client) -> None:
    """With a registered redirect URI the form answers 302 there, with code
    and state merged into the URI's own query."""
    await make_user(rt)
    uri = "https://cb.example/done?keep=1&state=old"
    app = await register(client, redirect_uris=f"{OOB} {uri}")
    response = await login(client, app, redirect_uri=uri, state="s t&ate")
    assert response.code == 302
    (location,) = response.headers.getRawHeaders("location")
    parts = urlsplit(location)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "cb.example", "/done")
    fields = parse_qs(parts.query)
    assert fields["keep"] == ["1"] and fields["state"] == ["s t&ate"]
    response = await client.post(
        "/oauth/token",
        data={"grant_type": "authorization_code", "code": fields["code"][0], **client_auth(app)},
    )
    assert response.code == 200


@pytest_twisted.ensureDeferred
async def test_authorize_accepts_the_reference_form_and_default_scopes(
    rt: Runtime, client: Client
) -> None:
    """The reference's form fields (a blank authorization[scope][] plus one
    per checked scope) work, and a form without scopes grants all the app's."""
    await make_user(rt)
    app = await register(client)
    base = {
        "authorization[name]": "alice",
        "authorization[password]": PASSWORD,
        "authorization[client_id]": app["client_id"],
        "authorization[redirect_uri]": OOB,
    }
    for extra, expected in [
        ({"authorization[scope][]": ["", "read", "push"]}, "read push"),
        ({}, ALL_SCOPES),
    ]:
        response = await client.post("/oauth/authorize", data={**base, **extra})
        assert response.code == 200
        code = oob_code(await response.text("utf-8"))
        response = await client.post(
            "/oauth/token",
            data={"grant_type": "authorization_code", "code": code, **client_auth(app)},
        )
        assert (await body(response))["scope"] == expected


@pytest_twisted.ensureDeferred
async def test_authorize_bad_password_rerenders_the_form(
    rt: Runtime, client: Client, dsn: str
) -> None:
    """A wrong password answers 401 with the form again, "Invalid
    Username/Password", the name kept and the password not; no code exists."""
    await make_user(rt)
    app = await register(client)
    response = await login(client, app, password="wrong-secret", state="st")
    assert response.code == 401
    page = await response.text("utf-8")
    assert "Invalid Username/Password" in page
    assert 'name="authorization[name]" value="alice"' in page
    assert 'name="authorization[state]" value="st"' in page
    assert "wrong-secret" not in page
    assert response.headers.getRawHeaders("set-cookie") is None
    assert count(dsn, "oauth_authorizations") == 0 and count(dsn, "oauth_tokens") == 0


@pytest_twisted.ensureDeferred
async def test_authorize_scope_problems_are_401(rt: Runtime, client: Client, dsn: str) -> None:
    """Scopes beyond the app's are refused with 401 "This action is outside
    the authorized scopes" and no code."""
    await make_user(rt)
    app = await register(client, scopes="read")
    response = await login(client, app, scope="read write")
    assert response.code == 401
    assert "This action is outside the authorized scopes" in await response.text("utf-8")
    assert count(dsn, "oauth_authorizations") == 0


@pytest_twisted.ensureDeferred
async def test_authorize_refuses_a_disabled_account(rt: Runtime, client: Client, dsn: str) -> None:
    """A deactivated account's right password gets 403 "Your account is
    currently disabled" and no code."""
    user = await make_user(rt)
    await rt.db.run_interaction("disable", users.update_user_txn, user.id, deactivated=True)
    app = await register(client)
    response = await login(client, app)
    assert response.code == 403
    assert "Your account is currently disabled" in await response.text("utf-8")
    assert count(dsn, "oauth_authorizations") == 0


# -- the session cookie -----------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_form_login_sets_the_cookie_that_authenticates(
    rt: Runtime, client: Client, probe: Client
) -> None:
    """A form login sets _pleroma_key (HttpOnly; SameSite=Lax; Path=/, no
    Secure over http); the cookie authenticates like a token of the granted
    scopes; a cookie-authenticated POST from a foreign Origin is 403, from
    our own origin (or none) it passes."""
    await make_user(rt)
    app = await register(client)
    response = await login(client, app, scope="read write")
    value, line = session_cookie(response)
    assert line == f"_pleroma_key={value}; HttpOnly; SameSite=Lax; Path=/"
    cookie = {"Cookie": f"_pleroma_key={value}"}

    response = await probe.get("/probe/read", headers=cookie)
    assert response.code == 200
    assert await body(response) == {"nickname": "alice", "token": True}
    response = await probe.post(
        "/probe/write", headers={**cookie, "Origin": "https://evil.example"}
    )
    assert response.code == 403
    for headers in ({**cookie, "Origin": rt.config.server.base_url}, cookie):
        response = await probe.post("/probe/write", headers=headers)
        assert response.code == 200
    forged = {"Cookie": f"_pleroma_key={value[:-2]}xx"}
    assert (await probe.get("/probe/read", headers=forged)).code == 403


@pytest_twisted.ensureDeferred
async def test_cookie_is_secure_under_https(rt: Runtime, serve: Any) -> None:
    """With an https base_url the cookie carries Secure too."""
    config = replace(rt.config, server=replace(rt.config.server, base_url="https://social.example"))
    client = serve(build_gateway(replace(rt, config=config)))
    await make_user(rt)
    app = await register(client)
    _, line = session_cookie(await login(client, app))
    assert line.endswith("; HttpOnly; SameSite=Lax; Path=/; Secure")


@pytest_twisted.ensureDeferred
async def test_sign_out_kills_the_cookie(rt: Runtime, client: Client, probe: Client) -> None:
    """DELETE /auth/sign_out answers 200 {}, expires the cookie and revokes
    its session at once; a foreign Origin may not sign anyone out."""
    await make_user(rt)
    app = await register(client)
    value, _ = session_cookie(await login(client, app))
    cookie = {"Cookie": f"_pleroma_key={value}"}
    response = await client.request(
        "DELETE", "/auth/sign_out", headers={**cookie, "Origin": "https://evil.example"}
    )
    assert response.code == 403
    assert (await probe.get("/probe/read", headers=cookie)).code == 200

    response = await client.request("DELETE", "/auth/sign_out", headers=cookie)
    assert response.code == 200
    assert await body(response) == {}
    _, line = session_cookie(response)
    assert line.startswith("_pleroma_key=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT")
    response = await probe.get("/probe/read", headers=cookie)
    assert response.code == 403
    assert await body(response) == {"error": "Invalid credentials."}
    # Without a cookie there is nothing to do, and that is fine too.
    assert (await client.post("/auth/sign_out")).code == 200


@pytest_twisted.ensureDeferred
async def test_new_form_login_replaces_the_old_session(
    rt: Runtime, client: Client, probe: Client, dsn: str
) -> None:
    """Logging in again from a browser that holds a cookie revokes the old one."""
    await make_user(rt)
    app = await register(client)
    old, _ = session_cookie(await login(client, app))
    data = {
        "authorization[name]": "alice",
        "authorization[password]": PASSWORD,
        "authorization[client_id]": app["client_id"],
        "authorization[redirect_uri]": OOB,
    }
    response = await client.post(
        "/oauth/authorize", data=data, headers={"Cookie": f"_pleroma_key={old}"}
    )
    new, _ = session_cookie(response)
    assert (await probe.get("/probe/read", headers={"Cookie": f"_pleroma_key={old}"})).code == 403
    assert (await probe.get("/probe/read", headers={"Cookie": f"_pleroma_key={new}"})).code == 200
    assert count(dsn, "sessions") == 1


# -- credentials on other routes --------------------------------------------


@pytest_twisted.ensureDeferred
async def test_bearer_basic_and_scopes(rt: Runtime, client: Client, probe: Client) -> None:
    """A token authenticates as a Bearer header or access_token parameter
    within its scopes (403 "Insufficient permissions: write." beyond them);
    HTTP Basic with the password has every scope."""
    await make_user(rt)
    app = await register(client)
    read_only = await access_token(client, app, scope="read")
    assert (await probe.get("/probe/read", headers=bearer(read_only))).code == 200
    assert (await probe.get(f"/probe/read?access_token={read_only}")).code == 200
    response = await probe.post("/probe/write", headers=bearer(read_only))
    assert response.code == 403
    assert await body(response) == {"error": "Insufficient permissions: write."}
    response = await probe.post("/probe/write", auth=("alice", PASSWORD))
    assert response.code == 200
    response = await probe.get("/probe/read", auth=("alice", "wrong"))
    assert response.code == 403


# -- grants -----------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_password_grant(rt: Runtime, client: Client) -> None:
    """The password grant answers a Bearer token with every granted scope in
    `scope`, created_at, a long expires_in and `me`; scopes default to the
    app's; the client may authenticate with HTTP Basic (URL-encoded parts)."""
    await make_user(rt)
    app = await register(client)
    response = await token(client, app)
    assert response.code == 200
    granted = await body(response)
    assert set(granted) == {
        "token_type",
        "access_token",
        "refresh_token",
        "expires_in",
        "scope",
        "created_at",
        "me",
    }
    assert granted["token_type"] == "Bearer"
    assert granted["scope"] == ALL_SCOPES
    assert granted["me"] == f"{rt.config.server.base_url}/users/alice"
    assert granted["expires_in"] >= 365 * 24 * 3600
    assert isinstance(granted["created_at"], int)
    assert granted["access_token"] != granted["refresh_token"]

    basic = base64.b64encode(
        f"{quote(app['client_id'])}:{quote(app['client_secret'])}".encode()
    ).decode()
    response = await client.post(
        "/oauth/token",
        data={
            "grant_type": "password",
            "username": "alice@example.org",
            "password": PASSWORD,
            "scope": "read,write",
        },
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.code == 200
    assert (await body(response))["scope"] == "read write"


@pytest_twisted.ensureDeferred
async def test_token_endpoint_failures(rt: Runtime, client: Client, dsn: str) -> None:
    """Wrong client secret, unknown client, wrong password and scopes beyond
    the app's are 400 "Invalid credentials"; a missing or unknown grant_type
    400 "Bad request"; no token is created."""
    await make_user(rt)
    app = await register(client, scopes="read")
    other = await register(client)
    cases = [
        ({"client_secret": other["client_secret"]}, "Invalid credentials"),
        ({"client_secret": app["client_secret"][:-1]}, "Invalid credentials"),
        ({"client_secret": ""}, "Invalid credentials"),
        ({"client_id": "unknown"}, "Invalid credentials"),
        ({"password": "wrong"}, "Invalid credentials"),
        ({"scope": "read write"}, "Invalid credentials"),
        ({"grant_type": "implicit"}, "Bad request"),
        ({"grant_type": ""}, "Bad request"),
        ({"grant_type": "refresh_token"}, "Bad request"),
    ]
    for fields, message in cases:
        response = await token(client, app, **fields)
        assert response.code == 400, fields
        assert await body(response) == {"error": message}, fields
    response = await client.post("/oauth/token", data=client_auth(app))
    assert await body(response) == {"error": "Bad request"}
    assert count(dsn, "oauth_tokens") == 0


@pytest_twisted.ensureDeferred
async def test_code_grant_failures(rt: Runtime, serve: Callable[..., Client], clock: Clock) -> None:
    """A code is refused by another app, with another redirect URI, or once
    CODE_TTL has passed by the runtime's clock; a refused exchange leaves a
    live code usable."""
    rt = replace(rt, clock=clock)
    client = serve(build_gateway(rt))
    await make_user(rt)
    app = await register(client)
    other = await register(client)
    code = oob_code(await (await login(client, app)).text("utf-8"))

    async def exchange(client_app: dict[str, Any], **extra: str) -> Any:
        return await client.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                **client_auth(client_app),
                **extra,
            },
        )

    for response in (
        await exchange(other),
        await exchange(app, redirect_uri="https://elsewhere.example/"),
        await client.post(
            "/oauth/token",
            data={"grant_type": "authorization_code", "code": "garbage!", **client_auth(app)},
        ),
    ):
        assert response.code == 400
        assert await body(response) == {"error": "Invalid credentials"}
    clock.advance(CODE_TTL - 1)
    assert (await exchange(app)).code == 200

    code = oob_code(await (await login(client, app)).text("utf-8"))
    clock.advance(CODE_TTL)
    response = await exchange(app)
    assert response.code == 400


@pytest_twisted.ensureDeferred
async def test_client_credentials_grant(rt: Runtime, client: Client, probe: Client) -> None:
    """client_credentials gives an app-only token of all the app's scopes, with
    no `me`; it is nobody on routes that need a user."""
    app = await register(client, scopes="read write")
    response = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "push", **client_auth(app)},
    )
    assert response.code == 200
    granted = await body(response)
    assert "me" not in granted
    assert granted["scope"] == "read write"
    response = await probe.get("/probe/read", headers=bearer(granted["access_token"]))
    assert response.code == 403


@pytest_twisted.ensureDeferred
async def test_refresh_rotates_both_tokens(rt: Runtime, client: Client, probe: Client) -> None:
    """A refresh answers a new access and refresh token for the same account
    and scopes; the old access and refresh tokens die; only the issuing app
    may refresh."""
    await make_user(rt)
    app = await register(client)
    other = await register(client)
    first = await body(await token(client, app, scope="read"))

    refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    response = await client.post("/oauth/token", data={**refresh, **client_auth(other)})
    assert response.code == 400
    response = await client.post("/oauth/token", data={**refresh, **client_auth(app)})
    assert response.code == 200
    second = await body(response)
    assert second["scope"] == "read" and second["me"] == first["me"]
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    assert (await probe.get("/probe/read", headers=bearer(first["access_token"]))).code == 403
    assert (await probe.get("/probe/read", headers=bearer(second["access_token"]))).code == 200
    response = await client.post("/oauth/token", data={**refresh, **client_auth(app)})
    assert response.code == 400
    assert await body(response) == {"error": "Invalid credentials"}


@pytest_twisted.ensureDeferred
async def test_revoke(rt: Runtime, client: Client, probe: Client) -> None:
    """Revocation answers 200 {} whenever a token is given, but deletes it only
    for the app it belongs to; without a token it is 400 "Bad request"."""
    await make_user(rt)
    app = await register(client)
    other = await register(client)
    access = await access_token(client, app)

    response = await client.post("/oauth/revoke", data={"token": access, **client_auth(other)})
    assert response.code == 200 and await body(response) == {}
    assert (await probe.get("/probe/read", headers=bearer(access))).code == 200
    response = await client.post("/oauth/revoke", data={"token": access, "client_id": "x"})
    assert response.code == 200 and await body(response) == {}
    assert (await probe.get("/probe/read", headers=bearer(access))).code == 200

    response = await client.post("/oauth/revoke", data={"token": access, **client_auth(app)})
    assert response.code == 200 and await body(response) == {}
    assert (await probe.get("/probe/read", headers=bearer(access))).code == 403

    response = await client.post("/oauth/revoke", data=client_auth(app))
    assert response.code == 400
    assert await body(response) == {"error": "Bad request"}


@pytest_twisted.ensureDeferred
async def test_disabled_account_gets_no_token_and_loses_its_own(
    rt: Runtime, client: Client, probe: Client
) -> None:
    """Deactivating an account refuses the password grant with 403 "Your
    account is currently disabled", stops its existing token at once, and
    refuses the exchange of a code it obtained before (DECISIONS 4)."""
    user = await make_user(rt)
    app = await register(client)
    access = await access_token(client, app)
    code = oob_code(await (await login(client, app)).text("utf-8"))
    await rt.db.run_interaction("disable", users.update_user_txn, user.id, deactivated=True)

    response = await token(client, app)
    assert response.code == 403
    assert await body(response) == {"error": "Your account is currently disabled"}
    assert (await probe.get("/probe/read", headers=bearer(access))).code == 403
    response = await client.post(
        "/oauth/token",
        data={"grant_type": "authorization_code", "code": code, **client_auth(app)},
    )
    assert response.code == 403
    assert await body(response) == {"error": "Your account is currently disabled"}


@pytest_twisted.ensureDeferred
async def test_unconfirmed_account_is_refused_when_activation_is_required(
    rt: Runtime, serve: Any
) -> None:
    """With account_activation_required an unconfirmed account gets 403 "Your
    login is missing a confirmed e-mail address" from the password grant."""
    config = replace(
        rt.config, instance=replace(rt.config.instance, account_activation_required=True)
    )
    client = serve(build_gateway(replace(rt, config=config)))
    user = await make_user(rt)
    await rt.db.run_interaction(
        "unconfirm", users.update_user_txn, user.id, confirmation_pending=True
    )
    app = await register(client)
    response = await token(client, app)
    assert response.code == 403
    assert await body(response) == {"error": "Your login is missing a confirmed e-mail address"}


@pytest_twisted.ensureDeferred
async def test_failed_logins_share_one_limit(rt: Runtime, serve: Any) -> None:
    """Failures at the authorize form and the password grant count against one
    failed_login limit; once it is reached even the right password gets 429,
    at both."""
    config = replace(rt.config, rate_limits=replace(rt.config.rate_limits, failed_login=(3, 60)))
    limited = replace(rt, config=config)
    limited = replace(limited, limiter=type(rt.limiter)(config.rate_limits, rt.db, rt.clock))
    client = serve(build_gateway(limited))
    await make_user(rt)
    app = await register(client)

    assert (await login(client, app, password="wrong")).code == 401
    assert (await token(client, app, password="wrong")).code == 400
    assert (await login(client, app, password="wrong")).code == 401

    response = await token(client, app)
    assert response.code == 429
    assert await body(response) == {"error": "Throttled"}
    assert response.headers.getRawHeaders("x-ratelimit-limit") == ["3"]
    response = await login(client, app)
    assert response.code == 429
    assert response.headers.getRawHeaders("content-type") == ["text/html; charset=utf-8"]
    assert response.headers.getRawHeaders("set-cookie") is None


@pytest_twisted.ensureDeferred
async def test_text_postgresql_cannot_hold_is_a_400(rt: Runtime, client: Client, dsn: str) -> None:
    """A NUL character, or an unpaired surrogate in a JSON body, is 400
    "Invalid characters in NAME" at every OAuth endpoint, never a 500."""
    await make_user(rt)
    app = await register(client)
    cases = [
        ("/api/v1/apps", {"client_name": "a\x00b", "redirect_uris": OOB}, "client_name"),
        (
            "/oauth/token",
            {
                "grant_type": "password",
                "username": "alice\x00",
                "password": "x",
                **client_auth(app),
            },
            "username",
        ),
        (
            "/oauth/token",
            {"grant_type": "client_credentials", "client_id": "a\x00", "client_secret": "x"},
            "client_id",
        ),
        ("/oauth/revoke", {"token": "t", "client_id": "\x00"}, "client_id"),
        ("/oauth/authorize", {"authorization[client_id]": "a\x00"}, "authorization"),
    ]
    for path, data, name in cases:
        response = await client.post(path, data=data)
        assert response.code == 400, path
        assert await body(response) == {"error": f"Invalid characters in {name}"}
    response = await client.post(
        "/api/v1/apps",
        data=b'{"client_name": "\\ud800", "redirect_uris": "urn:x"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.code == 400
    response = await client.get("/oauth/authorize", params={"client_id": "\x00"})
    assert response.code == 400
    assert count(dsn, "apps") == 1 and count(dsn, "oauth_tokens") == 0
