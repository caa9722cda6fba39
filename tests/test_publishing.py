"""Outgoing statuses: posting queues a Create, deleting a Delete, one
delivery job per inbox, in the status' own transaction."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest_twisted

from pleromad.domain.delivery import DELIVER_JOB
from pleromad.runtime import Runtime
from pleromad.views.activitypub import AS_PUBLIC
from pleromad.web.root import build_gateway
from pleromad.web.site import body_limit
from tests.conftest import Client
from tests.helpers import query
from tests.test_accounts import answer, bearer, make_user
from tests.test_activitypub import add_follow, remote_user
from tests.test_statuses import posted


def deliveries(rt: Runtime) -> dict[str, dict[str, Any]]:
    """The queued deliveries, by inbox."""
    rows = query(rt.db.dsn, "SELECT payload FROM jobs WHERE kind = %s", (DELIVER_JOB,))
    found = {row[0]["inbox"]: row[0] for row in rows}
    assert len(found) == len(rows), "two jobs for one inbox"
    return found


def clear(rt: Runtime) -> None:
    query(rt.db.dsn, "DELETE FROM jobs WHERE kind = %s", (DELIVER_JOB,))


@pytest_twisted.ensureDeferred
async def test_a_post_goes_to_each_inbox_once(rt: Runtime, client: Client) -> None:
    """Remote followers on one host share its shared inbox; a follower
    without one gets its own inbox; a mentioned remote account is added;
    local followers and pending requests get nothing; one job per inbox,
    carrying the Create as the author, addressed as the Note."""
    alice = await make_user(rt, "alice")
    local = await make_user(rt, "local")
    add_follow(rt, local.id, alice.id)
    for nick in ("b1", "b2"):
        add_follow(rt, remote_user(rt, nick, "b.example"), alice.id)
    lonely = remote_user(rt, "c1", "c.example")
    query(rt.db.dsn, "UPDATE remote_actors SET shared_inbox = NULL WHERE user_id = %s", (lonely,))
    add_follow(rt, lonely, alice.id)
    pending = remote_user(rt, "p1", "p.example")
    query(
        rt.db.dsn,
        "INSERT INTO follows (follower_id, followee_id, state) VALUES (%s, %s, 'pending')",
        (pending, alice.id),
    )
    remote_user(rt, "dave", "d.example")
    status = await posted(client, await bearer(rt, alice), status="hi @dave@d.example")
    queued = deliveries(rt)
    assert sorted(queued) == [
        "https://b.example/inbox",
        "https://c.example/users/c1/inbox",
        "https://d.example/inbox",
    ]
    job = queued["https://b.example/inbox"]
    assert job["actor_id"] == alice.id and job["private"] is False
    create = job["activity"]
    assert create["type"] == "Create" and create["actor"] == alice.ap_id
    assert create["object"]["id"] == status["uri"]
    assert create["to"] == [AS_PUBLIC]
    assert create["cc"] == [f"{alice.ap_id}/followers", "https://d.example/users/dave"]


@pytest_twisted.ensureDeferred
async def test_direct_goes_only_to_the_mentioned(rt: Runtime, client: Client) -> None:
    """A direct post reaches the mentioned accounts alone, as a private
    delivery; a followers-only one reaches followers and mentioned, private too."""
    alice = await make_user(rt, "alice")
    add_follow(rt, remote_user(rt, "bob", "b.example"), alice.id)
    remote_user(rt, "dave", "d.example")
    headers = await bearer(rt, alice)
    await posted(client, headers, status="psst @dave@d.example", visibility="direct")
    queued = deliveries(rt)
    assert list(queued) == ["https://d.example/inbox"]
    assert queued["https://d.example/inbox"]["private"] is True
    assert queued["https://d.example/inbox"]["activity"]["to"] == ["https://d.example/users/dave"]
    clear(rt)
    await posted(client, headers, status="friends @dave@d.example", visibility="private")
    queued = deliveries(rt)
    assert sorted(queued) == ["https://b.example/inbox", "https://d.example/inbox"]
    assert all(job["private"] for job in queued.values())


@pytest_twisted.ensureDeferred
async def test_a_post_nobody_remote_sees_queues_nothing(rt: Runtime, client: Client) -> None:
    """Without remote followers or mentions nothing is queued."""
    alice = await make_user(rt, "alice")
    await posted(client, await bearer(rt, alice), status="alone")
    assert deliveries(rt) == {}


@pytest_twisted.ensureDeferred
async def test_federation_off_queues_nothing(rt: Runtime, serve: Any) -> None:
    """``[federation] enabled = false``: posts stay here."""
    federation = replace(rt.config.federation, enabled=False)
    rt = replace(rt, config=replace(rt.config, federation=federation))
    client = serve(build_gateway(rt), body_limit(rt.config.instance.upload_limit))
    alice = await make_user(rt, "alice")
    add_follow(rt, remote_user(rt, "bob", "b.example"), alice.id)
    await posted(client, await bearer(rt, alice), status="quiet")
    assert deliveries(rt) == {}


@pytest_twisted.ensureDeferred
async def test_deleting_a_post_sends_its_delete(rt: Runtime, client: Client) -> None:
    """Deleting a post queues a Delete of its Note as a Tombstone, addressed
    as its Create, to the same inboxes."""
    alice = await make_user(rt, "alice")
    add_follow(rt, remote_user(rt, "bob", "b.example"), alice.id)
    headers = await bearer(rt, alice)
    status = await posted(client, headers, status="oops")
    create = deliveries(rt)["https://b.example/inbox"]["activity"]
    clear(rt)
    code, _ = await answer(
        await client.request("DELETE", f"/api/v1/statuses/{status['id']}", headers=headers)
    )
    assert code == 200
    queued = deliveries(rt)
    assert list(queued) == ["https://b.example/inbox"]
    delete = queued["https://b.example/inbox"]["activity"]
    assert delete["type"] == "Delete" and delete["actor"] == alice.ap_id
    assert delete["id"] == f"{status['uri']}#delete"
    assert delete["object"] == {"id": status["uri"], "type": "Tombstone", "formerType": "Note"}
    assert (delete["to"], delete["cc"]) == (create["to"], create["cc"])
