"""``twistd pleromad``: options and the service tree.

The daemon is a tree of small services (:func:`build_daemon`)::

    MultiService
    ├── systemd    SystemdNotifier: watchdog pings; STOPPING=1 as stop begins
    └── pleromad   InOrder: each child starts once the one before it is up,
        │          and stops once the ones after it have stopped
        ├── database      embedded server, migrations, pool
        ├── runtime       what the parts share; custom emoji, reloaded on SIGHUP
        ├── metrics       /metrics on [metrics] listen (when set); reactor lag
        ├── jobs          the job runner
        ├── housekeeping  TimerService: purges what has expired
        ├── web           the HTTP port; on stop, requests in flight finish
        └── ready         READY=1 to systemd

So the port opens only once the database is ready, and the pool closes only
after the requests and jobs that use it are done; the embedded server stops
last.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar, NoReturn

from twisted.application.internet import TimerService
from twisted.application.service import MultiService, Service
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.endpoints import serverFromString
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IListeningPort, IReactorTime, IStreamServerEndpoint
from twisted.logger import Logger
from twisted.python import usage
from twisted.python.failure import Failure

from pleromad.config import Config, ConfigError, load_config
from pleromad.db import schema
from pleromad.db.embedded import EmbeddedPostgresError
from pleromad.db.pool import Database, DatabaseUnavailable
from pleromad.db.server import DatabaseServer
from pleromad.domain import (
    actor_keys,
    delivery,
    follow_import,
    idempotency,
    inbox,
    lifecycle,
    remote_actors,
)
from pleromad.emoji.loader import EmojiLoadError
from pleromad.jobs import Handler, JobRunner
from pleromad.mail.outbox import MAIL_JOB, mail_job_handler
from pleromad.mail.plugins import mailer_for
from pleromad.metrics import LAG_INTERVAL, Metrics, measure_lag, metrics_site
from pleromad.plugins import PluginError
from pleromad.runtime import Runtime, build_runtime
from pleromad.sdnotify import SystemdNotifier
from pleromad.store import captchas, settings
from pleromad.store import jobs as job_store
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


class StartError(Exception):
    """A part of the daemon cannot start; ``str()`` is the one line to report."""


# Failures that mean "cannot start", reported as one line, not a traceback.
_START_ERRORS = (
    StartError,
    ConfigError,
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
        from twisted.internet import reactor

        # Where each checked value came from, as the operator wrote it.
        self.listen_option = "--listen" if self["listen"] is not None else "[server] listen"
        data_dir_option = "--data-dir" if self["data-dir"] is not None else "[server] data_dir"
        try:
            self.config = load_config(
                self["config"],
                listen=self["listen"],
                data_dir=self["data-dir"],
                dsn=self["dsn"],
            )
            parse_endpoint(reactor, self.config.server.listen, self.listen_option)
            check_metrics_listen(reactor, self.config)
            check_data_dir(self.config.server.data_dir, data_dir_option)
        except ConfigError as e:
            exit_with(f"config error: {e}", EXIT_CONFIG)


def parse_endpoint(reactor: Any, description: str, option: str) -> IStreamServerEndpoint:
    """The server endpoint ``description`` names, parsed without listening;
    :class:`ConfigError` naming ``option`` if Twisted refuses the string or
    its port cannot exist (Twisted itself would only fail at listen time)."""
    try:
        endpoint: IStreamServerEndpoint = serverFromString(reactor, description)
    except Exception as e:  # parsers raise ValueError, TypeError, IndexError, OSError...
        reason = " ".join(str(e).split()) or type(e).__name__
        raise ConfigError(f"{option}: {description}: not a usable endpoint: {reason}") from None
    # The TCP and SSL endpoints keep their port as _port.
    port = getattr(endpoint, "_port", None)
    if isinstance(port, int) and not 0 <= port <= 65535:
        raise ConfigError(f"{option}: {description}: port {port} is outside 0..65535")
    return endpoint


def check_metrics_listen(reactor: Any, config: Config) -> None:
    """The metrics endpoint, when set, parses and is not the public one:
    metrics must never be served to the world beside the API."""
    metrics = config.metrics.listen
    if not metrics:
        return
    own = parse_endpoint(reactor, metrics, "[metrics] listen")
    public = serverFromString(reactor, config.server.listen)
    port = getattr(own, "_port", None)
    if metrics == config.server.listen or (port and port == getattr(public, "_port", None)):
        raise ConfigError(
            f"[metrics] listen: {metrics}: must not be the public [server] listen"
            f" ({config.server.listen})"
        )


def check_data_dir(path: Path, option: str) -> None:
    """Refuse a data folder this user could not create, read or write, before
    anything is started in it."""
    existing = path
    try:
        while not existing.exists():
            existing = existing.parent
    except OSError as e:
        raise ConfigError(f"{option}: {path}: {e.strerror or e}") from None
    if not existing.is_dir():
        raise ConfigError(f"{option}: {existing}: not a folder")
    needed = os.R_OK | os.W_OK | os.X_OK if existing == path else os.W_OK | os.X_OK
    if not os.access(existing, needed):
        verb = "read and write" if existing == path else "create folders in"
        raise ConfigError(f"{option}: {existing}: this user cannot {verb} it")


def listen_failure(option: str, description: str, error: CannotListenError) -> StartError:
    """One line for a port that cannot be bound: in use, or not allowed."""
    cause = error.socketError
    where = f"port {error.port}" if isinstance(error.port, int) else str(error.port)
    if getattr(cause, "errno", None) == errno.EADDRINUSE:
        reason = f"{where} is in use"
    else:
        reason = f"cannot listen on {where}: {getattr(cause, 'strerror', None) or cause}"
    return StartError(f"{option} {description}: {reason}")


def exit_with(message: str, status: int) -> NoReturn:
    """One line on stderr and an exit status: what operators and systemd read."""
    say(message)
    raise SystemExit(status)


def say(message: str) -> None:
    """A line on the process's real stderr (twistd sends sys.stderr to the log)."""
    stream = sys.__stderr__
    if stream is None:  # started without a stderr: there is nowhere to say it
        return
    stream.write(f"pleromad: {message}\n")
    stream.flush()


