"""The healthcheck and the web layer while the database is gone or frozen.

This module runs its own embedded PostgreSQL, since it stops and freezes it.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor

from pleromad.config import Config
from pleromad.db import schema
from pleromad.db.embedded import EmbeddedPostgres
from pleromad.db.pool import Database, Txn
from pleromad.domain import health
from pleromad.runtime import build_runtime
from pleromad.web.base import Call, api_app, route
from pleromad.web.root import build_gateway
from pleromad.web.site import Gateway
from tests.conftest import FAST_SETTINGS, Client, run
from tests.helpers import sleep

HEALTHCHECK = "/api/pleroma/healthcheck"
# What a client may wait for an answer while the database is frozen: the ping's
# timeout plus a margin for the request itself.
FROZEN_ANSWER_WITHIN = health.PING_TIMEOUT + 1.0


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL server of this module's own, migrated, stopped at the end."""
    server = EmbeddedPostgres(
        tmp_path_factory.mktemp("outage") / "postgres", settings=FAST_SETTINGS
    )
    try:
        dsn = run(server.start())
        run(schema.migrate(reactor, dsn))
        yield server
    finally:
        run(server.stop())


@pytest_twisted.async_yield_fixture
async def small_db(embedded: EmbeddedPostgres) -> AsyncIterator[Database]:
    database = Database(reactor, embedded.dsn(), 2)
    await database.open()
    yield database
    await database.close()


class NeedsDatabase:
    """An endpoint that cannot answer without the database."""

    app = api_app()

    def __init__(self, db: Database) -> None:
        self.db = db

    @route(app, "/api/test/count", "GET")
    async def count(self, call: Call) -> Any:
        return {"count": await self.db.run_interaction("count", _count_txn)}


async def _count_txn(txn: Txn) -> int:
    return await txn.fetchval("SELECT count(*) FROM settings")


@pytest.fixture
def daemon(config: Config, small_db: Database, serve: Callable[..., Client]) -> Client:
    """The daemon's whole tree, on a pool of two connections to the module's server."""
    rt = build_runtime(config, small_db, reactor, cookie_secret=b"s" * 32)
    return serve(build_gateway(rt), config.instance.upload_limit)


@pytest.fixture
def needs_db(small_db: Database, serve: Callable[..., Client]) -> Client:
    return serve(Gateway(NeedsDatabase(small_db).app.resource(), 10_000), contract=False)


async def timed_get(client: Client, path: str) -> tuple[int, Any, float]:
    """GET ``path``: the status, the JSON body and how long the answer took."""
    started = time.monotonic()
    response = await client.get(path)
    body = json.loads(await response.text("utf-8"))
    return response.code, body, time.monotonic() - started


async def wait_for_status(client: Client, path: str, status: int, within: float) -> Any:
    """Poll ``path`` until it answers ``status``; each answer must come in time too."""
    deadline = time.monotonic() + within
    while True:
        code, body, took = await timed_get(client, path)
        assert took < FROZEN_ANSWER_WITHIN, f"{path} took {took:.1f} s to answer"
        if code == status:
            return body
        assert time.monotonic() < deadline, f"{path} still answers {code}: {body}"
        await sleep(0.1)


def server_processes(data: Path) -> list[int]:
    """The postmaster of the cluster in ``data`` and every process it started."""
    postmaster = int((data / "postmaster.pid").read_text().splitlines()[0])
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == postmaster:
            children.append(int(entry))
    return [postmaster, *children]


def signal_all(pids: list[int], signum: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass


@pytest_twisted.ensureDeferred
async def test_healthcheck_follows_the_database_down_and_back(
    embedded: EmbeddedPostgres, daemon: Client, needs_db: Client
) -> None:
    """The healthcheck answers 200 while the database runs, 503 with healthy: false
    within seconds of it stopping (promptly, never hanging), and 200 again by itself
    soon after it is back; meanwhile endpoints that need it answer a quick 503 JSON."""
    code, body, _ = await timed_get(daemon, HEALTHCHECK)
    assert (code, body["healthy"]) == (200, True)
    assert await wait_for_status(needs_db, "/api/test/count", 200, within=1) == {"count": 0}

    await embedded.stop()
    try:
        body = await wait_for_status(daemon, HEALTHCHECK, 503, within=5)
        assert body["healthy"] is False
        assert set(body) == {"pool_size", "active", "idle", "memory_used", "healthy"}
        assert body["pool_size"] == 2

        code, body, took = await timed_get(needs_db, "/api/test/count")
        assert (code, body) == (503, {"error": "Service unavailable"})
        assert took < 1.0
    finally:
        await embedded.start()

    body = await wait_for_status(daemon, HEALTHCHECK, 200, within=8)
    assert body["healthy"] is True
    assert await wait_for_status(needs_db, "/api/test/count", 200, within=2) == {"count": 0}


@pytest_twisted.ensureDeferred
async def test_healthcheck_does_not_hang_on_a_frozen_database(
    embedded: EmbeddedPostgres, daemon: Client
) -> None:
    """A database that stops answering (its processes frozen with SIGSTOP) makes the
    healthcheck answer 503 healthy: false within its ping timeout, not hang; once the
    database thaws the node is healthy again."""
    code, body, _ = await timed_get(daemon, HEALTHCHECK)
    assert (code, body["healthy"]) == (200, True)

    frozen = server_processes(Path(embedded._data))
    assert len(frozen) > 1
    signal_all(frozen, signal.SIGSTOP)
    try:
        code, body, took = await timed_get(daemon, HEALTHCHECK)
        assert (code, body["healthy"]) == (503, False)
        assert health.PING_TIMEOUT - 0.5 <= took < FROZEN_ANSWER_WITHIN
    finally:
        signal_all(frozen, signal.SIGCONT)

    body = await wait_for_status(daemon, HEALTHCHECK, 200, within=5)
    assert body["healthy"] is True
