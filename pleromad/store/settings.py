"""Instance-wide values shared by every node (secrets created on first use)."""

from __future__ import annotations

import secrets

from pleromad.db.pool import Txn

COOKIE_SECRET = "cookie_secret"


async def get_or_create_secret_txn(txn: Txn, key: str) -> str:
    """The secret stored under ``key``, created by whichever node asks first."""
    await txn.execute(
        "INSERT INTO settings (key, value) VALUES (%s, %s) ON CONFLICT (key) DO NOTHING",
        (key, secrets.token_hex(32)),
    )
    value: str = await txn.fetchval("SELECT value FROM settings WHERE key = %s", (key,))
    return value
