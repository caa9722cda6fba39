"""The keys local actors sign with.

Every local account gets its pair when it is created (made in a thread
before the transaction that inserts the account, stored in that same
transaction); accounts older than federation get theirs from the
:data:`BACKFILL_KEYS_JOB` that migration 0021 queues.  The instance actor,
which signs server-level fetches, keeps its pair in the settings table.  A
pair still missing when it is needed is made then.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pleromad.db.pool import Txn
from pleromad.federation.keys import generate_key_pair
from pleromad.model import KeyPair
from pleromad.store import actor_keys as store
from pleromad.store import users
from pleromad.views.activitypub import instance_actor_id, key_id

if TYPE_CHECKING:
    from pleromad.jobs import Handler
    from pleromad.runtime import Runtime

BACKFILL_KEYS_JOB = "federation.backfill_keys"
_BACKFILL_BATCH = 100


async def signing_key(rt: Runtime, user_id: int | None) -> tuple[str, str]:
    """(key id, private key PEM) of a local account, or of the instance actor for None."""
    actor_id, pair = await _key_pair(rt, user_id)
    return key_id(actor_id), pair.private_key_pem


async def public_key_pem(rt: Runtime, user_id: int | None) -> str:
    """The public key a local account (None: the instance actor) publishes."""
    _actor_id, pair = await _key_pair(rt, user_id)
    return pair.public_key_pem


async def _key_pair(rt: Runtime, user_id: int | None) -> tuple[str, KeyPair]:
    if user_id is None:
        pair = await rt.db.run_interaction("instance actor key", store.instance_key_pair_txn)
        if pair is None:
            pair = await rt.db.run_interaction(
                "store instance actor key",
                store.insert_instance_key_pair_txn,
                await generate_key_pair(),
            )
        return instance_actor_id(rt.config.server.base_url), pair
    actor_id, pair = await rt.db.run_interaction("actor key", _actor_key_txn, user_id)
    if pair is None:
        pair = await rt.db.run_interaction(
            "store actor key", _store_actor_key_txn, user_id, await generate_key_pair()
        )
    return actor_id, pair


async def _actor_key_txn(txn: Txn, user_id: int) -> tuple[str, KeyPair | None]:
    user = await users.get_user_txn(txn, user_id)
    if user is None or not user.local:
        raise LookupError(f"user {user_id} is not a local account")
    return user.ap_id, await store.key_pair_txn(txn, user_id)


async def _store_actor_key_txn(txn: Txn, user_id: int, pair: KeyPair) -> KeyPair:
    # Another node may have stored one meanwhile: the first one stays.
    await store.insert_txn(txn, user_id, pair)
    stored = await store.key_pair_txn(txn, user_id)
    assert stored is not None
    return stored


async def backfill_keys(rt: Runtime) -> int:
    """Give every local account without a pair one; how many were given."""
    given = 0
    while True:
        ids = await rt.db.run_interaction(
            "accounts without keys", store.local_users_without_keys_txn, _BACKFILL_BATCH
        )
        if not ids:
            return given
        for user_id in ids:
            pair = await generate_key_pair()
            await rt.db.run_interaction("store actor key", store.insert_txn, user_id, pair)
        given += len(ids)


def handlers(rt: Runtime) -> dict[str, Handler]:
    """The job handlers of this module, by kind, for the daemon's JobRunner."""

    async def backfill_keys_job(_payload: Mapping[str, Any]) -> None:
        await backfill_keys(rt)

    return {BACKFILL_KEYS_JOB: backfill_keys_job}
