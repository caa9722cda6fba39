"""Registration (`POST /api/account/register`, Mastodon's `POST /api/v1/accounts`
rules), invites, e-mail confirmation and confirmation resends: pleroma-endpoints
§6-8, DECISIONS 6, 12, 13, 23, 25 and 27."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any
from urllib.parse import urlsplit

import psycopg2
import pytest
import pytest_twisted
from twisted.internet import defer, reactor

from pleromad.domain import registration
from pleromad.domain.login import login_refusal
from pleromad.domain.rate_limits import RateLimiter
from pleromad.errors import ApiError
from pleromad.jobs import Handler
from pleromad.mail.backends import MaildirMailer
from pleromad.mail.outbox import MAIL_JOB, mail_job_handler, message_from_payload
from pleromad.runtime import Runtime
from pleromad.store import invites, users
from pleromad.web.root import build_gateway
from tests.conftest import Client
from tests.helpers import eventually, query

REGISTER = "/api/account/register"
RESEND = "/api/v1/pleroma/accounts/confirmation_resend"
RESEND_TWIN = "/api/account/resend_confirmation_email"

BASE = "http://localhost:4000"

ENTITY_KEYS = {
    # the document's example
    "background_image", "cover_photo", "created_at", "default_scope", "description",
    "description_html", "favourites_count", "fields", "followers_count", "following",
    "follows_you", "friends_count", "id", "is_local", "locked", "name", "name_html",
    "no_rich_text", "pleroma", "profile_image_url", "profile_image_url_https",
    "profile_image_url_original", "profile_image_url_profile_size", "rights",
    "screen_name", "statuses_count", "statusnet_blocking", "statusnet_profile_url",
    # what the reference's view adds (§6.3)
    "hide_followers", "hide_follows", "role",
}  # fmt: skip


def form(**changes: Any) -> dict[str, Any]:
    """A registration that succeeds, with ``changes``; None removes a field."""
    values = {
        "nickname": "lain",
        "fullname": "Lain Iwakura",
        "bio": "wired\nhttps://example.org/",
        "email": "lain@example.com",
        "password": "present day",
        "confirm": "present day",
    }
    values.update(changes)
    return {k: v for k, v in values.items() if v is not None}


def user_count(dsn: str) -> int:
    return query(dsn, "SELECT count(*) FROM users")[0][0]


def mail_jobs(dsn: str) -> list[EmailMessage]:
    rows = query(dsn, "SELECT payload FROM jobs WHERE kind = %s ORDER BY id", (MAIL_JOB,))
    return [message_from_payload(payload) for (payload,) in rows]


def field_errors(body: Any) -> dict[str, list[str]]:
    """The reference's shape: the error is a JSON-encoded map, keys sorted."""
    assert set(body) == {"error"}
    decoded = json.loads(body["error"])
    assert list(decoded) == sorted(decoded)
    return decoded


async def register(client: Client, data: dict[str, Any], **kwargs: Any) -> tuple[int, Any]:
    response = await client.post(REGISTER, json=data, **kwargs)
    return response.code, await response.json()


Variant = Callable[..., tuple[Runtime, Client]]


@pytest.fixture
def variant(rt: Runtime, serve: Any) -> Variant:
    """The daemon with other [instance] / [rate_limits] / [captcha] settings.

    Rate limits are off unless the test sets them, so a test may register
    more accounts than the default limit lets one address.
    """

    def build(
        *, rate_limits: dict[str, Any] | None = None, captcha: bool = False, **instance: Any
    ) -> tuple[Runtime, Client]:
        config = replace(
            rt.config,
            instance=replace(rt.config.instance, **instance),
            rate_limits=replace(rt.config.rate_limits, **(rate_limits or {"enabled": False})),
            captcha=replace(rt.config.captcha, enabled=captcha),
        )
        new_rt = replace(
            rt, config=config, limiter=RateLimiter(config.rate_limits, rt.db, rt.clock)
        )
        return new_rt, serve(build_gateway(new_rt), config.instance.upload_limit)

    return build


def today() -> date:
    return datetime.now(UTC).date()


# -- success ---------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_a_bios_mentions_and_hashtags_are_linked(rt: Runtime, client: Client) -> None:
    """`@nick` of an existing account in a bio is linked as a status links
    it (so are hashtags); an `@name` that is nobody stays text."""
    r = await client.post(REGISTER, data=form(nickname="wired", email="w@example.com", bio="x"))
    assert r.code == 200
    wired_id = (await r.json())["id"]
    r = await client.post(REGISTER, data=form(bio="friend of @wired, not @nobody #Lain"))
    body = await r.json()
    assert body["description_html"] == (
        f'friend of <span class="h-card"><a class="u-url mention" data-user="{wired_id}"'
        f' href="{rt.config.server.base_url}/users/wired" rel="ugc">@<span>wired</span></a>'
        '</span>, not @nobody <a class="hashtag" data-tag="lain"'
        f' href="{rt.config.server.base_url}/tag/lain" rel="tag">#Lain</a>'
    )


