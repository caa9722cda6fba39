"""Tell systemd how the daemon is doing (the ``sd_notify`` protocol), in-house.

The protocol is one datagram of ``KEY=value`` lines sent to the AF_UNIX socket
named by ``$NOTIFY_SOCKET``; that is too little to justify a C-extension
dependency.  It lets the unit be ``Type=notify`` (systemd considers the daemon
started only once the database is up and the port is bound) and use
``WatchdogSec=`` (a reactor that stops turning stops pinging, and systemd
restarts it).

Every send is best effort: a missing, restarted or saturated systemd must
never stop or stall the daemon, so failures are logged and swallowed.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

from twisted.application.service import Service
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

#: The variables systemd hands to the main process for this protocol; a child
#: process (the embedded PostgreSQL) should not inherit them, see `child_environ`.
NOTIFY_VARIABLES: tuple[str, ...] = (
    "NOTIFY_SOCKET",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
)


def child_environ(environ: Mapping[str, str]) -> dict[str, str]:
    """Return a copy of *environ* for a child process, without the notify variables.

    A PostgreSQL built with systemd support would otherwise announce its own
    ``READY=1`` on our socket; with ``NotifyAccess=main`` systemd rejects it and
    logs a warning on every start.
    """
    return {k: v for k, v in environ.items() if k not in NOTIFY_VARIABLES}


def _notify_address(value: str) -> str | None:
    """Map ``$NOTIFY_SOCKET`` to a socket address; ``None`` if unusable."""
    if value.startswith("@"):
        # Linux abstract namespace: systemd spells the leading NUL as "@".
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    return None


def _watchdog_interval(environ: Mapping[str, str], pid: int) -> float | None:
    """Seconds between watchdog pings (half the deadline), or ``None`` for no watchdog."""
    try:
        usec = int(environ.get("WATCHDOG_USEC", ""))
        # The variables may have been inherited by a process systemd is not watching.
        if "WATCHDOG_PID" in environ and int(environ["WATCHDOG_PID"]) != pid:
            return None
    except ValueError:
        return None
    if usec <= 0:
        return None
    return usec / 2 / 1_000_000


class SystemdNotifier(Service):
    """Send readiness, shutdown and watchdog notifications to systemd.

    Built from the environment systemd gives the main process; without
    ``NOTIFY_SOCKET`` (not started by systemd, or ``Type=`` is not ``notify``)
    every method does nothing.  As a service it pings the watchdog while
    running and announces ``STOPPING=1`` when stopped.
    """

    log = Logger()

    def __init__(self, clock: IReactorTime, environ: Mapping[str, str] = os.environ) -> None:
        raw = environ.get("NOTIFY_SOCKET", "")
        self._address: str | None = _notify_address(raw) if raw else None
        if raw and self._address is None:
            self.log.warn(
                "Ignoring NOTIFY_SOCKET={socket!r}: not an absolute path or @name",
                socket=raw,
            )
        self._clock = clock
        self._interval: float | None = (
            _watchdog_interval(environ, os.getpid()) if self._address else None
        )
        self._loop: LoopingCall | None = None
        # Log a failure once, not on every watchdog ping, until a send succeeds.
        self._failing = False

    @property
    def enabled(self) -> bool:
        """Whether systemd asked for notifications."""
        return self._address is not None

    @property
    def watchdog_interval(self) -> float | None:
        """Seconds between ``WATCHDOG=1`` pings, or ``None`` when there is no watchdog."""
        return self._interval

    def notify(self, state: str) -> None:
        """Send *state* (newline-separated ``KEY=value`` lines) as one datagram.

        Never blocks and never raises: the socket is non-blocking and any
        ``OSError`` (ENOENT, ECONNREFUSED, EAGAIN, ...) is logged and dropped.
        """
        if self._address is None:
            return
        try:
            # A fresh socket each time: cheap at this rate, and it survives
            # systemd re-executing itself and re-creating the socket.
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.setblocking(False)
                sock.sendto(state.encode("utf-8"), self._address)
        except OSError as e:
            if not self._failing:
                self._failing = True
                self.log.warn(
                    "Cannot notify systemd ({state!r}): {error}; "
                    "further failures are not logged until a send succeeds",
                    state=state,
                    error=e,
                )
        else:
            if self._failing:
                self._failing = False
                self.log.info("systemd notifications work again")

    def ready(self, status: str = "Serving the Pleroma API") -> None:
        """Tell systemd that start-up is complete: the database is ready and the port is bound."""
        self.notify(f"READY=1\nSTATUS={status}")

    def stopping(self) -> None:
        """Tell systemd that shutdown has begun, so it waits instead of declaring a failure."""
        self.notify("STOPPING=1")

    def startService(self) -> None:
        """Start pinging the watchdog every half deadline, if systemd set one."""
        super().startService()
        if self._interval is None or self._loop is not None:
            return
        loop = LoopingCall(self.notify, "WATCHDOG=1")
        loop.clock = self._clock
        self._loop = loop
        loop.start(self._interval, now=True).addErrback(self._loop_failed)

    def stopService(self) -> None:
        """Stop the watchdog pings and announce ``STOPPING=1``."""
        if self._loop is not None:
            if self._loop.running:
                self._loop.stop()
            self._loop = None
        self.stopping()
        super().stopService()

    def _loop_failed(self, failure: Failure) -> None:
        # notify() swallows OSError; anything else is a bug, and the missing
        # pings will make systemd restart the daemon, so say why.
        self.log.failure("Watchdog pings stopped", failure)
