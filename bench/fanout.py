"""Benchmark: one local post to 1,000 remote followers on 10 hosts.

In one process, against one embedded PostgreSQL (durability off):

* a whole pleromad on 127.0.0.2 (the real resource tree, a pool of 10
  connections and its job runner with the daemon's handlers and default
  concurrency), with one local account, ``alice``;
* ``--hosts`` receiving servers (default 10) on 127.0.0.10, 127.0.0.11 ...,
  each a bare ``twisted.web`` resource that checks each POST's HTTP
  signature (RSA-SHA256 against alice's public key, and the Digest of the
  body), counts it and answers 202;
* ``--followers`` remote accounts (default 1,000) spread evenly over those
  hosts, each with a shared inbox, following alice: seeded in SQL.

alice posts through ``POST /api/v1/statuses``; measured are the delivery
jobs the post made (counted by a trigger on the bench database's jobs
table: 10 expected, one per shared inbox) and the time from the POST's
answer until every host has received the post's Create.  Baseline in the
same run: the same number of POSTs, signed inline as the delivery job signs
them and sent directly with treq to each host's shared inbox, as many at a
time as the job runner runs.  ``--rounds`` posts (and baselines) are timed
after one warm-up of each; the medians are printed, with FIGURE lines
(bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from twisted.internet import task
from twisted.internet.interfaces import IListeningPort
from twisted.web.client import HTTPConnectionPool
from twisted.web.resource import Resource
from twisted.web.server import Site

from bench import _cli
from bench._figure import figure
from bench._load import post_signed
from bench._postgres import scratch_postgres
from bench._serve import post_status, whole_server
from pleromad.domain import actor_keys
from pleromad.domain.delivery import DELIVER_JOB
from pleromad.federation import httpsig
from tests.federation_peers import Server
from tests.test_accounts import bearer, make_user

RUNNER_CONCURRENCY = 4  # the JobRunner's default, which run_server keeps

# Counts the delivery jobs made, on the bench database only.
COUNT_JOBS = f"""
CREATE TABLE bench_jobs_made (id bigint);
CREATE FUNCTION bench_count_job() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO bench_jobs_made VALUES (NEW.id); RETURN NEW; END $$;
CREATE TRIGGER bench_count_job AFTER INSERT ON jobs
    FOR EACH ROW WHEN (NEW.kind = '{DELIVER_JOB}') EXECUTE FUNCTION bench_count_job();
"""

SEED = """
WITH hosts AS (
    SELECT n, (%(hosts)s::text[])[1 + n %% %(host_count)s] AS host
    FROM generate_series(0, %(followers)s - 1) AS n
), followers AS (
    INSERT INTO users (nickname, local, ap_id)
    SELECT 'f' || n || '@' || host, false, 'http://' || host || '/users/f' || n FROM hosts
    RETURNING id, ap_id, split_part(nickname, '@', 2) AS host
), actors AS (
    INSERT INTO remote_actors (user_id, host, inbox, shared_inbox, key_id, public_key_pem,
                               document, fetched_at)
    SELECT id, host, ap_id || '/inbox', 'http://' || host || '/inbox', ap_id || '#main-key',
           'unused', '{}', now()
    FROM followers
)
INSERT INTO follows (follower_id, followee_id, state)
SELECT id, %(alice)s, 'accepted' FROM followers
"""


class SharedInbox(Resource):
    """A host's shared inbox: checks the signature, counts the Creates by
    their object's id."""

    isLeaf = True

    def __init__(self, public_key_pem: str) -> None:
        super().__init__()
        self.public_key_pem = public_key_pem
        self.received: dict[str, int] = {}
        self.refused = 0

    def render_POST(self, request: Any) -> bytes:
        body = request.content.read()
        headers = {
            name.decode("latin-1").lower(): b", ".join(values).decode("latin-1")
            for name, values in request.requestHeaders.getAllRawHeaders()
        }
        try:
            signature = httpsig.parse_signature(headers.get("signature", ""))
            httpsig.check_digest(headers, body)
            valid = httpsig.verify(
                signature,
                method="POST",
                path=request.uri.decode("latin-1"),
                headers=headers,
                public_key_pem=self.public_key_pem,
            )
        except httpsig.SignatureError:
            valid = False
        if not valid:
            self.refused += 1
            request.setResponseCode(401)
            return b""
        object_id = json.loads(body)["object"]["id"]
        self.received[object_id] = self.received.get(object_id, 0) + 1
        request.setResponseCode(202)
        return b""


async def until(check: Any, reactor: Any, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"not within {timeout:g} s: {what}")
        await task.deferLater(reactor, 0.001, lambda: None)


async def _jobs_made_txn(txn: Any) -> int:
    return int(await txn.fetchval("SELECT count(*) FROM bench_jobs_made"))