def makeService(options: Options) -> MultiService:
    from twisted.internet import reactor

    return build_daemon(
        reactor, options.config, SystemdNotifier(reactor), listen_option=options.listen_option
    )


def build_daemon(
    reactor: Any,
    config: Config,
    notifier: SystemdNotifier,
    on_failure: Callable[[Failure], None] | None = None,
    *,
    listen_option: str = "[server] listen",
) -> MultiService:
    """The daemon's service tree (see the module's docstring).

    ``on_failure`` hears a failed start; by default it is reported in one
    line and the process exits 1.  ``listen_option`` is how the public
    endpoint was given, for that line.
    """
    top = MultiService()
    notifier.setServiceParent(top)
    daemon = InOrder(on_failure or _start_failed(reactor))
    daemon.setName("pleromad")
    daemon.setServiceParent(top)
    metrics = Metrics()
    database = DatabaseService(reactor, config, metrics)
    runtime = RuntimeService(reactor, config, database)
    for child in (
        database,
        runtime,
        MetricsService(reactor, runtime, metrics),
        JobsService(reactor, runtime, metrics),
        housekeeping_service(lambda: runtime.runtime, reactor),
        WebService(reactor, runtime, listen_option, metrics),
        Ready(notifier),
    ):
        child.setServiceParent(daemon)
    return top


def job_handlers(rt: Runtime, reactor: Any, metrics: Metrics | None = None) -> dict[str, Handler]:
    """Every kind of job the daemon runs, by kind (``reactor`` for the
    handlers that talk to the network, ``metrics`` for those that count).

    A module that queues jobs offers their handlers as ``handlers(rt)``;
    adding it to this list is all it takes for the daemon to run them.
    """
    collected: dict[str, Handler] = {}
    groups: Iterable[Mapping[str, Handler]] = (
        {MAIL_JOB: mail_job_handler(mailer_for(rt.config, reactor), metrics)},
        lifecycle.handlers(rt),
        actor_keys.handlers(rt),
        delivery.handlers(rt),
        follow_import.handlers(rt),
        inbox.handlers(rt),
        remote_actors.handlers(rt),
    )
    for group in groups:
        if twice := collected.keys() & group.keys():
            raise ValueError(f"job kinds with two handlers: {sorted(twice)}")
        collected.update(group)
    return collected


# -- the tree's parts ----------------------------------------------------------


class AsyncService(Service):
    """A service whose start takes time and may fail: ``started`` fires once
    it is up.  Subclasses write ``start`` and ``stop`` as coroutines; ``stop``
    runs after a failed start too, to undo what the start did."""

    started: Deferred[None]

    def startService(self) -> None:
        super().startService()
        self.started = Deferred.fromCoroutine(self.start())

    def stopService(self) -> Deferred[None]:
        super().stopService()
        return Deferred.fromCoroutine(self.stop())

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError


