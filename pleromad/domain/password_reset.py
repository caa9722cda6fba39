"""Password reset links: made for the operator (or an admin), used once.

A link is ``<base_url>/api/pleroma/password_reset/<token>``; the token is 32
random bytes (URL-safe base64), stored only as its SHA-256 digest, good for
:data:`RESET_TTL` seconds and for one successful reset.  A reset sets the new
password, spends the token, forgets the account's other unused tokens (an
older link must not undo the reset) and signs the account out everywhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pleromad.db.pool import Txn
from pleromad.model import User
from pleromad.store import oauth, password_resets, users

if TYPE_CHECKING:
    from pleromad.runtime import Runtime

RESET_TTL = 24 * 3600

INVALID_TOKEN = "Invalid or expired token."
EMPTY_PASSWORD = "The password must not be empty."
MISMATCH = "The password and its confirmation do not match."


class ResetRefused(Exception):
    """A reset that cannot happen; ``bad_token`` says whether retrying with
    the same link is pointless."""

    def __init__(self, message: str, *, bad_token: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.bad_token = bad_token


def reset_url(base_url: str, token: str) -> str:
    return f"{base_url}/api/pleroma/password_reset/{token}"


async def create_reset_link(rt: Runtime, user: User) -> str:
    """A new reset link for the local account ``user``."""
    token = await rt.db.run_interaction(
        "create password reset",
        password_resets.create_txn,
        user.id,
        rt.clock.seconds() + RESET_TTL,
    )
    return reset_url(rt.config.server.base_url, token)


async def token_is_live(rt: Runtime, token: str) -> bool:
    """Whether ``token`` can still reset a password (unused, unexpired)."""
    found = await rt.db.run_interaction(
        "check password reset", password_resets.live_user_id_txn, token, rt.clock.seconds()
    )
    return found is not None


async def reset(rt: Runtime, token: str, password: str, confirmation: str) -> User:
    """Set the password of the account ``token`` belongs to; raises
    ResetRefused when the passwords are empty or differ, or the token is
    not live (unknown, used, expired, or its account deleted)."""
    if not await token_is_live(rt, token):
        raise ResetRefused(INVALID_TOKEN, bad_token=True)
    if not password:
        raise ResetRefused(EMPTY_PASSWORD)
    if password != confirmation:
        raise ResetRefused(MISMATCH)
    password_hash = await rt.passwords.hash(password)
    # Spending the token is the atomic step: of two resets racing with one
    # link, the second finds it used.
    user = await rt.db.run_interaction(
        "password reset", _reset_txn, token, password_hash, rt.clock.seconds()
    )
    if user is None:
        raise ResetRefused(INVALID_TOKEN, bad_token=True)
    return user


async def _reset_txn(txn: Txn, token: str, password_hash: str, now: float) -> User | None:
    user_id = await password_resets.consume_txn(txn, token, now)
    if user_id is None:
        return None
    await password_resets.delete_unused_txn(txn, user_id)
    await oauth.delete_user_tokens_txn(txn, user_id)
    return await users.update_user_txn(
        txn, user_id, password_hash=password_hash, password_reset_pending=False
    )
