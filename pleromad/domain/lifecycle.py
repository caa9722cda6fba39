"""An account's life as the person and the operator change it: created by
the operator, deactivated and reactivated, deleted.

Signing out is part of every change that ends access: the tokens, cookie
sessions and pending authorization codes of the account are deleted in the
same transaction that marks it, so no request after the answer is served as
that account (DECISIONS 4 and 14).

Deletion keeps the users row as a scrubbed tombstone (the nickname can never
be taken again, DECISIONS 12) and queues the removal of everything the
account owns as a durable :data:`DELETE_ACCOUNT_JOB`; see :data:`CONTENT_STEPS`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg2.errors

from pleromad.auth.credentials import LoginFailed
from pleromad.config import Config
from pleromad.db.pool import Txn
from pleromad.domain import (
    media,
    notifications,
    publishing,
    registration,
    relationships,
    statuses,
)
from pleromad.domain.formatting import text_to_html
from pleromad.domain.login import verify_login
from pleromad.errors import Forbidden
from pleromad.federation.keys import generate_key_pair
from pleromad.model import KeyPair, User
from pleromad.store import jobs, oauth, password_resets, tombstones, users

if TYPE_CHECKING:
    from pleromad.jobs import Handler
    from pleromad.runtime import Runtime

DELETE_ACCOUNT_JOB = "delete_account"

INVALID_PASSWORD = "Invalid password."


class InvalidPassword(Forbidden):
    """The password that must confirm a destructive change is missing or wrong."""

    def __init__(self) -> None:
        super().__init__(INVALID_PASSWORD)


class AccountRefused(Exception):
    """An account the operator asked for cannot be created; the message says why."""


# -- the person's own requests ------------------------------------------------


async def confirm_password(rt: Runtime, user: User, password: str | None, client_key: str) -> None:
    """Raise InvalidPassword unless ``password`` is the account's password.

    The check is a login check: it runs off the reactor, a wrong password
    counts as a failed login of ``client_key``, and a client over that limit
    is throttled (429) even with the right password.
    """
    if not password:
        raise InvalidPassword()
    try:
        confirmed = await verify_login(rt, user.nickname, password, client_key)
    except LoginFailed:
        raise InvalidPassword() from None
    if confirmed.id != user.id:
        raise InvalidPassword()


async def disable_own_account(
    rt: Runtime, user: User, password: str | None, client_key: str
) -> None:
    """Deactivate the account once its password confirms it (signing it out)."""
    await confirm_password(rt, user, password, client_key)
    await set_activated(rt, user.id, False)


async def delete_own_account(
    rt: Runtime, user: User, password: str | None, client_key: str
) -> None:
    """Delete the account once its password confirms it."""
    await confirm_password(rt, user, password, client_key)
    await delete_account(rt, user.id)


# -- changes any caller (the person, the operator) may make --------------------


async def set_activated(rt: Runtime, user_id: int, activated: bool) -> User | None:
    """Activate or deactivate the account; deactivating also signs it out
    everywhere.  None for an unknown or deleted account."""
    return await rt.db.run_interaction("set activation", _set_activated_txn, user_id, activated)


async def _set_activated_txn(txn: Txn, user_id: int, activated: bool) -> User | None:
    user = await users.get_user_txn(txn, user_id)
    if user is None or user.deleted:
        return None
    if not activated:
        await oauth.delete_user_tokens_txn(txn, user_id)
    return await users.update_user_txn(txn, user_id, deactivated=not activated)


async def delete_account(rt: Runtime, user_id: int) -> bool:
    """Sign the account out, turn it into a tombstone and queue the removal
    of its content, all in one transaction; False if it was already deleted
    (or never existed), in which case nothing is queued."""
    return await rt.db.run_interaction("delete account", _delete_account_txn, rt.config, user_id)


async def _delete_account_txn(txn: Txn, config: Config, user_id: int) -> bool:
    if not await tombstones.tombstone_user_txn(txn, user_id):
        return False
    await _remove_credentials_txn(txn, user_id)
    # Before the content job removes the follows that say who knew it.
    user = await users.get_user_txn(txn, user_id)
    assert user is not None  # the tombstone just made
    await publishing.on_account_deleted_txn(txn, config, user)
    await jobs.enqueue_txn(txn, DELETE_ACCOUNT_JOB, {"user_id": user_id})
    return True


# -- removing a deleted account's content ------------------------------------

ContentStep = Callable[["Runtime", int], Awaitable[None]]


async def _remove_credentials(rt: Runtime, user_id: int) -> None:
    await rt.db.run_interaction("remove credentials", _remove_credentials_txn, user_id)


async def _remove_credentials_txn(txn: Txn, user_id: int) -> None:
    # Cookie sessions go with their tokens (ON DELETE CASCADE).
    await oauth.delete_user_tokens_txn(txn, user_id)
    await password_resets.delete_user_tokens_txn(txn, user_id)


# What removing a deleted account's content means, in order.  Every step must
# be idempotent: a job attempt may be cut short and run again, and
# ``pleromad-ctl user rm`` runs the steps at once besides queueing the job.
# Capabilities that give accounts more to own (statuses, follows, media, ...)
# add their step here.
CONTENT_STEPS: tuple[ContentStep, ...] = (
    _remove_credentials,
    notifications.remove_user_notifications,
    statuses.remove_user_statuses,
    media.remove_user_media,
    relationships.remove_user_relationships,
)


async def remove_content(rt: Runtime, user_id: int) -> None:
    """Run every content step for a deleted account; does nothing for an
    account that is not deleted, so a stray job can never empty a live one."""
    user = await rt.db.run_interaction("deleted account", users.get_user_txn, user_id)
    if user is None or not user.deleted:
        return
    for step in CONTENT_STEPS:
        await step(rt, user_id)


def handlers(rt: Runtime) -> dict[str, Handler]:
    """The job handlers of this module, by kind, for the daemon's JobRunner."""

    async def delete_account_job(payload: Mapping[str, Any]) -> None:
        await remove_content(rt, int(payload["user_id"]))

    return {DELETE_ACCOUNT_JOB: delete_account_job}


