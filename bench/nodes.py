"""Benchmark: one daemon against two on one database, on the favourites page.

Seeds an embedded PostgreSQL (fsync off) the way ``bench/favourites.py``
does, then loads ``GET /api/v1/pleroma/accounts/<id>/favourites`` of real
``twistd pleromad`` processes with two bounded load generators running side
by side (``wrk`` if installed, else ``bench/_load.py``'s treq loop), each
with half the concurrency:

* ``one node``: both generators on daemon A;
* ``two nodes``: one generator on A, the other on daemon B, which runs on
  the same database and data folder (and idles during ``one node``).

Prints the requests per second of both and ``two/one``, ``--runs`` times.  See bench/README.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import treq
from twisted.internet import defer

from bench import _cli
from bench._figure import figure
from bench._load import add_load_options, load
from bench._postgres import scratch_postgres
from bench._seed import seed
from bench._twistd import Node

# Both nodes are loaded this long before measuring, so neither starts cold.
WARM_UP_SECONDS = 2


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
    async with scratch_postgres(reactor, "pleromad-bench-nodes-") as scratch:
        dsn = await scratch.migrated()
        data = seed(dsn, statuses=options.favourites, authors=options.authors)
        print(f"seeded {data.favourites:,} favourites", flush=True)
        path = f"/api/v1/pleroma/accounts/{data.fan_id}/favourites?limit=20"

        nodes = [Node(scratch.path, "a", dsn), Node(scratch.path, "b", dsn)]
        try:
            await measure(reactor, nodes, path, options)
        finally:
            for node in nodes:
                await node.stop()


async def measure(reactor: Any, nodes: list[Node], path: str, options: argparse.Namespace) -> None:
    """Load ``path`` of one node, then of both, ``options.runs`` times."""
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


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = _cli.parser(__doc__)
    parser.add_argument("--favourites", type=int, default=20_000)
    parser.add_argument("--authors", type=int, default=100)
    add_load_options(parser, seconds=10, concurrency=16)
    parser.add_argument("--runs", type=int, default=2)
    return _cli.parse(parser, argv, "one run, 2 s loads", favourites=2_000, seconds=2, runs=1)


if __name__ == "__main__":
    _cli.react(main, parse_args(sys.argv[1:]))
