"""Benchmark: the cheapest logged-in request, ``GET /api/v1/accounts/verify_credentials``.

Serves it twice on loopback ports of one process, against one embedded
PostgreSQL (fsync off) holding ``--accounts`` accounts, each with a token:

* ``daemon``: the real resource tree (``build_gateway(build_runtime(...))``),
  which reads the parameters, authenticates the token, reads the account's
  counts and renders the full Account entity with its settings;
* ``baseline``: a bare ``twisted.web`` Resource on a txpostgres connection
  pool that looks the token up with its account in one query and answers
  the account's id and nickname as JSON.

Each is loaded for a fixed time (``wrk``, or bench/favourites.py's treq loop)
and the requests per second of both and their ratio are printed, last as a
``FIGURE`` line (bench/README.md).
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
from twisted.internet import defer, task
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Site
from txpostgres import txpostgres

from bench.favourites import BASE_URL, FAST_SETTINGS, POOL_SIZE, load
from pleromad.config import load_config
from pleromad.db import schema
from pleromad.db.embedded import EmbeddedPostgres
from pleromad.db.pool import Database
from pleromad.runtime import build_runtime
from pleromad.store.oauth import digest
from pleromad.web.root import build_gateway
from pleromad.web.site import PleromadSite, body_limit

PATH = "/api/v1/accounts/verify_credentials"
TOKEN_QUERY = (
    "SELECT u.id, u.nickname FROM oauth_tokens t JOIN users u ON u.id = t.user_id"
    " WHERE t.token_hash = %s"
)


def seed(dsn: str, accounts: int) -> str:
    """``accounts`` accounts, each following the next and with a few posts,
    and a token of each; the first account's token."""
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO users (nickname, email, ap_id)"
            " SELECT 'user' || g, 'user' || g || '@example.org', %(base)s || '/users/user' || g"
            " FROM generate_series(1, %(n)s) g",
            {"base": BASE_URL, "n": accounts},
        )
        cur.execute(
            "INSERT INTO follows (follower_id, followee_id)"
            " SELECT id, lead(id) OVER (ORDER BY id) FROM users"
            " ORDER BY id LIMIT %s",
            (accounts - 1,),
        )
        cur.execute(
            "INSERT INTO statuses (account_id, conversation_id, visibility, source, content)"
            " SELECT u.id, g, 'public', 'hello', 'hello' FROM users u, generate_series(1, 10) g"
        )
        cur.execute(
            "INSERT INTO apps (client_name, redirect_uris, scopes, client_id, client_secret)"
            " VALUES ('bench', 'urn:ietf:wg:oauth:2.0:oob', '{read,write}', 'id', 'secret')"
            " RETURNING id"
        )
        app_id = cur.fetchone()[0]
        cur.execute(
            "INSERT INTO oauth_tokens (token_hash, refresh_token_hash, app_id, user_id, scopes)"
            " SELECT md5('access' || id), md5('refresh' || id), %s, id, '{read,write}'"
            " FROM users",
            (app_id,),
        )
        cur.execute("SELECT id FROM users ORDER BY id LIMIT 1")
        first = cur.fetchone()[0]
        token = f"bench-token-{first}"
        cur.execute(
            "UPDATE oauth_tokens SET token_hash = %s WHERE user_id = %s", (digest(token), first)
        )
        cur.execute("VACUUM ANALYZE")
    conn.close()
    return token


class BaselineCredentials(Resource):
    """``GET /?access_token=`` looks the token and its account up, nothing else."""

    isLeaf = True

    def __init__(self, pool: txpostgres.ConnectionPool) -> None:
        super().__init__()
        self._pool = pool

    def render_GET(self, request: Any) -> Any:
        token = request.args[b"access_token"][0].decode()
        d = self._pool.runQuery(TOKEN_QUERY, (digest(token),))
        gone: list[bool] = []  # the load generator hangs up when its time is up
        request.notifyFinish().addErrback(lambda _: gone.append(True))

        def answer(rows: list[Any]) -> None:
            if gone:
                return
            if not rows:
                request.setResponseCode(403)
                request.finish()
                return
            body = {"id": str(rows[0][0]), "username": rows[0][1]}
            request.setHeader(b"content-type", b"application/json; charset=utf-8")
            request.write(json.dumps(body).encode("utf-8"))
            request.finish()

        def fail(failure: Any) -> None:
            if not gone:
                request.setResponseCode(500)
                request.finish()

        d.addCallbacks(answer, fail)
        return NOT_DONE_YET


async def main(reactor: Any, options: argparse.Namespace) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="pleromad-bench-"))
    embedded = EmbeddedPostgres(scratch / "postgres", settings=FAST_SETTINGS)
    try:
        dsn = await embedded.start()
        await schema.migrate(reactor, dsn)
        token = seed(dsn, options.accounts)
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
        baseline = reactor.listenTCP(0, Site(BaselineCredentials(pool)), interface="127.0.0.1")
        query = f"?access_token={token}"
        urls = {
            "daemon": f"http://127.0.0.1:{daemon.getHost().port}{PATH}{query}",
            "baseline": f"http://127.0.0.1:{baseline.getHost().port}/{query}",
        }
        try:
            import treq

            answer = await (await treq.get(urls["daemon"])).json()
            if answer.get("username") != "user1":
                raise SystemExit(f"the daemon did not authenticate the token: {answer}")
            results = {}
            for name, url in urls.items():
                cpu = time.process_time()
                rps, bad = await load(reactor, url, options.seconds, options.concurrency)
                cpu = time.process_time() - cpu
                if bad:
                    raise SystemExit(f"{name}: {bad} error answers under load")
                results[name] = rps
                # This process' CPU per request: steadier than req/s on a busy machine.
                per_request = cpu / (rps * options.seconds) * 1000
                print(
                    f"verify_credentials  {name:<8} {rps:9.1f} req/s"
                    f"  {per_request:.2f} ms CPU/request",
                    flush=True,
                )
            ratio = results["daemon"] / results["baseline"]
            print(f"verify_credentials  daemon/baseline = {ratio:.3f}", flush=True)
            print(
                f"FIGURE\tverify_credentials rps / bare token lookup\t{results['daemon']:.1f}"
                f"\t{results['baseline']:.1f}\t{ratio:.3f}\t-",
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
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--quick", action="store_true", help="a small run (< 60 s)")
    options = parser.parse_args(argv)
    if options.quick:
        options.accounts, options.seconds = 100, 2
    return options


if __name__ == "__main__":
    opts = parse_args(sys.argv[1:])
    task.react(lambda reactor: defer.ensureDeferred(main(reactor, opts)))
