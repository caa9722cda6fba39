"""Benchmark: deliveries per second to a loopback peer.

Delivers the same signed Create to N distinct inboxes of one loopback peer
(a bare ``twisted.web`` resource in this process that answers 202) twice:

* ``jobs``: the daemon's way — ``pleromad.domain.delivery.enqueue_txn`` queues
  N durable jobs in one transaction, and a ``JobRunner`` with the delivery
  handler claims, signs, POSTs and records each (a PostgreSQL round trip or
  three per job besides the request);
* ``baseline``: the same N signed POSTs sent directly with treq, as many at
  a time as the runner's concurrency, and nothing recorded anywhere.

Prints deliveries per second of both and ``jobs/baseline``.  See bench/README.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from twisted.internet import defer, task
from twisted.web.client import HTTPConnectionPool
from twisted.web.resource import Resource
from twisted.web.server import Site

from bench import _cli
from bench._figure import figure
from bench._load import post_signed
from bench._postgres import scratch_postgres
from bench._seed import BASE_URL
from pleromad.config import load_config
from pleromad.db.pool import Database, Txn
from pleromad.domain import actor_keys, delivery, lifecycle
from pleromad.jobs import JobRunner
from pleromad.runtime import build_runtime


class Inbox(Resource):
    """Every path is an inbox that accepts anything and counts it."""

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.received = 0
        self.arrived: defer.Deferred[None] | None = None
        self.expected = 0

    def expect(self, count: int) -> defer.Deferred[None]:
        self.received, self.expected = 0, count
        self.arrived = defer.Deferred()
        return self.arrived

    def render_POST(self, request: Any) -> bytes:
        request.content.read()
        self.received += 1
        if self.received == self.expected and self.arrived is not None:
            self.arrived.callback(None)
        request.setResponseCode(202)
        return b""


def activity(n: int) -> dict[str, Any]:
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{BASE_URL}/activities/{n}",
        "type": "Create",
        "actor": f"{BASE_URL}/users/alice",
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": {
            "id": f"{BASE_URL}/objects/{n}",
            "type": "Note",
            "content": "<p>Hello, fediverse " + "x" * 400 + "</p>",
        },
    }


async def _enqueue_txn(txn: Txn, actor_id: int, inboxes: list[str]) -> int:
    return await delivery.enqueue_txn(txn, actor_id=actor_id, activity=activity(0), inboxes=inboxes)


async def through_jobs(
    reactor: Any,
    rt: Any,
    dsn: str,
    peer: Inbox,
    inboxes: list[str],
    actor_id: int,
    concurrency: int,
) -> float:
    arrived = peer.expect(len(inboxes))
    await rt.db.run_interaction("bench enqueue", _enqueue_txn, actor_id, inboxes)
    runner = JobRunner(reactor, dsn, delivery.handlers(rt), concurrency=concurrency)
    started = time.monotonic()
    await runner.start()
    await arrived
    while await rt.db.run_interaction("bench left", _jobs_left_txn):
        await task.deferLater(reactor, 0.01, lambda: None)
    elapsed = time.monotonic() - started
    await runner.stop()
    return len(inboxes) / elapsed


async def _jobs_left_txn(txn: Txn) -> int:
    return await txn.fetchval("SELECT count(*) FROM jobs")


async def baseline(
    reactor: Any, peer: Inbox, inboxes: list[str], signer: tuple[str, str], concurrency: int
) -> float:
    arrived = peer.expect(len(inboxes))
    pool = HTTPConnectionPool(reactor, persistent=True)
    pool.maxPersistentPerHost = concurrency
    body = json.dumps(activity(0), separators=(",", ":")).encode()
    started = time.monotonic()
    refused = await post_signed(reactor, pool, inboxes, body, signer, concurrency)
    await arrived
    elapsed = time.monotonic() - started
    await pool.closeCachedConnections()
    if refused:
        raise SystemExit(f"baseline: {len(refused)} deliveries refused")
    return len(inboxes) / elapsed


async def main(reactor: Any, options: argparse.Namespace) -> None:
    async with scratch_postgres(reactor) as scratch:
        dsn = await scratch.migrated()
        config = load_config(None, data_dir=str(scratch.path / "data"), dsn=dsn)
        config = dataclasses.replace(
            config,
            federation=dataclasses.replace(config.federation, allow_private_addresses=True),
        )
        db = Database(reactor, dsn, 10)
        await db.open()
        rt = build_runtime(config, db, reactor, os.urandom(32))
        user = await lifecycle.create_account(rt, lifecycle.NewAccount("alice", "a@example.org"))
        signer = await actor_keys.signing_key(rt, user.id)
        peer = Inbox()
        site = Site(peer)
        site.noisy = False
        port = reactor.listenTCP(0, site, interface="127.0.0.1")
        base = f"http://127.0.0.1:{port.getHost().port}"
        try:
            for run in range(options.runs):
                inboxes = [f"{base}/users/u{run}-{n}/inbox" for n in range(options.deliveries)]
                jobs = await through_jobs(
                    reactor, rt, dsn, peer, inboxes, user.id, options.concurrency
                )
                plain = await baseline(reactor, peer, inboxes, signer, options.concurrency)
                print(f"{options.deliveries} deliveries, concurrency {options.concurrency}")
                print(f"  jobs      {jobs:8.1f} deliveries/s")
                print(f"  baseline  {plain:8.1f} deliveries/s")
                print(f"  jobs/baseline = {jobs / plain:.3f}", flush=True)
                figure("deliveries/s through jobs vs bare signed POSTs", jobs, plain)
        finally:
            await port.stopListening()
            await rt.fetcher.close()
            await db.close()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = _cli.parser(__doc__)
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--runs", type=int, default=2)
    return _cli.parse(parser, argv, "one run of 200 deliveries", deliveries=200, runs=1)


if __name__ == "__main__":
    _cli.react(main, parse_args(sys.argv[1:]))
