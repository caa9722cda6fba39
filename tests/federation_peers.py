"""Fediverse servers on loopback for the federation tests.

``fediverse`` starts whole pleromad servers in this process, each on an
address of its own in 127.0.0.0/8 (so each is its own host to the others)
with its own database, the real resource tree and a job runner with every
handler the daemon registers. ``foreign_peer`` runs an ActivityPub server
that is not pleromad (``tests/fedpeer/peer.py``: fediverse-pasture and bovine)
as a child process, and drives it through its control API.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
import treq
from twisted.internet import reactor
from twisted.internet.interfaces import IListeningPort
from twisted.web.client import HTTPConnectionPool
from twisted.web.resource import Resource

from pleromad.config import load_config
from pleromad.db.pool import Database
from pleromad.domain import delivery
from pleromad.jobs import JobRunner
from pleromad.model import User
from pleromad.runtime import Runtime, build_runtime
from pleromad.service import job_handlers
from pleromad.store import relationships, remote_actors
from pleromad.views.activitypub import build_follow
from pleromad.web.root import build_gateway
from pleromad.web.site import PleromadSite, body_limit
from tests.conftest import CHEAP_PASSWORDS, Client, PgServer

PEER_SCRIPT = Path(__file__).parent / "fedpeer" / "peer.py"
AP_JSON = "application/activity+json"


@dataclass
class Server:
    """One running pleromad: ``authority`` is its host[:port] as the
    fediverse names it (WebFinger, acct: addresses)."""

    authority: str
    rt: Runtime
    dsn: str
    api: Client
    stops: list[Callable[[], Awaitable[Any]]]

    @property
    def base_url(self) -> str:
        return self.rt.config.server.base_url

    def actor_id(self, nickname: str) -> str:
        return f"{self.base_url}/users/{nickname}"

    def acct(self, nickname: str) -> str:
        return f"{nickname}@{self.authority}"

    async def stop(self) -> None:
        for stop in reversed(self.stops):
            await stop()


async def run_server(
    address: str, dsn: str, folder: Path, *, jobs: bool = True, pool_size: int = 4, **polling: Any
) -> Server:
    """A whole pleromad on ``address`` (a free port), its base_url carrying
    the port: the resource tree, and (unless not ``jobs``) a job runner with
    the daemon's handlers, ``polling`` tuning it."""
    # Listen first: base_url must carry the port, and the tree needs base_url.
    site = PleromadSite(Resource(), 0)
    port: IListeningPort = reactor.listenTCP(0, site, interface=address)
    stops: list[Callable[[], Awaitable[Any]]] = [port.stopListening]
    authority = f"{address}:{port.getHost().port}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pleromad.toml").write_text(
        f'[server]\nbase_url = "http://{authority}"\n\n'
        "[federation]\nallow_private_addresses = true\ntimeout = 10\n"
    )
    config = load_config(folder / "pleromad.toml", data_dir=str(folder / "data"))
    db = Database(reactor, dsn, pool_size)
    await db.open()
    stops.append(db.close)
    rt = build_runtime(config, db, reactor, os.urandom(32), passwords=CHEAP_PASSWORDS)
    site.resource = build_gateway(rt)
    site.body_limit = body_limit(config.instance.upload_limit)
    if jobs:
        runner = JobRunner(reactor, dsn, job_handlers(rt, reactor), **polling)
        await runner.start()
        stops.append(runner.stop)
    return Server(authority, rt, dsn, Client(f"http://{authority}"), stops)


StartServer = Callable[[str], Awaitable[Server]]


class Fediverse:
    """Starts pleromad servers, each on its address with a database of its
    own under ``folder``, and stops them all (dropping their databases):
    behind the per-test ``fediverse`` fixture, and for a module that shares
    one set of servers among its tests."""

    def __init__(self, pg_server: PgServer, folder: Path) -> None:
        self._pg_server = pg_server
        self._folder = folder
        self._started: list[tuple[Server, str]] = []

    async def start(self, address: str) -> Server:
        name = self._pg_server.create_database()
        try:
            server = await run_server(
                address,
                self._pg_server.dsn_for(name),
                self._folder / address,
                poll_interval=0.2,
                rescue_interval=0.1,
                stop_timeout=1.0,
            )
        except BaseException:
            self._pg_server.drop_database(name)
            raise
        self._started.append((server, name))
        return server

    async def stop(self) -> None:
        for server, name in reversed(self._started):
            await server.stop()
            self._pg_server.drop_database(name)


