"""Creating accounts, and confirming their e-mail addresses.

Registration follows Pleroma's order (pleroma-endpoints §6.2, DECISIONS 12
and 23): count the attempt against the ``registration`` rate limit, check
the captcha, check the invite when registrations are closed, validate every
field, then in ONE transaction use the invite, insert the account and queue
its confirmation mail, so that a registration that fails leaves nothing
behind: no account, no used invite, no mail.

Field errors reach the client as Pleroma-FE expects them: 400 with
``{"error": "<JSON of {field: [messages]}>"}``.
"""

from __future__ import annotations

import base64
import hmac
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import psycopg2.errors

from pleromad.config import Config, InstanceConfig
from pleromad.db.pool import Txn
from pleromad.domain import captcha, profile
from pleromad.domain.rate_limits import Allowance, Throttled
from pleromad.errors import ApiError, BadRequest
from pleromad.federation.keys import generate_key_pair
from pleromad.mail.confirmation import enqueue_confirmation_txn
from pleromad.model import KeyPair, User
from pleromad.store import invites, users

if TYPE_CHECKING:
    from pleromad.runtime import Runtime

BLANK = "can't be blank"
INVALID = "is invalid"
BAD_FORMAT = "has invalid format"
TAKEN = "has already been taken"
RESERVED = "is reserved"
NO_MATCH = "does not match confirmation"

# Longer than any real one; also keeps values within what a btree index holds.
NICKNAME_MAX = 100
EMAIL_MAX = 254

_NICKNAME = re.compile(r"[a-zA-Z0-9]+")
# Pleroma's rule; fullmatch, so that no trailing newline slips through.
_EMAIL = re.compile(
    r"[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*"
)
# Pleroma's rule also lets through local parts no mail header can carry
# unquoted (".a", "a..b", "a."); the confirmation mail could never be sent.
_DOT_ATOM = re.compile(r"[^.]+(?:\.[^.]+)*")

# The unique indexes of 0003_accounts.sql, by the field they guard (the
# ap_id is made of the nickname).
_UNIQUE_FIELDS = {
    "users_nickname_idx": "nickname",
    "users_ap_id_key": "nickname",
    "users_email_idx": "email",
}


class RegistrationInvalid(BadRequest):
    """400 ``{"error": "<JSON-encoded {field: [messages]}>"}``, keys sorted."""

    def __init__(self, errors: Mapping[str, list[str]]) -> None:
        super().__init__(json.dumps(dict(errors), sort_keys=True, separators=(",", ":")))
        self.errors = dict(errors)


class InviteRefused(BadRequest):
    """400 whose body is the bare JSON string ``"Invalid token"`` or ``"Expired token"``."""

    def body(self) -> Any:
        return self.message


INVALID_TOKEN = "Invalid token"
EXPIRED_TOKEN = "Expired token"
MISSING_PARAMETERS = "Missing parameters"


@dataclass(frozen=True)
class RegistrationForm:
    """What a client sent, untyped: a value of the wrong type is a field error."""

    nickname: Any = None
    fullname: Any = None
    bio: Any = None
    email: Any = None
    password: Any = None
    confirm: Any = None
    token: Any = None  # the invite, looked at only while registrations are closed
    captcha: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> RegistrationForm:
        """The TwitterAPI form (``/api/account/register``)."""
        return cls(
            nickname=params.get("nickname"),
            fullname=params.get("fullname"),
            bio=params.get("bio"),
            email=params.get("email"),
            password=params.get("password"),
            confirm=params.get("confirm"),
            token=params.get("token"),
            captcha=_captcha_params(params),
        )


@dataclass(frozen=True)
class _Account:
    """A validated form, ready to insert."""

    nickname: str
    name: str
    bio: str
    email: str | None
    password: str


def _captcha_params(params: Mapping[str, Any]) -> dict[str, Any]:
    names = ("captcha_token", "captcha_solution", "captcha_answer_data")
    return {name: params[name] for name in names if name in params}


# -- the steps ------------------------------------------------------------------


async def admit(rt: Runtime, client_key: str) -> Allowance:
    """Count one registration attempt, successful or not, from either
    registration endpoint; raises Throttled once the client is over the limit."""
    allowance = await rt.limiter.hit("registration", client_key)
    if not allowance.allowed:
        raise Throttled(allowance)
    return allowance


async def check_captcha(rt: Runtime, params: Mapping[str, Any]) -> None:
    """The captcha comes first (the reference's order); its token is used up
    whatever happens next."""
    try:
        await captcha.check(rt, params.get("captcha_token"), params.get("captcha_solution"))
    except captcha.CaptchaRefused as refused:
        raise RegistrationInvalid({"captcha": [str(refused)]}) from None


