"""Prometheus metrics: what is counted, under which names and labels, scraped
from a real metrics port."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import psycopg2
import pytest
import pytest_twisted
import treq
from prometheus_client.parser import text_string_to_metric_families
from twisted.internet import reactor
from twisted.internet.task import Clock
from zope.interface import implementer

from pleromad.db.pool import Database
from pleromad.jobs import GiveUp
from pleromad.mail.interface import IMailer
from pleromad.mail.outbox import compose, enqueue_mail_txn, mail_job_handler
from pleromad.metrics import LAG_INTERVAL, Metrics, measure_lag, metrics_site
from pleromad.runtime import Runtime
from pleromad.store import jobs as job_store
from pleromad.web.root import build_gateway
from pleromad.web.site import PleromadSite
from tests.conftest import Client, StartRunner
from tests.helpers import eventually

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
Scrape = Callable[[Metrics], Awaitable[Samples]]


def samples_of(text: str) -> Samples:
    """Every sample of an exposition, by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def no_refresh() -> None:
    pass


@pytest_twisted.async_yield_fixture
async def scrape() -> AsyncIterator[Scrape]:
    """Scrape ``metrics`` over HTTP from a metrics port of their own."""
    ports = []

    async def scrape(metrics: Metrics) -> Samples:
        if not ports:
            site = metrics_site(metrics, no_refresh)
            ports.append(reactor.listenTCP(0, site, interface="127.0.0.1"))
        url = f"http://127.0.0.1:{ports[0].getHost().port}/metrics"
        response = await treq.get(url)
        assert response.code == 200
        assert response.headers.getRawHeaders(b"content-type")[0].startswith(b"text/plain")
        return samples_of(await response.text("utf-8"))

    yield scrape
    for port in ports:
        await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_requests_are_counted_by_route_template(rt: Runtime, scrape: Scrape) -> None:
    """Requests count under the rule that routed them (never the raw path),
    their method and status, with a latency histogram; paths no rule
    routes count as one label, "unmatched"."""
    metrics = Metrics()
    site = PleromadSite(build_gateway(rt), 1_000_000, metrics)
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    try:
        client = Client(f"http://127.0.0.1:{port.getHost().port}", contract=False)
        for status_id in ("1", "2", "3"):
            assert (await client.get(f"/api/v1/statuses/{status_id}")).code == 404
        assert (await client.get("/api/v1/instance/")).code == 200
        assert (await client.get("/no/such/thing")).code == 404
        assert (await client.get("/api/v1/also/not/here")).code == 404
        assert (await client.request("BREW", "/api/v1/instance")).code == 404
    finally:
        await port.stopListening()

    samples = await scrape(metrics)
    requests = {
        labels: value
        for (name, labels), value in samples.items()
        if name == "pleromad_http_requests_total"
    }
    assert requests == {
        (("method", "GET"), ("route", "/api/v1/statuses/<id>"), ("status", "404")): 3.0,
        (("method", "GET"), ("route", "/api/v1/instance"), ("status", "200")): 1.0,
        (("method", "GET"), ("route", "unmatched"), ("status", "404")): 2.0,
        (("method", "other"), ("route", "unmatched"), ("status", "404")): 1.0,
    }
    count = (
        "pleromad_http_request_duration_seconds_count",
        (("method", "GET"), ("route", "/api/v1/statuses/<id>")),
    )
    assert samples[count] == 3.0


@pytest_twisted.ensureDeferred
async def test_interactions_are_timed_by_description(dsn: str) -> None:
    """Each run_interaction is timed under its description, a failed one too."""
    metrics = Metrics()
    db = Database(reactor, dsn, 2, metrics=metrics)
    await db.open()
    try:
        await db.ping()
        await db.ping()
        with pytest.raises(psycopg2.Error):
            await db.run_interaction("broken", _broken_txn)
    finally:
        await db.close()
    count = "pleromad_db_interaction_duration_seconds_count"
    value = metrics.registry.get_sample_value
    assert (value(count, {"description": "ping"}), value(count, {"description": "broken"})) == (
        2.0,
        1.0,
    )


async def _broken_txn(txn: Any) -> None:
    await txn.execute("SELECT * FROM no_such_table")


