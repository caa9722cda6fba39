"""``twistd pleromad``: options and the service tree.

Start order: database server, migrations, pool, custom emoji, HTTP port, job
workers, then ``READY=1`` to systemd; SIGHUP reloads the custom emoji.  Stop order is the reverse: stop accepting, let
requests in flight finish, stop the workers, close the pool, stop the
embedded server.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any, ClassVar, NoReturn

from twisted.application.service import MultiService, Service
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import IListeningPort
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python import usage

from pleromad.config import Config, ConfigError, load_config
from pleromad.db import schema
from pleromad.db.embedded import EmbeddedPostgresError
from pleromad.db.pool import Database, DatabaseUnavailable
from pleromad.db.server import DatabaseServer
from pleromad.domain import actor_keys, delivery, follow_import, idempotency, inbox, lifecycle
from pleromad.emoji.loader import EmojiLoadError
from pleromad.jobs import Handler, JobRunner
from pleromad.mail.interface import IMailer
from pleromad.mail.outbox import MAIL_JOB, mail_job_handler
from pleromad.mail.plugins import mailer_for
from pleromad.plugins import PluginError
from pleromad.runtime import Runtime, build_runtime
from pleromad.sdnotify import SystemdNotifier
from pleromad.store import captchas, settings
from pleromad.web.root import build_gateway
from pleromad.web.site import Gateway, PleromadSite, body_limit

log = Logger()

# sysexits.h EX_CONFIG: systemd units can refuse to restart on it.
EXIT_CONFIG = 78
# How long shutdown waits for requests in flight.
DRAIN_SECONDS = 10.0
# How often expired rate-limit windows, captchas and Idempotency-Keys are
# deleted (any node may do it).
HOUSEKEEPING_SECONDS = 300.0

# Failures that mean "cannot start", reported as one line, not a traceback.
_START_ERRORS = (
    DatabaseUnavailable,
    EmbeddedPostgresError,
    schema.SchemaError,
    PluginError,
    EmojiLoadError,
    OSError,
)


class Options(usage.Options):
    optParameters: ClassVar[list[list[str | None]]] = [
        ["config", "c", None, "Configuration file (TOML); defaults apply without one."],
        ["listen", None, None, "Twisted server endpoint; overrides [server] listen."],
        ["data-dir", None, None, "Data folder; overrides [server] data_dir."],
        ["dsn", None, None, "PostgreSQL DSN; overrides [database] dsn."],
    ]

    def postOptions(self) -> None:
        try:
            self.config = load_config(
                self["config"],
                listen=self["listen"],
                data_dir=self["data-dir"],
                dsn=self["dsn"],
            )
        except ConfigError as e:
            exit_with(f"config error: {e}", EXIT_CONFIG)


def exit_with(message: str, status: int) -> NoReturn:
    """One line on stderr and an exit status: what operators and systemd read."""
    say(message)
    raise SystemExit(status)


def say(message: str) -> None:
    """A line on the process's real stderr (twistd sends sys.stderr to the log)."""
    stream = sys.__stderr__
    stream.write(f"pleromad: {message}\n")
    stream.flush()


def makeService(options: Options) -> MultiService:
    from twisted.internet import reactor

    top = MultiService()
    notifier = SystemdNotifier(reactor)
    notifier.setServiceParent(top)
    PleromadService(reactor, options.config, notifier).setServiceParent(top)
    return top