def validate(form: RegistrationForm, instance: InstanceConfig, *, require_email: bool) -> _Account:
    """Every rule at once; raises RegistrationInvalid with all failures.

    Per field, messages are listed most recently detected first, like
    Pleroma's (an absent ``confirm`` gives ``["does not match confirmation",
    "can't be blank"]``).  Lengths count code points.
    """
    errors: dict[str, list[str]] = {}

    def fail(name: str, message: str) -> None:
        errors.setdefault(name, []).insert(0, message)

    def text(name: str, value: Any, *, required: bool = True) -> str | None:
        """The value if it is usable text; None (with its error) otherwise."""
        if value is not None and not isinstance(value, str):
            fail(name, INVALID)
            return None
        if value is None or not value.strip():
            if required:
                fail(name, BLANK)
            return None
        return value

    nickname = text("nickname", form.nickname)
    name = text("name", form.fullname)
    email = text("email", form.email, required=require_email)
    password = text("password", form.password)
    text("password_confirmation", form.confirm)
    bio = text("bio", form.bio, required=False) or ""

    if password is not None and form.confirm != password:
        fail("password_confirmation", NO_MATCH)
    if nickname is not None:
        if nickname.lower() in {n.lower() for n in instance.reserved_nicknames}:
            fail("nickname", RESERVED)
        if not _NICKNAME.fullmatch(nickname):
            fail("nickname", BAD_FORMAT)
        if len(nickname) > NICKNAME_MAX:
            fail("nickname", _at_most(NICKNAME_MAX))
    if email is not None:
        local_part = email.rpartition("@")[0]
        if not (_EMAIL.fullmatch(email) and _DOT_ATOM.fullmatch(local_part)):
            fail("email", BAD_FORMAT)
        if len(email) > EMAIL_MAX:
            fail("email", _at_most(EMAIL_MAX))
    if len(bio) > instance.user_bio_length:
        fail("bio", _at_most(instance.user_bio_length))
    if name is not None and len(name) > instance.user_name_length:
        fail("name", _at_most(instance.user_name_length))

    if errors:
        raise RegistrationInvalid(errors)
    assert nickname is not None and name is not None and password is not None
    return _Account(nickname=nickname, name=name, bio=bio, email=email, password=password)


def _at_most(count: int) -> str:
    return f"should be at most {count} character(s)"


