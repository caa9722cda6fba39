"""Key pairs of local actors: one per account in actor_keys, the instance
actor's in settings."""

from __future__ import annotations

import json

from pleromad.db.pool import Txn
from pleromad.model import KeyPair

INSTANCE_ACTOR_KEY = "instance_actor_key"


async def key_pair_txn(txn: Txn, user_id: int) -> KeyPair | None:
    row = await txn.fetchone(
        "SELECT public_key_pem, private_key_pem FROM actor_keys WHERE user_id = %s", (user_id,)
    )
    return None if row is None else KeyPair(**row)


async def insert_txn(txn: Txn, user_id: int, pair: KeyPair) -> None:
    """Give ``user_id`` this pair unless it has one already (the first one stays)."""
    await txn.execute(
        "INSERT INTO actor_keys (user_id, public_key_pem, private_key_pem) VALUES (%s, %s, %s)"
        " ON CONFLICT (user_id) DO NOTHING",
        (user_id, pair.public_key_pem, pair.private_key_pem),
    )


async def local_users_without_keys_txn(txn: Txn, limit: int) -> list[int]:
    rows = await txn.fetchall(
        "SELECT id FROM users u WHERE local"
        " AND NOT EXISTS (SELECT 1 FROM actor_keys k WHERE k.user_id = u.id)"
        " ORDER BY id LIMIT %s",
        (limit,),
    )
    return [row["id"] for row in rows]


async def instance_key_pair_txn(txn: Txn) -> KeyPair | None:
    value = await txn.fetchval("SELECT value FROM settings WHERE key = %s", (INSTANCE_ACTOR_KEY,))
    return None if value is None else KeyPair(**json.loads(value))


async def insert_instance_key_pair_txn(txn: Txn, pair: KeyPair) -> KeyPair:
    """Store the instance actor's pair unless a node stored one first; the stored one."""
    await txn.execute(
        "INSERT INTO settings (key, value) VALUES (%s, %s) ON CONFLICT (key) DO NOTHING",
        (
            INSTANCE_ACTOR_KEY,
            json.dumps(
                {"public_key_pem": pair.public_key_pem, "private_key_pem": pair.private_key_pem}
            ),
        ),
    )
    stored = await instance_key_pair_txn(txn)
    assert stored is not None
    return stored
