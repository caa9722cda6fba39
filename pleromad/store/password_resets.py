"""Password reset tokens: the secret in a reset link, stored as its digest.

A token is good once, until ``valid_until``, and only while its account
exists; :func:`consume_txn` is the one atomic step that spends it.  Times are
seconds since the epoch, from the caller's clock.
"""

from __future__ import annotations

from pleromad.db.pool import Txn
from pleromad.store.oauth import digest, new_secret

# Live: unused, unexpired, and the account neither deleted nor remote.
_LIVE = (
    "NOT r.used AND r.valid_until > to_timestamp(%(now)s)"
    " AND EXISTS (SELECT 1 FROM users u WHERE u.id = r.user_id AND u.local AND NOT u.deleted)"
)


async def create_txn(txn: Txn, user_id: int, valid_until: float) -> str:
    """A new token for ``user_id``, valid until ``valid_until``; the secret itself."""
    token = new_secret()
    await txn.execute(
        "INSERT INTO password_reset_tokens (token_hash, user_id, valid_until)"
        " VALUES (%s, %s, to_timestamp(%s))",
        (digest(token), user_id, valid_until),
    )
    return token


async def live_user_id_txn(txn: Txn, token: str, now: float) -> int | None:
    """The account a token live at ``now`` resets, without spending it."""
    user_id: int | None = await txn.fetchval(
        f"SELECT r.user_id FROM password_reset_tokens r WHERE r.token_hash = %(token)s AND {_LIVE}",
        {"token": digest(token), "now": now},
    )
    return user_id


async def consume_txn(txn: Txn, token: str, now: float) -> int | None:
    """Mark a token live at ``now`` used and return its account; None when it
    is not live (unknown, used, expired), so two concurrent resets cannot both
    spend it."""
    user_id: int | None = await txn.fetchval(
        "UPDATE password_reset_tokens r SET used = true"
        f" WHERE r.token_hash = %(token)s AND {_LIVE} RETURNING r.user_id",
        {"token": digest(token), "now": now},
    )
    return user_id


async def delete_unused_txn(txn: Txn, user_id: int) -> int:
    """Forget the account's tokens that were never used: after a reset, an
    older link must not change the password again."""
    return await txn.execute(
        "DELETE FROM password_reset_tokens WHERE user_id = %s AND NOT used", (user_id,)
    )


async def delete_user_tokens_txn(txn: Txn, user_id: int) -> int:
    """Every token of the account, used or not."""
    return await txn.execute("DELETE FROM password_reset_tokens WHERE user_id = %s", (user_id,))
