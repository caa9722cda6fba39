"""Fixtures shared by the suite.

One PostgreSQL server serves the whole run: the embedded one, or the server
named by ``PLEROMAD_TEST_DSN``.  A template database is migrated once; each
test that asks for ``dsn`` gets a fresh copy of it, so tests are isolated
without paying for migrations every time.  The copies are made (and dropped)
by a thread one step ahead of the tests, on the second core, and the
embedded cluster lives in memory (tmpfs) where there is room for it: creating
and removing hundreds of small files per copy is what a disk makes slow.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import tempfile
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.extensions
import pytest
import pytest_twisted
import requests
import treq
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.web.client import HTTPConnectionPool
from twisted.web.resource import IResource

from pleromad.auth.passwords import PasswordHasher
from pleromad.config import Config, load_config
from pleromad.db import schema
from pleromad.db.embedded import EmbeddedPostgres
from pleromad.db.pool import Database
from pleromad.jobs import JobRunner
from pleromad.runtime import Runtime, build_runtime
from pleromad.web.root import build_gateway
from pleromad.web.site import PleromadSite, body_limit
from tests import contract

TEMPLATE = "pleromad_template"
# Durability buys nothing in a test run and costs seconds.
FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}

# Copies of the template made ahead of the tests that will ask for them.
AHEAD = 2
# tmpfs with less room than this (a container's small /dev/shm) is not used:
# max_wal_size (1 GB by default) plus the template and a few copies.
TMPFS_ROOM = 2 * 1024**3

_names = itertools.count()
# Real argon2id, at costs that keep hundreds of registrations and logins quick.
CHEAP_PASSWORDS = PasswordHasher(time_cost=1, memory_cost=1024)


class PgServer:
    """The run's PostgreSQL server, able to hand out fresh databases.

    Copies of the template come from a worker thread that keeps ``AHEAD`` of
    them ready and drops the ones given back, so a test waits for neither
    (unless it outpaces the thread).  ``strategy`` is CREATE DATABASE's: on
    tmpfs FILE_COPY (a file copy and two checkpoints) beats WAL_LOG (every
    page through the WAL); on a disk with fsync on, the checkpoints cost more.
    """

    def __init__(self, admin_dsn: str, strategy: str = "WAL_LOG") -> None:
        self.admin_dsn = admin_dsn
        self.strategy = strategy
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="test-databases")
        self._ahead: deque[Future[str]] = deque()
        self._drops: list[Future[None]] = []

    def dsn_for(self, dbname: str) -> str:
        return psycopg2.extensions.make_dsn(self.admin_dsn, dbname=dbname)

    def admin(self, *statements: str) -> None:
        conn = psycopg2.connect(self.admin_dsn)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                for statement in statements:
                    cur.execute(statement)
        finally:
            conn.close()

    def create_database(self, template: str | None = TEMPLATE) -> str:
        """A new database: a copy of ``template`` (the migrated one unless
        told otherwise), or an empty one with None."""
        if template != TEMPLATE:
            return self._create(template)
        while len(self._ahead) <= AHEAD:
            self._ahead.append(self._worker.submit(self._create, TEMPLATE))
        return self._ahead.popleft().result()

    def _create(self, template: str | None) -> str:
        name = f"test_{os.getpid()}_{next(_names)}"
        clause = f" TEMPLATE {template} STRATEGY {self.strategy}" if template else ""
        self.admin(f"CREATE DATABASE {name}{clause}")
        return name

    def drop_database(self, name: str) -> None:
        self.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def release_database(self, name: str) -> None:
        """Drop ``name`` in the background; :meth:`close` reports a failure."""
        self._drops = [drop for drop in self._drops if not drop.done() or drop.exception()]
        self._drops.append(self._worker.submit(self.drop_database, name))

    def close(self) -> None:
        """Finish the worker's work; drop the copies no test took."""
        self._worker.shutdown(wait=True)
        for drop in self._drops:
            drop.result()
        for made in self._ahead:
            self.drop_database(made.result())
        self._ahead.clear()


def _scratch_folder() -> Path:
    """Where the embedded cluster lives: in memory when /dev/shm has room."""
    shm = Path("/dev/shm")
    try:
        room = os.statvfs(shm)
    except OSError:
        room = None
    if room is not None and room.f_bavail * room.f_frsize >= TMPFS_ROOM and os.access(shm, os.W_OK):
        return Path(tempfile.mkdtemp(prefix="pleromad-test-pg-", dir=shm))
    return Path(tempfile.mkdtemp(prefix="pleromad-test-pg-"))


def run(coro: object) -> object:
    """Run a coroutine to completion from synchronous fixture code."""
    return pytest_twisted.blockon(Deferred.fromCoroutine(coro))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    given = os.environ.get("PLEROMAD_TEST_DSN")
    embedded = None
    if given:
        server = PgServer(given)
    else:
        # Outside pytest's own temp folders: a concurrent pytest run resets
        # their permissions, which would cut the server off from its files.
        scratch = _scratch_folder()
        embedded = EmbeddedPostgres(scratch / "postgres", settings=FAST_SETTINGS)
        run(embedded.start())
        in_memory = scratch.is_relative_to("/dev/shm")
        server = PgServer(embedded.dsn("postgres"), "FILE_COPY" if in_memory else "WAL_LOG")
    server.drop_database(TEMPLATE)
    server.admin(f"CREATE DATABASE {TEMPLATE}")
    run(schema.migrate(reactor, server.dsn_for(TEMPLATE)))
    yield server
    server.close()
    server.drop_database(TEMPLATE)
    if embedded is not None:
        run(embedded.stop())
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture
def dsn(pg_server: PgServer) -> Iterator[str]:
    """A migrated database of this test's own."""
    name = pg_server.create_database()
    yield pg_server.dsn_for(name)
    pg_server.release_database(name)