async def post_once(
    reactor: Any, server: Server, headers: dict[str, str], inboxes: list[SharedInbox], n: int
) -> tuple[int, float]:
    """alice posts; (delivery jobs it made, seconds from the POST's answer
    until every host holds its Create)."""
    made_before = await server.rt.db.run_interaction("jobs made", _jobs_made_txn)
    status, answered = await post_status(server, headers, f"Hello, followers ({n})")
    await until(
        lambda: all(status["uri"] in inbox.received for inbox in inboxes),
        reactor,
        "every host's delivery",
    )
    elapsed = time.monotonic() - answered
    made = await server.rt.db.run_interaction("jobs made", _jobs_made_txn) - made_before
    return made, elapsed


async def send_directly(
    reactor: Any,
    pool: HTTPConnectionPool,
    signer: tuple[str, str],
    urls: list[str],
    inboxes: list[SharedInbox],
    n: int,
) -> float:
    """The baseline: the same signed POSTs, straight to each shared inbox."""
    object_id = f"http://bench.invalid/objects/direct-{n}"
    note = {"id": object_id, "type": "Note", "content": "x" * 600}
    body = json.dumps(
        {"id": f"{object_id}/activity", "type": "Create", "actor": "x", "object": note},
        separators=(",", ":"),
    ).encode()
    started = time.monotonic()
    refused = await post_signed(reactor, pool, urls, body, signer, RUNNER_CONCURRENCY)
    elapsed = time.monotonic() - started
    if refused:
        raise SystemExit(f"{refused[0][0]} answered {refused[0][1]}")
    assert all(object_id in inbox.received for inbox in inboxes)
    return elapsed


async def main(reactor: Any, options: argparse.Namespace) -> None:
    async with (
        scratch_postgres(reactor) as scratch,
        whole_server(scratch, "fanout", "127.0.0.2", pool_size=10) as server,
    ):
        await fan_out(reactor, server, options)


async def fan_out(reactor: Any, server: Server, options: argparse.Namespace) -> None:
    """alice posts to her remote followers, ``options.rounds`` times after a warm-up."""
    ports: list[IListeningPort] = []
    try:
        alice = await make_user(server.rt, "alice")
        signer = await actor_keys.signing_key(server.rt, alice.id)  # made before the clock runs
        public_key = await actor_keys.public_key_pem(server.rt, alice.id)
        inboxes, hosts = [], []
        for h in range(options.hosts):
            inbox = SharedInbox(public_key)
            site = Site(inbox)
            site.noisy = False
            port = reactor.listenTCP(0, site, interface=f"127.0.0.{10 + h}")
            ports.append(port)
            inboxes.append(inbox)
            hosts.append(f"127.0.0.{10 + h}:{port.getHost().port}")

        async def seed_txn(txn: Any) -> None:
            await txn.execute(COUNT_JOBS)
            args = {
                "hosts": hosts,
                "host_count": len(hosts),
                "followers": options.followers,
                "alice": alice.id,
            }
            await txn.execute(SEED, args)

        await server.rt.db.run_interaction("seed", seed_txn)
        print(f"{options.followers} remote followers of alice on {options.hosts} hosts")

        headers = await bearer(server.rt, alice)
        pool = HTTPConnectionPool(reactor, persistent=True)
        pool.maxPersistentPerHost = RUNNER_CONCURRENCY
        urls = [f"http://{host}/inbox" for host in hosts]
        jobs_made, daemon, direct = [], [], []
        for n in range(options.rounds + 1):  # the first of each warms up
            made, elapsed = await post_once(reactor, server, headers, inboxes, n)
            plain = await send_directly(reactor, pool, signer, urls, inboxes, n)
            if n:
                jobs_made.append(made)
                daemon.append(elapsed)
                direct.append(plain)
            print(
                f"  {'post' if n else 'warm-up'}: {made} delivery jobs,"
                f" all hosts reached {elapsed * 1000:7.1f} ms after the answer;"
                f" direct {plain * 1000:6.1f} ms",
                flush=True,
            )
        await pool.closeCachedConnections()
        refused = sum(inbox.refused for inbox in inboxes)
        repeated = sum(count > 1 for inbox in inboxes for count in inbox.received.values())
        if refused or repeated:
            raise SystemExit(f"{refused} deliveries badly signed, {repeated} delivered twice")

        jobs = statistics.median(jobs_made)
        taken, baseline = statistics.median(daemon), statistics.median(direct)
        print(f"median of {options.rounds}: {jobs:g} delivery jobs (one per host expected)")
        print(f"  every host reached  daemon {taken * 1000:8.1f} ms")
        print(f"  every host reached  direct {baseline * 1000:8.1f} ms")
        print(f"  daemon/direct = {taken / baseline:.2f}")
        figure("fanout delivery jobs", jobs, options.hosts, "<= 1x", digits="g", ratio_digits=".2f")
        figure(
            "fanout time to every host (ms)",
            taken * 1000,
            baseline * 1000,
            "<= 3x",
            digits=".1f",
            ratio_digits=".2f",
        )
    finally:
        for port in ports:
            await port.stopListening()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = _cli.parser(__doc__)
    parser.add_argument("--followers", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=10, help="posts timed after a warm-up")
    return _cli.parse(parser, argv, "100 followers, 2 rounds", followers=100, rounds=2)


if __name__ == "__main__":
    _cli.react(main, parse_args(sys.argv[1:]))
