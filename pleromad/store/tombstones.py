"""Deleted accounts: the users row kept as a tombstone.

The row stays so that its nickname (and ap_id) is never given to anyone else
(DECISIONS 12); everything the person put in it is scrubbed.
"""

from __future__ import annotations

from pleromad.db.pool import Txn


async def tombstone_user_txn(txn: Txn, user_id: int) -> bool:
    """Mark the account deleted (and deactivated) and scrub its personal data
    and roles, keeping nickname and ap_id; False when it was already deleted
    or does not exist."""
    changed = await txn.execute(
        "UPDATE users SET deleted = true, deactivated = true, email = NULL, name = NULL,"
        " bio = '', bio_html = '', password_hash = NULL, avatar = NULL, banner = NULL,"
        " background = NULL, confirmation_pending = false, confirmation_token = NULL,"
        " is_admin = false, is_moderator = false, locked = false, tags = '{}',"
        " settings_store = '{}', notification_settings = '{}', updated_at = now()"
        " WHERE id = %s AND NOT deleted",
        (user_id,),
    )
    return changed > 0
