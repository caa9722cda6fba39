"""Benchmark: the healthcheck's p99 while 32 clients sign up at once, against its p99 idle.

Starts an embedded PostgreSQL (fsync off) and a real ``twistd pleromad``
(production password costs: argon2id, 64 MiB, t=3; rate limits off), then
measures ``GET /api/pleroma/healthcheck`` from a prober of its own process
(one keep-alive connection, a request every 10 ms):

* ``idle``: nothing else runs;
* ``loaded``: meanwhile 32 clients each register account after account
  (``POST /api/account/register``), waiting Retry-After on a 503.

Prints p50/p99/max of both, the sign-ups per second, and the FIGURE line
(loaded p99 / idle p99, goal <= 2x).  See bench/README.md.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import treq
from twisted.internet import defer, task
from twisted.internet.utils import getProcessOutputAndValue
from twisted.web.client import HTTPConnectionPool

from bench import _cli
from bench._figure import figure
from bench._postgres import scratch_postgres
from bench._twistd import HEALTHCHECK, Node

GOAL = 2.0
CONFIG = """\
[rate_limits]
enabled = false
"""


# -- the prober (a process of its own, so that the load's client does not delay it) --


def probe_main(port: int, seconds: float, interval: float) -> None:
    """Print the latencies (ms) of healthchecks every ``interval`` s for ``seconds`` s."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        conn.request("GET", HEALTHCHECK)
        response = conn.getresponse()
        response.read()
        latencies.append((time.perf_counter() - started) * 1000)
        if response.status != 200:
            raise SystemExit(f"healthcheck answered {response.status}")
        time.sleep(interval)
    print(json.dumps(latencies))


async def probe(port: int, seconds: float, interval: float) -> list[float]:
    out, err, code = await getProcessOutputAndValue(
        sys.executable,
        [__file__, "--probe", str(port), "--seconds", str(seconds), "--interval", str(interval)],
        env=os.environ,
    )
    if code != 0:
        raise SystemExit(f"the prober failed: {err.decode()}")
    return sorted(json.loads(out))


@dataclass(frozen=True)
class Stats:
    p50: float
    p99: float
    worst: float
    count: int

    @classmethod
    def of(cls, sorted_ms: list[float]) -> Stats:
        def at(q: float) -> float:
            return sorted_ms[min(len(sorted_ms) - 1, int(q * len(sorted_ms)))]

        return cls(at(0.5), at(0.99), sorted_ms[-1], len(sorted_ms))

    def __str__(self) -> str:
        return (
            f"p50 {self.p50:7.2f} ms  p99 {self.p99:7.2f} ms  max {self.worst:7.2f} ms"
            f"  ({self.count} probes)"
        )


# -- the load ------------------------------------------------------------------


async def sign_ups(
    reactor: Any, base: str, clients: int, until: defer.Deferred[Any]
) -> tuple[int, int, int]:
    """``clients`` loops registering accounts until ``until`` fires: (done, busy, other)."""
    pool = HTTPConnectionPool(reactor, persistent=True)
    pool.maxPersistentPerHost = clients
    names = itertools.count()
    counts = {"ok": 0, "busy": 0, "other": 0}

    async def client() -> None:
        while not until.called:
            n = next(names)
            form = {
                "nickname": f"u{n}",
                "fullname": "U",
                "email": f"u{n}@example.org",
                "password": "correct horse battery",
                "confirm": "correct horse battery",
            }
            response = await treq.post(base + "/api/account/register", json=form, pool=pool)
            await response.content()
            if response.code == 200:
                counts["ok"] += 1
            elif response.code == 503:
                counts["busy"] += 1
                wait = float(response.headers.getRawHeaders("retry-after", ["1"])[0])
                await task.deferLater(reactor, wait, lambda: None)
            else:
                counts["other"] += 1

    await defer.gatherResults([defer.ensureDeferred(client()) for _ in range(clients)])
    await pool.closeCachedConnections()
    return counts["ok"], counts["busy"], counts["other"]


# -- the run -------------------------------------------------------------------


async def main(reactor: Any, options: argparse.Namespace) -> None:
    async with scratch_postgres(reactor, "pleromad-bench-healthcheck-") as scratch:
        dsn = await scratch.migrated()
        config = scratch.path / "pleromad.toml"
        config.write_text(CONFIG, encoding="utf-8")
        node = Node(scratch.path, "daemon", dsn, config)
        try:
            await measure(reactor, node, options)
        finally:
            await node.stop()


async def measure(reactor: Any, node: Node, options: argparse.Namespace) -> None:
    """The healthcheck's latencies idle, then while the clients sign up."""
    await node.healthy(reactor)
    await probe(node.port, 1, options.interval)  # warm up

    idle = Stats.of(await probe(node.port, options.idle_seconds, options.interval))
    print(f"idle     {idle}", flush=True)

    probing = defer.ensureDeferred(probe(node.port, options.seconds, options.interval))
    started = time.monotonic()
    done, busy, other = await sign_ups(reactor, node.base, options.clients, probing)
    elapsed = time.monotonic() - started
    loaded = Stats.of(await probing)
    print(f"loaded   {loaded}", flush=True)
    print(
        f"sign-ups {done} in {elapsed:.1f} s ({done / elapsed:.2f}/s) by {options.clients}"
        f" clients; {busy} answered 503, {other} other errors",
        flush=True,
    )
    if other:
        raise SystemExit(f"{other} sign-ups failed; see {node.log}")
    figure(
        f"healthcheck p99 while {options.clients} clients sign up / idle (ms)",
        loaded.p99,
        idle.p99,
        f"<= {GOAL:g}x",
        digits=".2f",
        ratio_digits=".2f",
    )


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = _cli.parser(__doc__)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20, help="of load, probed")
    parser.add_argument("--idle-seconds", type=float, default=10)
    parser.add_argument("--interval", type=float, default=0.01, help="between probes")
    parser.add_argument("--probe", type=int, metavar="PORT", help=argparse.SUPPRESS)
    return _cli.parse(parser, argv, "a short run (< 60 s)", seconds=5, idle_seconds=3, clients=8)


if __name__ == "__main__":
    opts = parse_args(sys.argv[1:])
    if opts.probe is not None:
        probe_main(opts.probe, opts.seconds, opts.interval)
    else:
        _cli.react(main, opts)
