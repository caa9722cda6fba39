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
process (``wrk`` if installed, else this script's own treq loop with fixed
concurrency) and the requests per second of both and their ratio are
printed.  See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg2
import psycopg2.extras
from twisted.internet import defer, task
from twisted.internet.utils import getProcessOutputAndValue
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Site
from txpostgres import txpostgres

from bench._figure import figure
from pleromad.config import load_config
from pleromad.db import schema
from pleromad.db.embedded import EmbeddedPostgres
from pleromad.db.pool import Database
from pleromad.runtime import build_runtime
from pleromad.store.timelines import favourites_query
from pleromad.web.pagination import Page
from pleromad.web.root import build_gateway
from pleromad.web.site import PleromadSite, body_limit

FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
BASE_URL = "http://localhost:4000"
POOL_SIZE = 10


# -- data ------------------------------------------------------------------


@dataclass(frozen=True)
class Dataset:
    fan_id: int
    deep_max_id: int  # a favourite id halfway down the fan's list
    favourites: int


def seed(dsn: str, *, statuses: int, authors: int) -> Dataset:
    """Users, ``statuses`` statuses by ``authors`` accounts (mostly public,
    some unlisted, private and direct) and one favourite of each by the fan,
    all in SQL."""
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        # The rows are consistent by construction: skip the per-row
        # foreign-key triggers (the embedded server's user is a superuser).
        cur.execute("SET session_replication_role = replica")
        cur.execute(
            "INSERT INTO users (nickname, email, ap_id)"
            " SELECT 'author' || g, 'author' || g || '@example.org',"
            "        %(base)s || '/users/author' || g"
            " FROM generate_series(1, %(authors)s) g",
            {"base": BASE_URL, "authors": authors},
        )
        cur.execute(
            "INSERT INTO users (nickname, email, ap_id)"
            " VALUES ('fan', 'fan@example.org', %s) RETURNING id",
            (f"{BASE_URL}/users/fan",),
        )
        fan_id = cur.fetchone()[0]
        # Ids are given rather than drawn from next_id(): a million rows in a
        # few seconds would wrap its per-millisecond sequence.
        cur.execute("SELECT (floor(extract(epoch FROM now()) * 1000)::bigint << 16)")
        base_id = cur.fetchone()[0] - (statuses * 4)
        cur.execute(
            "INSERT INTO statuses (id, account_id, conversation_id, visibility, source,"
            "                      content, created_at)"
            " SELECT %(base)s + g * 2, a.id, %(base)s + g * 2,"
            "        (CASE WHEN g %% 100 < 90 THEN 'public' WHEN g %% 100 < 95 THEN 'unlisted'"
            "              WHEN g %% 100 < 99 THEN 'private' ELSE 'direct' END),"
            "        'status number ' || g, 'status number ' || g,"
            "        now() - (%(n)s - g) * interval '1 second'"
            " FROM generate_series(1, %(n)s) g"
            " JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM users"
            "       WHERE nickname LIKE 'author%%') a ON a.k = g %% %(authors)s",
            {"base": base_id, "n": statuses, "authors": authors},
        )
        # Favourited in the order posted; the favourite ids are later still.
        cur.execute(
            "INSERT INTO favourites (id, account_id, status_id, created_at)"
            " SELECT s.id + %(span)s, %(fan)s, s.id, s.created_at FROM statuses s",
            {"span": statuses * 2 + 1, "fan": fan_id},
        )
        # The triggers that keep the counters were off too (migration 0030).
        cur.execute("SELECT counters_recount()")
        cur.execute("SELECT count(*) FROM favourites")
        count = cur.fetchone()[0]
        cur.execute(
            "SELECT id FROM favourites WHERE account_id = %s ORDER BY id DESC OFFSET %s LIMIT 1",
            (fan_id, count // 2),
        )
        deep_max_id = cur.fetchone()[0]
        cur.execute("VACUUM ANALYZE")
    conn.close()
    return Dataset(fan_id, deep_max_id, count)


# -- the baseline server ---------------------------------------------------


class BaselineFavourites(Resource):
    """``GET /?limit=&max_id=`` runs the favourites page query, nothing else."""

    isLeaf = True

    def __init__(self, pool: txpostgres.ConnectionPool, account_id: int) -> None:
        super().__init__()
        self._pool = pool
        self._account_id = account_id

    def render_GET(self, request: Any) -> Any:
        args = {k.decode(): v[0].decode() for k, v in request.args.items()}
        page = Page(
            limit=min(int(args.get("limit", "20")), 40),
            max_id=int(args["max_id"]) if "max_id" in args else None,
            since_id=None,
            min_id=None,
        )
        sql, params = favourites_query(self._account_id, None, page)
        d = self._pool.runQuery(sql, params)
        gone: list[bool] = []  # the load generator hangs up when its time is up
        request.notifyFinish().addErrback(lambda _: gone.append(True))

        def answer(rows: list[Any]) -> None:
            if gone:
                return
            body = [{"id": str(row[0]), "status_id": str(row[1])} for row in rows]
            request.setHeader(b"content-type", b"application/json; charset=utf-8")
            request.write(json.dumps(body).encode("utf-8"))
            request.finish()

        def fail(failure: Any) -> None:
            if gone:
                return
            request.setResponseCode(500)
            request.write(str(failure.value).encode("utf-8"))
            request.finish()

        d.addCallbacks(answer, fail)
        return NOT_DONE_YET


# -- load generation -------------------------------------------------------


async def load(
    reactor: Any,
    url: str,
    seconds: int,
    concurrency: int,
    threads: int = 2,
    headers: Sequence[str] = (),
) -> tuple[float, int]:
    """Requests per second (and non-2xx answers) over ``seconds`` of load on
    ``url``, each request with ``headers`` ("Name: value"); ``threads`` is
    wrk's (the fallback loop has one)."""
    if shutil.which("wrk"):
        out, err, code = await getProcessOutputAndValue(
            shutil.which("wrk"),
            [f"-t{threads}", f"-c{concurrency}", f"-d{seconds}s", "--latency"]
            + [arg for header in headers for arg in ("-H", header)]
            + [url],
            env=os.environ,
        )
        text = out.decode()
        if code != 0:
            raise SystemExit(f"wrk failed: {err.decode()}{text}")
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text)[1])
        bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
        return rps, int(bad[1]) if bad else 0
    out, err, code = await getProcessOutputAndValue(
        sys.executable,
        [__file__, "--client", url, "--seconds", str(seconds), "--concurrency", str(concurrency)]
        + [arg for header in headers for arg in ("--header", header)],
        env=os.environ,
    )
    if code != 0:
        raise SystemExit(f"load client failed: {err.decode()}")
    result = json.loads(out)
    return result["rps"], result["bad"]


