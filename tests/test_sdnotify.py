"""systemd notifications: what reaches the socket, and that nothing ever breaks the daemon."""

from __future__ import annotations

import os
import socket
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from twisted.application.service import IService
from twisted.internet.task import Clock
from twisted.logger import capturedLogs
from zope.interface.verify import verifyObject

from pleromad.sdnotify import SystemdNotifier, child_environ


class Receiver:
    """The systemd end: a datagram socket that collects what was sent to it."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def messages(self) -> list[str]:
        """Every datagram queued so far, oldest first (sends are synchronous, so no waiting)."""
        out = []
        while True:
            try:
                out.append(self.sock.recv(4096).decode("utf-8"))
            except BlockingIOError:
                return out


def _bound(address: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.setblocking(False)
    return sock


def _max_datagram_queue() -> int:
    """How many datagrams an unread AF_UNIX socket queues before senders get EAGAIN."""
    try:
        return int(Path("/proc/sys/net/unix/max_dgram_qlen").read_text())
    except (OSError, ValueError):
        return 1000


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[tuple[Receiver, str]]:
    """A listening notify socket in tmp_path and the NOTIFY_SOCKET value naming it."""
    path = str(tmp_path / "notify")
    with _bound(path) as sock:
        yield Receiver(sock), path


def test_is_a_service() -> None:
    """The notifier is a Twisted service, so it can be a child of the daemon's MultiService."""
    assert verifyObject(IService, SystemdNotifier(Clock(), {}))


def test_ready_sends_ready_with_status(receiver: tuple[Receiver, str]) -> None:
    """ready() sends one datagram carrying READY=1 and a human-readable STATUS."""
    rx, path = receiver
    SystemdNotifier(Clock(), {"NOTIFY_SOCKET": path}).ready()
    [message] = rx.messages()
    lines = message.split("\n")
    assert "READY=1" in lines
    assert any(line.startswith("STATUS=") for line in lines)


def test_notify_sends_the_state_verbatim(receiver: tuple[Receiver, str]) -> None:
    """notify(state) sends exactly the given KEY=value lines as one datagram."""
    rx, path = receiver
    state = "STATUS=migrating\nEXTEND_TIMEOUT_USEC=5000000"
    SystemdNotifier(Clock(), {"NOTIFY_SOCKET": path}).notify(state)
    assert rx.messages() == [state]


def test_stopping_sends_stopping(receiver: tuple[Receiver, str]) -> None:
    """stopping() sends STOPPING=1."""
    rx, path = receiver
    SystemdNotifier(Clock(), {"NOTIFY_SOCKET": path}).stopping()
    assert rx.messages() == ["STOPPING=1"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="abstract sockets are Linux-only")
def test_abstract_socket_address() -> None:
    """A NOTIFY_SOCKET starting with '@' names a socket in the abstract namespace."""
    name = f"pleromad-test-{uuid.uuid4().hex}"
    with _bound("\0" + name) as sock:
        SystemdNotifier(Clock(), {"NOTIFY_SOCKET": "@" + name}).ready()
        [message] = Receiver(sock).messages()
    assert message.startswith("READY=1")


def test_watchdog_pings_every_half_deadline(receiver: tuple[Receiver, str]) -> None:
    """With WATCHDOG_USEC set, the service pings WATCHDOG=1 at start and every half deadline."""
    rx, path = receiver
    clock = Clock()
    notifier = SystemdNotifier(clock, {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "30000000"})
    assert notifier.watchdog_interval == 15.0
    notifier.startService()
    assert rx.messages() == ["WATCHDOG=1"]
    clock.advance(14.9)
    assert rx.messages() == []
    clock.advance(0.1)
    assert rx.messages() == ["WATCHDOG=1"]
    clock.pump([15, 15])
    assert rx.messages() == ["WATCHDOG=1", "WATCHDOG=1"]
    notifier.stopService()


def test_stalled_reactor_does_not_catch_up(receiver: tuple[Receiver, str]) -> None:
    """A reactor stalled past the deadline pings once when it resumes, not once per missed beat."""
    rx, path = receiver
    clock = Clock()
    notifier = SystemdNotifier(clock, {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "30000000"})
    notifier.startService()
    rx.messages()
    clock.advance(120)
    assert rx.messages() == ["WATCHDOG=1"]
    notifier.stopService()


def test_watchdog_pid_of_this_process_enables_it(receiver: tuple[Receiver, str]) -> None:
    """WATCHDOG_PID equal to our own pid means the watchdog is ours."""
    rx, path = receiver
    env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getpid())}
    notifier = SystemdNotifier(Clock(), env)
    notifier.startService()
    assert rx.messages() == ["WATCHDOG=1"]
    notifier.stopService()


def test_watchdog_pid_of_another_process_disables_it(receiver: tuple[Receiver, str]) -> None:
    """WATCHDOG_PID naming another process means the variables were inherited: no pings."""
    rx, path = receiver
    clock = Clock()
    env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getpid() + 1)}
    notifier = SystemdNotifier(clock, env)
    assert notifier.watchdog_interval is None
    notifier.startService()
    clock.advance(10)
    assert rx.messages() == []
    assert clock.getDelayedCalls() == []
    notifier.stopService()


