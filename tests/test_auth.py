"""Authentication: password hashes, the portal, and how requests present credentials."""

from __future__ import annotations

import base64
import time
from dataclasses import replace
from typing import Any

import pytest
import pytest_twisted
from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.error import UnauthorizedLogin
from zope.interface.verify import verifyObject

from pleromad.auth.credentials import BearerToken, LoginPassword, SessionCookie
from pleromad.auth.passwords import PasswordHasher, pbkdf2_hash
from pleromad.auth.realm import (
    Grant,
    IViewer,
    PasswordChecker,
    Realm,
    SessionChecker,
    TokenChecker,
)
from pleromad.domain.login import login_refusal
from pleromad.model import IssuedToken, User
from pleromad.runtime import Runtime
from pleromad.store import oauth, users
from pleromad.web.auth import Auth, portal_of, sign_cookie, verify_cookie
from pleromad.web.base import Call, api_app, route
from pleromad.web.root import RouteTable
from pleromad.web.site import Gateway
from tests.conftest import Client
from tests.helpers import eventually


async def make_user(
    rt: Runtime, nickname: str = "alice", password: str = "hunter2", **kw: Any
) -> User:
    password_hash = await rt.passwords.hash(password)
    return await rt.db.run_interaction(
        "user",
        users.create_user_txn,
        nickname=nickname,
        email=f"{nickname}@example.org",
        name=None,
        bio="",
        bio_html="",
        password_hash=password_hash,
        ap_id_prefix=rt.config.server.base_url,
        **kw,
    )


async def make_token(rt: Runtime, user: User | None, scopes: list[str]) -> IssuedToken:
    app = await rt.db.run_interaction(
        "app", oauth.create_app_txn, "test", "urn:ietf:wg:oauth:2.0:oob", scopes, None
    )
    return await rt.db.run_interaction(
        "token", oauth.create_token_txn, app.id, user.id if user else None, scopes
    )


# -- passwords ---------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_argon2id_hashes_verify() -> None:
    """New hashes are argon2id; the right password verifies, a wrong one does not."""
    hasher = PasswordHasher()
    stored = await hasher.hash("correct horse")
    assert stored.startswith("$argon2id$")
    assert (await hasher.verify(stored, "correct horse")).ok
    assert not (await hasher.verify(stored, "wrong")).ok


@pytest_twisted.ensureDeferred
async def test_pleroma_pbkdf2_hashes_verify_and_ask_for_upgrade() -> None:
    """A migrated Pleroma hash logs in and is marked for replacement."""
    stored = pbkdf2_hash("secret", b"0123456789abcdef", rounds=1000)
    verdict = await PasswordHasher().verify(stored, "secret")
    assert verdict.ok and verdict.needs_rehash
    assert not (await PasswordHasher().verify(stored, "Secret")).ok
    assert not (await PasswordHasher().verify("$pbkdf2-sha512$x$y$z", "secret")).ok


@pytest_twisted.ensureDeferred
async def test_unknown_account_costs_a_verification() -> None:
    """Checking against no hash takes about as long as a wrong password."""
    hasher = PasswordHasher()
    stored = await hasher.hash("pw")
    await hasher.verify(None, "warm up the dummy hash")
    started = time.monotonic()
    await hasher.verify(stored, "wrong")
    real = time.monotonic() - started
    started = time.monotonic()
    assert not (await hasher.verify(None, "anything")).ok
    dummy = time.monotonic() - started
    assert dummy > real / 3


@pytest_twisted.ensureDeferred
async def test_hashing_does_not_block_the_reactor() -> None:
    """While hashes are computed, the reactor keeps turning (they run in threads)."""
    hasher = PasswordHasher()
    ticks = 0

    def tick() -> None:
        nonlocal ticks
        ticks += 1

    from twisted.internet.task import LoopingCall

    loop = LoopingCall(tick)
    loop.start(0.005)
    try:
        started = time.monotonic()
        for _ in range(4):
            await hasher.hash("pw")
        elapsed = time.monotonic() - started
    finally:
        loop.stop()
    assert ticks >= elapsed / 0.005 / 4


@pytest_twisted.ensureDeferred
async def test_login_upgrades_an_old_hash(rt: Runtime) -> None:
    """After a successful login with a pbkdf2 hash the account holds an argon2id hash."""
    from pleromad.domain.login import verify_login

    user = await make_user(rt)
    await rt.db.run_interaction(
        "old hash",
        users.update_user_txn,
        user.id,
        password_hash=pbkdf2_hash("legacy", b"saltsaltsaltsalt", rounds=1000),
    )
    logged_in = await verify_login(rt, "ALICE", "legacy", "ip:1")
    assert logged_in.id == user.id
    assert logged_in.password_hash.startswith("$argon2id$")
    assert (await rt.passwords.verify(logged_in.password_hash, "legacy")).ok