class InOrder(MultiService):
    """Children started one after another, each once the one before it is up,
    and stopped in reverse, each once the one after it has stopped.

    Twisted's MultiService starts and stops all of its children at once; here
    an :class:`AsyncService` child holds back those after it until it has
    started, and a child's stop holds back those before it.  A failed start
    goes to ``on_failure`` and starts nothing more; stopping then stops the
    children that were started.  ``started`` fires once the start has ended,
    either way.
    """

    started: Deferred[None] | None = None

    def __init__(self, on_failure: Callable[[Failure], None]) -> None:
        super().__init__()
        self._on_failure = on_failure

    def startService(self) -> None:
        Service.startService(self)
        self.started = Deferred.fromCoroutine(self._start()).addErrback(self._on_failure)

    async def _start(self) -> None:
        for child in self:
            if not self.running:
                return  # stopped while starting: start nothing more
            child.startService()
            if isinstance(child, AsyncService):
                await child.started

    def stopService(self) -> Deferred[None]:
        Service.stopService(self)
        return Deferred.fromCoroutine(self._stop())

    async def _stop(self) -> None:
        if self.started is not None:
            await self.started  # a start in progress finishes (or fails) first
        for child in reversed(list(self)):
            if child.running:
                try:
                    await maybeDeferred(child.stopService)
                except Exception:
                    log.failure("stopping {name} failed", name=child.name)