@pytest_twisted.ensureDeferred
async def test_registration_answers_the_twitter_user_object(
    rt: Runtime, client: Client, dsn: str
) -> None:
    """A valid form creates a confirmed local account and answers 200 with the
    TwitterAPI user object: every key of the documented example plus the
    reference's, defaults for a new account, id as a string, Twitter dates,
    and the X-RateLimit headers of the registration limit."""
    response = await client.post(REGISTER, data=form())
    assert response.code == 200
    body = await response.json()

    assert set(body) == ENTITY_KEYS
    (user_id,) = query(dsn, "SELECT id FROM users WHERE nickname = 'lain'")[0]
    assert body["id"] == str(user_id)
    assert body["screen_name"] == "lain"
    assert body["name"] == body["name_html"] == "Lain Iwakura"
    assert body["description"] == "wired\nhttps://example.org/"
    assert body["description_html"] == (
        'wired<br><a href="https://example.org/" target="_blank"'
        ' rel="nofollow noopener noreferrer">https://example.org/</a>'
    )
    assert re.fullmatch(r"\w{3} \w{3} \d\d \d\d:\d\d:\d\d \+0000 \d{4}", body["created_at"])
    created = datetime.strptime(body["created_at"], "%a %b %d %H:%M:%S %z %Y")
    assert abs(created - datetime.now(UTC)) < timedelta(minutes=1)
    for key in ("favourites_count", "followers_count", "friends_count", "statuses_count"):
        assert body[key] == 0
    for key in ("following", "follows_you", "statusnet_blocking", "locked",
                "hide_followers", "hide_follows", "no_rich_text"):  # fmt: skip
        assert body[key] is False
    for key in ("profile_image_url", "profile_image_url_https",
                "profile_image_url_profile_size", "profile_image_url_original"):  # fmt: skip
        assert body[key] == f"{BASE}/images/avi.png"
    assert body["cover_photo"] == f"{BASE}/images/banner.png"
    assert body["background_image"] is None
    assert body["statusnet_profile_url"] == f"{BASE}/users/lain"
    assert body["is_local"] is True
    assert body["fields"] == []
    assert body["pleroma"] == {
        "confirmation_pending": False, "tags": [], "skip_thread_containment": False
    }  # fmt: skip
    assert body["role"] == "member"
    assert body["rights"] == {"delete_others_notice": False, "admin": False}
    assert body["default_scope"] == "public"

    assert response.headers.getRawHeaders("x-ratelimit-limit") == ["5"]
    assert response.headers.getRawHeaders("x-ratelimit-remaining") == ["4"]
    assert len(response.headers.getRawHeaders("x-ratelimit-reset")) == 1

    user = await rt.db.run_interaction("get", users.get_user_by_nickname_txn, "lain")
    assert user.email == "lain@example.com" and user.bio == "wired\nhttps://example.org/"
    assert user.password_hash.startswith("$argon2id$")
    assert (await rt.passwords.verify(user.password_hash, "present day")).ok
    assert not user.confirmation_pending and user.confirmation_token is None
    assert mail_jobs(dsn) == []


@pytest_twisted.ensureDeferred
async def test_optional_bio_and_json_or_form_bodies(variant: Variant, dsn: str) -> None:
    """The bio may be left out (empty); a JSON body works like a form."""
    _, client = variant()
    code, body = await register(client, form(bio=None))
    assert code == 200
    assert body["description"] == body["description_html"] == ""
    response = await client.post(REGISTER, data=form(nickname="alice", email="a@example.com"))
    assert response.code == 200
    assert user_count(dsn) == 2


# -- validation ------------------------------------------------------------------