@pytest_twisted.async_yield_fixture
async def db(dsn: str, request: pytest.FixtureRequest) -> AsyncIterator[Database]:
    """A pool on the test's database: of 4 connections, or as many as the
    test asks with ``@pytest.mark.parametrize("db", [n], indirect=True)``."""
    database = Database(reactor, dsn, getattr(request, "param", 4))
    await database.open()
    yield database
    await database.close()


StartRunner = Callable[..., Awaitable[JobRunner]]


@pytest_twisted.async_yield_fixture
async def start_runner(dsn: str) -> AsyncIterator[StartRunner]:
    """Start job runners on the test's database (quick polls and rescues
    unless told otherwise); every one is stopped afterwards."""
    started: list[JobRunner] = []

    async def start(handlers: dict[str, Any], **kwargs: Any) -> JobRunner:
        kwargs.setdefault("poll_interval", 0.2)
        kwargs.setdefault("rescue_interval", 0.1)
        kwargs.setdefault("stop_timeout", 1.0)
        runner = JobRunner(reactor, dsn, handlers, **kwargs)
        started.append(runner)
        await runner.start()
        return runner

    yield start
    errors = []
    for runner in started:
        try:
            await runner.stop()
        except Exception as e:  # stop the others all the same
            errors.append(e)
    assert not errors, errors


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return load_config(None, data_dir=str(tmp_path / "data"))


@pytest.fixture
def clock() -> Clock:
    """A clock that moves only when the test advances it, starting at the wall
    time, so that what the database stamps with now() (created_at) agrees."""
    clock = Clock()
    clock.advance(time.time())
    return clock


@pytest.fixture
def rt(config: Config, db: Database) -> Runtime:
    return build_runtime(config, db, reactor, b"s" * 32, passwords=CHEAP_PASSWORDS)


class Answer:
    """A response whose body was read once: ``content``, ``text`` and
    ``json`` can each be awaited any number of times; the rest (``code``,
    ``headers``, ...) is the original's."""

    def __init__(self, original: Any, body: bytes) -> None:
        self._original = original
        self._body = body

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)

    async def content(self) -> bytes:
        return self._body

    async def text(self, encoding: str = "ISO-8859-1") -> str:
        return self._body.decode(encoding)

    async def json(self, **kwargs: Any) -> Any:
        return json.loads(self._body.decode("utf-8"), **kwargs)


class Client:
    """treq against one site on a loopback port, with paths instead of URLs.

    With ``contract``, every answer is checked against the OpenAPI document
    (:mod:`tests.contract`) before the test sees it.
    """

    def __init__(self, base: str, contract: bool = True) -> None:
        self.base = base
        self.contract = contract
        self._pool = HTTPConnectionPool(reactor, persistent=False)

    async def _request(self, method: str, path: str, **kwargs: Any) -> Answer:
        url = self.base + path
        response = await treq.request(method, url, pool=self._pool, **kwargs)
        body = await treq.content(response)
        if self.contract:
            content_type = response.headers.getRawHeaders(b"content-type", [b""])[0]
            contract.check(
                contract.routed_method(method, kwargs.get("data")),
                url,
                response.code,
                content_type.decode("latin-1"),
                body,
            )
        return Answer(response, body)

    def request(self, method: str, path: str, **kwargs: Any) -> Deferred[Answer]:
        return Deferred.fromCoroutine(self._request(method, path, **kwargs))

    def get(self, path: str, **kwargs: Any) -> Deferred[Answer]:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Deferred[Answer]:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Deferred[Answer]:
        return self.request("PUT", path, **kwargs)

    def head(self, path: str, **kwargs: Any) -> Deferred[Answer]:
        return self.request("HEAD", path, **kwargs)


@pytest_twisted.async_yield_fixture
async def serve() -> AsyncIterator[Callable[[IResource, int], Client]]:
    """Serve a resource tree on a loopback port, as the daemon's site would;
    ``contract=False`` for a tree other than the daemon's."""
    ports = []

    def start(gateway: IResource, body_limit: int = 16_000_000, contract: bool = True) -> Client:
        port = reactor.listenTCP(
            0, PleromadSite(gateway, body_limit=body_limit), interface="127.0.0.1"
        )
        ports.append(port)
        return Client(f"http://127.0.0.1:{port.getHost().port}", contract)

    yield start
    for port in ports:
        await port.stopListening()


@pytest.fixture
def checked_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every answer a ``requests`` client (Mastodon.py, a scripted browser)
    receives is checked against the OpenAPI document too."""
    send = requests.Session.send

    def checked(session: requests.Session, request: Any, **kwargs: Any) -> Any:
        response = send(session, request, **kwargs)
        contract.check(
            request.method,
            request.url,
            response.status_code,
            response.headers.get("content-type"),
            response.content,
        )
        return response

    monkeypatch.setattr(requests.Session, "send", checked)


@pytest.fixture
def client(rt: Runtime, serve: Callable[..., Client]) -> Client:
    """An HTTP client talking to the daemon's whole resource tree."""
    return serve(build_gateway(rt), body_limit(rt.config.instance.upload_limit))