@pytest_twisted.async_yield_fixture
async def fediverse(pg_server: PgServer, tmp_path: Path) -> AsyncIterator[StartServer]:
    """``await fediverse("127.0.0.2")`` starts a pleromad server on that
    address with a database of its own; all are stopped, and their databases
    dropped, afterwards."""
    servers = Fediverse(pg_server, tmp_path)
    yield servers.start
    await servers.stop()


async def follow_remote(server: Server, follower: User, followee: User) -> str:
    """``follower`` asks to follow the remote ``followee`` as Federation II's
    follow will: the pending follow and the Follow's delivery job in one
    transaction.  The Follow's id."""

    async def txn_fn(txn: Any) -> str:
        await relationships.insert_follow_txn(txn, follower.id, followee.id, "pending", True)
        follow = await relationships.get_follow_txn(txn, follower.id, followee.id)
        known = await remote_actors.get_by_user_id_txn(txn, followee.id)
        assert follow is not None and known is not None and known.actor is not None
        follow_id = f"{server.base_url}/activities/{follow.activity_uuid}"
        activity = build_follow(follow_id, follower.ap_id, followee.ap_id)
        await delivery.enqueue_txn(
            txn, actor_id=follower.id, activity=activity, inboxes=[known.actor.inbox]
        )
        return follow_id

    return await server.rt.db.run_interaction("follow remote", txn_fn)


class ForeignPeer:
    """The foreign server's control API (see ``tests/fedpeer/peer.py``)."""

    def __init__(self, authority: str) -> None:
        self.authority = authority
        self.base_url = f"http://{authority}"
        self._pool = HTTPConnectionPool(reactor, persistent=False)

    def actor_id(self, name: str) -> str:
        return f"{self.base_url}/{name}"

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await treq.request(method, self.base_url + path, pool=self._pool, **kwargs)
        assert response.code == 200, (path, response.code, await treq.text_content(response))
        return await treq.json_content(response)

    async def verify(self, actor_uri: str) -> dict[str, Any]:
        """fediverse-pasture's verdict on an actor: per test actor whether
        it could fetch the actor and post to its inbox, and ``webfinger``."""
        return await self._call("GET", "/_peer/verify", params={"actor_uri": actor_uri})

    async def follow(self, actor: str, target: str) -> dict[str, Any]:
        """The named actor sends a signed Follow of ``target``."""
        return await self._call("POST", "/_peer/follow", json={"actor": actor, "object": target})

    async def create(self, actor: str, to: list[str], content: str) -> dict[str, Any]:
        """The named actor sends a signed public Create(Note) to ``to``."""
        body = {"actor": actor, "to": to, "content": content}
        return await self._call("POST", "/_peer/create", json=body)

    async def send(self, actor: str, to: str, activity: dict[str, Any]) -> int:
        """The named actor signs ``activity`` as it is and POSTs it to
        ``to``'s inbox; the status of that POST."""
        body = {"actor": actor, "to": to, "activity": activity}
        return int((await self._call("POST", "/_peer/send", json=body))["status"])

    async def received(self, inbox: str) -> list[dict[str, Any]]:
        """The activities that reached the named actor's inbox (signed
        correctly, when that actor asks for signatures)."""
        answer = await self._call("GET", "/_peer/inbox")
        return [entry["activity"] for entry in answer["received"] if entry["inbox"] == inbox]


def free_port(address: str) -> int:
    """A port nobody listens on at ``address`` (for servers told it in advance)."""
    with socket.socket() as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def foreign_peer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForeignPeer]:
    """The foreign server on 127.0.0.4, started once per module (it keeps
    no state a test could trip over: tests look for their own ids)."""
    address = "127.0.0.4"
    port = free_port(address)
    folder = tmp_path_factory.mktemp("fedpeer")  # bovine keeps a cache file in its cwd
    log = (folder / "peer.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, str(PEER_SCRIPT), "--address", address, "--port", str(port)],
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        if not _listening(address, port, process, timeout=60):
            log.flush()
            tail = (folder / "peer.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the foreign peer did not start (exit {process.poll()}):\n{tail}")
        yield ForeignPeer(f"{address}:{port}")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _listening(address: str, port: int, process: subprocess.Popen[bytes], timeout: float) -> bool:
    """Whether the child accepts connections within ``timeout``: it imports,
    makes seven RSA keys and binds, which takes seconds on a loaded machine."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            socket.create_connection((address, port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False
