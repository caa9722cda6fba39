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
``favourites.py``'s (its seed's fan is the reader here).  See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg2
from favourites import FAST_SETTINGS, POOL_SIZE, load, seed
from twisted.internet import defer, task
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Site
from txpostgres import txpostgres

from pleromad.config import load_config
from pleromad.db import schema
from pleromad.db.embedded import EmbeddedPostgres
from pleromad.db.pool import Database
from pleromad.model import StatusFilters
from pleromad.runtime import build_runtime
from pleromad.store.oauth import create_app_txn, create_token_txn
from pleromad.store.timelines import home_query
from pleromad.web.pagination import Page
from pleromad.web.root import build_gateway
from pleromad.web.site import PleromadSite, body_limit

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


class BaselineHome(Resource):
    """``GET /?limit=&max_id=`` runs the home page query, nothing else."""

    isLeaf = True

    def __init__(self, pool: txpostgres.ConnectionPool, reader_id: int) -> None:
        super().__init__()
        self._pool = pool
        self._reader_id = reader_id

    def render_GET(self, request: Any) -> Any:
        args = {k.decode(): v[0].decode() for k, v in request.args.items()}
        page = Page(
            limit=min(int(args.get("limit", "20")), 40),
            max_id=int(args["max_id"]) if "max_id" in args else None,
        )
        sql, params = home_query(self._reader_id, page, StatusFilters())
        d = self._pool.runQuery(sql, params)
        gone: list[bool] = []  # the load generator hangs up when its time is up
        request.notifyFinish().addErrback(lambda _: gone.append(True))

        def answer(rows: list[Any]) -> None:
            if gone:
                return
            request.setHeader(b"content-type", b"application/json; charset=utf-8")
            request.write(json.dumps([{"id": str(row[0])} for row in rows]).encode("utf-8"))
            request.finish()

        def fail(failure: Any) -> None:
            if gone:
                return
            request.setResponseCode(500)
            request.write(str(failure.value).encode("utf-8"))
            request.finish()

        d.addCallbacks(answer, fail)
        return NOT_DONE_YET


async def _check_same_page(daemon_url: str, token: str, baseline_url: str) -> None:
    """Both servers list the same statuses, so the two numbers compare like for like."""
    import treq

    answer = await treq.get(daemon_url, headers={"Authorization": f"Bearer {token}"})
    daemon = await answer.json()
    baseline = await (await treq.get(baseline_url)).json()
    if [s["id"] for s in daemon] != [row["id"] for row in baseline] or not daemon:
        raise SystemExit("the daemon and the baseline disagree about the page")


async def main(reactor: Any, options: argparse.Namespace) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="pleromad-bench-"))
    embedded = EmbeddedPostgres(scratch / "postgres", settings=FAST_SETTINGS)
    try:
        dsn = await embedded.start()
        await schema.migrate(reactor, dsn)
        started = time.monotonic()
        data = seed(dsn, statuses=options.statuses, authors=options.authors)
        followed, middle = follow_all(dsn, data.fan_id)
        print(
            f"seeded {options.statuses:,} statuses by {options.authors:,} accounts,"
            f" {followed:,} of them followed by the reader, in {time.monotonic() - started:.1f} s",
            flush=True,
        )
        config = load_config(None, data_dir=str(scratch / "data"), dsn=dsn)
        db = Database(reactor, dsn, POOL_SIZE)
        await db.open()
        app = await db.run_interaction("bench app", create_app_txn, "bench", "", ["read"], None)
        issued = await db.run_interaction(
            "bench token", create_token_txn, app.id, data.fan_id, ["read"]
        )
        token = issued.access_token
        rt = build_runtime(config, db, reactor, os.urandom(32))
        daemon = reactor.listenTCP(
            0,
            PleromadSite(build_gateway(rt), body_limit(config.instance.upload_limit)),
            interface="127.0.0.1",
        )
        pool = txpostgres.ConnectionPool(None, dsn=dsn, min=POOL_SIZE)
        await pool.start()
        baseline = reactor.listenTCP(
            0, Site(BaselineHome(pool, data.fan_id)), interface="127.0.0.1"
        )
        daemon_base = f"http://127.0.0.1:{daemon.getHost().port}/api/v1/timelines/home"
        baseline_base = f"http://127.0.0.1:{baseline.getHost().port}/"
        pages = {
            "first page": "?limit=20",
            f"page at {options.statuses // 2:,}": f"?limit=20&max_id={middle}",
        }
        try:
            for label, query in pages.items():
                await _check_same_page(daemon_base + query, token, baseline_base + query)
                results = {}
                for name, url, headers in (
                    ("daemon", daemon_base + query, [f"Authorization: Bearer {token}"]),
                    ("baseline", baseline_base + query, []),
                ):
                    rps, bad = await load(
                        reactor, url, options.seconds, options.concurrency, headers=headers
                    )
                    if bad:
                        raise SystemExit(f"{name}: {bad} error answers under load")
                    results[name] = rps
                    print(f"{label:>16}  {name:<8} {rps:9.1f} req/s", flush=True)
                ratio = results["daemon"] / results["baseline"]
                print(f"{label:>16}  daemon/baseline = {ratio:.3f}", flush=True)
                print(
                    f"FIGURE\thome timeline, {label} (req/s)\t{results['daemon']:.1f}"
                    f"\t{results['baseline']:.1f}\t{ratio:.3f}\t>= {GOAL}",
                    flush=True,
                )
        finally:
            await daemon.stopListening()
            await baseline.stopListening()
            # Let the queries of requests the load generator abandoned finish.
            await task.deferLater(reactor, 1.0, lambda: None)
            pool.close()
            await db.close()
    finally:
        await embedded.stop()
        shutil.rmtree(scratch, ignore_errors=True)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--statuses", type=int, default=1_000_000)
    parser.add_argument("--authors", type=int, default=1_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--quick", action="store_true", help="a small run (20,000 statuses, 2 s each)"
    )
    options = parser.parse_args(argv)
    if options.quick:
        options.statuses, options.seconds = 20_000, 2
    return options


if __name__ == "__main__":
    opts = parse_args(sys.argv[1:])
    task.react(lambda reactor: defer.ensureDeferred(main(reactor, opts)))
