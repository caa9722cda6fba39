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
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from twisted.internet import defer, task

from bench._figure import figure
from pleromad.db import schema
from pleromad.db.embedded import EmbeddedPostgres
from pleromad.domain.remote_actors import resolve_acct
from tests.conftest import PgServer
from tests.federation_peers import Server, follow_remote, run_server
from tests.test_accounts import bearer, make_user

FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


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
    scratch = Path(tempfile.mkdtemp(prefix="pleromad-bench-"))
    embedded = EmbeddedPostgres(scratch / "postgres", settings=FAST_SETTINGS)
    servers: list[Server] = []
    try:
        admin = PgServer(await embedded.start())
        for name in ("a", "b"):
            admin.admin(f"CREATE DATABASE {name}")
            await schema.migrate(reactor, admin.dsn_for(name))
        a = await run_server("127.0.0.2", admin.dsn_for("a"), scratch / "a", pool_size=10)
        servers.append(a)
        b = await run_server("127.0.0.3", admin.dsn_for("b"), scratch / "b", pool_size=10)
        servers.append(b)
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
            response = await b.api.post(
                "/api/v1/statuses", json={"status": f"post {n}"}, headers=headers
            )
            answered = time.monotonic()
            status = await response.json()
            if response.code != 200:
                raise SystemExit(f"POST /api/v1/statuses answered {response.code}: {status}")
            done = await arrived(a, status["uri"], options.poll / 1000)
            posting.append(answered - started)
            federated.append(done - started)
        print(f"{options.posts} posts from B to a follower on A")
        print(f"  POST /api/v1/statuses answered  {percentiles(posting)}")
        print(f"  Create applied at A             {percentiles(federated)}")
        for name, samples in (("POST /api/v1/statuses", posting), ("Create applied", federated)):
            cuts = statistics.quantiles(samples, n=100, method="inclusive")
            figure(f"{name} p99 (ms), B to a follower on A", cuts[98] * 1000, None)
    finally:
        for server in reversed(servers):
            await server.stop()
        await embedded.stop()
        shutil.rmtree(scratch, ignore_errors=True)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=200)
    parser.add_argument("--poll", type=float, default=5.0, help="ms between looks at A")
    parser.add_argument("--quick", action="store_true", help="20 posts")
    options = parser.parse_args(argv)
    if options.quick:
        options.posts = 20
    return options


if __name__ == "__main__":
    opts = parse_args(sys.argv[1:])
    task.react(lambda reactor: defer.ensureDeferred(main(reactor, opts)))