class DatabaseService(AsyncService):
    """The database: the embedded server unless a DSN is configured, the
    schema migrated, and the pool; ``db`` once started."""

    name = "database"

    def __init__(self, reactor: Any, config: Config, metrics: Metrics) -> None:
        self._reactor = reactor
        self._config = config
        self._metrics = metrics
        self._server = DatabaseServer(config)
        self._db: Database | None = None

    @property
    def db(self) -> Database:
        if self._db is None:
            raise RuntimeError("the database service has not started")
        return self._db

    async def start(self) -> None:
        dsn = await self._server.start()
        await schema.migrate(self._reactor, dsn)
        db = Database(self._reactor, dsn, self._config.database.pool_size, metrics=self._metrics)
        await db.open()
        self._db = db

    async def stop(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            await db.close()
        await self._server.stop()


class RuntimeService(AsyncService):
    """What the daemon's parts share (:class:`Runtime`), built once the
    database is up; SIGHUP (systemctl reload) reloads the custom emoji."""

    name = "runtime"

    def __init__(self, reactor: Any, config: Config, database: DatabaseService) -> None:
        self._reactor = reactor
        self._config = config
        self._database = database
        self._runtime: Runtime | None = None
        self._previous_sighup: Any = None

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            raise RuntimeError("the runtime service has not started")
        return self._runtime

    async def start(self) -> None:
        db = self._database.db
        cookie_secret = await db.run_interaction(
            "cookie_secret", settings.get_or_create_secret_txn, settings.COOKIE_SECRET
        )
        rt = build_runtime(self._config, db, self._reactor, bytes.fromhex(cookie_secret))
        await rt.emoji.load()
        self._runtime = rt

        def reload() -> None:
            Deferred.fromCoroutine(rt.emoji.reload())

        self._previous_sighup = signal.signal(
            signal.SIGHUP, lambda *_: self._reactor.callFromThread(reload)
        )

    async def stop(self) -> None:
        if self._previous_sighup is not None:
            signal.signal(signal.SIGHUP, self._previous_sighup)
            self._previous_sighup = None


class JobsService(AsyncService):
    """The job runner, with every handler of :func:`job_handlers`."""

    name = "jobs"

    def __init__(self, reactor: Any, runtime: RuntimeService, metrics: Metrics) -> None:
        self._reactor = reactor
        self._runtime = runtime
        self._metrics = metrics
        self._runner: JobRunner | None = None

    async def start(self) -> None:
        rt = self._runtime.runtime
        handlers = job_handlers(rt, self._reactor, self._metrics)
        self._runner = JobRunner(self._reactor, rt.db.dsn, handlers, metrics=self._metrics)
        await self._runner.start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.stop()


class MetricsService(AsyncService):
    """Prometheus' /metrics on ``[metrics] listen``, a port of its own (off
    when empty), and the loop that measures the reactor's lag."""

    name = "metrics"

    def __init__(self, reactor: Any, runtime: RuntimeService, metrics: Metrics) -> None:
        self._reactor = reactor
        self._runtime = runtime
        self._metrics = metrics
        self._lag = measure_lag(metrics, reactor)
        self._port: IListeningPort | None = None

    async def start(self) -> None:
        description = self._runtime.runtime.config.metrics.listen
        if not description:
            return
        site = metrics_site(self._metrics, self.refresh)
        self._port = await listen(self._reactor, description, "[metrics] listen", site)
        self._lag.start(LAG_INTERVAL, now=True)
        log.info("metrics on {address}", address=self._port.getHost())

    async def refresh(self) -> None:
        """Read what is measured at scrape time: the pool and the job queue."""
        rt = self._runtime.runtime
        stats = rt.db.stats()
        self._metrics.db_in_use.set(stats.busy)
        self._metrics.db_size.set(stats.size)
        self._metrics.db_waiting.set(stats.waiting)
        queue = await rt.db.run_interaction(
            "job queue metrics", job_store.queue_txn, rt.clock.seconds()
        )
        self._metrics.set_queue(queue)

    async def stop(self) -> None:
        if self._lag.running:
            self._lag.stop()
        if self._port is not None:
            stopped = self._port.stopListening()
            if stopped is not None:
                await stopped


class WebService(AsyncService):
    """The HTTP site on ``[server] listen``; stopping closes the port and
    gives requests in flight up to DRAIN_SECONDS to finish."""

    name = "web"

    def __init__(
        self, reactor: Any, runtime: RuntimeService, listen_option: str, metrics: Metrics
    ) -> None:
        self._reactor = reactor
        self._runtime = runtime
        self._listen_option = listen_option
        self._metrics = metrics
        self._gateway: Gateway | None = None
        self._port: IListeningPort | None = None

    async def start(self) -> None:
        rt = self._runtime.runtime
        config = rt.config
        self._gateway = build_gateway(rt)
        site = PleromadSite(self._gateway, body_limit(config.instance.upload_limit), self._metrics)
        self._port = await listen(self._reactor, config.server.listen, self._listen_option, site)
        log.info(
            "pleromad serving {base_url} on {address}",
            base_url=config.server.base_url,
            address=self._port.getHost(),
        )

    async def stop(self) -> None:
        if self._port is not None:
            stopped = self._port.stopListening()
            if stopped is not None:
                await stopped
        if self._gateway is not None:
            await self._gateway.drain(self._reactor, DRAIN_SECONDS)


async def listen(reactor: Any, description: str, option: str, factory: Any) -> IListeningPort:
    """Listen on the endpoint ``description`` (given as ``option``); a port
    that cannot be bound is a :class:`StartError`."""
    try:
        return await parse_endpoint(reactor, description, option).listen(factory)
    except CannotListenError as e:
        raise listen_failure(option, description, e) from None


class Ready(Service):
    """Last in the tree: everything before it is up, so systemd hears READY=1."""

    name = "ready"

    def __init__(self, notifier: SystemdNotifier) -> None:
        self._notifier = notifier

    def startService(self) -> None:
        super().startService()
        self._notifier.ready()


def housekeeping_service(runtime: Callable[[], Runtime], clock: IReactorTime) -> TimerService:
    """Housekeeping every HOUSEKEEPING_SECONDS of ``clock``, the first round at
    start; ``runtime`` gives the runtime once it exists."""
    service = TimerService(HOUSEKEEPING_SECONDS, housekeep, runtime)
    service.clock = clock
    service.setName("housekeeping")
    return service


def housekeep(runtime: Callable[[], Runtime]) -> Deferred[None]:
    """One round of cleanup of ended rate-limit windows, expired captchas and
    Idempotency-Keys; a failure is logged, and the next round tries again
    (TimerService would stop at a failure)."""

    async def once() -> None:
        rt = runtime()
        try:
            await rt.limiter.purge()
            await rt.db.run_interaction("purge captchas", captchas.purge_txn, rt.clock.seconds())
            await idempotency.purge(rt)
        except Exception:
            log.failure("housekeeping failed")

    return Deferred.fromCoroutine(once())


def _start_failed(reactor: Any) -> Callable[[Failure], None]:
    def start_failed(failure: Failure) -> None:
        if failure.check(*_START_ERRORS):
            reason = " ".join(str(failure.value).split())
            say(f"cannot start: {reason}")
            log.error("cannot start: {reason}", reason=reason)
        else:
            log.failure("pleromad: cannot start", failure)
        # twistd exits 0 after a plain reactor.stop(); systemd must see failure.
        reactor.addSystemEventTrigger("after", "shutdown", _exit_failure)
        # The failure may come before the reactor runs (a DSN refused at once).
        reactor.callWhenRunning(reactor.stop)

    return start_failed


def _exit_failure() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(1)
