"""Delivery: signed POSTs to inboxes on loopback peers, by durable jobs."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from email.utils import formatdate
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.task import Clock
from twisted.web.server import NOT_DONE_YET, Request

from pleromad.config import Config
from pleromad.db.pool import Database, Txn
from pleromad.domain import actor_keys, delivery, lifecycle
from pleromad.federation import httpsig
from pleromad.runtime import Runtime, build_runtime
from tests import peer as _peer
from tests.conftest import CHEAP_PASSWORDS, StartRunner
from tests.helpers import eventually, query, sleep
from tests.peer import Peer, Received, StartPeer
from tests.test_jobs import _terminate_lock_holder_txn

peers = _peer.peers

CREATE = {
    "@context": "https://www.w3.org/ns/activitystreams",
    "id": "http://localhost:4000/activities/1",
    "type": "Create",
    "actor": "http://localhost:4000/users/alice",
}


def runtime(config: Config, db: Database, clock: Any, **federation: Any) -> Runtime:
    """A runtime whose federation may reach the loopback peers."""
    federation = dataclasses.replace(
        config.federation, allow_private_addresses=True, user_agent="pleromad-test", **federation
    )
    return build_runtime(
        dataclasses.replace(config, federation=federation),
        db,
        clock,
        b"s" * 32,
        passwords=CHEAP_PASSWORDS,
    )


@pytest.fixture
def clock() -> Clock:
    clock = Clock()
    clock.advance(time.time())
    return clock


class Inbox:
    """An inbox on a peer that checks each POST's signature with the
    sender's key and answers as scripted (then 202)."""

    def __init__(
        self,
        peer: Peer,
        path: str,
        public_key_pem: str,
        *answers: Any,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.url = peer.base + path
        self.now = now
        self.public_key_pem = public_key_pem
        self.answers = list(answers)
        self.activities: list[dict[str, Any]] = []
        self.key_ids: list[str] = []
        self.valid: list[bool] = []
        peer.routes[path] = self

    def __call__(self, request: Request, received: Received) -> bytes:
        sig = httpsig.parse_signature(received.headers["signature"])
        valid = httpsig.verify(
            sig,
            method="POST",
            path=received.path,
            headers=received.headers,
            public_key_pem=self.public_key_pem,
        )
        httpsig.check_digest(received.headers, received.body)
        httpsig.check_date(received.headers, self.now())
        self.valid.append(valid)
        self.key_ids.append(sig.key_id)
        self.activities.append(json.loads(received.body))
        status, headers = self.answers.pop(0) if self.answers else (202, {})
        request.setResponseCode(status)
        for name, value in headers.items():
            request.setHeader(name, value)
        return b""


async def alice(rt: Runtime) -> tuple[int, str]:
    user = await lifecycle.create_account(rt, lifecycle.NewAccount("alice", "a@example.org"))
    return user.id, await actor_keys.public_key_pem(rt, user.id)


async def enqueue(rt: Runtime, actor_id: int | None, inboxes: list[str], **kw: Any) -> int:
    return await rt.db.run_interaction("deliver", _enqueue_txn, actor_id, inboxes, kw)


async def _enqueue_txn(txn: Txn, actor_id: int | None, inboxes: list[str], kw: Any) -> int:
    activity = kw.pop("activity", CREATE)
    return await delivery.enqueue_txn(
        txn, actor_id=actor_id, activity=activity, inboxes=inboxes, **kw
    )


def jobs(rt: Runtime) -> list[tuple[Any, ...]]:
    return query(
        rt.db.dsn,
        "SELECT state, attempts, extract(epoch FROM run_at)::float8, last_error FROM jobs"
        " ORDER BY id",
    )


def instance(rt: Runtime, host: str) -> list[tuple[Any, ...]]:
    return query(
        rt.db.dsn,
        "SELECT failing_since IS NOT NULL, unreachable_since IS NOT NULL FROM instances"
        " WHERE host = %s",
        (host,),
    )


def settled(rt: Runtime, state: str = "pending") -> list[tuple[Any, ...]]:
    """The jobs once every one has been attempted and is in ``state``."""
    rows = jobs(rt)
    return rows if rows and all(r[0] == state and r[1] > 0 for r in rows) else []


@pytest_twisted.ensureDeferred
async def test_delivered_signed_once_per_inbox(
    config: Config, db: Database, peers: StartPeer, start_runner: StartRunner
) -> None:
    """Each distinct inbox gets the activity once, signed by its actor (or by
    the instance actor), and a delivered job is gone."""
    rt = runtime(config, db, reactor)
    user_id, public = await alice(rt)
    first, second = peers("127.0.0.1"), peers("127.0.0.2")
    a, b = Inbox(first, "/inbox", public), Inbox(second, "/users/bob/inbox", public)
    assert await enqueue(rt, user_id, [a.url, b.url, a.url]) == 2
    await start_runner(delivery.handlers(rt))
    await eventually(lambda: a.activities and b.activities and not jobs(rt))
    assert a.activities == b.activities == [CREATE]
    assert a.valid == b.valid == [True]
    assert a.key_ids == [f"{rt.config.server.base_url}/users/alice#main-key"]

    instance_inbox = Inbox(first, "/shared", await actor_keys.public_key_pem(rt, None))
    await enqueue(rt, None, [instance_inbox.url])
    await eventually(lambda: instance_inbox.valid == [True] and not jobs(rt))
    assert instance_inbox.key_ids == [f"{rt.config.server.base_url}/internal/fetch#main-key"]


@pytest_twisted.ensureDeferred
async def test_one_job_per_shared_inbox(rt: Runtime) -> None:
    """A post to 1,000 followers on 50 servers with shared inboxes is 50 jobs."""
    inboxes = [f"https://host{n % 50}.example/inbox" for n in range(1000)]
    assert await enqueue(rt, None, inboxes) == 50
    assert query(rt.db.dsn, "SELECT count(*), count(DISTINCT payload->>'inbox') FROM jobs") == [
        (50, 50)
    ]


@pytest_twisted.ensureDeferred
async def test_client_error_is_not_retried(
    config: Config, db: Database, clock: Clock, peers: StartPeer, start_runner: StartRunner
) -> None:
    """A 4xx other than 408 and 429 fails the job at once: never sent again."""
    rt = runtime(config, db, clock)
    user_id, public = await alice(rt)
    inbox = Inbox(peers(), "/inbox", public, (404, {}))
    runner = await start_runner(delivery.handlers(rt), clock=clock)
    await enqueue(rt, user_id, [inbox.url])
    [row] = await eventually(lambda: settled(rt, "failed"), "the job fails")
    assert row[1] == 1 and "answered 404" in row[3]
    clock.advance(3 * 86400)
    runner.wake()
    await sleep(0.3)
    assert len(inbox.activities) == 1


@pytest.mark.parametrize("form", ["seconds", "date"])
@pytest_twisted.ensureDeferred
async def test_retry_after_is_honoured(
    form: str,
    config: Config,
    db: Database,
    clock: Clock,
    peers: StartPeer,
    start_runner: StartRunner,
) -> None:
    """429 with Retry-After (seconds or an HTTP date) is retried then, not sooner."""
    rt = runtime(config, db, clock)
    user_id, public = await alice(rt)
    value = "600" if form == "seconds" else formatdate(clock.seconds() + 600, usegmt=True)
    inbox = Inbox(peers(), "/inbox", public, (429, {"Retry-After": value}))
    runner = await start_runner(delivery.handlers(rt), clock=clock)
    await enqueue(rt, user_id, [inbox.url])
    [row] = await eventually(lambda: settled(rt), "the first attempt is recorded")
    assert row[2] == pytest.approx(clock.seconds() + 600, abs=1.0)
    clock.advance(590)
    runner.wake()
    await sleep(0.3)
    assert len(inbox.activities) == 1
    clock.advance(10)
    runner.wake()
    await eventually(lambda: len(inbox.activities) == 2 and not jobs(rt), "delivered")


@pytest_twisted.ensureDeferred
async def test_server_errors_back_off(
    config: Config, db: Database, clock: Clock, peers: StartPeer, start_runner: StartRunner
) -> None:
    """5xx answers are retried after 1 minute, then 2, ...; while failing the
    host is marked as failing, and a success clears the mark."""
    rt = runtime(config, db, clock)
    user_id, public = await alice(rt)
    inbox = Inbox(peers(), "/inbox", public, (500, {}), (503, {}))
    runner = await start_runner(delivery.handlers(rt), clock=clock)
    await enqueue(rt, user_id, [inbox.url])
    for attempt, delay in ((1, 60.0), (2, 120.0)):
        [row] = await eventually(
            lambda attempt=attempt: [r for r in settled(rt) if r[1] == attempt], "recorded"
        )
        assert row[2] == pytest.approx(clock.seconds() + delay, abs=1.0)
        assert instance(rt, "127.0.0.1") == [(True, False)]
        clock.advance(delay - 1)
        runner.wake()
        await sleep(0.2)
        assert len(inbox.activities) == attempt
        clock.advance(1)
        runner.wake()
    await eventually(lambda: len(inbox.activities) == 3 and not jobs(rt), "delivered")
    assert instance(rt, "127.0.0.1") == [(False, False)]


@pytest_twisted.ensureDeferred
async def test_network_failure_is_retried(
    config: Config, db: Database, clock: Clock, start_runner: StartRunner
) -> None:
    """An inbox nobody answers at is retried with backoff like a 5xx."""
    rt = runtime(config, db, clock)
    user_id, _public = await alice(rt)
    await start_runner(delivery.handlers(rt), clock=clock)
    await enqueue(rt, user_id, ["http://127.0.0.1:1/inbox"])
    [row] = await eventually(lambda: settled(rt), "the attempt is recorded")
    assert row[2] == pytest.approx(clock.seconds() + 60, abs=1.0)
    assert "ConnectionRefused" in row[3]


@pytest_twisted.ensureDeferred
async def test_unreachable_host_is_skipped_until_heard_from(
    config: Config, db: Database, clock: Clock, peers: StartPeer, start_runner: StartRunner
) -> None:
    """A host failing for more than two days is marked unreachable and its
    deliveries are dropped unattempted, until it is heard from again."""
    rt = runtime(config, db, clock)
    user_id, public = await alice(rt)
    peer = peers("127.0.0.3")
    inbox = Inbox(peer, "/inbox", public, *[(503, {})] * 2, now=clock.seconds)
    runner = await start_runner(delivery.handlers(rt), clock=clock)
    await enqueue(rt, user_id, [inbox.url])
    await eventually(lambda: settled(rt), "the first attempt fails")
    clock.advance(delivery.UNREACHABLE_AFTER + 1)
    runner.wake()
    await eventually(lambda: len(inbox.activities) == 2 and not jobs(rt), "dropped")
    assert instance(rt, "127.0.0.3") == [(True, True)]

    await enqueue(rt, user_id, [inbox.url])
    await eventually(lambda: not jobs(rt), "dropped unattempted")
    assert len(inbox.activities) == 2

    await delivery.heard_from(rt, "127.0.0.3")
    assert instance(rt, "127.0.0.3") == [(False, False)]
    await enqueue(rt, user_id, [inbox.url])
    await eventually(lambda: len(inbox.activities) == 3 and not jobs(rt), "delivered")


@pytest_twisted.ensureDeferred
async def test_blocked_and_quarantined_instances(
    config: Config, db: Database, peers: StartPeer, start_runner: StartRunner
) -> None:
    """A blocked instance gets nothing; a quarantined one gets public
    activities but no private ones."""
    rt = runtime(
        config, db, reactor, blocked_instances=("127.0.0.2",), quarantined_instances=("127.0.0.3",)
    )
    user_id, public = await alice(rt)
    plain, blocked, quarantined = (
        Inbox(peers(address), "/inbox", public)
        for address in ("127.0.0.1", "127.0.0.2", "127.0.0.3")
    )
    private = {**CREATE, "id": CREATE["id"] + "-private"}
    await start_runner(delivery.handlers(rt))
    await enqueue(
        rt, user_id, [plain.url, blocked.url, quarantined.url], activity=private, private=True
    )
    await enqueue(rt, user_id, [quarantined.url, blocked.url])
    await eventually(lambda: not jobs(rt), "all jobs done")
    assert plain.activities == [private]
    assert blocked.activities == []
    assert quarantined.activities == [CREATE]


@pytest_twisted.ensureDeferred
async def test_dead_worker_loses_no_delivery(
    config: Config, db: Database, peers: StartPeer, start_runner: StartRunner
) -> None:
    """A worker that dies mid-delivery (its database session gone, as under
    kill -9) loses nothing: another worker delivers what it was sending, and
    nothing acknowledged and recorded is sent again.  The delivery in flight
    is sent twice, with the same activity id, for the receiver to drop."""
    rt = runtime(config, db, reactor)
    user_id, public = await alice(rt)
    peer = peers()
    held: list[Request] = []
    inboxes = [Inbox(peer, f"/i{n}", public) for n in range(5)]
    stuck = inboxes[2]

    def hold_first(request: Request, received: Received) -> Any:
        if not held:
            held.append(request)
            return NOT_DONE_YET
        return stuck(request, received)

    peer.routes["/i2"] = hold_first
    handlers = delivery.handlers(rt)
    try:
        await start_runner(handlers, concurrency=5)
        await enqueue(rt, user_id, [inbox.url for inbox in inboxes])
        await eventually(lambda: held and len(jobs(rt)) == 1, "four delivered, one in flight")
        [(job_id,)] = query(rt.db.dsn, "SELECT id FROM jobs")
        assert await db.run_interaction("kill", _terminate_lock_holder_txn, job_id) == 1

        await start_runner(handlers, rescue_interval=0.05)
        await eventually(lambda: not jobs(rt), "the rescued delivery is done")
        sent = [r.path for r in peer.received]
        assert sorted(sent) == ["/i0", "/i1", "/i2", "/i2", "/i3", "/i4"]
        bodies = {r.body for r in peer.received if r.path == "/i2"}
        assert len(bodies) == 1 and json.loads(bodies.pop())["id"] == CREATE["id"]
    finally:
        for request in held:
            request.finish()


def test_backoff_covers_about_two_days() -> None:
    """The retries of one delivery span about two days, doubling from a
    minute up to six hours."""
    delays = [delivery.retry_delay(n) for n in range(1, delivery.MAX_ATTEMPTS)]
    assert delays[:3] == [60, 120, 240] and max(delays) == 6 * 3600
    assert 44 * 3600 < sum(delays) < 56 * 3600


@pytest.mark.parametrize(
    "value, delay",
    [
        ("120", 120.0),
        ("Thu, 01 Jan 1970 00:10:00 GMT", 600.0),
        ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0),
        ("9999999", delivery.RETRY_AFTER_MAX),
        ("soon", None),
        (None, None),
    ],
)
def test_retry_after_values(value: str | None, delay: float | None) -> None:
    """Retry-After in seconds or as an HTTP date, never negative nor over a day."""
    assert delivery.retry_after(value, 0.0) == delay
