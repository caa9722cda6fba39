"""The daemon's service tree: what starts when, what stops when, and what
keeps running when a part of it fails."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
import treq
from twisted.application.service import IServiceCollection, Service
from twisted.internet import reactor, task
from twisted.internet.defer import Deferred
from twisted.logger import capturedLogs
from twisted.python.failure import Failure

from pleromad.config import load_config
from pleromad.db.pool import DatabaseUnavailable
from pleromad.runtime import Runtime
from pleromad.sdnotify import SystemdNotifier
from pleromad.service import (
    HOUSEKEEPING_SECONDS,
    AsyncService,
    InOrder,
    build_daemon,
    housekeeping_service,
    job_handlers,
)
from tests.helpers import eventually, query
from tests.test_twistd import free_port


class Step(AsyncService):
    """A child whose start and stop each wait for the test to let them end."""

    def __init__(self, name: str, events: list[str]) -> None:
        self.name = name
        self.events = events
        self.starting: Deferred[None] = Deferred()
        self.stopping: Deferred[None] = Deferred()

    async def start(self) -> None:
        self.events.append(f"start {self.name}")
        await self.starting

    async def stop(self) -> None:
        self.events.append(f"stop {self.name}")
        await self.stopping


class Plain(Service):
    def __init__(self, name: str, events: list[str]) -> None:
        self.name = name
        self.events = events

    def startService(self) -> None:
        super().startService()
        self.events.append(f"start {self.name}")

    def stopService(self) -> None:
        super().stopService()
        self.events.append(f"stop {self.name}")


def chain(*children: Service) -> tuple[InOrder, list[Failure]]:
    failures: list[Failure] = []
    parent = InOrder(failures.append)
    for child in children:
        child.setServiceParent(parent)
    return parent, failures


def test_children_start_one_after_another_and_stop_in_reverse() -> None:
    """Each child starts only once the one before it is up, and stops only
    once every child after it has stopped."""
    events: list[str] = []
    a, b, c = Step("a", events), Step("b", events), Plain("c", events)
    parent, failures = chain(a, b, c)
    parent.startService()
    assert events == ["start a"]
    a.starting.callback(None)
    assert events == ["start a", "start b"]
    b.starting.callback(None)
    assert events == ["start a", "start b", "start c"]

    stopped = parent.stopService()
    assert events[3:] == ["stop c", "stop b"]
    b.stopping.callback(None)
    assert events[5:] == ["stop a"]
    assert not stopped.called
    a.stopping.callback(None)
    assert stopped.called and failures == []


def test_a_failed_start_starts_nothing_more_and_stop_undoes_what_started() -> None:
    """A child whose start fails is reported once; the children after it never
    start, and stopping stops it and those before it, last first."""
    events: list[str] = []
    a, b, c = Step("a", events), Step("b", events), Plain("c", events)
    parent, failures = chain(a, b, c)
    parent.startService()
    a.starting.callback(None)
    b.starting.errback(DatabaseUnavailable("no database"))
    assert [f.value.args for f in failures] == [("no database",)]
    assert events == ["start a", "start b"]

    a.stopping.callback(None)
    b.stopping.callback(None)
    stopped = parent.stopService()
    assert stopped.called
    assert events[2:] == ["stop b", "stop a"]


def test_stop_during_a_start_waits_for_it_and_starts_nothing_more() -> None:
    """A stop asked for while a child is starting waits for that start to end,
    then stops what started; the children after it never start."""
    events: list[str] = []
    a, b = Step("a", events), Plain("b", events)
    parent, failures = chain(a, b)
    parent.startService()
    a.stopping.callback(None)
    stopped = parent.stopService()
    assert events == ["start a"] and not stopped.called
    a.starting.callback(None)
    assert events == ["start a", "stop a"]
    assert stopped.called and failures == []


def test_a_failing_stop_does_not_keep_the_others_running() -> None:
    """A child whose stop fails is logged; the children before it still stop."""
    events: list[str] = []
    a, b = Step("a", events), Step("b", events)
    parent, _ = chain(a, b)
    parent.startService()
    a.starting.callback(None)
    b.starting.callback(None)
    a.stopping.callback(None)
    with capturedLogs() as logs:
        stopped = parent.stopService()
        b.stopping.errback(RuntimeError("stuck"))
    assert stopped.called
    assert events[2:] == ["stop b", "stop a"]
    assert [e["log_format"] for e in logs if "log_failure" in e] == ["stopping {name} failed"]


@pytest_twisted.ensureDeferred
async def test_housekeeping_failure_is_logged_and_the_next_round_runs(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Housekeeping runs at start and every HOUSEKEEPING_SECONDS; a round that
    fails is logged and the next one runs on time."""
    clock = task.Clock()
    rounds: list[float] = []

    async def broken() -> None:
        rounds.append(clock.seconds())
        raise RuntimeError("purge failed")

    monkeypatch.setattr(rt.limiter, "purge", broken)
    service = housekeeping_service(lambda: rt, clock)
    with capturedLogs() as logs:
        service.startService()
        clock.advance(HOUSEKEEPING_SECONDS - 1)
        assert rounds == [0]
        clock.advance(1)
        assert rounds == [0, HOUSEKEEPING_SECONDS]
    assert [e["log_format"] for e in logs if "log_failure" in e] == ["housekeeping failed"] * 2
    assert service.running
    await service.stopService()