# -- the portal ---------------------------------------------------------------


def test_checkers_provide_the_interface(rt: Runtime) -> None:
    """Each checker is a twisted.cred ICredentialsChecker."""
    for checker in (TokenChecker(rt), SessionChecker(rt), PasswordChecker(rt)):
        assert verifyObject(ICredentialsChecker, checker)


@pytest_twisted.ensureDeferred
async def test_portal_accepts_each_method(rt: Runtime) -> None:
    """A token, a cookie session and nickname-or-email + password each yield the user."""
    user = await make_user(rt)
    issued = await make_token(rt, user, ["read"])
    session = await rt.db.run_interaction("session", oauth.create_session_txn, issued.token.id)
    for credentials in (
        BearerToken(issued.access_token),
        SessionCookie(session),
        LoginPassword("alice", "hunter2", "ip:1"),
        LoginPassword("Alice@Example.org", "hunter2", "ip:1"),
    ):
        interface, viewer, _ = await portal_of(rt).login(credentials, None, IViewer)
        assert interface is IViewer and viewer.user.id == user.id


@pytest_twisted.ensureDeferred
async def test_portal_refuses_bad_credentials(rt: Runtime) -> None:
    """Unknown tokens, sessions and wrong passwords are refused."""
    await make_user(rt)
    for credentials in (
        BearerToken("nope"),
        SessionCookie("nope"),
        LoginPassword("alice", "wrong", "ip:1"),
        LoginPassword("nobody", "hunter2", "ip:1"),
    ):
        with pytest.raises(UnauthorizedLogin):
            await portal_of(rt).login(credentials, None, IViewer)


@pytest.mark.parametrize("change", [{"deactivated": True}, {"confirmation_pending": True}])
@pytest_twisted.ensureDeferred
async def test_portal_locks_out_inactive_accounts_on_every_method(
    rt: Runtime, change: dict[str, bool]
) -> None:
    """Deactivated, and unconfirmed where confirmation is required, accounts get
    nothing from any method, at once."""
    rt = replace(
        rt,
        config=replace(
            rt.config, instance=replace(rt.config.instance, account_activation_required=True)
        ),
    )
    user = await make_user(rt)
    issued = await make_token(rt, user, ["read"])
    session = await rt.db.run_interaction("session", oauth.create_session_txn, issued.token.id)
    await rt.db.run_interaction("lock", users.update_user_txn, user.id, **change)
    for credentials in (
        BearerToken(issued.access_token),
        SessionCookie(session),
        LoginPassword("alice", "hunter2", "ip:1"),
    ):
        with pytest.raises(UnauthorizedLogin):
            await portal_of(rt).login(credentials, None, IViewer)


def interactions(rt: Runtime, description: str) -> float:
    """How many database calls named ``description`` the runtime made."""
    found = rt.db.metrics.registry.get_sample_value(
        "pleromad_db_interaction_duration_seconds_count", {"description": description}
    )
    return found or 0.0


@pytest_twisted.ensureDeferred
async def test_a_token_or_cookie_and_its_account_are_one_query(rt: Runtime) -> None:
    """A bearer token or cookie session is checked, and its account read, by
    one statement outside any transaction; the realm reads nothing more."""
    user = await make_user(rt)
    issued = await make_token(rt, user, ["read"])
    session = await rt.db.run_interaction("session", oauth.create_session_txn, issued.token.id)
    for credentials, lookup in (
        (BearerToken(issued.access_token), "token lookup"),
        (SessionCookie(session), "session lookup"),
    ):
        _, viewer, _ = await portal_of(rt).login(credentials, None, IViewer)
        assert viewer.user == user and viewer.token == issued.token
        assert interactions(rt, lookup) == 1
    assert interactions(rt, "viewer") == 0


@pytest_twisted.ensureDeferred
async def test_a_grant_naming_only_an_account_is_read_and_judged(rt: Runtime) -> None:
    """A plugin's checker may vouch for an account id alone: the realm reads
    the account, and refuses it when it may not log in."""
    user = await make_user(rt)
    realm = Realm(rt, login_refusal)
    _, viewer, _ = await realm.requestAvatar(Grant(user.id, None), None, IViewer)
    assert viewer.user == user and interactions(rt, "viewer") == 1
    await rt.db.run_interaction("lock", users.update_user_txn, user.id, deactivated=True)
    with pytest.raises(UnauthorizedLogin):
        await realm.requestAvatar(Grant(user.id, None), None, IViewer)


