"""Prometheus metrics, on a registry of the daemon's own.

One :class:`Metrics` is built per daemon (tests build fresh ones) and handed
to what it measures: the site (requests), the pool (interactions), the job
runner (failures), the mail handler.  What is cheaper to read than to keep
up to date (the pool's state, the job queue) is read when Prometheus
scrapes, by the ``refresh`` given to :class:`MetricsResource`.  Nothing here
uses prometheus_client's global registry, so two daemons in one process (or
one test after another) never share a count.

Label values are bounded: routes are templates (``/api/v1/statuses/<id>``,
never a raw path), methods outside the HTTP verbs count as ``other``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, cast

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.web import http
from twisted.web.iweb import IRequest
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site

log = Logger()

# The route label of requests no route matched (unknown paths, preflights,
# requests refused before routing).
UNMATCHED = "unmatched"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# How often the reactor's lag is measured, in seconds.
LAG_INTERVAL = 1.0
# The classic text format, which every Prometheus reads and generate_latest
# writes by default (newer clients announce it as version 1.0.0).
CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"
_LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """Every metric the daemon exports, registered on ``registry``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.http_requests = Counter(
            "pleromad_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=r,
        )
        self.http_seconds = Histogram(
            "pleromad_http_request_duration_seconds",
            "Time from a request's arrival (body read) to its answer's end, by route and method.",
            ["route", "method"],
            registry=r,
        )
        self.db_seconds = Histogram(
            "pleromad_db_interaction_duration_seconds",
            "Database interactions (one transaction, waiting for a connection and retries "
            "included), by description.",
            ["description"],
            registry=r,
        )
        self.db_in_use = Gauge(
            "pleromad_db_pool_in_use", "Pooled connections running a transaction.", registry=r
        )
        self.db_size = Gauge("pleromad_db_pool_size", "Connections in the pool.", registry=r)
        self.db_waiting = Gauge(
            "pleromad_db_pool_waiting", "Interactions waiting for a free connection.", registry=r
        )
        self.jobs_pending = Gauge(
            "pleromad_jobs_pending",
            "Jobs waiting in the queue (due or not), by kind.",
            ["kind"],
            registry=r,
        )
        self.job_oldest_due = Gauge(
            "pleromad_jobs_oldest_due_age_seconds",
            "How long the longest-waiting due job has been due, by kind (0: none due).",
            ["kind"],
            registry=r,
        )
        self.job_failures = Counter(
            "pleromad_job_failures",
            "Failed job attempts (retried or not), by kind (deliveries: federation.deliver).",
            ["kind"],
            registry=r,
        )
        self.mail_sent = Counter("pleromad_mail_sent", "E-mails handed to the mailer.", registry=r)
        self.mail_failed = Counter(
            "pleromad_mail_failed", "Attempts to send an e-mail that failed.", registry=r
        )
        self.reactor_lag = Histogram(
            "pleromad_reactor_lag_seconds",
            f"How late a timer set for every {LAG_INTERVAL:g} s fires: time the reactor was busy.",
            buckets=_LAG_BUCKETS,
            registry=r,
        )
        # The series of each (route template, method, status) seen so far.
        self._request_series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def request_done(self, route: str, method: bytes, status: int, seconds: float) -> None:
        """Count one answered request."""
        verb = method.decode("ascii", "replace")
        verb = verb if verb in _METHODS else "other"
        key = (route, verb, status)
        series = self._request_series.get(key)
        if series is None:
            # Looking a labelled series up takes a lock and several lookups
            # per call: a few per cent of a prebuilt answer.  Route templates,
            # verbs and statuses are few, so this stays small.
            series = self._request_series[key] = (
                self.http_requests.labels(route, verb, str(status)),
                self.http_seconds.labels(route, verb),
            )
        series[0].inc()
        series[1].observe(seconds)

    def set_queue(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """The job queue as read at scrape time: rows of kind, pending, oldest_due."""
        self.jobs_pending.clear()
        self.job_oldest_due.clear()
        for row in rows:
            self.jobs_pending.labels(row["kind"]).set(row["pending"])
            self.job_oldest_due.labels(row["kind"]).set(row["oldest_due"])

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def measure_lag(metrics: Metrics, clock: IReactorTime) -> LoopingCall:
    """A loop to start with ``now=True``: every LAG_INTERVAL it records how
    much later than asked it ran, which is how long the reactor was busy."""
    expected: list[float | None] = [None]

    def tick() -> None:
        now = clock.seconds()
        if expected[0] is not None:
            metrics.reactor_lag.observe(max(0.0, now - expected[0]))
        expected[0] = now + LAG_INTERVAL

    loop = LoopingCall(tick)
    loop.clock = clock
    return loop


def metrics_site(metrics: Metrics, refresh: Callable[[], Awaitable[None]]) -> Site:
    """The site of the metrics port: the exposition at ``/metrics`` (and
    nothing else), served after ``refresh`` has read what is measured at
    scrape time; a refresh that fails is logged and the rest is served."""
    root = Resource()
    root.putChild(b"metrics", _Exposition(metrics, refresh))
    return _QuietSite(root)


class _QuietSite(Site):
    """Scrapes come every few seconds: they are not access-logged."""

    noisy = False

    def log(self, request: http.Request) -> None:
        pass


class _Exposition(Resource):
    isLeaf = True

    def __init__(self, metrics: Metrics, refresh: Callable[[], Awaitable[None]]) -> None:
        super().__init__()
        self._metrics = metrics
        self._refresh = refresh

    def render_GET(self, request: IRequest) -> Any:
        gone: list[object] = []
        # The site makes server.Request, which says when it is finished
        cast(Request, request).notifyFinish().addErrback(gone.append)

        async def answer() -> None:
            try:
                await self._refresh()
            except Exception as e:  # a database outage: one line per scrape, not a traceback
                log.warn("reading metrics at scrape time failed: {error!r}", error=e)
            if gone:
                return  # the scraper went away meanwhile
            request.setHeader(b"content-type", CONTENT_TYPE)
            request.write(self._metrics.exposition())
            request.finish()

        Deferred.fromCoroutine(answer())
        return NOT_DONE_YET