BLANK = ["can't be blank"]
FORMAT = ["has invalid format"]
INVALID = ["is invalid"]


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        (
            {k: None for k in form()},
            {"email": BLANK, "name": BLANK, "nickname": BLANK, "password": BLANK,
             "password_confirmation": BLANK},
        ),
        ({"nickname": "", "fullname": "   ", "email": " \t"},
         {"nickname": BLANK, "name": BLANK, "email": BLANK}),
        ({"password": "", "confirm": ""},
         {"password": BLANK, "password_confirmation": BLANK}),
        ({"confirm": None},
         {"password_confirmation": ["does not match confirmation", "can't be blank"]}),
        ({"confirm": "present  day"}, {"password_confirmation": ["does not match confirmation"]}),
        ({"nickname": "lain\n"}, {"nickname": FORMAT}),
        ({"nickname": "la in"}, {"nickname": FORMAT}),
        ({"nickname": "la_in"}, {"nickname": FORMAT}),
        ({"nickname": "lain@example.com"}, {"nickname": FORMAT}),
        ({"nickname": "låin"}, {"nickname": FORMAT}),
        ({"nickname": "lain\u0663"}, {"nickname": FORMAT}),  # an Arabic-Indic digit
        ({"nickname": "api"}, {"nickname": ["is reserved"]}),
        ({"nickname": "Relay"}, {"nickname": ["is reserved"]}),
        ({"nickname": ".well-known"}, {"nickname": ["has invalid format", "is reserved"]}),
        ({"nickname": "a" * 101}, {"nickname": ["should be at most 100 character(s)"]}),
        ({"email": "lain"}, {"email": FORMAT}),
        ({"email": "lain@example.com\n"}, {"email": FORMAT}),
        ({"email": "lain@-example.com"}, {"email": FORMAT}),
        ({"email": "la..in@example.com"}, {"email": FORMAT}),
        ({"email": ".lain@example.com"}, {"email": FORMAT}),
        ({"email": "lain@exämple.com"}, {"email": FORMAT}),
        ({"email": "a" * 250 + "@b.cd"}, {"email": ["should be at most 254 character(s)"]}),
        ({"fullname": "x" * 101}, {"name": ["should be at most 100 character(s)"]}),
        ({"bio": "x" * 5001}, {"bio": ["should be at most 5000 character(s)"]}),
        (
            {"nickname": "web", "email": "nope", "fullname": " ", "confirm": "no"},
            {"nickname": ["is reserved"], "email": FORMAT, "name": BLANK,
             "password_confirmation": ["does not match confirmation"]},
        ),
    ],
)  # fmt: skip
@pytest_twisted.ensureDeferred
async def test_invalid_fields_are_all_reported_and_nothing_is_written(
    client: Client, dsn: str, changes: dict[str, Any], errors: dict[str, list[str]]
) -> None:
    """Every failing rule is reported at once, in a 400 whose "error" is the
    JSON of {field: [messages]} with the numbers filled in; no account, no mail."""
    code, body = await register(client, form(**changes))
    assert code == 400
    assert field_errors(body) == errors
    assert user_count(dsn) == 0
    assert mail_jobs(dsn) == []


@pytest.mark.parametrize("value", [42, True, ["lain"], {"a": "b"}, 1.5])
@pytest_twisted.ensureDeferred
async def test_wrong_json_types_are_invalid(client: Client, dsn: str, value: Any) -> None:
    """A value of the wrong JSON type (numbers included) is "is invalid" on its
    field, never a 500."""
    fields = ("nickname", "fullname", "email", "password", "confirm", "bio")
    code, body = await register(client, {name: value for name in fields})
    assert code == 400
    assert field_errors(body) == {
        "bio": INVALID, "email": INVALID, "name": INVALID, "nickname": INVALID,
        "password": INVALID, "password_confirmation": INVALID,
    }  # fmt: skip
    code, body = await register(client, form(confirm=value))
    assert field_errors(body) == {
        "password_confirmation": ["does not match confirmation", "is invalid"]
    }
    assert user_count(dsn) == 0


@pytest_twisted.ensureDeferred
async def test_text_postgresql_cannot_store_is_refused(client: Client, dsn: str) -> None:
    """A NUL character or a lone surrogate (both possible in JSON) is a 400
    naming the parameter, not a database error."""
    for field, bad in (("fullname", "La\u0000in"), ("bio", "\ud800")):
        body = json.dumps(form(**{field: bad})).encode()
        response = await client.post(
            REGISTER, data=body, headers={"content-type": "application/json"}
        )
        assert response.code == 400
        assert await response.json() == {"error": f"Invalid characters in {field}"}
    assert user_count(dsn) == 0


@pytest_twisted.ensureDeferred
async def test_multipart_file_is_invalid(client: Client, dsn: str) -> None:
    """A file where text is expected is "is invalid" too."""
    fields = {k: v for k, v in form().items() if k != "nickname"}
    response = await client.post(
        REGISTER, data=fields, files={"nickname": ("n.txt", "text/plain", io.BytesIO(b"lain"))}
    )
    assert response.code == 400
    assert field_errors(await response.json()) == {"nickname": INVALID}
    assert user_count(dsn) == 0


@pytest_twisted.ensureDeferred
async def test_name_length_counts_code_points_and_follows_the_configuration(
    variant: Variant, dsn: str
) -> None:
    """The name may have up to user_name_length code points (an emoji is one);
    the bio up to user_bio_length characters of the text typed."""
    _, client = variant(user_name_length=5, user_bio_length=3)
    code, body = await register(client, form(fullname="🦊🦊🦊🦊🦊🦊", bio="<b>"))
    assert code == 400
    assert field_errors(body) == {"name": ["should be at most 5 character(s)"]}
    code, body = await register(client, form(fullname="🦊🦊🦊🦊🦊", bio="<b>"))
    assert code == 200
    assert body["name"] == "🦊🦊🦊🦊🦊"
    assert body["description_html"] == "&lt;b&gt;"
    assert user_count(dsn) == 1


@pytest_twisted.ensureDeferred
async def test_markup_in_the_name_is_not_markup(variant: Variant) -> None:
    """name is the name as typed; name_html carries no tags of the user's."""
    _, client = variant()
    code, body = await register(client, form(fullname="<b>Lain</b> & co"))
    assert code == 200
    assert body["name"] == "<b>Lain</b> & co"
    assert body["name_html"] == "Lain &amp; co"