def test_every_job_kind_has_one_handler(rt: Runtime) -> None:
    """The daemon's job handlers: mail, account deletion, follow import, the
    backfill of actor keys, ActivityPub delivery and inbox processing, and
    the refresh of a stale remote account."""
    assert set(job_handlers(rt, reactor)) == {
        "mail",
        "delete_account",
        "follow_import",
        "federation.backfill_keys",
        "federation.deliver",
        "federation.inbox",
        "federation.refresh_actor",
    }


def test_the_tree_starts_the_database_first_and_announces_readiness_last(tmp_path: Path) -> None:
    """The daemon's parts, in the order they start (and, reversed, stop)."""
    config = load_config(None, data_dir=str(tmp_path), dsn="dbname=x")
    top = build_daemon(reactor, config, SystemdNotifier(reactor, {}))
    daemon = top.getServiceNamed("pleromad")
    assert IServiceCollection.providedBy(daemon)
    assert [child.name for child in daemon] == [
        "database",
        "runtime",
        "metrics",
        "jobs",
        "housekeeping",
        "web",
        "ready",
    ]


@pytest_twisted.ensureDeferred
async def test_the_daemon_serves_once_ready_and_stops_in_order(tmp_path: Path, dsn: str) -> None:
    """In process: READY=1 comes once the port answers; after stop the port is
    closed, STOPPING=1 was said and the pool is closed."""
    address = str(tmp_path / "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(address)
    listener.setblocking(False)
    port = free_port()
    config = load_config(
        None, data_dir=str(tmp_path), dsn=dsn, listen=f"tcp:{port}:interface=127.0.0.1"
    )
    failures: list[Failure] = []
    top = build_daemon(
        reactor, config, SystemdNotifier(reactor, {"NOTIFY_SOCKET": address}), failures.append
    )
    daemon = top.getServiceNamed("pleromad")
    top.startService()
    try:
        await daemon.started
        assert failures == []
        assert listener.recv(4096) == b"READY=1\nSTATUS=Serving the Pleroma API"
        response = await treq.get(f"http://127.0.0.1:{port}/api/pleroma/healthcheck")
        assert response.code == 200
        await treq.content(response)
    finally:
        await top.stopService()
        said = listener.recv(4096)
        listener.close()
    assert said == b"STOPPING=1"
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    await eventually(lambda: not backends(dsn), "the daemon's connections are closed")


def backends(dsn: str) -> list[tuple[Any, ...]]:
    """The other sessions on the test's database."""
    return query(
        dsn,
        "SELECT pid FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )


@pytest_twisted.ensureDeferred
async def test_a_database_that_is_not_there_stops_the_start(tmp_path: Path) -> None:
    """When the database cannot be reached, the start fails with that reason
    and nothing after the database starts."""
    config = load_config(
        None,
        data_dir=str(tmp_path),
        dsn=f"host={tmp_path / 'nosocket'} dbname=x",
        listen=f"tcp:{free_port()}:interface=127.0.0.1",
    )
    failures: list[Failure] = []
    top = build_daemon(reactor, config, SystemdNotifier(reactor, {}), failures.append)
    daemon = top.getServiceNamed("pleromad")
    top.startService()
    await daemon.started
    assert [f.type for f in failures] == [DatabaseUnavailable]
    assert [child.name for child in daemon if child.running] == ["database"]
    await top.stopService()
