"""Benchmark: incoming signed Creates applied per second.

In one process, against one embedded PostgreSQL (durability off): a whole
pleromad on 127.0.0.2 (the real resource tree, a pool of 10 connections and
its job runner with the daemon's handlers and default concurrency), with
``--locals`` local accounts (default 100), each following ``--follows``
(default 10) of ``--actors`` remote accounts (default 100), all seeded in
SQL with one RSA key pair among the remote accounts (each its own key id),
so the daemon needs to fetch nothing.

A load client in another process POSTs ``--creates`` Create(Note)
activities (default 2,000: public posts, round-robin over the remote
accounts, signed beforehand) to the shared inbox, ``--concurrency`` (16)
in flight; measured is the time from its first POST until the daemon holds
every post (its database polled every 50 ms): the inbox's checks and
its job, then the job applying the Create.  A home timeline is read from
the statuses table when it is asked for, so a stored post is on its
followers' home timelines; the run checks one follower's timeline at the
end.

Baseline in the same process: as many Notes parsed and stored by the
function the inbox job calls (``remote_statuses.parse_note`` and
``store_note_txn``), ``--concurrency`` at a time on the daemon's txpostgres
pool, with no HTTP, signature or job queue.  Prints both rates and a
FIGURE line (bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from twisted.internet import defer, protocol, task
from twisted.python.failure import Failure

from bench import _cli
from bench._figure import figure
from bench._load import signed_create
from bench._postgres import scratch_postgres
from bench._serve import whole_server
from pleromad.domain import remote_statuses
from pleromad.federation.keys import generate_key_pair
from pleromad.model import User
from pleromad.store import users
from tests.federation_peers import Server
from tests.test_accounts import bearer, make_user

PUBLIC = remote_statuses.PUBLIC_COLLECTION
# The remote accounts' server: nothing listens there, nothing is fetched.
REMOTE = "127.0.0.5:9"
# Seconds between looks at the statuses table: often enough for runs of
# seconds, seldom enough not to take the daemon's pool and CPU.
POLL = 0.05

SEED = """
WITH remote AS (
    INSERT INTO users (nickname, local, ap_id)
    SELECT 'r' || n || '@' || %(host)s, false, 'http://' || %(host)s || '/users/r' || n
    FROM generate_series(0, %(actors)s - 1) AS n
    RETURNING id, ap_id
), actors AS (
    INSERT INTO remote_actors (user_id, host, inbox, shared_inbox, followers_url, key_id,
                               public_key_pem, document, fetched_at)
    SELECT id, %(host)s, ap_id || '/inbox', 'http://' || %(host)s || '/inbox',
           ap_id || '/followers', ap_id || '#main-key', %(pem)s, '{}', now()
    FROM remote
), locals AS (
    INSERT INTO users (nickname, ap_id)
    SELECT 'l' || n, %(base)s || '/users/l' || n FROM generate_series(1, %(locals)s - 1) AS n
    RETURNING id
), everyone AS (
    SELECT id, row_number() OVER (ORDER BY id) AS n FROM locals
    UNION ALL SELECT %(reader)s, 0
), numbered AS (
    SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM remote
)
INSERT INTO follows (follower_id, followee_id, state)
SELECT e.id, r.id, 'accepted'
FROM everyone e JOIN numbered r
  ON ((r.n - e.n * %(follows)s) %% %(actors)s + %(actors)s) %% %(actors)s < %(follows)s