def test_reactor_lag_is_how_late_the_loop_runs() -> None:
    """The lag loop records how much later than LAG_INTERVAL each run came."""
    metrics, clock = Metrics(), Clock()
    loop = measure_lag(metrics, clock)
    loop.start(LAG_INTERVAL, now=True)
    clock.advance(LAG_INTERVAL)  # on time
    clock.advance(LAG_INTERVAL + 0.3)  # the reactor was busy for 0.3 s
    loop.stop()
    value = metrics.registry.get_sample_value
    assert value("pleromad_reactor_lag_seconds_count") == 2.0
    assert value("pleromad_reactor_lag_seconds_sum") == pytest.approx(0.3)
    assert value("pleromad_reactor_lag_seconds_bucket", {"le": "0.25"}) == 1.0


@pytest_twisted.ensureDeferred
async def test_job_failures_count_by_kind(
    db: Database, start_runner: StartRunner, scrape: Scrape
) -> None:
    """Every failed attempt counts under its job's kind, a give-up too."""
    metrics = Metrics()
    ran: list[str] = []

    async def flaky(payload: Mapping[str, Any]) -> None:
        ran.append("flaky")
        raise RuntimeError("remote down")

    async def hopeless(payload: Mapping[str, Any]) -> None:
        ran.append("hopeless")
        raise GiveUp("never")

    for kind in ("flaky", "hopeless"):
        await db.run_interaction("enqueue", job_store.enqueue_txn, kind, {}, max_attempts=1)
    await start_runner({"flaky": flaky, "hopeless": hopeless}, metrics=metrics)
    # A failure is counted as the handler's exception arrives, before the
    # outcome is recorded.
    await eventually(lambda: len(ran) == 2)
    samples = await scrape(metrics)
    assert samples[("pleromad_job_failures_total", (("kind", "flaky"),))] == 1.0
    assert samples[("pleromad_job_failures_total", (("kind", "hopeless"),))] == 1.0


@implementer(IMailer)
class FlakyMailer:
    """Refuses the first message, accepts the rest."""

    def __init__(self) -> None:
        self.calls = 0

    async def send(self, message: Any) -> None:
        self.calls += 1
        if self.calls == 1:
            raise ConnectionRefusedError("mail server down")


@pytest_twisted.ensureDeferred
async def test_mail_sent_and_failed_are_counted(rt: Runtime) -> None:
    """A send that fails counts as failed, one that succeeds as sent."""
    metrics = Metrics()
    send = mail_job_handler(FlakyMailer(), metrics)
    message = compose(rt.config, "Alice", "alice@example.org", "Hi", "Hello", now=0.0)
    job_id = await rt.db.run_interaction("mail", enqueue_mail_txn, message)
    payload = await rt.db.run_interaction("payload", _payload_txn, job_id)
    for _ in range(2):
        try:
            await send(payload)
        except ConnectionRefusedError:
            pass
    value = metrics.registry.get_sample_value
    assert (value("pleromad_mail_failed_total"), value("pleromad_mail_sent_total")) == (1.0, 1.0)


async def _payload_txn(txn: Any, job_id: int) -> Any:
    return await txn.fetchval("SELECT payload FROM jobs WHERE id = %s", (job_id,))


@pytest_twisted.ensureDeferred
async def test_the_queue_is_read_per_kind(db: Database) -> None:
    """Per kind: how many jobs wait, and how long the longest-due one has been
    due; a job whose retry time has not come counts as waiting, not as due."""
    now = await db.run_interaction("now", _now_txn)
    for kind in ("mail", "mail", "deliver"):
        await db.run_interaction("enqueue", job_store.enqueue_txn, kind, {})
    await db.run_interaction("later", _postpone_txn, "deliver", now + 3600)
    rows = await db.run_interaction("queue", job_store.queue_txn, now + 60)
    queue = {row["kind"]: (row["pending"], round(row["oldest_due"])) for row in rows}
    assert queue == {"mail": (2, 60), "deliver": (1, 0)}


async def _now_txn(txn: Any) -> float:
    return await txn.fetchval("SELECT extract(epoch FROM now())::float8")


async def _postpone_txn(txn: Any, kind: str, at: float) -> None:
    await txn.execute("UPDATE jobs SET run_at = to_timestamp(%s) WHERE kind = %s", (at, kind))