# -- the operator's account changes ---------------------------------------------


@dataclass(frozen=True)
class NewAccount:
    nickname: str
    email: str
    name: str | None = None
    bio: str = ""
    password: str | None = None
    is_admin: bool = False
    is_moderator: bool = False
    locked: bool = False


def account_problem(config: Config, account: NewAccount) -> str | None:
    """Why the operator's new account is not acceptable, or None: the
    registration rules (nickname format, reserved nicknames, e-mail, lengths),
    all failures in one line."""
    # No password is allowed here (a reset link sets it); an empty one is not.
    password = "unset" if account.password is None else account.password
    form = registration.RegistrationForm(
        nickname=account.nickname,
        fullname=account.nickname if account.name is None else account.name,
        bio=account.bio,
        email=account.email,
        password=password,
        confirm=password,
    )
    try:
        registration.validate(form, config.instance, require_email=True)
    except registration.RegistrationInvalid as invalid:
        return "; ".join(
            f"{name} {message}"
            for name, messages in sorted(invalid.errors.items())
            for message in messages
        )
    return None


async def create_account(rt: Runtime, account: NewAccount) -> User:
    """A confirmed local account, as the operator creates it (no password:
    none is set, and only a reset link lets the person in).  Raises
    AccountRefused with the reason."""
    problem = account_problem(rt.config, account)
    if problem is not None:
        raise AccountRefused(problem)
    password_hash = (
        await rt.passwords.hash(account.password) if account.password is not None else None
    )
    key_pair = await generate_key_pair()
    try:
        user = await rt.db.run_interaction(
            "create account",
            _create_account_txn,
            rt.config.server.base_url,
            account,
            password_hash,
            key_pair,
        )
    except psycopg2.errors.UniqueViolation:
        user = None  # created by someone else meanwhile
    if user is None:
        raise AccountRefused(
            f"the nickname {account.nickname} or the e-mail address {account.email}"
            f" is already taken"
        )
    return user


async def _create_account_txn(
    txn: Txn, base_url: str, account: NewAccount, password_hash: str | None, key_pair: KeyPair
) -> User | None:
    taken = await users.nickname_or_email_taken_txn(txn, account.nickname, account.email)
    if any(taken):
        return None
    return await users.create_user_txn(
        txn,
        nickname=account.nickname,
        email=account.email,
        name=account.name if account.name is not None else account.nickname,
        bio=account.bio,
        bio_html=text_to_html(account.bio),
        password_hash=password_hash,
        ap_id_prefix=base_url,
        is_admin=account.is_admin,
        is_moderator=account.is_moderator,
        locked=account.locked,
        key_pair=key_pair,
    )


async def update_flags(rt: Runtime, user_id: int, **flags: bool) -> User | None:
    """Set roles and switches the operator controls (``is_admin``,
    ``is_moderator``, ``locked``, ``confirmed``); None for an unknown or
    deleted account."""
    changes: dict[str, Any] = {k: v for k, v in flags.items() if k != "confirmed"}
    if flags.get("confirmed"):
        changes.update(confirmation_pending=False, confirmation_token=None)
    return await rt.db.run_interaction("update flags", _update_flags_txn, user_id, changes)


async def _update_flags_txn(txn: Txn, user_id: int, changes: dict[str, Any]) -> User | None:
    user = await users.get_user_txn(txn, user_id)
    if user is None or user.deleted:
        return None
    return await users.update_user_txn(txn, user_id, **changes)
