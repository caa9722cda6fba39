"""Who may log in, and checking a password the same way on every path.

HTTP Basic, the OAuth password grant and the authorize form all end here, so
failed logins are counted once across the three (DECISIONS 23).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pleromad.auth.credentials import LoginFailed
from pleromad.config import Config
from pleromad.domain.rate_limits import Throttled
from pleromad.model import User
from pleromad.store import users

if TYPE_CHECKING:
    from pleromad.runtime import Runtime

DISABLED = "Your account is currently disabled"
UNCONFIRMED = "Your login is missing a confirmed e-mail address"
PASSWORD_RESET_REQUIRED = "Password reset is required"


def login_refusal(user: User, config: Config) -> str | None:
    """Why an account that proved its identity still may not act, or None."""
    if user.deleted or user.deactivated:
        return DISABLED
    if user.confirmation_pending and config.instance.account_activation_required:
        return UNCONFIRMED
    if user.password_reset_pending:
        return PASSWORD_RESET_REQUIRED
    return None


async def verify_login(rt: Runtime, login: str, password: str, client_key: str) -> User:
    """The local account ``login`` names, if ``password`` is its password.

    Raises Throttled once the client has failed too often (even for a right
    password) and LoginFailed otherwise; an unknown account costs the same
    time as a wrong password.  A hash in an outdated format is replaced.
    """
    allowance = await rt.limiter.check("failed_login", client_key)
    if not allowance.allowed:
        raise Throttled(allowance)
    user = await rt.db.run_interaction("login lookup", users.get_user_by_login_txn, login)
    if user is not None and (not user.local or user.deleted):
        user = None
    verdict = await rt.passwords.verify(user.password_hash if user else None, password)
    if user is None or not verdict.ok:
        await rt.limiter.record("failed_login", client_key)
        raise LoginFailed()
    if verdict.needs_rehash:
        new_hash = await rt.passwords.hash(password)
        user = (
            await rt.db.run_interaction(
                "rehash password", users.update_user_txn, user.id, password_hash=new_hash
            )
            or user
        )
    return user