@pytest_twisted.ensureDeferred
async def test_app_only_token_is_a_viewer_without_user(rt: Runtime) -> None:
    """A client_credentials token authenticates an app, not a user."""
    issued = await make_token(rt, None, ["read", "write"])
    _, viewer, _ = await portal_of(rt).login(BearerToken(issued.access_token), None, IViewer)
    assert viewer.user is None and viewer.allows("write")


def test_cookie_signature() -> None:
    """A cookie's MAC must match the secret; a tampered cookie is refused."""
    value = sign_cookie(b"k" * 32, "abc.def")
    assert verify_cookie(b"k" * 32, value) == "abc.def"
    assert verify_cookie(b"x" * 32, value) is None
    assert verify_cookie(b"k" * 32, value[:-1] + ("0" if value[-1] != "0" else "1")) is None
    assert verify_cookie(b"k" * 32, "no-mac") is None


# -- requests -----------------------------------------------------------------


class Whoami:
    """Routes that show what authentication gave them."""

    app = api_app()

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    @route(app, "/t/required", "GET", "POST", auth=Auth.REQUIRED, scope="write")
    async def required(self, call: Call) -> Any:
        return {"nickname": call.user.nickname}

    @route(app, "/t/optional", "GET", auth=Auth.OPTIONAL)
    async def optional(self, call: Call) -> Any:
        return {"nickname": call.viewer.user.nickname if call.viewer else None}

    @route(app, "/t/public", "GET", auth=Auth.READ_OR_PUBLIC)
    async def public(self, call: Call) -> Any:
        return {"nickname": call.viewer.user.nickname if call.viewer else None}

    @route(app, "/t/app", "POST", auth=Auth.APP)
    async def app_only(self, call: Call) -> Any:
        return {"app": call.viewer.token.app_id}


@pytest.fixture
def whoami(rt: Runtime, serve: Any) -> Client:
    tree = RouteTable([Whoami(rt)])
    return serve(Gateway(tree, 1_000_000), contract=False)


def basic(user: str, password: str) -> dict[str, str]:
    encoded = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


@pytest_twisted.ensureDeferred
async def test_every_credential_form_reaches_a_route(rt: Runtime, whoami: Client) -> None:
    """Bearer header (any case, optional colon), access_token parameter, cookie and
    Basic all authenticate."""
    user = await make_user(rt)
    issued = await make_token(rt, user, ["read", "write"])
    session = await rt.db.run_interaction("session", oauth.create_session_txn, issued.token.id)
    cookie = sign_cookie(rt.cookie_secret, session)
    for kwargs in (
        {"headers": {"Authorization": f"Bearer {issued.access_token}"}},
        {"headers": {"Authorization": f"bearer: {issued.access_token}"}},
        {"params": {"access_token": issued.access_token}},
        {"cookies": {"_pleroma_key": cookie}},
        {"headers": basic("alice", "hunter2")},
    ):
        response = await whoami.get("/t/required", **kwargs)
        assert response.code == 200, kwargs
        assert await response.json() == {"nickname": "alice"}


@pytest_twisted.ensureDeferred
async def test_missing_or_bad_credentials_are_403(rt: Runtime, whoami: Client) -> None:
    """No credentials, or bad ones, on a route that needs a user: 403 Invalid credentials."""
    await make_user(rt)
    for kwargs in (
        {},
        {"headers": {"Authorization": "Bearer nope"}},
        {"headers": basic("alice", "wrong")},
        {"headers": {"Authorization": "Basic !!!notbase64"}},
        {"cookies": {"_pleroma_key": "forged.0000"}},
    ):
        response = await whoami.get("/t/required", **kwargs)
        assert response.code == 403, kwargs
        assert await response.json() == {"error": "Invalid credentials."}


@pytest_twisted.ensureDeferred
async def test_scopes_limit_tokens_not_passwords(rt: Runtime, whoami: Client) -> None:
    """A token without the route's scope gets 403 Insufficient permissions; Basic has no scopes."""
    user = await make_user(rt)
    issued = await make_token(rt, user, ["read"])
    response = await whoami.get(
        "/t/required", headers={"Authorization": f"Bearer {issued.access_token}"}
    )
    assert response.code == 403
    assert await response.json() == {"error": "Insufficient permissions: write."}
    response = await whoami.get("/t/required", headers=basic("alice", "hunter2"))
    assert response.code == 200


@pytest_twisted.ensureDeferred
async def test_header_wins_over_access_token_parameter(rt: Runtime, whoami: Client) -> None:
    """With both a Bearer header and an access_token parameter, the header decides."""
    alice = await make_user(rt)
    bob = await make_user(rt, "bob")
    alice_token = await make_token(rt, alice, ["read", "write"])
    bob_token = await make_token(rt, bob, ["read", "write"])
    response = await whoami.get(
        "/t/required",
        headers={"Authorization": f"Bearer {alice_token.access_token}"},
        params={"access_token": bob_token.access_token},
    )
    assert await response.json() == {"nickname": "alice"}


