"""Benchmark: one daemon against two on one database, on the favourites page.

Seeds an embedded PostgreSQL (fsync off) the way ``bench/favourites.py``
does, then loads ``GET /api/v1/pleroma/accounts/<id>/favourites`` of real
``twistd pleromad`` processes with two bounded load generators running side
by side (``wrk`` if installed, else ``favourites.py``'s treq loop), each
with half the concurrency:

* ``one node``: both generators on daemon A;
* ``two nodes``: one generator on A, the other on daemon B, which runs on
  the same database and data folder (and idles during ``one node``).

Prints the requests per second of both and ``two/one``, ``--runs`` times.  See bench/README.md.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import treq
from twisted.internet import defer, task
from twisted.internet.threads import deferToThread

from bench._figure import figure
from bench.favourites import FAST_SETTINGS, load, seed
from pleromad.db import schema
from pleromad.db.embedded import EmbeddedPostgres

BIN = Path(sys.executable).parent
START_SECONDS = 120.0
# Both nodes are loaded this long before measuring, so neither starts cold.
WARM_UP_SECONDS = 2


class Node:
    """One ``twistd pleromad`` on a loopback port of its own."""

    def __init__(self, scratch: Path, name: str, dsn: str, config: Path | None = None) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.log = scratch / f"{name}.log"
        self.process = subprocess.Popen(
            [
                str(BIN / "twistd"),
                "-n",
                "--pidfile=",
                "--logfile",
                str(self.log),
                "pleromad",
                *(["--config", str(config)] if config is not None else []),
                "--listen",
                f"tcp:{self.port}:interface=127.0.0.1",
                "--dsn",
                dsn,
                "--data-dir",
                str(scratch / "data"),
            ],
            cwd=scratch,
        )

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def healthy(self, reactor: Any) -> None:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the daemon exited; see {self.log}")
            try:
                if (await treq.get(self.base + "/api/pleroma/healthcheck")).code == 200:
                    return
            except Exception:
                pass
            await task.deferLater(reactor, 0.2, lambda: None)
        raise SystemExit(f"the daemon never became healthy; see {self.log}")

    async def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        await deferToThread(self.process.wait, 30)


async def split_load(reactor: Any, urls: list[str], seconds: int, concurrency: int) -> float:
    """Requests per second of two generators at once, one on each of ``urls``,
    sharing ``concurrency``."""
    share = max(1, concurrency // 2)
    results = await defer.gatherResults(
        [defer.ensureDeferred(load(reactor, url, seconds, share, threads=1)) for url in urls],
        consumeErrors=True,
    )
    bad = sum(errors for _, errors in results)
    if bad:
        raise SystemExit(f"{bad} error answers under load")
    return sum(rps for rps, _ in results)


async def same_page(urls: list[str]) -> None:
    """Both nodes list the same favourites: the comparison is like for like."""
    pages = [[s["id"] for s in await (await treq.get(url)).json()] for url in urls]
    if not pages[0] or pages[0] != pages[1]:
        raise SystemExit("the nodes disagree about the page")


async def main(reactor: Any, options: argparse.Namespace) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="pleromad-bench-nodes-"))
    embedded = EmbeddedPostgres(scratch / "postgres", settings=FAST_SETTINGS)
    nodes: list[Node] = []
    try:
        dsn = await embedded.start()
        await schema.migrate(reactor, dsn)
        data = seed(dsn, statuses=options.favourites, authors=options.authors)
        print(f"seeded {data.favourites:,} favourites", flush=True)
        path = f"/api/v1/pleroma/accounts/{data.fan_id}/favourites?limit=20"

        nodes += [Node(scratch, "a", dsn), Node(scratch, "b", dsn)]
        for node in nodes:
            await node.healthy(reactor)
        a_url, b_url = (node.base + path for node in nodes)
        await same_page([a_url, b_url])
        await split_load(reactor, [a_url, b_url], WARM_UP_SECONDS, options.concurrency)
        for _ in range(options.runs):
            one = await split_load(reactor, [a_url, a_url], options.seconds, options.concurrency)
            two = await split_load(reactor, [a_url, b_url], options.seconds, options.concurrency)
            print(
                f"one node {one:7.1f} req/s   two nodes {two:7.1f} req/s   two/one {two / one:.3f}",
                flush=True,
            )
            figure("favourites rps: two nodes vs one", two, one)
    finally:
        for node in nodes:
            await node.stop()
        await embedded.stop()
        shutil.rmtree(scratch, ignore_errors=True)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--favourites", type=int, default=20_000)
    parser.add_argument("--authors", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="one run, 2 s loads")
    options = parser.parse_args(argv)
    if options.quick:
        options.favourites, options.seconds, options.runs = 2_000, 2, 1
    return options


if __name__ == "__main__":
    opts = parse_args(sys.argv[1:])
    task.react(lambda reactor: defer.ensureDeferred(main(reactor, opts)))
