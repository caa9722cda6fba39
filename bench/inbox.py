"""Benchmark: signed inbox POSTs accepted per second.

Serves, on loopback addresses of one process, against one embedded
PostgreSQL (fsync off):

* ``daemon``: a whole pleromad on 127.0.0.2 (the real resource tree, no job
  runner), whose ``POST /users/target/inbox`` parses and verifies the HTTP
  signature, checks Digest and Date, finds the signer (its key cached in
  PostgreSQL and parsed once in memory) and queues the activity as a durable
  job before answering 202;
* ``baseline``: a bare ``twisted.web`` Resource on 127.0.0.3 that reads the
  body and answers 202;
* the signer's actor document on 127.0.0.5 (a bare Resource), which the
  daemon fetches once, on a warm-up request before the measurement.

A load client in another process signs ``--requests`` Create(Note)
activities beforehand (each its own id, since a replayed id is dropped), then
POSTs all of them with ``--concurrency`` in flight, to each server in turn,
and prints the requests per second of both and ``daemon/baseline``.  See
bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from twisted.internet import defer, task
from twisted.internet.utils import getProcessOutputAndValue
from twisted.web.resource import Resource
from twisted.web.server import Site

from bench import _cli
from bench._figure import figure
from bench._load import signed_create
from bench._postgres import scratch_postgres
from bench._serve import whole_server
from pleromad.federation.keys import generate_key_pair
from tests.test_accounts import make_user

SIGNER_ADDRESS = "127.0.0.5"
AP_JSON = "application/activity+json"


class Static(Resource):
    """Answers every GET with one JSON document."""

    isLeaf = True

    def __init__(self, document: dict[str, Any]) -> None:
        super().__init__()
        self._body = json.dumps(document).encode()

    def render_GET(self, request: Any) -> bytes:
        request.setHeader(b"content-type", AP_JSON.encode())
        return self._body


class Accepting(Resource):
    """The baseline: read the body, answer 202."""

    isLeaf = True

    def render_POST(self, request: Any) -> bytes:
        request.content.read()
        request.setResponseCode(202)
        return b""


def signer_document(actor_id: str, public_key_pem: str) -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": actor_id,
        "type": "Person",
        "preferredUsername": "signer",
        "inbox": f"{actor_id}/inbox",
        "outbox": f"{actor_id}/outbox",
        "publicKey": {
            "id": f"{actor_id}#main-key",
            "owner": actor_id,
            "publicKeyPem": public_key_pem,
        },
    }


# -- the load client (its own process) --------------------------------------


def client_main(plan_file: str) -> None:
    """Sign every request first, then time only the POSTs."""
    import treq
    from twisted.web.client import HTTPConnectionPool

    plan = json.loads(Path(plan_file).read_text())
    actor, inbox = plan["actor"], plan["inbox"]
    signed = []
    for _ in range(plan["requests"] + 1):  # one for the warm-up
        note = {
            "id": f"{actor}/objects/{uuid.uuid4()}",
            "type": "Note",
            "attributedTo": actor,
            "to": [plan["target"]],
            "content": "<p>a benchmark</p>",
            "published": "2026-01-01T00:00:00Z",
        }
        signed.append(signed_create(inbox, plan["private_key_pem"], note))

    async def run(reactor: Any) -> None:
        pool = HTTPConnectionPool(reactor, persistent=True)
        pool.maxPersistentPerHost = plan["concurrency"]

        async def send(url: str, body: bytes, headers: dict[str, str]) -> int:
            response = await treq.post(url, data=body, headers=headers, pool=pool)
            await response.content()
            return int(response.code)

        results: dict[str, Any] = {}
        warm = await send(inbox, *signed[0])
        if warm != 202:
            raise SystemExit(f"warm-up answered {warm}")
        for name, url in (("daemon", inbox), ("baseline", plan["baseline"])):
            queue = iter(signed[1:])
            bad = []

            async def worker(url: str = url, queue: Any = queue, bad: list[int] = bad) -> None:
                for body, headers in queue:
                    code = await send(url, body, headers)
                    if code != 202:
                        bad.append(code)

            started = time.monotonic()
            await defer.gatherResults(
                [defer.ensureDeferred(worker()) for _ in range(plan["concurrency"])]
            )
            elapsed = time.monotonic() - started
            results[name] = {"rps": plan["requests"] / elapsed, "bad": bad[:5], "nbad": len(bad)}
        await pool.closeCachedConnections()
        print(json.dumps(results))

    task.react(lambda reactor: defer.ensureDeferred(run(reactor)))


# -- the run ---------------------------------------------------------------


async def main(reactor: Any, options: argparse.Namespace) -> None:
    async with (
        scratch_postgres(reactor) as scratch,
        whole_server(scratch, "inbox", "127.0.0.2", jobs=False, pool_size=options.pool) as server,
    ):
        baseline = reactor.listenTCP(0, Site(Accepting()), interface="127.0.0.3")
        keys = await generate_key_pair()
        signer_port = reactor.listenTCP(0, Site(Resource()), interface=SIGNER_ADDRESS)
        actor = f"http://{SIGNER_ADDRESS}:{signer_port.getHost().port}/signer"
        signer_port.factory.resource = Static(signer_document(actor, keys.public_key_pem))
        target = await make_user(server.rt, "target")
        plan = {
            "actor": actor,
            "target": target.ap_id,
            "inbox": f"{target.ap_id}/inbox",
            "baseline": f"http://127.0.0.3:{baseline.getHost().port}/",
            "private_key_pem": keys.private_key_pem,
            "requests": options.requests,
            "concurrency": options.concurrency,
        }
        plan_file = scratch.path / "plan.json"
        plan_file.write_text(json.dumps(plan))
        try:
            out, err, code = await getProcessOutputAndValue(
                sys.executable, [__file__, "--client", str(plan_file)], env=os.environ
            )
            if code != 0:
                raise SystemExit(f"load client failed: {err.decode()}")
            results = json.loads(out)
            for name in ("daemon", "baseline"):
                if results[name]["nbad"]:
                    raise SystemExit(f"{name}: {results[name]['nbad']} answers other than 202")
                print(f"signed inbox POST  {name:<8} {results[name]['rps']:9.1f} req/s")
            ratio = results["daemon"]["rps"] / results["baseline"]["rps"]
            print(f"signed inbox POST  daemon/baseline = {ratio:.3f}")
            figure(
                "signed inbox POST rps vs bare verifier",
                results["daemon"]["rps"],
                results["baseline"]["rps"],
            )
        finally:
            await baseline.stopListening()
            await signer_port.stopListening()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = _cli.parser(__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--pool", type=int, default=10, help="the daemon's connections")
    parser.add_argument("--client", metavar="PLAN", help=argparse.SUPPRESS)
    return _cli.parse(parser, argv, "200 requests", requests=200)


if __name__ == "__main__":
    opts = parse_args(sys.argv[1:])
    if opts.client:
        client_main(opts.client)
    else:
        _cli.react(main, opts)
