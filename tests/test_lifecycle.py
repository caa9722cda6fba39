"""The end of an account (delete_account, disable_account; DECISIONS 14) and
password reset links and pages."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import psycopg2
import pytest
import pytest_twisted
from twisted.internet.task import Clock

from pleromad.auth.credentials import LoginFailed
from pleromad.domain import lifecycle, password_reset
from pleromad.domain.login import verify_login
from pleromad.domain.rate_limits import RateLimiter
from pleromad.model import IssuedToken, User
from pleromad.runtime import Runtime
from pleromad.store import oauth, password_resets, users
from pleromad.web.auth import sign_cookie
from pleromad.web.root import build_gateway
from tests.conftest import Client, StartRunner
from tests.helpers import eventually, query
from tests.test_auth import make_token, make_user

INVALID_CREDENTIALS = {"error": "Invalid credentials."}
INVALID_PASSWORD = {"error": "Invalid password."}


def bearer(token: IssuedToken) -> dict[str, str]:
    return {"Authorization": f"Bearer {token.access_token}"}


async def cookie_for(rt: Runtime, token: IssuedToken) -> dict[str, str]:
    session_id = await rt.db.run_interaction("session", oauth.create_session_txn, token.token.id)
    return {"Cookie": f"_pleroma_key={sign_cookie(rt.cookie_secret, session_id)}"}


def user_row(dsn: str, user_id: int) -> dict[str, Any]:
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            cur.execute("SELECT * FROM users WHERE id = %s", (user_id,))
            return dict(cur.fetchone())
    finally:
        conn.close()


def credentials_left(dsn: str, user_id: int) -> dict[str, int]:
    """How many tokens, sessions, codes and reset tokens the account still has."""
    counts = query(
        dsn,
        "SELECT (SELECT count(*) FROM oauth_tokens WHERE user_id = %(u)s),"
        " (SELECT count(*) FROM sessions s JOIN oauth_tokens t ON t.id = s.token_id"
        "   WHERE t.user_id = %(u)s),"
        " (SELECT count(*) FROM oauth_authorizations WHERE user_id = %(u)s),"
        " (SELECT count(*) FROM password_reset_tokens WHERE user_id = %(u)s)",
        {"u": user_id},
    )[0]
    return dict(zip(("tokens", "sessions", "codes", "resets"), counts, strict=False))


def jobs_of(dsn: str) -> list[tuple[str, Any]]:
    return query(dsn, "SELECT kind, payload FROM jobs ORDER BY id")


async def pending_code(rt: Runtime, user: User, token: IssuedToken) -> None:
    await rt.db.run_interaction(
        "code",
        oauth.create_authorization_txn,
        token.token.app_id,
        user.id,
        ["read"],
        "urn:ietf:wg:oauth:2.0:oob",
        600.0,
    )


async def signed_in_everywhere(rt: Runtime, user: User) -> dict[str, dict[str, str]]:
    """A bearer token, a cookie session and a pending code for ``user``; the
    headers of each way it can authenticate, Basic included."""
    token = await make_token(rt, user, ["read", "write"])
    session_token = await make_token(rt, user, ["read", "write"])
    await pending_code(rt, user, token)
    await password_reset.create_reset_link(rt, user)
    return {
        "bearer": bearer(token),
        "cookie": await cookie_for(rt, session_token),
    }


def with_limits(rt: Runtime, **limits: tuple[int, int]) -> Runtime:
    config = replace(rt.config, rate_limits=replace(rt.config.rate_limits, **limits))
    return replace(rt, config=config, limiter=RateLimiter(config.rate_limits, rt.db, rt.clock))


async def assert_locked_out(client: Client, path: str, ways: dict[str, dict[str, str]]) -> None:
    """The token, the cookie and Basic auth with the right password are all refused."""
    attempts = [{"headers": headers} for headers in ways.values()]
    attempts.append({"auth": ("alice", "hunter2")})
    for attempt in attempts:
        again = await client.post(path, data={"password": "hunter2"}, **attempt)
        assert await json_of(again) == (403, INVALID_CREDENTIALS), attempt


async def json_of(response: Any) -> tuple[int, Any]:
    return response.code, await response.json()


async def text_of(response: Any) -> tuple[int, str]:
    return response.code, (await response.content()).decode("utf-8")


# -- delete_account / disable_account -----------------------------------------


@pytest.mark.parametrize("path", ["/api/pleroma/delete_account", "/api/pleroma/disable_account"])
@pytest_twisted.ensureDeferred
async def test_wrong_or_missing_password_is_403_and_changes_nothing(
    rt: Runtime, client: Client, dsn: str, path: str
) -> None:
    """A wrong, missing or non-text password answers 403 "Invalid password."
    and the account, its tokens and the job queue are as they were; a wrong
    password counts as a failed login of the client."""
    user = await make_user(rt)
    ways = await signed_in_everywhere(rt, user)
    before_row, before_creds = user_row(dsn, user.id), credentials_left(dsn, user.id)

    for body in ({"password": "wrong"}, {}, {"password": ""}, {"password": ["hunter2"]}):
        response = await client.post(path, json=body, headers=ways["bearer"])
        assert await json_of(response) == (403, INVALID_PASSWORD), body

    assert user_row(dsn, user.id) == before_row
    assert credentials_left(dsn, user.id) == before_creds
    assert jobs_of(dsn) == []
    assert query(dsn, "SELECT count FROM rate_limits WHERE bucket LIKE 'failed_login:%%'") == [(1,)]
    still = await client.post(path, data={"password": "wrong"}, headers=ways["cookie"])
    assert await json_of(still) == (403, INVALID_PASSWORD)


@pytest.mark.parametrize("path", ["/api/pleroma/delete_account", "/api/pleroma/disable_account"])
@pytest_twisted.ensureDeferred
async def test_auth_and_write_scope_are_required(rt: Runtime, client: Client, path: str) -> None:
    """Without credentials: 403 "Invalid credentials."; with a token lacking
    `write`: 403 "Insufficient permissions: write."."""
    user = await make_user(rt)
    read_only = await make_token(rt, user, ["read"])
    assert await json_of(await client.post(path, data={"password": "hunter2"})) == (
        403,
        INVALID_CREDENTIALS,
    )
    response = await client.post(path, data={"password": "hunter2"}, headers=bearer(read_only))
    assert await json_of(response) == (403, {"error": "Insufficient permissions: write."})


@pytest_twisted.ensureDeferred
async def test_disable_signs_out_everywhere_before_answering(
    rt: Runtime, client: Client, dsn: str
) -> None:
    """disable_account with the right password answers {"status": "success"};
    by then the account is deactivated and its tokens, cookie sessions,
    pending codes are gone: the same token, the cookie and Basic auth are all
    refused on the next request; the row keeps its data."""
    user = await make_user(rt)
    ways = await signed_in_everywhere(rt, user)

    response = await client.post(
        "/api/pleroma/disable_account", data={"password": "hunter2"}, headers=ways["bearer"]
    )
    assert await json_of(response) == (200, {"status": "success"})

    row = user_row(dsn, user.id)
    assert row["deactivated"] is True and row["deleted"] is False
    assert row["email"] == "alice@example.org"
    left = credentials_left(dsn, user.id)
    assert (left["tokens"], left["sessions"], left["codes"]) == (0, 0, 0)
    await assert_locked_out(client, "/api/pleroma/disable_account", ways)
    assert jobs_of(dsn) == []


@pytest_twisted.ensureDeferred
async def test_delete_tombstones_signs_out_and_queues_the_content_job(
    rt: Runtime, client: Client, dsn: str
) -> None:
    """delete_account with the right password answers {"status": "success"};
    by then every credential of the account is gone, its row is a scrubbed
    tombstone that keeps the nickname, and one delete_account job is queued;
    the token, the cookie and Basic auth are refused from then on."""
    user = await make_user(rt, locked=True, is_admin=True)
    await rt.db.run_interaction(
        "profile",
        users.update_user_txn,
        user.id,
        name="Alice",
        bio="about me",
        bio_html="about me",
        avatar={"url": "a.png"},
    )
    ways = await signed_in_everywhere(rt, user)

    response = await client.post(
        "/api/pleroma/delete_account", data={"password": "hunter2"}, headers=ways["cookie"]
    )
    assert await json_of(response) == (200, {"status": "success"})

    row = user_row(dsn, user.id)
    assert row["deleted"] is True and row["deactivated"] is True
    assert row["nickname"] == "alice" and row["ap_id"] == user.ap_id
    for scrubbed in ("email", "name", "password_hash", "avatar", "banner", "background"):
        assert row[scrubbed] is None, scrubbed
    assert (row["bio"], row["bio_html"], row["is_admin"], row["locked"]) == ("", "", False, False)
    assert credentials_left(dsn, user.id) == {"tokens": 0, "sessions": 0, "codes": 0, "resets": 0}
    assert jobs_of(dsn) == [("delete_account", {"user_id": user.id})]

    await assert_locked_out(client, "/api/pleroma/delete_account", ways)
    assert jobs_of(dsn) == [("delete_account", {"user_id": user.id})]


@pytest_twisted.ensureDeferred
async def test_deletion_job_removes_what_is_left_idempotently(
    rt: Runtime, client: Client, dsn: str, start_runner: StartRunner
) -> None:
    """The queued job, run by a JobRunner with this module's handlers, removes
    whatever credentials the account still had (say, a token issued in a race)
    and is then done; running the removal again changes nothing."""
    user = await make_user(rt)
    token = await make_token(rt, user, ["write"])
    response = await client.post(
        "/api/pleroma/delete_account", data={"password": "hunter2"}, headers=bearer(token)
    )
    assert response.code == 200
    straggler = await make_token(rt, user, ["read"])
    await pending_code(rt, user, straggler)
    await password_reset.create_reset_link(rt, user)
    assert credentials_left(dsn, user.id) == {"tokens": 1, "sessions": 0, "codes": 1, "resets": 1}

    await start_runner(lifecycle.handlers(rt))
    await eventually(lambda: jobs_of(dsn) == [], "the deletion job finishes")
    assert credentials_left(dsn, user.id) == {"tokens": 0, "sessions": 0, "codes": 0, "resets": 0}
    await lifecycle.remove_content(rt, user.id)
    assert user_row(dsn, user.id)["deleted"] is True


@pytest_twisted.ensureDeferred
async def test_content_removal_leaves_live_accounts_alone(rt: Runtime, dsn: str) -> None:
    """A delete_account job naming an account that is not deleted (or does not
    exist) does nothing."""
    user = await make_user(rt)
    await make_token(rt, user, ["read"])
    handler = lifecycle.handlers(rt)["delete_account"]
    await handler({"user_id": user.id})
    await handler({"user_id": 999})
    assert credentials_left(dsn, user.id)["tokens"] == 1


@pytest_twisted.ensureDeferred
async def test_deleted_nickname_stays_taken(rt: Runtime, client: Client, dsn: str) -> None:
    """After deletion nobody can take the nickname again, in any letter case;
    deleting twice queues one job."""
    user = await make_user(rt)
    await lifecycle.delete_account(rt, user.id)
    assert await lifecycle.delete_account(rt, user.id) is False
    assert len(jobs_of(dsn)) == 1
    with pytest.raises(psycopg2.errors.UniqueViolation):
        await make_user(rt, "ALICE")
    with pytest.raises(lifecycle.AccountRefused, match="already taken"):
        await lifecycle.create_account(rt, lifecycle.NewAccount("Alice", "new@example.org"))


@pytest_twisted.ensureDeferred
async def test_password_check_is_throttled_like_a_login(
    rt: Runtime, serve: Callable[..., Client]
) -> None:
    """Once the client used up its failed logins, even the right password is
    refused with 429 Throttled (and nothing is deleted)."""
    client = serve(build_gateway(with_limits(rt, failed_login=(2, 60))))
    user = await make_user(rt)
    token = await make_token(rt, user, ["write"])
    for _ in range(2):
        wrong = await client.post(
            "/api/pleroma/delete_account", data={"password": "nope"}, headers=bearer(token)
        )
        assert wrong.code == 403
    right = await client.post(
        "/api/pleroma/delete_account", data={"password": "hunter2"}, headers=bearer(token)
    )
    assert await json_of(right) == (429, {"error": "Throttled"})
    assert right.headers.getRawHeaders("X-RateLimit-Limit") == ["2"]
    assert (await verify_login(rt, "alice", "hunter2", "elsewhere")).deleted is False


# -- password reset -------------------------------------------------------------


def token_of(url: str) -> str:
    match = re.fullmatch(r"http://localhost:4000/api/pleroma/password_reset/([\w-]+)", url)
    assert match, url
    return match[1]


async def post_reset(
    client: Client, token: str, password: str, confirmation: str | None = None, **kw: Any
) -> Any:
    return await client.post(
        "/api/pleroma/password_reset",
        data={
            "data[token]": token,
            "data[password]": password,
            "data[password_confirmation]": password if confirmation is None else confirmation,
        },
        **kw,
    )


async def logs_in(rt: Runtime, password: str) -> bool:
    try:
        await verify_login(rt, "alice", password, "test")
    except LoginFailed:
        return False
    return True


@pytest_twisted.ensureDeferred
async def test_reset_link_shows_a_form(rt: Runtime, client: Client) -> None:
    """The link is <base_url>/api/pleroma/password_reset/<token>; it opens an
    HTML form posting data[password], data[password_confirmation] and the
    token as hidden data[token]."""
    user = await make_user(rt)
    url = await password_reset.create_reset_link(rt, user)
    token = token_of(url)
    response = await client.get(f"/api/pleroma/password_reset/{token}")
    code, page = await text_of(response)
    assert code == 200
    assert response.headers.getRawHeaders("content-type") == ["text/html; charset=utf-8"]
    assert 'action="/api/pleroma/password_reset"' in page
    assert f'name="data[token]" value="{token}"' in page
    assert 'name="data[password]"' in page and 'name="data[password_confirmation]"' in page


@pytest_twisted.ensureDeferred
async def test_reset_changes_the_password_once_and_signs_out(
    rt: Runtime, client: Client, dsn: str
) -> None:
    """A reset sets the new password, signs the account out everywhere and
    spends the link: opening or posting it again is refused; an older link of
    the same account is void too."""
    user = await make_user(rt)
    ways = await signed_in_everywhere(rt, user)
    older = token_of(await password_reset.create_reset_link(rt, user))
    token = token_of(await password_reset.create_reset_link(rt, user))

    # As JSON, like a script would send it; the form encoding is tested below.
    response = await client.post(
        "/api/pleroma/password_reset",
        json={
            "data": {
                "token": token,
                "password": "n3w pässword",
                "password_confirmation": "n3w pässword",
            }
        },
    )
    code, page = await text_of(response)
    assert code == 200 and "Password changed" in page
    assert await logs_in(rt, "n3w pässword") and not await logs_in(rt, "hunter2")
    assert user_row(dsn, user.id)["password_hash"].startswith("$argon2id$")
    left = credentials_left(dsn, user.id)
    assert (left["tokens"], left["sessions"], left["codes"]) == (0, 0, 0)
    for headers in ways.values():
        again = await client.post("/api/pleroma/delete_account", headers=headers)
        assert await json_of(again) == (403, INVALID_CREDENTIALS)

    for spent in (token, older):
        code, page = await text_of(await client.get(f"/api/pleroma/password_reset/{spent}"))
        assert code == 404 and "Invalid token" in page
        code, page = await text_of(await post_reset(client, spent, "again"))
        assert code == 400 and "Invalid token" in page
    assert await logs_in(rt, "n3w pässword")


@pytest_twisted.ensureDeferred
async def test_reset_refuses_mismatch_and_empty_with_the_form(
    rt: Runtime, client: Client, dsn: str
) -> None:
    """Different or empty passwords: 400 and the form again with the reason;
    the link stays usable and nothing changes."""
    user = await make_user(rt)
    token = token_of(await password_reset.create_reset_link(rt, user))
    before = user_row(dsn, user.id)
    for password, confirmation, reason in (
        ("one", "two", "do not match"),
        ("", "", "must not be empty"),
    ):
        code, page = await text_of(await post_reset(client, token, password, confirmation))
        assert code == 400 and reason in page and 'name="data[password]"' in page
    assert user_row(dsn, user.id) == before
    assert (await client.get(f"/api/pleroma/password_reset/{token}")).code == 200


@pytest_twisted.ensureDeferred
async def test_unknown_expired_and_deleted_account_tokens_are_refused(
    rt: Runtime, serve: Callable[..., Client], clock: Clock
) -> None:
    """An unknown token, one RESET_TTL old by the runtime's clock and one of an
    account deleted since are all invalid: 404 page on GET, 400 on POST,
    password unchanged."""
    rt = replace(rt, clock=clock)
    client = serve(build_gateway(rt))
    user = await make_user(rt)
    expired = token_of(await password_reset.create_reset_link(rt, user))
    clock.advance(password_reset.RESET_TTL - 1)
    assert await password_reset.token_is_live(rt, expired)
    clock.advance(1)
    for token in ("no-such-token", expired):
        code, page = await text_of(await client.get(f"/api/pleroma/password_reset/{token}"))
        assert code == 404 and "Invalid token" in page
        code, page = await text_of(await post_reset(client, token, "x"))
        assert code == 400 and "Invalid token" in page
    assert await logs_in(rt, "hunter2")

    # A link made as the account is being deleted (the deletion removes the
    # ones it sees) is refused all the same: its account is gone.
    bob = await make_user(rt, "bob")
    await lifecycle.delete_account(rt, bob.id)
    late = await rt.db.run_interaction(
        "late link", password_resets.create_txn, bob.id, clock.seconds() + 3600
    )
    assert (await client.get(f"/api/pleroma/password_reset/{late}")).code == 404


@pytest_twisted.ensureDeferred
async def test_fresh_link_is_valid_for_a_day(rt: Runtime, dsn: str, clock: Clock) -> None:
    """A new link is stored as a digest and is valid for 24 hours from its
    making, by the runtime's clock."""
    rt = replace(rt, clock=clock)
    user = await make_user(rt)
    token = token_of(await password_reset.create_reset_link(rt, user))
    [(stored, valid_until)] = query(
        dsn, "SELECT token_hash, extract(epoch FROM valid_until)::float8 FROM password_reset_tokens"
    )
    assert stored == oauth.digest(token) and token not in stored
    assert valid_until == pytest.approx(clock.seconds() + 24 * 3600, abs=1e-5)


@pytest_twisted.ensureDeferred
async def test_reset_posts_are_rate_limited(rt: Runtime, serve: Callable[..., Client]) -> None:
    """Reset attempts count against `password_reset` per client; over it the
    answer is 429 with the X-RateLimit headers, a page for browsers and
    {"error": "Throttled"} for clients asking for JSON; nothing is reset."""
    client = serve(build_gateway(with_limits(rt, password_reset=(2, 1800))))
    user = await make_user(rt)
    token = token_of(await password_reset.create_reset_link(rt, user))
    first = await post_reset(client, token, "a", "b")
    assert first.code == 400
    assert first.headers.getRawHeaders("X-RateLimit-Remaining") == ["1"]
    assert (await post_reset(client, token, "a", "b")).code == 400

    page = await post_reset(client, token, "fine")
    code, text = await text_of(page)
    assert code == 429 and "Too many" in text
    assert page.headers.getRawHeaders("X-RateLimit-Limit") == ["2"]
    assert page.headers.getRawHeaders("X-RateLimit-Reset")
    as_json = await post_reset(client, token, "fine", headers={"Accept": "application/json"})
    assert await json_of(as_json) == (429, {"error": "Throttled"})
    assert await logs_in(rt, "hunter2")