def new_confirmation_token() -> str:
    """URL-safe base64 of 32 random bytes, with its ``=`` padding (as Pleroma's)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")


def today(rt: Runtime) -> date:
    return datetime.fromtimestamp(rt.clock.seconds(), UTC).date()


# -- registering ------------------------------------------------------------------


async def register(
    rt: Runtime,
    form: RegistrationForm,
    client_key: str,
    *,
    require_email: bool = True,
    allowance: Allowance | None = None,
) -> User:
    """Create the local account ``form`` describes, or raise the ApiError
    that says why not (Throttled, RegistrationInvalid, InviteRefused).

    ``allowance`` is the answer of :func:`admit` when the caller counted the
    attempt already (to send the rate-limit headers itself).
    """
    if allowance is None:
        await admit(rt, client_key)
    await check_captcha(rt, form.captcha)
    invite = None
    if not rt.config.instance.registrations_open:
        invite = await _check_invite(rt, form.token)
    account = validate(form, rt.config.instance, require_email=require_email)
    password_hash = await rt.passwords.hash(account.password)
    key_pair = await generate_key_pair()
    pending = rt.config.instance.account_activation_required
    try:
        return await rt.db.run_interaction(
            "register",
            _create_account_txn,
            rt.config,
            account,
            password_hash,
            key_pair,
            invite,
            today(rt),
            rt.clock.seconds(),
            new_confirmation_token() if pending else None,
        )
    except psycopg2.errors.UniqueViolation as e:
        # Another registration took the name between our check and our insert.
        taken = _UNIQUE_FIELDS.get(e.diag.constraint_name or "")
        if taken is None:
            raise
        raise RegistrationInvalid({taken: [TAKEN]}) from None


async def _check_invite(rt: Runtime, token: Any) -> str:
    """The invite token, if it is one a registration may use now."""
    if not isinstance(token, str) or not token:
        raise InviteRefused(INVALID_TOKEN)
    invite = await rt.db.run_interaction("check invite", invites.get_invite_txn, token)
    if invite is None:
        raise InviteRefused(INVALID_TOKEN)
    if invite.verdict(today(rt)) != "ok":
        raise InviteRefused(EXPIRED_TOKEN)
    return token


async def _create_account_txn(
    txn: Txn,
    config: Config,
    account: _Account,
    password_hash: str,
    key_pair: KeyPair,
    invite: str | None,
    on: date,
    now: float,
    confirmation_token: str | None,
) -> User:
    if invite is not None:
        # Checked before validation already; checked again under the row lock
        # because a concurrent registration may have used it up since.
        verdict = await invites.consume_invite_txn(txn, invite, on)
        if verdict != "ok":
            raise InviteRefused(INVALID_TOKEN if verdict == "invalid" else EXPIRED_TOKEN)
    nickname_taken, email_taken = await users.nickname_or_email_taken_txn(
        txn, account.nickname, account.email
    )
    if nickname_taken or email_taken:
        errors = {"nickname": [TAKEN]} if nickname_taken else {}
        if email_taken:
            errors["email"] = [TAKEN]
        raise RegistrationInvalid(errors)
    user = await users.create_user_txn(
        txn,
        nickname=account.nickname,
        email=account.email,
        name=account.name,
        bio=account.bio,
        bio_html=await profile.bio_html_txn(txn, config, account.bio, None),
        password_hash=password_hash,
        ap_id_prefix=config.server.base_url,
        confirmation_pending=confirmation_token is not None,
        confirmation_token=confirmation_token,
        key_pair=key_pair,
    )
    if confirmation_token is not None:
        await enqueue_confirmation_txn(txn, config, user, now)
    return user


async def register_with_app(
    rt: Runtime, params: Mapping[str, Any], client_key: str, *, allowance: Allowance | None = None
) -> User:
    """Mastodon's ``POST /api/v1/accounts`` (DECISIONS 25): ``username``,
    ``email``, ``password`` and ``agreement`` (true) are required, else 400
    ``Missing parameters``; ``fullname`` defaults to the username and the
    password is its own confirmation.  Otherwise exactly :func:`register`."""
    if allowance is None:
        allowance = await admit(rt, client_key)
    required = ("username", "email", "password")
    if any(params.get(name) is None for name in required) or not _agreed(params.get("agreement")):
        raise BadRequest(MISSING_PARAMETERS)
    username = params["username"]
    fullname = params.get("fullname")
    form = RegistrationForm(
        nickname=username,
        fullname=username if fullname is None or fullname == "" else fullname,
        bio=params.get("bio"),
        email=params["email"],
        password=params["password"],
        confirm=params["password"],
        token=params.get("token"),
        captcha=_captcha_params(params),
    )
    return await register(rt, form, client_key, allowance=allowance)


def _agreed(value: Any) -> bool:
    """JSON true, or what a form sends for it (``true``, ``True``, ``1``, ``on``)."""
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip().lower() in ("true", "1", "on")


# -- confirming -------------------------------------------------------------------


class ConfirmationFailed(ApiError):
    """400 ``{"error": "Invalid token"}``: whatever was wrong with the link."""

    def __init__(self) -> None:
        super().__init__(INVALID_TOKEN, status=400)


async def confirm_email(rt: Runtime, user_id: str, token: str) -> User:
    """Confirm the account the link names, if ``token`` is its pending token
    (compared in constant time); otherwise raise ConfirmationFailed and
    change nothing.  Activation need not be required for a link to work."""
    if not (user_id.isascii() and user_id.isdigit() and len(user_id) <= 18):
        raise ConfirmationFailed()  # not an id: more digits than a bigint holds
    user = await rt.db.run_interaction("confirm email", _confirm_txn, int(user_id), token)
    if user is None:
        raise ConfirmationFailed()
    return user


async def _confirm_txn(txn: Txn, user_id: int, token: str) -> User | None:
    user = await users.get_user_txn(txn, user_id)
    if (
        user is None
        or not user.local
        or user.deleted
        or not user.confirmation_pending
        or user.confirmation_token is None
        or not hmac.compare_digest(
            user.confirmation_token.encode(), token.encode("utf-8", "replace")
        )
    ):
        return None
    return await users.update_user_txn(
        txn, user.id, confirmation_pending=False, confirmation_token=None
    )


async def resend_confirmation(rt: Runtime, login: str, client_key: str) -> Allowance:
    """Queue the confirmation mail again for the unconfirmed account ``login``
    names (a nickname, else an e-mail address), when activation is required.

    Counts against ``confirmation_resend`` (raises Throttled when over) and
    says nothing about whether the account exists: the caller answers 204
    either way (DECISIONS 13).  The mail carries the token the account already
    has, so every mail sent for it stays valid; a pending account without one
    gets one.
    """
    allowance = await rt.limiter.hit("confirmation_resend", client_key)
    if not allowance.allowed:
        raise Throttled(allowance)
    if rt.config.instance.account_activation_required and isinstance(login, str):
        await rt.db.run_interaction(
            "resend confirmation", _resend_txn, rt.config, login, rt.clock.seconds()
        )
    return allowance


async def _resend_txn(txn: Txn, config: Config, login: str, now: float) -> None:
    user = await users.get_user_by_login_txn(txn, login)
    if user is None or not user.local or user.deleted or not user.confirmation_pending:
        return
    if user.confirmation_token is None:
        user = await users.update_user_txn(
            txn, user.id, confirmation_token=new_confirmation_token()
        )
        assert user is not None
    await enqueue_confirmation_txn(txn, config, user, now)