# -- uniqueness --------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_nickname_and_email_are_unique_ignoring_case(variant: Variant, dsn: str) -> None:
    """A nickname or e-mail address already in use, in any case, "has already
    been taken"."""
    _, client = variant()
    assert (await register(client, form()))[0] == 200
    code, body = await register(client, form(nickname="LAIN", email="other@example.com"))
    assert (code, field_errors(body)) == (400, {"nickname": ["has already been taken"]})
    code, body = await register(client, form(nickname="other", email="Lain@Example.COM"))
    assert (code, field_errors(body)) == (400, {"email": ["has already been taken"]})
    code, body = await register(client, form(nickname="Lain", email="LAIN@example.com"))
    assert field_errors(body) == {
        "email": ["has already been taken"], "nickname": ["has already been taken"]
    }  # fmt: skip
    assert user_count(dsn) == 1


@pytest_twisted.ensureDeferred
async def test_nickname_of_a_deleted_account_is_never_reused(
    rt: Runtime, client: Client, dsn: str
) -> None:
    """A deleted account keeps its row, and its nickname stays taken."""
    user = await rt.db.run_interaction(
        "seed", users.create_user_txn, nickname="lain", email=None, name=None, bio="",
        bio_html="", password_hash=None, ap_id_prefix=BASE,
    )  # fmt: skip
    query(dsn, "UPDATE users SET deleted = true WHERE id = %s", (user.id,))
    code, body = await register(client, form(nickname="Lain"))
    assert (code, field_errors(body)) == (400, {"nickname": ["has already been taken"]})
    assert user_count(dsn) == 1


@pytest_twisted.ensureDeferred
async def test_concurrent_registrations_of_one_nickname(variant: Variant, dsn: str) -> None:
    """Two registrations of the same nickname at once: one account, the other
    a 400 "has already been taken"."""
    _, client = variant()
    responses = await defer.gatherResults(
        [
            client.post(REGISTER, json=form(email="one@example.com")),
            client.post(REGISTER, json=form(nickname="LAIN", email="two@example.com")),
        ]
    )
    outcomes = sorted([(r.code, await r.json()) for r in responses], key=lambda o: o[0])
    assert [code for code, _ in outcomes] == [200, 400]
    assert field_errors(outcomes[1][1]) == {"nickname": ["has already been taken"]}
    assert user_count(dsn) == 1


@pytest.mark.parametrize(
    ("nickname", "email", "field"),
    [("lain", "racer@example.com", "nickname"), ("racer", "lain@example.com", "email")],
)
@pytest_twisted.ensureDeferred
async def test_losing_the_race_at_the_unique_index_is_a_400(
    variant: Variant, dsn: str, nickname: str, email: str, field: str
) -> None:
    """A registration whose check ran before a concurrent one committed the
    same nickname (or e-mail) fails at the unique index: still a 400 on that
    field, and its invite stays unused."""
    _, client = variant(registrations_open=False)
    (token,) = query(dsn, "INSERT INTO invites (token) VALUES ('one') RETURNING token")[0]
    racer = psycopg2.connect(dsn)
    try:
        with racer.cursor() as cur:
            cur.execute(
                "INSERT INTO users (nickname, email, ap_id) VALUES (%s, %s, 'x')",
                (nickname, email),
            )
        pending = client.post(REGISTER, json=form(token=token))
        await eventually(
            lambda: query(
                dsn,
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )[0][0],
            "the registration waits on the unique index",
        )
        racer.commit()
    finally:
        racer.close()
    response = await pending
    assert response.code == 400
    assert field_errors(await response.json()) == {field: ["has already been taken"]}
    assert user_count(dsn) == 1
    assert query(dsn, "SELECT used, uses FROM invites") == [(False, 0)]


# -- invites -----------------------------------------------------------------------


async def make_invite(rt: Runtime, **limits: Any) -> str:
    invite = await rt.db.run_interaction("invite", invites.create_invite_txn, **limits)
    return invite.token


def invite_rows(dsn: str) -> list[tuple[bool, int]]:
    return query(dsn, "SELECT used, uses FROM invites ORDER BY id")


@pytest.mark.parametrize("token", [None, "", "no-such-invite", 42, ["x"]])
@pytest_twisted.ensureDeferred
async def test_closed_registrations_need_a_known_invite(
    variant: Variant, dsn: str, token: Any
) -> None:
    """While registrations are closed, a missing, unknown or malformed invite
    token is a 400 whose body is the JSON string "Invalid token"."""
    rt, client = variant(registrations_open=False)
    await make_invite(rt)
    code, body = await register(client, form(token=token))
    assert (code, body) == (400, "Invalid token")
    assert user_count(dsn) == 0
    assert invite_rows(dsn) == [(False, 0)]