def client_main(url: str, seconds: int, concurrency: int, headers: Sequence[str] = ()) -> None:
    """The fallback load generator: ``concurrency`` treq loops for ``seconds``."""
    import treq
    from twisted.web.client import HTTPConnectionPool

    async def run(reactor: Any) -> None:
        pool = HTTPConnectionPool(reactor, persistent=True)
        pool.maxPersistentPerHost = concurrency
        sent = {name: value.strip() for name, _, value in (h.partition(":") for h in headers)}
        deadline = time.monotonic() + seconds
        counts = {"ok": 0, "bad": 0}

        async def worker() -> None:
            while time.monotonic() < deadline:
                response = await treq.get(url, headers=sent, pool=pool)
                await response.content()
                counts["ok" if response.code < 400 else "bad"] += 1

        started = time.monotonic()
        await defer.gatherResults([defer.ensureDeferred(worker()) for _ in range(concurrency)])
        elapsed = time.monotonic() - started
        await pool.closeCachedConnections()
        total = counts["ok"] + counts["bad"]
        print(json.dumps({"rps": total / elapsed, "bad": counts["bad"]}))

    task.react(lambda reactor: defer.ensureDeferred(run(reactor)))


# -- the run ---------------------------------------------------------------


async def main(reactor: Any, options: argparse.Namespace) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="pleromad-bench-"))
    embedded = EmbeddedPostgres(scratch / "postgres", settings=FAST_SETTINGS)
    try:
        dsn = await embedded.start()
        await schema.migrate(reactor, dsn)
        started = time.monotonic()
        data = seed(dsn, statuses=options.favourites, authors=options.authors)
        print(
            f"seeded {data.favourites:,} favourites of {options.favourites:,} statuses"
            f" in {time.monotonic() - started:.1f} s",
            flush=True,
        )

        config = load_config(None, data_dir=str(scratch / "data"), dsn=dsn)
        db = Database(reactor, dsn, POOL_SIZE)
        await db.open()
        rt = build_runtime(config, db, reactor, os.urandom(32))
        daemon = reactor.listenTCP(
            0,
            PleromadSite(build_gateway(rt), body_limit(config.instance.upload_limit)),
            interface="127.0.0.1",
        )
        pool = txpostgres.ConnectionPool(None, dsn=dsn, min=POOL_SIZE)
        await pool.start()
        baseline = reactor.listenTCP(
            0, Site(BaselineFavourites(pool, data.fan_id)), interface="127.0.0.1"
        )
        daemon_base = f"http://127.0.0.1:{daemon.getHost().port}"
        baseline_base = f"http://127.0.0.1:{baseline.getHost().port}"
        path = f"/api/v1/pleroma/accounts/{data.fan_id}/favourites"
        pages = {
            "first page": "?limit=20",
            f"page at {data.favourites // 2:,}": f"?limit=20&max_id={data.deep_max_id}",
        }
        try:
            for label, query in pages.items():
                await _check_same_page(daemon_base + path + query, baseline_base + "/" + query)
                results = {}
                for name, url in (
                    ("daemon", daemon_base + path + query),
                    ("baseline", baseline_base + "/" + query),
                ):
                    rps, bad = await load(reactor, url, options.seconds, options.concurrency)
                    if bad:
                        raise SystemExit(f"{name}: {bad} error answers under load")
                    results[name] = rps
                    print(f"{label:>16}  {name:<8} {rps:9.1f} req/s", flush=True)
                ratio = results["daemon"] / results["baseline"]
                print(f"{label:>16}  daemon/baseline = {ratio:.3f}", flush=True)
                figure(
                    f"GET favourites of {data.favourites:,}, {label}, rps vs bare txpostgres",
                    results["daemon"],
                    results["baseline"],
                    ">= 0.5",
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


async def _check_same_page(daemon_url: str, baseline_url: str) -> None:
    """Both servers list the same statuses, so the two numbers compare like for like."""
    import treq

    daemon = await (await treq.get(daemon_url)).json()
    baseline = await (await treq.get(baseline_url)).json()
    if [s["id"] for s in daemon] != [row["status_id"] for row in baseline] or not daemon:
        raise SystemExit("the daemon and the baseline disagree about the page")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--favourites", type=int, default=1_000_000)
    parser.add_argument("--authors", type=int, default=1_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--client", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--header", action="append", default=[], help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="20,000 favourites, 2 s loads")
    options = parser.parse_args(argv)
    if options.quick:
        options.favourites, options.authors, options.seconds = 20_000, 100, 2
    return options


if __name__ == "__main__":
    opts = parse_args(sys.argv[1:])
    if opts.client:
        client_main(opts.client, opts.seconds, opts.concurrency, opts.header)
    else:
        task.react(lambda reactor: defer.ensureDeferred(main(reactor, opts)))
