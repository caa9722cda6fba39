"""POST /api/pleroma/follow_import (DECISIONS 10): parsing the list, the
413, and the durable job that follows each account exactly once."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import pytest_twisted
from twisted.internet import reactor

from pleromad.config import Config
from pleromad.db.pool import Database, Txn
from pleromad.domain import follow_import
from pleromad.domain.follow_import import follow_targets, parse_addresses
from pleromad.model import User
from pleromad.runtime import Runtime, build_runtime
from pleromad.store import jobs as jobs_store
from pleromad.store import remote_actors as remote_actors_store
from pleromad.store.remote_actors import ActorRecord
from tests.conftest import CHEAP_PASSWORDS, Client, StartRunner
from tests.federation_peers import free_port
from tests.helpers import eventually, query
from tests.test_accounts import answer, bearer, make_user, set_user
from tests.test_jobs import _terminate_lock_holder_txn
from tests.test_relationships import act, snapshot

IMPORT = "/api/pleroma/follow_import"


def host(rt: Runtime) -> str:
    return urlsplit(rt.config.server.base_url).netloc


def mastodon_export(rt: Runtime) -> str:
    """A Mastodon "following" export: header, CRLF, a leading @ on one
    line, local accounts by bare and full address, unknown and remote ones."""
    lines = [
        "Account address,Show boosts,Notify on new posts,Languages",
        f"bob@{host(rt)},true,false,",
        "@carol,false,false,",
        "dora,true,false,en",
        "nobody,true,false,",
        # A remote address that names no account (the client refuses loopback).
        "someone@127.0.0.1:9,true,false,",
        "",
    ]
    return "\r\n".join(lines)


def queued(rt: Runtime) -> list[dict[str, Any]]:
    rows = query(rt.db.dsn, "SELECT payload FROM jobs WHERE kind = 'follow_import' ORDER BY id")
    return [row[0] if isinstance(row[0], dict) else json.loads(row[0]) for row in rows]


def followed_by(rt: Runtime, user: User) -> dict[str, str]:
    """Nickname -> follow state of every account ``user`` follows or asked to."""
    return dict(
        query(
            rt.db.dsn,
            "SELECT u.nickname, f.state FROM follows f JOIN users u ON u.id = f.followee_id"
            " WHERE f.follower_id = %s",
            (user.id,),
        )
    )


@pytest_twisted.async_fixture
async def accounts(rt: Runtime) -> dict[str, User]:
    made = {name: await make_user(rt, name) for name in ("alice", "bob", "carol", "dora")}
    made["dora"] = await set_user(rt, made["dora"], locked=True)
    return made


def test_the_list_is_each_lines_first_csv_field_split_on_whitespace() -> None:
    """Each line's first CSV field, split on whitespace, gives accounts; the
    header line and a leading @ are dropped; CRLF, quotes and blank lines
    are fine."""
    text = (
        "Account address,Show boosts\r\n"
        "@a@x.example,true\r\n"
        '"b c",false\r\n'
        "\r\n"
        "  d  \n"
        "e\tf@y.example @g\n"
    )
    assert parse_addresses(text) == ["a@x.example", "b", "c", "d", "e", "f@y.example", "g"]
    # Past the csv module's field size limit, the line is still read.
    assert parse_addresses('"' + "x" * 200_000 + "\nh") == ['"' + "x" * 200_000, "h"]


def test_each_account_is_kept_once_remote_ones_with_federation() -> None:
    """`nick` and `nick@our-host` (any case) are the local nick; other
    hosts' `nick@host` and URLs are kept with federation, dropped without;
    each account is kept once."""
    base_url = "https://social.example"
    addresses = [
        "bob",
        "Bob@SOCIAL.example",
        "carol@Other.example",
        "carol",
        "BOB",
        "CAROL@other.example",
        "https://other.example/users/dan",
    ]
    assert follow_targets(addresses, base_url, federating=False) == ["bob", "carol"]
    assert follow_targets(addresses, base_url, federating=True) == [
        "bob",
        "carol@other.example",
        "carol",
        "https://other.example/users/dan",
    ]


@pytest_twisted.ensureDeferred
async def test_a_mastodon_export_is_followed_by_the_job(
    rt: Runtime, client: Client, accounts: dict[str, User], start_runner: StartRunner
) -> None:
    """The answer is the JSON string "job started"; the job follows the
    local accounts of a Mastodon export (a locked one gets a request) and
    skips unknown ones (a remote address naming no account too) silently."""
    alice = accounts["alice"]
    code, body = await answer(
        await client.post(
            IMPORT, headers=await bearer(rt, alice), data={"list": mastodon_export(rt)}
        )
    )
    assert (code, body) == (200, "job started")
    assert queued(rt) == [
        {
            "follower_id": alice.id,
            "addresses": ["bob", "carol", "dora", "nobody", "someone@127.0.0.1:9"],
        }
    ]
    await start_runner(follow_import.handlers(rt))
    await eventually(lambda: not queued(rt), "the import job to finish")
    assert followed_by(rt, alice) == {"bob": "accepted", "carol": "accepted", "dora": "pending"}


@pytest_twisted.ensureDeferred
async def test_the_list_may_be_an_uploaded_file(
    rt: Runtime, client: Client, accounts: dict[str, User]
) -> None:
    """`list` as a multipart file (UTF-8, a BOM is fine) works as the string."""
    alice = accounts["alice"]
    data = ("\ufeff" + mastodon_export(rt)).encode("utf-8")
    code, body = await answer(
        await client.post(
            IMPORT,
            headers=await bearer(rt, alice),
            files={"list": ("following_accounts.csv", "text/csv", data)},
        )
    )
    assert (code, body) == (200, "job started")
    handler = follow_import.handlers(rt)["follow_import"]
    for payload in queued(rt):
        await handler(payload)
    assert followed_by(rt, alice) == {"bob": "accepted", "carol": "accepted", "dora": "pending"}


@pytest_twisted.ensureDeferred
async def test_running_the_job_again_follows_each_account_once(
    rt: Runtime, client: Client, accounts: dict[str, User]
) -> None:
    """A job run twice (as after a kill -9 mid-run) leaves one follow per
    account and one follow notification per followed account."""
    alice = accounts["alice"]
    await client.post(IMPORT, headers=await bearer(rt, alice), data={"list": "bob carol dora"})
    (payload,) = queued(rt)
    handler = follow_import.handlers(rt)["follow_import"]
    await handler(payload)
    first = snapshot(rt)
    await handler(payload)
    assert snapshot(rt) == first
    assert followed_by(rt, alice) == {"bob": "accepted", "carol": "accepted", "dora": "pending"}
    notified = query(
        rt.db.dsn,
        "SELECT user_id, count(*) FROM notifications WHERE actor_id = %s AND type = 'follow'"
        " GROUP BY user_id",
        (alice.id,),
    )
    assert sorted(count for _, count in notified) == [1] * len(notified)


@pytest_twisted.ensureDeferred
async def test_accounts_that_cannot_be_followed_are_skipped(
    rt: Runtime, client: Client, accounts: dict[str, User]
) -> None:
    """Oneself, an account that blocks the importer or that it blocks, a
    deactivated one and one already followed are skipped (the existing
    follow keeps its reblogs preference); the rest are followed."""
    alice, bob, carol = accounts["alice"], accounts["bob"], accounts["carol"]
    as_alice = await bearer(rt, alice)
    await act(client, await bearer(rt, bob), alice, "block")
    await act(client, as_alice, accounts["dora"], "block")
    await set_user(rt, await make_user(rt, "dormant"), deactivated=True)
    await act(client, as_alice, carol, "follow", data={"reblogs": "false"})
    await make_user(rt, "erin")
    await client.post(IMPORT, headers=as_alice, data={"list": "alice bob carol dora dormant erin"})
    handler = follow_import.handlers(rt)["follow_import"]
    for payload in queued(rt):
        await handler(payload)
    assert followed_by(rt, alice) == {"carol": "accepted", "erin": "accepted"}
    reblogs = query(
        rt.db.dsn,
        "SELECT show_reblogs FROM follows WHERE follower_id = %s AND followee_id = %s",
        (alice.id, carol.id),
    )
    assert reblogs == [(False,)]


@pytest_twisted.ensureDeferred
async def test_more_than_20000_accounts_is_413_and_queues_nothing(
    rt: Runtime, client: Client, accounts: dict[str, User]
) -> None:
    """Past 20,000 accounts the import is refused whole: 413, no job; at
    exactly 20,000 it is taken."""
    headers = await bearer(rt, accounts["alice"])
    too_many = "\n".join(f"user{i}" for i in range(20_001))
    code, body = await answer(await client.post(IMPORT, headers=headers, data={"list": too_many}))
    assert code == 413 and "20000" in body["error"]
    code, _ = await answer(
        await client.post(
            IMPORT, headers=headers, files={"list": ("f.csv", "text/csv", too_many.encode())}
        )
    )
    assert code == 413
    assert queued(rt) == []
    just_enough = "\n".join(f"user{i}" for i in range(20_000))
    code, body = await answer(
        await client.post(IMPORT, headers=headers, data={"list": just_enough})
    )
    assert (code, body) == (200, "job started")
    assert len(queued(rt)[0]["addresses"]) == 20_000


@pytest_twisted.ensureDeferred
async def test_bad_requests_queue_nothing(
    rt: Runtime, client: Client, accounts: dict[str, User]
) -> None:
    """No `list`: 400 Missing field; a list that is neither text nor a file,
    or a file that is not UTF-8: 400; no `follow` scope or no credentials:
    403.  Nothing is queued."""
    alice = accounts["alice"]
    headers = await bearer(rt, alice)
    assert await answer(await client.post(IMPORT, headers=headers)) == (
        400,
        {"error": "Missing field: list"},
    )
    code, body = await answer(await client.post(IMPORT, headers=headers, json={"list": ["bob"]}))
    assert code == 400 and "list" in body["error"]
    code, body = await answer(
        await client.post(
            IMPORT, headers=headers, files={"list": ("f.csv", "text/csv", b"bob\xff\xfe")}
        )
    )
    assert code == 400 and "UTF-8" in body["error"]
    read_write = await bearer(rt, alice, ["read", "write"])
    assert await answer(await client.post(IMPORT, headers=read_write, data={"list": "bob"})) == (
        403,
        {"error": "Insufficient permissions: follow."},
    )
    assert await answer(await client.post(IMPORT, data={"list": "bob"})) == (
        403,
        {"error": "Invalid credentials."},
    )
    assert queued(rt) == []


@pytest_twisted.ensureDeferred
async def test_a_list_of_no_account_queues_no_job(
    rt: Runtime, client: Client, accounts: dict[str, User]
) -> None:
    """A list that names no account is still "job started", with no job to run."""
    code, body = await answer(
        await client.post(
            IMPORT,
            headers=await bearer(rt, accounts["alice"]),
            data={"list": "Account address,Show boosts\n,true\n@\n"},
        )
    )
    assert (code, body) == (200, "job started")
    assert queued(rt) == []


@pytest_twisted.ensureDeferred
async def test_the_job_of_a_deleted_importer_does_nothing(
    rt: Runtime, accounts: dict[str, User]
) -> None:
    """An importer deleted or deactivated before the job runs follows nobody."""
    alice = accounts["alice"]
    await set_user(rt, alice, deactivated=True)
    handler = follow_import.handlers(rt)["follow_import"]
    await handler({"follower_id": alice.id, "addresses": ["bob", "carol"]})
    assert followed_by(rt, alice) == {}


# -- remote accounts, and a job killed half-way -------------------------------------------

PEER = "https://peer.example"


async def _store_remote_accounts_txn(txn: Txn, count: int, now: float) -> None:
    """``count`` remote accounts u0@peer.example..., fetched just now (so
    resolving them needs no network)."""
    for n in range(count):
        actor = f"{PEER}/users/u{n}"
        record = ActorRecord(
            ap_id=actor,
            host="peer.example",
            nickname=f"u{n}@peer.example",
            name=None,
            bio="",
            bio_html="",
            locked=False,
            avatar=None,
            banner=None,
            inbox=f"{actor}/inbox",
            shared_inbox=f"{PEER}/inbox",
            outbox=None,
            followers_url=None,
            following_url=None,
            key_id=f"{actor}#main-key",
            public_key_pem="",
            document={"id": actor, "type": "Person"},
        )
        await remote_actors_store.upsert_txn(txn, record, now)


def follows_sent(rt: Runtime) -> list[tuple[int, int]]:
    """(Follow deliveries queued, distinct accounts they follow)."""
    return query(
        rt.db.dsn,
        "SELECT count(*), count(DISTINCT payload->'activity'->>'object') FROM jobs"
        " WHERE kind = 'federation.deliver' AND payload->'activity'->>'type' = 'Follow'",
    )


@pytest_twisted.ensureDeferred
async def test_a_killed_import_of_remote_accounts_resumes_and_sends_each_follow_once(
    rt: Runtime, client: Client, accounts: dict[str, User], start_runner: StartRunner
) -> None:
    """A 1,000-line import of remote accounts (`nick@host`, `@nick@host`,
    actor URLs) whose worker's database session dies half-way is taken over
    by another runner, which resumes after the last line done (its payload
    says where) and finishes: each account followed, and sent a Follow, once."""
    count = 1000
    await rt.db.run_interaction(
        "remote accounts", _store_remote_accounts_txn, count, rt.clock.seconds()
    )
    lines = [
        (f"u{n}@peer.example", f"@u{n}@peer.example", f"{PEER}/users/u{n}")[n % 3]
        for n in range(count)
    ]
    alice = accounts["alice"]
    await client.post(IMPORT, headers=await bearer(rt, alice), data={"list": "\n".join(lines)})
    [job_id] = [
        row[0]
        for row in query(
            rt.db.dsn, "SELECT id FROM jobs WHERE kind = %s", (follow_import.FOLLOW_IMPORT_JOB,)
        )
    ]
    real = follow_import.handlers(rt)[follow_import.FOLLOW_IMPORT_JOB]
    resumed_at: list[int] = []

    async def rescuer(payload: Any) -> None:
        resumed_at.append(int(payload.get("done", 0)))
        await real(payload)

    def progress() -> int:
        rows = query(rt.db.dsn, "SELECT (payload->>'done')::int FROM jobs WHERE id = %s", (job_id,))
        return rows[0][0] or 0 if rows else count

    await start_runner({follow_import.FOLLOW_IMPORT_JOB: real}, concurrency=1)
    await eventually(lambda: progress() >= 100, "a tenth of the import", 30.0)
    killed = await rt.db.run_interaction("kill", _terminate_lock_holder_txn, job_id)
    assert killed == 1
    assert progress() < count, "the import ended before the kill"
    await start_runner({follow_import.FOLLOW_IMPORT_JOB: rescuer})

    await eventually(lambda: not queued(rt), "the import to finish", 60.0)
    assert resumed_at and 100 <= resumed_at[0] < count
    assert follows_sent(rt) == [(count, count)]
    [(follows,)] = query(
        rt.db.dsn, "SELECT count(*) FROM follows WHERE follower_id = %s", (alice.id,)
    )
    assert follows == count


@pytest_twisted.ensureDeferred
async def test_an_unreachable_server_is_tried_again_then_skipped(
    config: Config, db: Database, accounts: dict[str, User], start_runner: StartRunner
) -> None:
    """An address whose server does not answer (a closed loopback port) does
    not hold the others up: the pass follows the rest, and the job comes
    back later for that address alone; on its last attempt it is skipped
    and the job ends."""
    config = replace(config, federation=replace(config.federation, allow_private_addresses=True))
    rt = build_runtime(config, db, reactor, b"s" * 32, passwords=CHEAP_PASSWORDS)
    unreachable = f"nobody@127.0.0.1:{free_port('127.0.0.1')}"
    alice = accounts["alice"]
    job_id = await db.run_interaction(
        "queue",
        jobs_store.enqueue_txn,
        follow_import.FOLLOW_IMPORT_JOB,
        {"follower_id": alice.id, "addresses": [unreachable, "bob"]},
        max_attempts=follow_import.MAX_ATTEMPTS,
    )
    await start_runner(follow_import.handlers(rt))

    def job() -> list[tuple[Any, ...]]:
        return query(
            db.dsn,
            "SELECT state, attempts, payload->'addresses', run_at > now() FROM jobs WHERE id = %s",
            (job_id,),
        )

    await eventually(lambda: job() == [("pending", 1, [unreachable], True)], "a second pass", 20.0)
    assert followed_by(rt, alice) == {"bob": "accepted"}

    query(
        db.dsn,
        "UPDATE jobs SET attempts = max_attempts - 1, run_at = now() WHERE id = %s",
        (job_id,),
    )
    await eventually(lambda: job() == [], "the last pass to skip it and end", 20.0)
    assert followed_by(rt, alice) == {"bob": "accepted"}
