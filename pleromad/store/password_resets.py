"""Password reset tokens: the secret in a reset link, stored as its digest.

A token is good once, until ``valid_until``, and only while its account
exists; :func:`consume_txn` is the one atomic step that spends it.
"""

from __future__ import annotations

from pleromad.db.pool import Txn
from pleromad.store.oauth import digest, new_secret

# Live: unused, unexpired, and the account neither deleted nor remote.
_LIVE = (
    "NOT r.used AND r.valid_until > now()"
    " AND EXISTS (SELECT 1 FROM users u WHERE u.id = r.user_id AND u.local AND NOT u.deleted)"
)


async def create_txn(txn: Txn, user_id: int, ttl: float) -> str:
    """A new token for ``user_id``, valid for ``ttl`` seconds; the secret itself."""
    token = new_secret()
    await txn.execute(
        "INSERT INTO password_reset_tokens (token_hash, user_id, valid_until)"
        " VALUES (%s, %s, now() + make_interval(secs => %s))",
        (digest(token), user_id, ttl),
    )
    return token


async def live_user_id_txn(txn: Txn, token: str) -> int | None:
    """The account a live token resets, without spending it."""
    return await txn.fetchval(
        f"SELECT r.user_id FROM password_reset_tokens r WHERE r.token_hash = %s AND {_LIVE}",
        (digest(token),),
    )


async def consume_txn(txn: Txn, token: str) -> int | None:
    """Mark a live token used and return its account; None when it is not live
    (unknown, used, expired), so two concurrent resets cannot both spend it."""
    return await txn.fetchval(
        f"UPDATE password_reset_tokens r SET used = true WHERE r.token_hash = %s AND {_LIVE}"
        f" RETURNING r.user_id",
        (digest(token),),
    )


async def delete_unused_txn(txn: Txn, user_id: int) -> int:
    """Forget the account's tokens that were never used: after a reset, an
    older link must not change the password again."""
    return await txn.execute(
        "DELETE FROM password_reset_tokens WHERE user_id = %s AND NOT used", (user_id,)
    )


async def delete_user_tokens_txn(txn: Txn, user_id: int) -> int:
    """Every token of the account, used or not."""
    return await txn.execute("DELETE FROM password_reset_tokens WHERE user_id = %s", (user_id,))