"""


def note(actor: str, n: int) -> dict[str, Any]:
    host = REMOTE
    return {
        "id": f"http://{host}/objects/{uuid.uuid4()}",
        "type": "Note",
        "attributedTo": actor,
        "to": [PUBLIC],
        "cc": [f"{actor}/followers"],
        "content": f"<p>Post number {n} from <a href='{actor}'>far away</a>, about #bench</p>",
        "tag": [{"type": "Hashtag", "name": "#bench", "href": f"http://{host}/tags/bench"}],
        "published": "2026-12-01T10:00:00Z",
    }


def signed_creates(options: argparse.Namespace, inbox: str, pem: str) -> list[dict[str, Any]]:
    """Every POST the client sends: body and headers, signed now."""
    plan = []
    for n in range(options.creates):
        actor = f"http://{REMOTE}/users/r{n % options.actors}"
        body, headers = signed_create(inbox, pem, note(actor, n))
        plan.append({"body": body.decode(), "headers": headers})
    return plan


# -- the load client (its own process) --------------------------------------


def client_main(plan_file: str, inbox: str, concurrency: int) -> None:
    """Say "sending", POST every planned request, then report refusals."""
    import treq
    from twisted.web.client import HTTPConnectionPool

    plan = json.loads(Path(plan_file).read_text())

    async def run(reactor: Any) -> None:
        pool = HTTPConnectionPool(reactor, persistent=True)
        pool.maxPersistentPerHost = concurrency
        queue = iter(plan)
        refused: list[int] = []

        async def worker() -> None:
            for request in queue:
                response = await treq.post(
                    inbox, data=request["body"].encode(), headers=request["headers"], pool=pool
                )
                await response.content()
                if response.code != 202:
                    refused.append(response.code)

        print("sending", flush=True)
        await defer.gatherResults([defer.ensureDeferred(worker()) for _ in range(concurrency)])
        await pool.closeCachedConnections()
        print(json.dumps({"refused": len(refused), "codes": sorted(set(refused))}), flush=True)

    task.react(lambda reactor: defer.ensureDeferred(run(reactor)))


class Client(protocol.ProcessProtocol):
    """The load client as the run sees it: when it starts sending, and its report."""

    def __init__(self) -> None:
        self.output = b""
        self.sending: defer.Deferred[float] = defer.Deferred()
        self.ended: defer.Deferred[str] = defer.Deferred()

    def outReceived(self, data: bytes) -> None:
        self.output += data
        if b"sending\n" in self.output and not self.sending.called:
            self.sending.callback(time.monotonic())

    def errReceived(self, data: bytes) -> None:
        sys.stderr.write(data.decode(errors="replace"))

    def processEnded(self, reason: Failure) -> None:
        if reason.value.exitCode:
            self.ended.errback(SystemExit(f"load client failed: {reason.value.exitCode}"))
        else:
            self.ended.callback(self.output.decode().split("sending\n", 1)[1])


# -- the run ---------------------------------------------------------------


async def _remote_posts_txn(txn: Any) -> int:
    return int(await txn.fetchval("SELECT count(*) FROM statuses WHERE ap_id IS NOT NULL"))


async def wait_for_posts(reactor: Any, server: Server, count: int) -> float:
    """When the daemon holds ``count`` remote posts (time.monotonic())."""
    while await server.rt.db.run_interaction("posts", _remote_posts_txn) < count:
        await task.deferLater(reactor, POLL, lambda: None)
    return time.monotonic()


async def daemon_rate(
    reactor: Any, server: Server, options: argparse.Namespace, plan: list[Any], scratch: Path
) -> float:
    plan_file = scratch / "plan.json"
    plan_file.write_text(json.dumps(plan))
    inbox = f"{server.base_url}/inbox"
    client = Client()
    args = [sys.executable, __file__, "--client", str(plan_file), inbox, str(options.concurrency)]
    reactor.spawnProcess(client, sys.executable, args, env=os.environ)
    started = await client.sending
    done = await wait_for_posts(reactor, server, options.creates)
    report = json.loads(await client.ended)
    if report["refused"]:
        raise SystemExit(f"{report['refused']} POSTs refused: {report['codes']}")
    return options.creates / (done - started)


async def baseline_rate(
    server: Server, options: argparse.Namespace, authors: list[User], offset: int
) -> float:
    """The same number of Notes parsed and stored by the inbox job's own
    functions, straight on the pool."""
    base_url = server.rt.config.server.base_url
    now = datetime.now(UTC)
    queue = iter(range(options.creates))

    async def worker() -> None:
        for n in queue:
            author = authors[n % len(authors)]
            parsed = remote_statuses.parse_note(note(author.ap_id, offset + n), author.ap_id)
            assert parsed is not None
            await server.rt.db.run_interaction(
                "store note", remote_statuses.store_note_txn, base_url, parsed, author, None, now
            )

    started = time.monotonic()
    await defer.gatherResults(
        [defer.Deferred.fromCoroutine(worker()) for _ in range(options.concurrency)]
    )
    return options.creates / (time.monotonic() - started)


async def _authors_txn(txn: Any, count: int) -> list[User]:
    found = []
    for n in range(count):
        user = await users.get_user_by_nickname_txn(txn, f"r{n}@{REMOTE}")
        assert user is not None
        found.append(user)
    return found


async def main(reactor: Any, options: argparse.Namespace) -> None:
    async with (
        scratch_postgres(reactor) as scratch,
        whole_server(scratch, "incoming", "127.0.0.2", pool_size=10) as server,
    ):
        await measure(reactor, server, options, scratch.path)


async def measure(reactor: Any, server: Server, options: argparse.Namespace, scratch: Path) -> None:
    """Seed, send the signed Creates, then store as many Notes directly."""
    reader = await make_user(server.rt, "l0")
    keys = await generate_key_pair()
    base_url = server.base_url

    async def seed_txn(txn: Any) -> None:
        await txn.execute(
            SEED,
            {
                "host": REMOTE,
                "base": base_url,
                "actors": options.actors,
                "locals": options.locals,
                "follows": options.follows,
                "reader": reader.id,
                "pem": keys.public_key_pem,
            },
        )

    await server.rt.db.run_interaction("seed", seed_txn)
    print(
        f"{options.locals} local accounts each following {options.follows}"
        f" of {options.actors} remote accounts; signing {options.creates} Creates"
    )
    plan = signed_creates(options, f"{server.base_url}/inbox", keys.private_key_pem)

    daemon = await daemon_rate(reactor, server, options, plan, scratch)
    print(f"  signed Creates applied  daemon   {daemon:8.1f} /s", flush=True)
    headers = await bearer(server.rt, reader)
    response = await server.api.get(
        "/api/v1/timelines/home", params={"limit": "40"}, headers=headers
    )
    home = await response.json()
    followed = sum(n % options.actors < options.follows for n in range(options.creates))
    if response.code != 200 or len(home) != min(40, followed):
        raise SystemExit(f"l0's home timeline: {response.code} {str(home)[:200]}")
    print(f"  l0's home timeline lists {len(home)} remote posts per page")

    authors = await server.rt.db.run_interaction("authors", _authors_txn, options.actors)
    baseline = await baseline_rate(server, options, authors, options.creates)
    print(f"  Notes stored            baseline {baseline:8.1f} /s")
    ratio = daemon / baseline
    print(f"  daemon/baseline = {ratio:.3f}")
    figure("incoming Creates applied per second", daemon, baseline, ">= 0.25", digits=".1f")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = _cli.parser(__doc__)
    parser.add_argument("--creates", type=int, default=2000)
    parser.add_argument("--actors", type=int, default=100)
    parser.add_argument("--locals", type=int, default=100)
    parser.add_argument("--follows", type=int, default=10, help="remote accounts each follows")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--client", nargs=3, help=argparse.SUPPRESS)
    return _cli.parse(
        parser,
        argv,
        "50 Creates of 20 accounts, 20 local accounts",
        creates=50,
        actors=20,
        locals=20,
        follows=5,
    )


if __name__ == "__main__":
    opts = parse_args(sys.argv[1:])
    if opts.client:
        client_main(opts.client[0], opts.client[1], int(opts.client[2]))
    else:
        _cli.react(main, opts)