@pytest.mark.parametrize("usec", ["", "0", "-5", "soon"])
def test_unusable_watchdog_usec_means_no_watchdog(
    receiver: tuple[Receiver, str], usec: str
) -> None:
    """A missing, zero, negative or malformed WATCHDOG_USEC disables the watchdog without error."""
    _, path = receiver
    notifier = SystemdNotifier(Clock(), {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": usec})
    assert notifier.watchdog_interval is None


def test_stop_service_sends_stopping_and_stops_pings(receiver: tuple[Receiver, str]) -> None:
    """stopService() sends STOPPING=1 and no watchdog ping follows it."""
    rx, path = receiver
    clock = Clock()
    notifier = SystemdNotifier(clock, {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000"})
    notifier.startService()
    clock.advance(0.5)
    assert rx.messages() == ["WATCHDOG=1", "WATCHDOG=1"]
    notifier.stopService()
    assert rx.messages() == ["STOPPING=1"]
    clock.advance(10)
    assert rx.messages() == []
    assert clock.getDelayedCalls() == []
    assert not notifier.running


def test_without_notify_socket_nothing_happens() -> None:
    """Without NOTIFY_SOCKET every method is a silent no-op and no timer is scheduled."""
    clock = Clock()
    notifier = SystemdNotifier(clock, {"WATCHDOG_USEC": "1000000"})
    with capturedLogs() as events:
        notifier.ready()
        notifier.notify("STATUS=x")
        notifier.startService()
        clock.advance(10)
        notifier.stopService()
    assert not notifier.enabled
    assert clock.getDelayedCalls() == []
    assert events == []


def test_relative_notify_socket_is_ignored(tmp_path: Path) -> None:
    """A NOTIFY_SOCKET that is neither absolute nor @abstract is ignored with a warning."""
    with capturedLogs() as events:
        notifier = SystemdNotifier(Clock(), {"NOTIFY_SOCKET": "notify"})
        notifier.ready()
    assert not notifier.enabled
    assert len(events) == 1


def test_nobody_listening_is_not_an_error(tmp_path: Path) -> None:
    """A NOTIFY_SOCKET path that does not exist raises nothing; the failure is logged."""
    notifier = SystemdNotifier(Clock(), {"NOTIFY_SOCKET": str(tmp_path / "gone")})
    with capturedLogs() as events:
        notifier.ready()
        notifier.stopping()
    assert len(events) == 1, "a persistent failure is logged once, not on every send"
    assert "READY=1" in events[0]["state"]


def test_stale_socket_file_is_not_an_error(tmp_path: Path) -> None:
    """A socket file whose listener has gone (ECONNREFUSED) raises nothing."""
    path = str(tmp_path / "stale")
    _bound(path).close()
    assert os.path.exists(path)
    with capturedLogs():
        SystemdNotifier(Clock(), {"NOTIFY_SOCKET": path}).ready()


def test_full_socket_never_blocks(receiver: tuple[Receiver, str]) -> None:
    """When systemd stops reading and its queue fills (EAGAIN), sends neither block nor raise."""
    rx, path = receiver
    notifier = SystemdNotifier(Clock(), {"NOTIFY_SOCKET": path})
    sends = 2 * _max_datagram_queue() + 100
    with capturedLogs() as events:
        for _ in range(sends):
            notifier.notify("WATCHDOG=1")
    assert len(events) == 1
    assert 0 < len(rx.messages()) < sends


def test_recovery_is_logged_and_failures_logged_again(tmp_path: Path) -> None:
    """After a send succeeds again, the next failure is logged anew."""
    path = str(tmp_path / "notify")
    notifier = SystemdNotifier(Clock(), {"NOTIFY_SOCKET": path})
    with capturedLogs() as events:
        notifier.notify("STATUS=1")  # nobody there yet
        with _bound(path) as sock:
            notifier.notify("STATUS=2")
            assert Receiver(sock).messages() == ["STATUS=2"]
        os.unlink(path)
        notifier.notify("STATUS=3")
    assert [e["log_level"].name for e in events] == ["warn", "info", "warn"]


def test_watchdog_survives_systemd_going_away(tmp_path: Path) -> None:
    """The watchdog loop keeps running while sends fail, so pings resume when systemd returns."""
    path = str(tmp_path / "notify")
    clock = Clock()
    notifier = SystemdNotifier(clock, {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000"})
    with capturedLogs():
        notifier.startService()
        clock.advance(0.5)
        with _bound(path) as sock:
            clock.advance(0.5)
            assert Receiver(sock).messages() == ["WATCHDOG=1"]
        notifier.stopService()


def test_child_environ_drops_notify_variables() -> None:
    """A child process (the embedded PostgreSQL) inherits everything but the notify variables."""
    env = {"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "1", "WATCHDOG_PID": "2", "PATH": "/bin"}
    assert child_environ(env) == {"PATH": "/bin"}
