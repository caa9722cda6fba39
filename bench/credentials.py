"""Benchmark: the cheapest logged-in request, ``GET /api/v1/accounts/verify_credentials``.

Serves it twice on loopback ports of one process, against one embedded
PostgreSQL (fsync off) holding ``--accounts`` accounts, each with a token:

* ``daemon``: the real resource tree (``build_gateway(build_runtime(...))``),
  which reads the parameters, authenticates the token, reads the account's
  counts and renders the full Account entity with its settings;
* ``baseline``: a bare ``twisted.web`` Resource on a txpostgres connection
  pool that looks the token up with its account in one query and answers
  the account's id and nickname as JSON.

Each is loaded for a fixed time (``wrk``, or bench/_load.py's treq loop)
and the requests per second of both and their ratio are printed, last as a
``FIGURE`` line (bench/README.md).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg2

from bench import _cli
from bench._figure import figure
from bench._load import add_load_options, load_ok
from bench._postgres import scratch_postgres
from bench._seed import BASE_URL
from bench._serve import daemon_and_baseline
from pleromad.store.oauth import digest

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


def token_lookup(args: dict[str, str]) -> tuple[str, Any]:
    """The baseline's one query: the token ``?access_token=`` names, with its account."""
    return TOKEN_QUERY, (digest(args["access_token"]),)


def account_row(rows: list[Any]) -> Any:
    return {"id": str(rows[0][0]), "username": rows[0][1]} if rows else None


async def main(reactor: Any, options: argparse.Namespace) -> None:
    async with scratch_postgres(reactor) as scratch:
        dsn = await scratch.migrated()
        token = seed(dsn, options.accounts)
        async with daemon_and_baseline(
            reactor, scratch.path, dsn, token_lookup, account_row
        ) as served:
            query = f"?access_token={token}"
            urls = {
                "daemon": f"{served.daemon}{PATH}{query}",
                "baseline": f"{served.baseline}/{query}",
            }
            import treq

            answer = await (await treq.get(urls["daemon"])).json()
            if answer.get("username") != "user1":
                raise SystemExit(f"the daemon did not authenticate the token: {answer}")
            results = {}
            for name, url in urls.items():
                cpu = time.process_time()
                rps = await load_ok(reactor, name, url, options.seconds, options.concurrency)
                cpu = time.process_time() - cpu
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
            figure(
                "verify_credentials rps / bare token lookup",
                results["daemon"],
                results["baseline"],
                digits=".1f",
            )


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = _cli.parser(__doc__)
    parser.add_argument("--accounts", type=int, default=10_000)
    add_load_options(parser, seconds=10, concurrency=16)
    return _cli.parse(parser, argv, "a small run (< 60 s)", accounts=100, seconds=2)


if __name__ == "__main__":
    _cli.react(main, parse_args(sys.argv[1:]))
