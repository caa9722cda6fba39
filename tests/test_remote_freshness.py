"""Remote accounts' counts and freshness: the figures an Account shows for a
remote account are those its server publishes, and a copy older than a day
is fetched again by a job when the account is shown.

The remote server is the small Twisted site of ``tests/test_inbox.py`` on
127.0.0.2; time is a ``Clock`` handed to the runtime.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import pytest_twisted
from twisted.internet.task import Clock

from pleromad.db.pool import Database
from pleromad.domain import inbox, remote_actors
from pleromad.runtime import Runtime
from pleromad.store import jobs as jobs_store
from pleromad.store.remote_actors import REFRESH_JOB, STALE_AFTER
from pleromad.web.root import build_gateway
from pleromad.web.site import body_limit
from tests.conftest import Client
from tests.helpers import query
from tests.test_accounts import bearer, make_user
from tests.test_inbox import RemoteActor, alice, config, one, peers, remote, remote_user

__all__ = ["alice", "config", "peers", "remote"]  # fixtures, for pytest


def collection(actor: RemoteActor, name: str, total: int | None) -> None:
    """Publish ``actor``'s collection ``name``, with ``totalItems`` unless None
    (a server hiding the size)."""
    document: dict[str, Any] = {"id": f"{actor.id}/{name}", "type": "OrderedCollection"}
    if total is not None:
        document["totalItems"] = total
    actor.peer.document(f"/users/{actor.username}/{name}", document)


def with_following(actor: RemoteActor, **changes: Any) -> dict[str, Any]:
    return {**actor.document(), "following": f"{actor.id}/following", **changes}


async def account(client: Client, user_id: int) -> dict[str, Any]:
    """The Account entity of ``user_id``, as an anonymous reader sees it."""
    answer = await client.get(f"/api/v1/accounts/{user_id}")
    assert answer.code == 200, await answer.text()
    body: dict[str, Any] = await answer.json()
    return body


def counts(body: dict[str, Any]) -> tuple[int, int, int]:
    return body["followers_count"], body["following_count"], body["statuses_count"]


@pytest_twisted.ensureDeferred
async def test_a_remote_account_shows_the_counts_its_server_publishes(
    rt: Runtime, client: Client, alice: RemoteActor
) -> None:
    """followers_count, following_count and statuses_count are the totalItems
    of the actor's followers, following and outbox collections: a hidden
    size or a collection that cannot be fetched counts 0 and does not stop
    the actor being stored; an Update of the actor reads them again."""
    alice.peer.document("/users/alice", with_following(alice))
    collection(alice, "followers", 12)
    collection(alice, "following", None)
    reader = await make_user(rt, "reader")
    search = await client.get(
        "/api/v2/search",
        params={"q": alice.id, "resolve": "true"},
        headers=await bearer(rt, reader),
    )
    found = (await search.json())["accounts"]
    assert [counts(a) for a in found] == [(12, 0, 0)]

    collection(alice, "outbox", 37)
    collection(alice, "following", 3)
    them = await remote_user(rt, alice)
    update = {
        "id": f"{alice.id}#updates/1",
        "type": "Update",
        "actor": alice.id,
        "object": with_following(alice),
    }
    await inbox.apply(rt, update, them.id)
    assert counts(await account(client, them.id)) == (12, 3, 37)


@pytest_twisted.ensureDeferred
async def test_a_stale_account_shown_is_refreshed_by_one_job(
    rt: Runtime, serve: Any, alice: RemoteActor
) -> None:
    """Shown more than a day after it was fetched, a remote account is
    answered from the stored copy at once and a refresh job is queued, one
    however often it is shown; the job fetches the actor and its counts
    again.  Within the day nothing is queued."""
    clock = Clock()
    clock.advance(time.time())
    timed = replace(rt, clock=clock)
    client = serve(build_gateway(timed), body_limit(rt.config.instance.upload_limit))
    collection(alice, "followers", 1)
    them = await remote_actors.resolve_actor(timed, alice.id)
    clock.advance(STALE_AFTER - 60)
    await account(client, them.id)
    assert one(rt.db.dsn, "SELECT count(*) FROM jobs") == 0

    alice.peer.document("/users/alice", {**alice.document(), "name": "Alice Anew"})
    collection(alice, "followers", 2)
    clock.advance(120)
    shown = await account(client, them.id)
    assert (shown["display_name"], shown["followers_count"]) == ("Alice & co", 1)
    await account(client, them.id)
    assert one(rt.db.dsn, "SELECT kind, payload FROM jobs") == (REFRESH_JOB, {"user_id": them.id})

    await remote_actors.handlers(timed)[REFRESH_JOB]({"user_id": them.id})
    shown = await account(client, them.id)
    assert (shown["display_name"], shown["followers_count"]) == ("Alice Anew", 2)


@pytest_twisted.ensureDeferred
async def test_a_job_queued_once_waits_alone_until_it_is_done(db: Database) -> None:
    """enqueue_once_txn queues nothing while a job of the same kind and key
    is pending, running or back in the queue for a retry; once it is gone
    (done) the next one is queued.  Another key is another job."""

    async def once(key: str = "7") -> bool:
        queued: bool = await db.run_interaction(
            "enqueue once", jobs_store.enqueue_once_txn, REFRESH_JOB, key, {"user_id": 7}
        )
        return queued

    assert [await once(), await once(), await once("8")] == [True, False, True]
    (job_id,) = query(db.dsn, "SELECT id FROM jobs WHERE dedup_key = '7'")[0]
    # As a worker's claim, then a failed attempt put back for a retry, leave it.
    for state in ("running", "pending"):
        query(db.dsn, "UPDATE jobs SET state = %s, attempts = 1 WHERE id = %s", (state, job_id))
        assert await once() is False
    query(db.dsn, "DELETE FROM jobs WHERE id = %s", (job_id,))
    assert await once() is True