@pytest_twisted.ensureDeferred
async def test_optional_and_public_routes(rt: Runtime, whoami: Client) -> None:
    """Optional routes serve anonymous callers; read-or-public ones drop a token
    lacking read instead of failing."""
    user = await make_user(rt)
    write_only = await make_token(rt, user, ["write"])
    auth = {"Authorization": f"Bearer {write_only.access_token}"}
    assert await (await whoami.get("/t/optional")).json() == {"nickname": None}
    assert await (await whoami.get("/t/optional", headers=auth)).json() == {"nickname": "alice"}
    assert await (await whoami.get("/t/public", headers=auth)).json() == {"nickname": None}


@pytest_twisted.ensureDeferred
async def test_app_routes_need_an_app_token(rt: Runtime, whoami: Client) -> None:
    """Routes for apps accept a client_credentials token and refuse a user's."""
    user = await make_user(rt)
    app_token = await make_token(rt, None, ["read", "write"])
    user_token = await make_token(rt, user, ["read", "write"])
    ok = await whoami.post("/t/app", headers={"Authorization": f"Bearer {app_token.access_token}"})
    assert ok.code == 200
    refused = await whoami.post(
        "/t/app", headers={"Authorization": f"Bearer {user_token.access_token}"}
    )
    assert refused.code == 403
    assert await refused.json() == {"error": "Invalid credentials"}


@pytest_twisted.ensureDeferred
async def test_cookie_changes_from_another_origin_are_refused(rt: Runtime, whoami: Client) -> None:
    """A cookie-authenticated POST whose Origin is another site is refused (CSRF);
    from our own origin, or without Origin, it passes."""
    user = await make_user(rt)
    issued = await make_token(rt, user, ["read", "write"])
    session = await rt.db.run_interaction("session", oauth.create_session_txn, issued.token.id)
    cookies = {"_pleroma_key": sign_cookie(rt.cookie_secret, session)}
    evil = await whoami.post(
        "/t/required", cookies=cookies, headers={"Origin": "https://evil.example"}
    )
    assert evil.code == 403
    ours = await whoami.post(
        "/t/required", cookies=cookies, headers={"Origin": rt.config.server.base_url}
    )
    assert ours.code == 200
    assert (await whoami.post("/t/required", cookies=cookies)).code == 200


@pytest_twisted.ensureDeferred
async def test_deactivation_takes_effect_on_the_next_request(rt: Runtime, whoami: Client) -> None:
    """A token that worked stops working as soon as its account is deactivated."""
    user = await make_user(rt)
    issued = await make_token(rt, user, ["read", "write"])
    auth = {"Authorization": f"Bearer {issued.access_token}"}
    assert (await whoami.get("/t/required", headers=auth)).code == 200
    await rt.db.run_interaction("off", users.update_user_txn, user.id, deactivated=True)
    assert (await whoami.get("/t/required", headers=auth)).code == 403
    assert (await whoami.get("/t/required", headers=basic("alice", "hunter2"))).code == 403


@pytest_twisted.ensureDeferred
async def test_healthcheck_answers_while_registrations_hash(rt: Runtime, serve: Any) -> None:
    """Registrations in flight, hashing with full argon2id costs, never stall
    another client's healthcheck: the hashes run in the CPU pool, one core's
    worth at most on two cores, so the reactor keeps a core.  Every
    healthcheck is taken while hashes are still running or queued, and each
    answers within half a second."""
    from pleromad.domain.rate_limits import RateLimiter
    from pleromad.web.root import build_gateway

    limits = replace(rt.config.rate_limits, registration=(100, 60))
    hasher = PasswordHasher()
    rt = replace(
        rt,
        passwords=hasher,
        config=replace(rt.config, rate_limits=limits),
        limiter=RateLimiter(limits, rt.db, rt.clock),
    )
    client = serve(build_gateway(rt), rt.config.instance.upload_limit)
    registrations = [
        client.post(
            "/api/account/register",
            json={
                "nickname": f"user{i}",
                "fullname": "U",
                "email": f"u{i}@example.org",
                "password": "pw",
                "confirm": "pw",
            },
        )
        for i in range(6)
    ]
    await eventually(lambda: hasher.queue.pending >= 4, "four sign-ups hashing or queued")
    slowest = 0.0
    for _ in range(5):
        started = time.monotonic()
        response = await client.get("/api/pleroma/healthcheck")
        assert response.code == 200
        slowest = max(slowest, time.monotonic() - started)
    assert hasher.queue.pending > 0, "the healthchecks ran after the hashing"
    for pending in registrations:
        assert (await pending).code == 200
    assert slowest < 0.5