@pytest_twisted.ensureDeferred
async def test_open_registrations_ignore_the_token(variant: Variant, dsn: str) -> None:
    """While registrations are open the invite token is not looked at nor used."""
    rt, client = variant()
    token = await make_invite(rt)
    assert (await register(client, form(token="garbage")))[0] == 200
    assert (await register(client, form(nickname="b", email="b@x.org", token=token)))[0] == 200
    assert invite_rows(dsn) == [(False, 0)]


@pytest_twisted.ensureDeferred
async def test_one_time_invite(variant: Variant, dsn: str) -> None:
    """A one-time invite lets one account in; afterwards it is "Expired token"."""
    rt, client = variant(registrations_open=False)
    token = await make_invite(rt)
    assert (await register(client, form(token=token)))[0] == 200
    assert invite_rows(dsn) == [(True, 0)]
    code, body = await register(client, form(nickname="b", email="b@x.org", token=token))
    assert (code, body) == (400, "Expired token")
    assert user_count(dsn) == 1


@pytest_twisted.ensureDeferred
async def test_reusable_invite(variant: Variant, dsn: str) -> None:
    """A reusable invite serves max_use registrations, then is used up."""
    rt, client = variant(registrations_open=False)
    token = await make_invite(rt, max_use=2)
    assert (await register(client, form(token=token)))[0] == 200
    assert invite_rows(dsn) == [(False, 1)]
    assert (await register(client, form(nickname="b", email="b@x.org", token=token)))[0] == 200
    assert invite_rows(dsn) == [(True, 2)]
    code, body = await register(client, form(nickname="c", email="c@x.org", token=token))
    assert (code, body) == (400, "Expired token")
    assert user_count(dsn) == 2


@pytest_twisted.ensureDeferred
async def test_date_limited_invite(variant: Variant, dsn: str) -> None:
    """A date-limited invite serves anyone through its day (UTC) and is never
    used up; after its day it is "Expired token"."""
    rt, client = variant(registrations_open=False)
    token = await make_invite(rt, expires_at=today())
    for n in range(3):
        code, _ = await register(client, form(nickname=f"u{n}", email=f"{n}@x.org", token=token))
        assert code == 200
    assert invite_rows(dsn) == [(False, 0)]
    old = await make_invite(rt, expires_at=today() - timedelta(days=1))
    code, body = await register(client, form(token=old))
    assert (code, body) == (400, "Expired token")
    assert user_count(dsn) == 3


@pytest_twisted.ensureDeferred
async def test_reusable_date_limited_invite(variant: Variant, dsn: str) -> None:
    """Both limits apply: uses up to max_use, and only through its day."""
    rt, client = variant(registrations_open=False)
    token = await make_invite(rt, max_use=1, expires_at=today() + timedelta(days=3))
    assert (await register(client, form(token=token)))[0] == 200
    code, body = await register(client, form(nickname="b", email="b@x.org", token=token))
    assert (code, body) == (400, "Expired token")
    old = await make_invite(rt, max_use=5, expires_at=today() - timedelta(days=1))
    code, body = await register(client, form(nickname="c", email="c@x.org", token=old))
    assert (code, body) == (400, "Expired token")
    assert invite_rows(dsn) == [(True, 1), (False, 0)]


@pytest_twisted.ensureDeferred
async def test_failed_registration_leaves_the_invite_unused(variant: Variant, dsn: str) -> None:
    """An invite is used in the transaction that creates the account: a
    registration that fails validation or uniqueness does not use it."""
    rt, client = variant(registrations_open=False)
    seed = await make_invite(rt)
    assert (await register(client, form(token=seed)))[0] == 200
    token = await make_invite(rt)
    code, body = await register(client, form(nickname="b", email="nope", token=token))
    assert (code, field_errors(body)) == (400, {"email": FORMAT})
    code, body = await register(client, form(email="b@x.org", token=token))
    assert (code, field_errors(body)) == (400, {"nickname": ["has already been taken"]})
    assert invite_rows(dsn) == [(True, 0), (False, 0)]
    assert (await register(client, form(nickname="b", email="b@x.org", token=token)))[0] == 200
    assert invite_rows(dsn) == [(True, 0), (True, 0)]


@pytest_twisted.ensureDeferred
async def test_invite_error_comes_before_field_errors(variant: Variant, dsn: str) -> None:
    """As in the reference, a bad invite is reported before the fields are looked at."""
    _, client = variant(registrations_open=False)
    assert await register(client, {"token": "nope"}) == (400, "Invalid token")


