"""Actors' key pairs: made with every new account, backfilled for old ones,
and the instance actor's shared by every node."""

from __future__ import annotations

from importlib import resources

import pytest
import pytest_twisted

from pleromad.db.pool import Txn
from pleromad.domain import actor_keys, lifecycle
from pleromad.federation import httpsig
from pleromad.federation.keys import generate_key_pair
from pleromad.model import User
from pleromad.runtime import Runtime
from pleromad.store import users
from tests.conftest import Client, StartRunner
from tests.helpers import eventually, query
from tests.test_accounts import app_token, make_user
from tests.test_registration import REGISTER, form


def _pair_works(public: str, private: str) -> bool:
    """A signature made with ``private`` verifies with ``public``."""
    sent = {
        k.lower(): v
        for k, v in httpsig.sign_headers(
            "GET", "https://h.example/x", key_id="k", private_key_pem=private, now=0
        ).items()
    }
    sig = httpsig.parse_signature(sent["signature"])
    return httpsig.verify(sig, method="GET", path="/x", headers=sent, public_key_pem=public)


def stored_pair(rt: Runtime, nickname: str) -> tuple[str, str] | None:
    rows = query(
        rt.db.dsn,
        "SELECT public_key_pem, private_key_pem FROM actor_keys JOIN users ON id = user_id"
        " WHERE nickname = %s",
        (nickname,),
    )
    return rows[0] if rows else None


@pytest_twisted.ensureDeferred
async def test_registration_makes_a_pair(client: Client, rt: Runtime) -> None:
    """An account registered through `POST /api/account/register` has its RSA
    2048 pair from the start, and the two halves belong together."""
    response = await client.post(REGISTER, data=form())
    assert response.code == 200, await response.text()
    pair = stored_pair(rt, "lain")
    assert pair is not None
    assert "BEGIN PUBLIC KEY" in pair[0] and "BEGIN PRIVATE KEY" in pair[1]
    assert _pair_works(*pair)
    assert httpsig._public_key(pair[0]).key_size == 2048


@pytest_twisted.ensureDeferred
async def test_mastodon_registration_makes_a_pair(client: Client, rt: Runtime) -> None:
    """An account registered through `POST /api/v1/accounts` has its pair too."""
    response = await client.post(
        "/api/v1/accounts",
        headers=await app_token(rt),
        json={"username": "newbie", "email": "n@example.org", "password": "pw", "agreement": True},
    )
    assert response.code == 200, await response.text()
    assert stored_pair(rt, "newbie") is not None


@pytest_twisted.ensureDeferred
async def test_refused_registration_leaves_no_pair(client: Client, rt: Runtime) -> None:
    """A registration refused in its transaction (the nickname taken) stores no key."""
    await make_user(rt, "lain")
    response = await client.post(REGISTER, data=form(email="other@example.com"))
    assert response.code == 400
    assert query(rt.db.dsn, "SELECT count(*) FROM actor_keys") == [(0,)]


@pytest_twisted.ensureDeferred
async def test_operator_account_has_a_pair(rt: Runtime) -> None:
    """An account the operator creates (pleromad-ctl user new and the Admin
    API both go through lifecycle.create_account) has its pair, and it is
    the one the account signs with."""
    user = await lifecycle.create_account(rt, lifecycle.NewAccount("op", "op@example.org"))
    pair = stored_pair(rt, "op")
    assert pair is not None
    assert await actor_keys.signing_key(rt, user.id) == (f"{user.ap_id}#main-key", pair[1])
    assert await actor_keys.public_key_pem(rt, user.id) == pair[0]


@pytest_twisted.ensureDeferred
async def test_missing_pair_is_made_on_demand(rt: Runtime) -> None:
    """An account without a pair gets one the first time it signs, and keeps it."""
    user = await make_user(rt, "old")
    key_id, private = await actor_keys.signing_key(rt, user.id)
    assert key_id == f"{rt.config.server.base_url}/users/old#main-key"
    public = await actor_keys.public_key_pem(rt, user.id)
    assert _pair_works(public, private)
    assert await actor_keys.signing_key(rt, user.id) == (key_id, private)


@pytest_twisted.ensureDeferred
async def test_only_local_accounts_sign(rt: Runtime) -> None:
    """Asking for the key of a remote or unknown account is a programming error."""
    remote = await make_user(rt, "far@remote.example")
    await rt.db.run_interaction("remote", _make_remote_txn, remote)
    for user_id in (remote.id, 999_999):
        with pytest.raises(LookupError):
            await actor_keys.signing_key(rt, user_id)


async def _make_remote_txn(txn: Txn, user: User) -> None:
    await txn.execute("UPDATE users SET local = false WHERE id = %s", (user.id,))


@pytest_twisted.ensureDeferred
async def test_instance_actor_key(rt: Runtime) -> None:
    """None is the instance actor: one pair for the instance, kept in the
    settings table and named <base_url>/internal/fetch#main-key."""
    key_id, private = await actor_keys.signing_key(rt, None)
    assert key_id == f"{rt.config.server.base_url}/internal/fetch#main-key"
    assert await actor_keys.signing_key(rt, None) == (key_id, private)
    assert _pair_works(await actor_keys.public_key_pem(rt, None), private)
    assert query(rt.db.dsn, "SELECT count(*) FROM settings WHERE key = 'instance_actor_key'") == [
        (1,)
    ]


def _backfill_migration() -> str:
    return (
        resources.files("pleromad.db")
        .joinpath("migrations", "0021_actor_key_backfill.sql")
        .read_text()
    )


async def _queue_backfill_txn(txn: Txn) -> None:
    await txn.execute(_backfill_migration())


@pytest_twisted.ensureDeferred
async def test_backfill_job(rt: Runtime, start_runner: StartRunner) -> None:
    """Migration 0021 queues one job when local accounts lack a pair; the job
    gives every one of them a pair and leaves existing pairs and remote
    accounts alone.  A database with no such account gets no job."""
    await rt.db.run_interaction("migration", _queue_backfill_txn)
    assert query(rt.db.dsn, "SELECT count(*) FROM jobs") == [(0,)]

    old = [await make_user(rt, f"old{i}") for i in range(3)]
    keyed = await lifecycle.create_account(rt, lifecycle.NewAccount("new", "new@example.org"))
    before = stored_pair(rt, "new")
    remote = await make_user(rt, "far@remote.example")
    await rt.db.run_interaction("remote", _make_remote_txn, remote)
    await rt.db.run_interaction("migration", _queue_backfill_txn)
    assert query(rt.db.dsn, "SELECT kind FROM jobs") == [(actor_keys.BACKFILL_KEYS_JOB,)]

    await start_runner(actor_keys.handlers(rt))
    await eventually(lambda: query(rt.db.dsn, "SELECT count(*) FROM jobs") == [(0,)])
    have = {r[0] for r in query(rt.db.dsn, "SELECT user_id FROM actor_keys")}
    assert have == {u.id for u in old} | {keyed.id}
    assert stored_pair(rt, "new") == before


@pytest_twisted.ensureDeferred
async def test_create_user_txn_stores_a_given_pair(rt: Runtime) -> None:
    """The one store function every creation path shares stores the pair it is given."""
    pair = await generate_key_pair()
    user = await rt.db.run_interaction(
        "user",
        users.create_user_txn,
        nickname="given",
        email=None,
        name=None,
        bio="",
        bio_html="",
        password_hash=None,
        ap_id_prefix=rt.config.server.base_url,
        key_pair=pair,
    )
    assert await actor_keys.public_key_pem(rt, user.id) == pair.public_key_pem
