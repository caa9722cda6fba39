"""Servers for the bench scripts that measure in one process.

A whole pleromad (the test suite's, for federation runs), or the daemon and
its baseline side by side.

The daemon is the real resource tree (``build_gateway(build_runtime(...))``)
on its own pool; the baseline a bare ``twisted.web`` Resource on a
txpostgres pool of the same size running the one query the daemon's answer
needs, so their ratio is what the daemon adds.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twisted.internet import task
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Site
from txpostgres import txpostgres

from pleromad.config import load_config
from pleromad.db.pool import Database
from pleromad.runtime import Runtime, build_runtime
from pleromad.web.root import build_gateway
from pleromad.web.site import PleromadSite, body_limit

if TYPE_CHECKING:
    from tests.federation_peers import Server

from bench._postgres import Scratch

POOL_SIZE = 10


class QueryResource(Resource):
    """``GET`` runs one query and answers JSON made of its rows, nothing else.

    ``query`` makes the SQL and parameters of the request's arguments;
    ``answer`` the JSON value of the rows, or ``None`` for a 403 (nothing
    found for the credentials asked with)."""

    isLeaf = True

    def __init__(
        self,
        pool: txpostgres.ConnectionPool,
        query: Callable[[dict[str, str]], tuple[str, Any]],
        answer: Callable[[list[Any]], Any],
    ) -> None:
        super().__init__()
        self._pool = pool
        self._query = query
        self._answer = answer

    def render_GET(self, request: Any) -> Any:
        args = {k.decode(): v[0].decode() for k, v in request.args.items()}
        d = self._pool.runQuery(*self._query(args))
        gone: list[bool] = []  # the load generator hangs up when its time is up
        request.notifyFinish().addErrback(lambda _: gone.append(True))

        def answer(rows: list[Any]) -> None:
            if gone:
                return
            body = self._answer(rows)
            if body is None:
                request.setResponseCode(403)
            else:
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


@dataclass(frozen=True)
class Served:
    rt: Runtime
    daemon: str  # http://127.0.0.1:<port>, no slash
    baseline: str


@asynccontextmanager
async def daemon_and_baseline(
    reactor: Any,
    scratch: Path,
    dsn: str,
    query: Callable[[dict[str, str]], tuple[str, Any]],
    answer: Callable[[list[Any]], Any],
) -> AsyncIterator[Served]:
    """The daemon and a ``QueryResource(pool, query, answer)`` on two
    loopback ports, until exit."""
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
    bare = reactor.listenTCP(0, Site(QueryResource(pool, query, answer)), interface="127.0.0.1")
    try:
        yield Served(
            rt,
            f"http://127.0.0.1:{daemon.getHost().port}",
            f"http://127.0.0.1:{bare.getHost().port}",
        )
    finally:
        await daemon.stopListening()
        await bare.stopListening()
        # Let the queries of requests the load generator abandoned finish.
        await task.deferLater(reactor, 1.0, lambda: None)
        pool.close()
        await db.close()


@asynccontextmanager
async def whole_server(
    scratch: Scratch, database: str, address: str, **options: Any
) -> AsyncIterator[Server]:
    """A whole pleromad on ``address`` (tests/federation_peers.py's: the
    resource tree and, unless ``jobs=False``, a job runner) on a new
    database ``database``, its folder named like it; stopped on exit."""
    from tests.federation_peers import run_server

    dsn = await scratch.migrated(database)
    server = await run_server(address, dsn, scratch.path / database, **options)
    try:
        yield server
    finally:
        await server.stop()


async def post_status(server: Server, headers: dict[str, str], text: str) -> tuple[Any, float]:
    """``POST /api/v1/statuses`` as the bearer of ``headers``: the Status and
    when the answer came (time.monotonic())."""
    response = await server.api.post("/api/v1/statuses", json={"status": text}, headers=headers)
    answered = time.monotonic()
    status = await response.json()
    if response.code != 200:
        raise SystemExit(f"POST /api/v1/statuses answered {response.code}: {status}")
    return status, answered