@pytest_twisted.ensureDeferred
async def test_invite_store(rt: Runtime) -> None:
    """The invite API the ctl and Admin API use: types follow the limits,
    listing is by id, revoking marks the invite used, and consuming says
    ok / invalid / expired, changing an invite only when it was ok."""
    run = rt.db.run_interaction
    one = await run("c", invites.create_invite_txn)
    dated = await run("c", invites.create_invite_txn, expires_at=date(2030, 1, 2))
    reusable = await run("c", invites.create_invite_txn, max_use=2)
    both = await run("c", invites.create_invite_txn, max_use=1, expires_at=date(2030, 1, 2))
    assert [i.invite_type for i in (one, dated, reusable, both)] == [
        "one_time", "date_limited", "reusable", "reusable_date_limited"
    ]  # fmt: skip
    assert len(one.token) == 32 and one.uses == 0 and not one.used
    assert [i.id for i in await run("l", invites.list_invites_txn)] == [
        one.id, dated.id, reusable.id, both.id
    ]  # fmt: skip
    with pytest.raises(ValueError):
        await run("c", invites.create_invite_txn, max_use=0)

    day, later = date(2030, 1, 2), date(2030, 1, 3)
    assert await run("u", invites.consume_invite_txn, "unknown", day) == "invalid"
    assert await run("u", invites.consume_invite_txn, dated.token, later) == "expired"
    assert await run("u", invites.consume_invite_txn, dated.token, day) == "ok"
    assert await run("u", invites.consume_invite_txn, both.token, later) == "expired"
    assert await run("u", invites.consume_invite_txn, both.token, day) == "ok"
    assert await run("u", invites.consume_invite_txn, both.token, day) == "expired"
    assert await run("u", invites.consume_invite_txn, reusable.token, later) == "ok"

    revoked = await run("r", invites.revoke_invite_txn, reusable.token)
    assert revoked is not None and revoked.used and revoked.uses == 1
    assert await run("u", invites.consume_invite_txn, reusable.token, day) == "expired"
    assert await run("r", invites.revoke_invite_txn, "unknown") is None
    got = await run("g", invites.get_invite_txn, dated.token)
    assert got is not None and (got.used, got.uses) == (False, 0)


@pytest_twisted.ensureDeferred
async def test_last_use_of_an_invite_goes_to_one_of_two_racers(variant: Variant, dsn: str) -> None:
    """Two registrations racing for a one-time invite: one account, and the
    other is told "Expired token"."""
    rt, client = variant(registrations_open=False)
    token = await make_invite(rt)
    responses = await defer.gatherResults(
        [
            client.post(REGISTER, json=form(token=token)),
            client.post(REGISTER, json=form(nickname="b", email="b@x.org", token=token)),
        ]
    )
    outcomes = sorted([(r.code, await r.json()) for r in responses], key=lambda o: o[0])
    assert outcomes[0][0] == 200
    assert outcomes[1] == (400, "Expired token")
    assert user_count(dsn) == 1


# -- rate limit --------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_registration_attempts_are_rate_limited(variant: Variant, dsn: str) -> None:
    """Every attempt counts, failed or not, on both registration endpoints;
    over the limit: 429 {"error": "Throttled"} with the X-RateLimit headers,
    and nothing is written."""
    rt, client = variant(rate_limits={"registration": (3, 1800)})
    code, _ = await register(client, form(email="nope"))
    assert code == 400
    response = await client.post(REGISTER, json=form())
    assert response.code == 200
    assert response.headers.getRawHeaders("x-ratelimit-remaining") == ["1"]
    user = await registration.register_with_app(
        rt,
        {"username": "b", "email": "b@x.org", "password": "pw", "agreement": True},
        "ip:127.0.0.1",
    )
    assert user.nickname == "b"

    response = await client.post(REGISTER, json=form(nickname="c", email="c@x.org"))
    assert response.code == 429
    assert await response.json() == {"error": "Throttled"}
    assert response.headers.getRawHeaders("x-ratelimit-limit") == ["3"]
    assert response.headers.getRawHeaders("x-ratelimit-remaining") == ["0"]
    reset = response.headers.getRawHeaders("x-ratelimit-reset")[0]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", reset)
    with pytest.raises(ApiError) as refused:
        await registration.register_with_app(
            rt,
            {"username": "d", "email": "d@x.org", "password": "pw", "agreement": True},
            "ip:127.0.0.1",
        )
    assert refused.value.status == 429
    assert user_count(dsn) == 2


@pytest_twisted.ensureDeferred
async def test_field_errors_carry_the_rate_limit_headers(variant: Variant) -> None:
    """A refused registration still tells the client how many attempts remain."""
    _, client = variant(rate_limits={"registration": (3, 1800)})
    response = await client.post(REGISTER, json={})
    assert response.code == 400
    assert response.headers.getRawHeaders("x-ratelimit-remaining") == ["2"]


# -- POST /api/v1/accounts rules ---------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"email": "b@x.org", "password": "pw", "agreement": True},
        {"username": "b", "password": "pw", "agreement": True},
        {"username": "b", "email": "b@x.org", "agreement": True},
        {"username": "b", "email": "b@x.org", "password": "pw"},
        {"username": "b", "email": "b@x.org", "password": "pw", "agreement": False},
        {"username": "b", "email": "b@x.org", "password": "pw", "agreement": "no"},
    ],
)
@pytest_twisted.ensureDeferred
async def test_app_registration_needs_its_parameters(
    variant: Variant, dsn: str, params: dict[str, Any]
) -> None:
    """username, email, password and a true agreement, or 400 "Missing parameters"."""
    rt, _ = variant()
    with pytest.raises(ApiError) as refused:
        await registration.register_with_app(rt, params, "ip:127.0.0.1")
    assert (refused.value.status, refused.value.body()) == (400, {"error": "Missing parameters"})
    assert user_count(dsn) == 0