class PleromadService(Service):
    """The daemon proper; starts asynchronously once the reactor runs."""

    name = "pleromad"

    def __init__(self, reactor: Any, config: Config, notifier: SystemdNotifier) -> None:
        self._reactor = reactor
        self._config = config
        self._notifier = notifier
        self._server = DatabaseServer(config)
        self._db: Database | None = None
        self._gateway: Gateway | None = None
        self._port: IListeningPort | None = None
        self._jobs: JobRunner | None = None
        self._housekeeping: LoopingCall | None = None
        self._previous_sighup: Any = None
        self._started: Deferred[None] | None = None

    def startService(self) -> None:
        super().startService()
        self._started = Deferred.fromCoroutine(self._start())
        self._started.addErrback(self._start_failed)

    async def _start(self) -> None:
        config = self._config
        dsn = await self._server.start()
        await schema.migrate(self._reactor, dsn)
        db = self._db = Database(self._reactor, dsn, config.database.pool_size)
        await db.open()
        cookie_secret = await db.run_interaction(
            "cookie_secret", settings.get_or_create_secret_txn, settings.COOKIE_SECRET
        )
        rt = build_runtime(config, db, self._reactor, bytes.fromhex(cookie_secret))
        mailer = mailer_for(config, self._reactor)
        await rt.emoji.load()
        self._watch_sighup(rt)
        self._gateway = build_gateway(rt)
        site = PleromadSite(self._gateway, body_limit(config.instance.upload_limit))
        endpoint = serverFromString(self._reactor, config.server.listen)
        self._port = await endpoint.listen(site)
        self._jobs = JobRunner(self._reactor, dsn, job_handlers(rt, mailer))
        await self._jobs.start()
        self._housekeeping = LoopingCall(lambda: Deferred.fromCoroutine(_housekeep(rt)))
        self._housekeeping.clock = self._reactor
        self._housekeeping.start(HOUSEKEEPING_SECONDS, now=False)
        address = self._port.getHost()
        log.info(
            "pleromad serving {base_url} on {address}",
            base_url=config.server.base_url,
            address=address,
        )
        self._notifier.ready()

    def _watch_sighup(self, rt: Runtime) -> None:
        """SIGHUP (systemctl reload) reloads the custom emoji without a restart."""

        def reload() -> None:
            Deferred.fromCoroutine(rt.emoji.reload())

        self._previous_sighup = signal.signal(
            signal.SIGHUP, lambda *_: self._reactor.callFromThread(reload)
        )

    def _start_failed(self, failure: Any) -> None:
        if failure.check(*_START_ERRORS):
            reason = " ".join(str(failure.value).split())
            say(f"cannot start: {reason}")
            log.error("cannot start: {reason}", reason=reason)
        else:
            log.failure("pleromad: cannot start", failure)
        # twistd exits 0 after a plain reactor.stop(); systemd must see failure.
        self._reactor.addSystemEventTrigger("after", "shutdown", _exit_failure)
        # The failure may come before the reactor runs (a DSN refused at once).
        self._reactor.callWhenRunning(self._reactor.stop)

    def stopService(self) -> Deferred[None]:
        super().stopService()
        return Deferred.fromCoroutine(self._stop())

    async def _stop(self) -> None:
        if self._started is not None:
            await self._started  # a start in progress finishes (or fails) first
        if self._previous_sighup is not None:
            signal.signal(signal.SIGHUP, self._previous_sighup)
        if self._port is not None:
            await self._port.stopListening()
        if self._gateway is not None:
            await self._gateway.drain(self._reactor, DRAIN_SECONDS)
        if self._housekeeping is not None and self._housekeeping.running:
            self._housekeeping.stop()
        if self._jobs is not None:
            await self._jobs.stop()
        if self._db is not None:
            await self._db.close()
        await self._server.stop()


def job_handlers(rt: Runtime, mailer: IMailer) -> dict[str, Handler]:
    """Every kind of job the daemon runs, by kind; the tests that run whole
    servers register the same."""
    return {
        MAIL_JOB: mail_job_handler(mailer),
        **lifecycle.handlers(rt),
        **actor_keys.handlers(rt),
        **delivery.handlers(rt),
        **follow_import.handlers(rt),
        **inbox.handlers(rt),
    }


async def _housekeep(rt: Runtime) -> None:
    """Periodic cleanup of ended rate-limit windows, expired captchas,
    Idempotency-Keys and old inbox activity ids; a failure is logged and the
    next round tries again."""
    try:
        await rt.limiter.purge()
        await rt.db.run_interaction("purge captchas", captchas.purge_txn, rt.clock.seconds())
        await idempotency.purge(rt)
        await inbox.purge_seen(rt)
    except Exception:
        log.failure("housekeeping failed")


def _exit_failure() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(1)
