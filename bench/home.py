"""Benchmark: a home timeline page for a reader following 1,000 accounts.

Serves ``GET /api/v1/timelines/home`` twice on loopback ports of one
process, against one embedded PostgreSQL (fsync off) holding 1,000,000
statuses by 1,000 accounts, all of which the reader follows:

* ``daemon``: the real resource tree (``build_gateway(build_runtime(...))``),
  which authenticates the reader's bearer token, runs the home page query,
  loads and renders full Status entities and writes the Link header;
* ``baseline``: a bare ``twisted.web`` Resource on a txpostgres connection
  pool that runs the same one home page query (the SQL of
  ``pleromad.store.timelines.home_query``) and answers its ids as JSON.

The data, the load generator and the way both are measured are
``favourites.py``'s (``bench/_seed.py``; its fan is the reader here).  See bench/README.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg2

from bench import _cli
from bench._load import add_load_options, compare
from bench._postgres import scratch_postgres
from bench._seed import seed
from bench._serve import daemon_and_baseline
from pleromad.model import StatusFilters
from pleromad.store.oauth import create_app_txn, create_token_txn
from pleromad.store.timelines import home_query
from pleromad.web.pagination import Page

GOAL = 0.5


def follow_all(dsn: str, reader_id: int) -> tuple[int, int]:
    """The reader follows every other account (with the triggers and
    checks a real follow runs); how many, and a status id halfway down
    their home timeline."""
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO follows (follower_id, followee_id)"
            " SELECT %s, id FROM users WHERE id <> %s",
            (reader_id, reader_id),
        )
        followed = cur.rowcount
        cur.execute(
            "SELECT id FROM statuses ORDER BY id DESC OFFSET (SELECT count(*) / 2 FROM statuses) LIMIT 1"
        )
        middle = cur.fetchone()[0]
        cur.execute("VACUUM ANALYZE follows")
    conn.close()
    return followed, middle


def home_page(reader_id: int, args: dict[str, str]) -> tuple[str, Any]:
    """The baseline's one query: the home page ``?limit=&max_id=`` asks for."""
    page = Page(
        limit=min(int(args.get("limit", "20")), 40),
        max_id=int(args["max_id"]) if "max_id" in args else None,
    )
    return home_query(reader_id, page, StatusFilters())


def home_rows(rows: list[Any]) -> Any:
    return [{"id": str(row[0])} for row in rows]


async def _check_same_page(daemon_url: str, token: str, baseline_url: str) -> None:
    """Both servers list the same statuses, so the two numbers compare like for like."""
    import treq

    answer = await treq.get(daemon_url, headers={"Authorization": f"Bearer {token}"})
    daemon = await answer.json()
    baseline = await (await treq.get(baseline_url)).json()
    if [s["id"] for s in daemon] != [row["id"] for row in baseline] or not daemon:
        raise SystemExit("the daemon and the baseline disagree about the page")


async def main(reactor: Any, options: argparse.Namespace) -> None:
    async with scratch_postgres(reactor) as scratch:
        dsn = await scratch.migrated()
        started = time.monotonic()
        data = seed(dsn, statuses=options.statuses, authors=options.authors)
        followed, middle = follow_all(dsn, data.fan_id)
        print(
            f"seeded {options.statuses:,} statuses by {options.authors:,} accounts,"
            f" {followed:,} of them followed by the reader, in {time.monotonic() - started:.1f} s",
            flush=True,
        )
        query = partial(home_page, data.fan_id)
        async with daemon_and_baseline(reactor, scratch.path, dsn, query, home_rows) as served:
            db = served.rt.db
            app = await db.run_interaction("bench app", create_app_txn, "bench", "", ["read"], None)
            issued = await db.run_interaction(
                "bench token", create_token_txn, app.id, data.fan_id, ["read"]
            )
            token = issued.access_token
            daemon_base = served.daemon + "/api/v1/timelines/home"
            baseline_base = served.baseline + "/"
            pages = {
                "first page": "?limit=20",
                f"page at {options.statuses // 2:,}": f"?limit=20&max_id={middle}",
            }
            for label, query_string in pages.items():
                daemon_url, baseline_url = daemon_base + query_string, baseline_base + query_string
                await _check_same_page(daemon_url, token, baseline_url)
                targets = {
                    "daemon": (daemon_url, [f"Authorization: Bearer {token}"]),
                    "baseline": (baseline_url, []),
                }
                await compare(
                    reactor,
                    label,
                    targets,
                    options,
                    f"home timeline, {label} (req/s)",
                    f">= {GOAL}",
                    digits=".1f",
                )


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = _cli.parser(__doc__)
    parser.add_argument("--statuses", type=int, default=1_000_000)
    parser.add_argument("--authors", type=int, default=1_000)
    add_load_options(parser, seconds=10, concurrency=16)
    return _cli.parse(
        parser, argv, "a small run (20,000 statuses, 2 s each)", statuses=20_000, seconds=2
    )


if __name__ == "__main__":
    _cli.react(main, parse_args(sys.argv[1:]))