@pytest_twisted.ensureDeferred
async def test_app_registration_applies_the_same_rules(variant: Variant, dsn: str) -> None:
    """The name defaults to the username and the password confirms itself;
    every other rule is register's, with the same 400s."""
    rt, _ = variant()
    base = {"username": "bob", "email": "bob@x.org", "password": "pw", "agreement": "true"}
    user = await registration.register_with_app(rt, base, "k")
    assert (user.nickname, user.name, user.bio, user.confirmation_pending) == (
        "bob", "bob", "", False
    )  # fmt: skip
    with pytest.raises(ApiError) as refused:
        await registration.register_with_app(rt, {**base, "username": "BOB", "email": 7}, "k")
    assert field_errors(refused.value.body()) == {"email": INVALID}
    with pytest.raises(ApiError) as refused:
        await registration.register_with_app(
            rt, {**base, "email": "other@x.org", "username": "Bob"}, "k"
        )
    assert field_errors(refused.value.body()) == {"nickname": ["has already been taken"]}
    assert user_count(dsn) == 1


# -- activation and confirmation ---------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_activation_required_queues_a_confirmation_mail_whose_link_works_once(
    variant: Variant, dsn: str, tmp_path: Any
) -> None:
    """With account_activation_required the new account is pending, the
    answer is still the user object, and its confirmation mail is queued in
    the same transaction; the mail's link confirms the account (302 to /)
    once, after which the account may log in and the link is spent."""
    rt, client = variant(account_activation_required=True)
    code, body = await register(client, form())
    assert code == 200
    assert body["screen_name"] == "lain"
    assert body["pleroma"]["confirmation_pending"] is True

    user = await rt.db.run_interaction("get", users.get_user_by_nickname_txn, "lain")
    assert login_refusal(user, rt.config) is not None
    token = user.confirmation_token
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}=", token)

    (message,) = mail_jobs(dsn)
    assert message["Subject"] == "Pleroma account confirmation"
    assert message["To"] == "Lain Iwakura <lain@example.com>"
    link = f"{BASE}/api/account/confirm_email/{user.id}/{token[:-1]}%3D"
    text = message.get_body(("plain",)).get_content()
    markup = message.get_body(("html",)).get_content()
    assert link in text
    assert f'<a href="{link}">activate your account</a>' in markup
    assert "<h3>Welcome to Pleroma!</h3>" in markup

    # The queued job delivers through a real mailer.
    send: Handler = mail_job_handler(MaildirMailer(tmp_path / "mail", reactor))
    (payload,) = query(dsn, "SELECT payload FROM jobs WHERE kind = %s", (MAIL_JOB,))[0]
    await send(payload)
    (delivered,) = list((tmp_path / "mail" / "new").iterdir())
    parsed = BytesParser(policy=policy.default).parsebytes(delivered.read_bytes())
    assert link in parsed.get_body(("plain",)).get_content()

    path = urlsplit(link).path
    response = await client.get(path, allow_redirects=False)
    assert response.code == 302
    assert response.headers.getRawHeaders("location") == ["/"]
    user = await rt.db.run_interaction("get", users.get_user_txn, user.id)
    assert not user.confirmation_pending and user.confirmation_token is None
    assert login_refusal(user, rt.config) is None

    response = await client.get(path, allow_redirects=False)
    assert response.code == 400
    assert await response.json() == {"error": "Invalid token"}


@pytest.mark.parametrize(
    "path",
    [
        "/api/account/confirm_email/{id}/wrong",
        "/api/account/confirm_email/{id}/{token}x",
        "/api/account/confirm_email/{id}/{prefix}",
        "/api/account/confirm_email/1/{token}",
        "/api/account/confirm_email/abc/{token}",
        "/api/account/confirm_email/99999999999999999999999/{token}",
        "/api/account/confirm_email/-{id}/{token}",
    ],
)
@pytest_twisted.ensureDeferred
async def test_bad_confirmation_links_change_nothing(variant: Variant, dsn: str, path: str) -> None:
    """A wrong token, unknown or malformed user id is a 400 {"error": "Invalid
    token"} (not the reference's 500), and the account stays pending."""
    rt, client = variant(account_activation_required=True)
    assert (await register(client, form()))[0] == 200
    user = await rt.db.run_interaction("get", users.get_user_by_nickname_txn, "lain")
    token = user.confirmation_token
    url = path.format(id=user.id, token=token, prefix=token[:-1])
    response = await client.get(url, allow_redirects=False)
    assert response.code == 400
    assert await response.json() == {"error": "Invalid token"}
    assert query(dsn, "SELECT confirmation_pending, confirmation_token FROM users") == [
        (True, token)
    ]


