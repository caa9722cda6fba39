"""Benchmark: an account's favourites timeline with 1,000,000 favourites.

Serves ``GET /api/v1/pleroma/accounts/<id>/favourites`` twice on loopback
ports of one process, against one embedded PostgreSQL (fsync off) holding
1,000,000 statuses, all favourited by one account:

* ``daemon``: the real resource tree (``build_gateway(build_runtime(...))``),
  which authenticates, pages by the favourite's id, loads and renders full
  Status entities and writes the Link header;
* ``baseline``: a bare ``twisted.web`` Resource on a txpostgres connection
  pool that runs the same one favourites-page query (the SQL of
  ``pleromad.store.timelines.favourites_query``) and answers its rows as JSON.

Each is loaded for a fixed time by a bounded load generator in another
process (``wrk`` if installed, else bench/_load.py's treq loop with fixed
concurrency) and the requests per second of both and their ratio are
printed.  See bench/README.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _cli
from bench._load import add_load_options, compare
from bench._postgres import scratch_postgres
from bench._seed import seed
from bench._serve import daemon_and_baseline
from pleromad.store.timelines import favourites_query
from pleromad.web.pagination import Page


def favourites_page(account_id: int, args: dict[str, str]) -> tuple[str, Any]:
    """The baseline's one query: the favourites page ``?limit=&max_id=`` asks for."""
    page = Page(
        limit=min(int(args.get("limit", "20")), 40),
        max_id=int(args["max_id"]) if "max_id" in args else None,
        since_id=None,
        min_id=None,
    )
    return favourites_query(account_id, None, page)


def favourites_rows(rows: list[Any]) -> Any:
    return [{"id": str(row[0]), "status_id": str(row[1])} for row in rows]


async def main(reactor: Any, options: argparse.Namespace) -> None:
    async with scratch_postgres(reactor) as scratch:
        dsn = await scratch.migrated()
        started = time.monotonic()
        data = seed(dsn, statuses=options.favourites, authors=options.authors)
        print(
            f"seeded {data.favourites:,} favourites of {options.favourites:,} statuses"
            f" in {time.monotonic() - started:.1f} s",
            flush=True,
        )
        query = partial(favourites_page, data.fan_id)
        async with daemon_and_baseline(
            reactor, scratch.path, dsn, query, favourites_rows
        ) as served:
            path = f"/api/v1/pleroma/accounts/{data.fan_id}/favourites"
            pages = {
                "first page": "?limit=20",
                f"page at {data.favourites // 2:,}": f"?limit=20&max_id={data.deep_max_id}",
            }
            for label, query in pages.items():
                daemon_url = served.daemon + path + query
                baseline_url = served.baseline + "/" + query
                await _check_same_page(daemon_url, baseline_url)
                targets = {"daemon": (daemon_url, []), "baseline": (baseline_url, [])}
                await compare(
                    reactor,
                    label,
                    targets,
                    options,
                    f"GET favourites of {data.favourites:,}, {label}, rps vs bare txpostgres",
                    ">= 0.5",
                )


async def _check_same_page(daemon_url: str, baseline_url: str) -> None:
    """Both servers list the same statuses, so the two numbers compare like for like."""
    import treq

    daemon = await (await treq.get(daemon_url)).json()
    baseline = await (await treq.get(baseline_url)).json()
    if [s["id"] for s in daemon] != [row["status_id"] for row in baseline] or not daemon:
        raise SystemExit("the daemon and the baseline disagree about the page")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = _cli.parser(__doc__)
    parser.add_argument("--favourites", type=int, default=1_000_000)
    parser.add_argument("--authors", type=int, default=1_000)
    add_load_options(parser, seconds=10, concurrency=16)
    return _cli.parse(
        parser,
        argv,
        "20,000 favourites, 2 s loads",
        favourites=20_000,
        authors=100,
        seconds=2,
    )


if __name__ == "__main__":
    _cli.react(main, parse_args(sys.argv[1:]))
