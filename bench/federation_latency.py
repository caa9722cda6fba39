"""Benchmark: from ``POST /api/v1/statuses`` on one server to the Create
applied at a follower's server.

Two whole pleromad servers in one process, A on 127.0.0.2 and B on
127.0.0.3, each with its own database on one embedded PostgreSQL (fsync off)
and its own job runner with the daemon's handlers and default polling (jobs
are woken by LISTEN/NOTIFY).  A's alice follows B's bob (Follow, Accept);
then bob posts ``--posts`` public statuses one after another, and for each
the time from sending the POST to A holding the status (A's database polled
every ``--poll`` ms) is taken: B's request, the delivery job, the signed POST
to A's inbox, A's verification and inbox job, the status stored.

Baseline in the same run: the POST alone (B's answer), which every post
pays before federation starts.  Prints p50, p90, p99 and max of both.  See
bench/README.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from twisted.internet import task

from bench import _cli
from bench._figure import figure
from bench._postgres import scratch_postgres
from bench._serve import post_status, whole_server
from pleromad.domain.remote_actors import resolve_acct
from tests.federation_peers import Server, follow_remote
from tests.test_accounts import bearer, make_user


def percentiles(samples: list[float]) -> str:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return (
        f"p50 {cuts[49] * 1000:7.1f} ms  p90 {cuts[89] * 1000:7.1f} ms"
        f"  p99 {cuts[98] * 1000:7.1f} ms  max {max(samples) * 1000:7.1f} ms"
    )


async def _holds(txn: Any, ap_id: str) -> bool:
    return await txn.fetchone("SELECT 1 FROM statuses WHERE ap_id = %s", (ap_id,)) is not None


async def _accepted(txn: Any, followee_id: int) -> bool:
    row = await txn.fetchone(
        "SELECT 1 FROM follows WHERE followee_id = %s AND state = 'accepted'", (followee_id,)
    )
    return row is not None


async def arrived(server: Server, ap_id: str, poll: float) -> float:
    """When ``server`` first holds the status ``ap_id`` (time.monotonic())."""
    while True:
        if await server.rt.db.run_interaction("arrived", _holds, ap_id):
            return time.monotonic()
        await task.deferLater(server.rt.clock, poll, lambda: None)


async def main(reactor: Any, options: argparse.Namespace) -> None:
    async with (
        scratch_postgres(reactor) as scratch,
        whole_server(scratch, "a", "127.0.0.2", pool_size=10) as a,
        whole_server(scratch, "b", "127.0.0.3", pool_size=10) as b,
    ):
        await federate(reactor, a, b, options)


async def federate(reactor: Any, a: Server, b: Server, options: argparse.Namespace) -> None:
    """A's alice follows B's bob, who posts; each post is timed until A holds it."""
    alice = await make_user(a.rt, "alice")
    bob_at_b = await make_user(b.rt, "bob")
    bob = await resolve_acct(a.rt, b.acct("bob"))
    await follow_remote(a, alice, bob)
    headers = await bearer(b.rt, bob_at_b)
    while not await b.rt.db.run_interaction("accepted", _accepted, bob_at_b.id):
        await task.deferLater(reactor, 0.05, lambda: None)

    posting: list[float] = []
    federated: list[float] = []
    for n in range(options.posts):
        started = time.monotonic()
        status, answered = await post_status(b, headers, f"post {n}")
        done = await arrived(a, status["uri"], options.poll / 1000)
        posting.append(answered - started)
        federated.append(done - started)
    print(f"{options.posts} posts from B to a follower on A")
    print(f"  POST /api/v1/statuses answered  {percentiles(posting)}")
    print(f"  Create applied at A             {percentiles(federated)}")
    for name, samples in (("POST /api/v1/statuses", posting), ("Create applied", federated)):
        cuts = statistics.quantiles(samples, n=100, method="inclusive")
        figure(f"{name} p99 (ms), B to a follower on A", cuts[98] * 1000, None)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = _cli.parser(__doc__)
    parser.add_argument("--posts", type=int, default=200)
    parser.add_argument("--poll", type=float, default=5.0, help="ms between looks at A")
    return _cli.parse(parser, argv, "20 posts", posts=20)


if __name__ == "__main__":
    _cli.react(main, parse_args(sys.argv[1:]))