@pytest_twisted.ensureDeferred
async def test_confirmation_link_of_an_already_confirmed_account_fails(
    rt: Runtime, client: Client
) -> None:
    """An account that is not pending has nothing to confirm."""
    assert (await register(client, form()))[0] == 200
    user = await rt.db.run_interaction("get", users.get_user_by_nickname_txn, "lain")
    response = await client.get(f"/api/account/confirm_email/{user.id}/x", allow_redirects=False)
    assert response.code == 400


# -- confirmation resend -----------------------------------------------------------


@pytest.mark.parametrize("path", [RESEND, RESEND_TWIN])
@pytest_twisted.ensureDeferred
async def test_resend_sends_a_fresh_mail_to_an_unconfirmed_account_only(
    variant: Variant, dsn: str, path: str
) -> None:
    """Always 204, known address or not (no enumeration): an unconfirmed
    account, by e-mail (any case) or nickname, gets a new mail with its
    token; an unknown or confirmed one gets nothing."""
    rt, client = variant(account_activation_required=True)
    assert (await register(client, form()))[0] == 200
    assert (await register(client, form(nickname="b", email="b@x.org")))[0] == 200
    b = await rt.db.run_interaction("get", users.get_user_by_nickname_txn, "b")
    await rt.db.run_interaction(
        "confirm", users.update_user_txn, b.id, confirmation_pending=False,
        confirmation_token=None,
    )  # fmt: skip
    assert len(mail_jobs(dsn)) == 2

    for params in ({"email": "LAIN@example.com"}, {"nickname": "lain"}):
        response = await client.post(path, json=params)
        assert response.code == 204
        assert await response.content() == b""
    for params in ({"email": "nobody@example.com"}, {"email": "b@x.org"}):
        response = await client.post(path, data=params)
        assert response.code == 204
    malformed = await client.post(path, data={"email": "\x00"})
    assert malformed.code == 400

    messages = mail_jobs(dsn)
    assert len(messages) == 4
    first, again = messages[0], messages[2:]
    for message in again:
        assert message["To"] == first["To"]
        assert (
            message.get_body(("plain",)).get_content() == first.get_body(("plain",)).get_content()
        )


@pytest_twisted.ensureDeferred
async def test_resend_without_activation_required_sends_nothing(
    rt: Runtime, client: Client, dsn: str
) -> None:
    """Without account_activation_required nothing is sent, still 204."""
    query(
        dsn,
        "INSERT INTO users (nickname, email, ap_id, confirmation_pending, confirmation_token)"
        " VALUES ('lain', 'lain@example.com', 'x', true, 't')",
    )
    response = await client.post(RESEND, data={"email": "lain@example.com"})
    assert response.code == 204
    assert mail_jobs(dsn) == []


@pytest_twisted.ensureDeferred
async def test_resend_gives_a_token_to_a_pending_account_without_one(
    variant: Variant, dsn: str
) -> None:
    """A pending account without a token (made pending by an operator) gets one."""
    _rt, client = variant(account_activation_required=True)
    query(
        dsn,
        "INSERT INTO users (nickname, email, ap_id, confirmation_pending)"
        " VALUES ('lain', 'lain@example.com', 'x', true)",
    )
    assert (await client.post(RESEND, data={"nickname": "lain"})).code == 204
    ((token,),) = query(dsn, "SELECT confirmation_token FROM users")
    (message,) = mail_jobs(dsn)
    assert token[:-1] in message.get_body(("plain",)).get_content()


@pytest.mark.parametrize("path", [RESEND, RESEND_TWIN])
@pytest_twisted.ensureDeferred
async def test_resend_needs_an_email_or_nickname(client: Client, path: str) -> None:
    """Neither email nor nickname: 400 "Missing field: email"."""
    for params in ({}, {"email": ""}):
        response = await client.post(path, json=params)
        assert response.code == 400
        assert await response.json() == {"error": "Missing field: email"}
    response = await client.post(path, json={"email": ["a@b.c"]})
    assert response.code == 400


@pytest_twisted.ensureDeferred
async def test_resend_is_throttled_after_five(client: Client, dsn: str) -> None:
    """Both resend routes share the confirmation_resend limit (5 per 30 min):
    each answer carries the X-RateLimit headers, the sixth is a 429."""
    remaining = []
    for n in range(5):
        response = await client.post(
            RESEND if n % 2 else RESEND_TWIN, data={"email": f"{n}@example.com"}
        )
        assert response.code == 204
        assert response.headers.getRawHeaders("x-ratelimit-limit") == ["5"]
        remaining += response.headers.getRawHeaders("x-ratelimit-remaining")
    assert remaining == ["4", "3", "2", "1", "0"]
    for path in (RESEND, RESEND_TWIN):
        response = await client.post(path, data={"email": "x@example.com"})
        assert response.code == 429
        assert await response.json() == {"error": "Throttled"}
        assert response.headers.getRawHeaders("x-ratelimit-remaining") == ["0"]
        assert len(response.headers.getRawHeaders("x-ratelimit-reset")) == 1
