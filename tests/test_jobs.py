"""The job queue, against a real PostgreSQL: several runners share one table.

Database I/O runs on the real reactor; where retry times matter the runner
gets a ``Clock`` of its own, set to the current time, and the test moves it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import task
from twisted.internet.defer import Deferred

from pleromad.db.pool import Database, Txn
from pleromad.jobs import GiveUp, JobRunner, RetryAt, current_attempt
from pleromad.store import jobs as store
from tests.conftest import StartRunner
from tests.helpers import eventually, query, sleep

# -- helpers -----------------------------------------------------------------


class Gate:
    """Holds handlers until the test opens it, or makes them fail."""

    def __init__(self) -> None:
        self._waiting: list[Deferred[None]] = []
        self._settled = False
        self._error: BaseException | None = None

    def wait(self) -> Deferred[None]:
        d: Deferred[None] = Deferred()
        self._waiting.append(d)
        self._release()
        return d

    def open(self) -> None:
        self._settle(None)

    def fail(self, error: BaseException) -> None:
        self._settle(error)

    def _settle(self, error: BaseException | None) -> None:
        if not self._settled:
            self._settled, self._error = True, error
        self._release()

    def _release(self) -> None:
        if not self._settled:
            return
        waiting, self._waiting = self._waiting, []
        for d in waiting:
            if self._error is None:
                d.callback(None)
            else:
                d.errback(self._error)


async def _rows_txn(txn: Txn) -> list[dict[str, Any]]:
    return await txn.fetchall(
        "SELECT id, kind, payload, state, attempts, max_attempts, claimed_by, last_error,"
        " extract(epoch FROM run_at)::float8 AS run_at FROM jobs ORDER BY id"
    )


async def rows(db: Database) -> list[dict[str, Any]]:
    return await db.run_interaction("test rows", _rows_txn)


async def enqueue(db: Database, kind: str, payload: dict[str, Any], **kwargs: Any) -> int:
    return await db.run_interaction("test enqueue", store.enqueue_txn, kind, payload, **kwargs)


async def _enqueue_many_txn(txn: Txn, kind: str, count: int) -> None:
    for n in range(count):
        await store.enqueue_txn(txn, kind, {"n": n})


async def _terminate_lock_holder_txn(txn: Txn, job_id: int) -> int:
    """Kill the backend holding ``job_id``'s advisory lock; returns how many died."""
    return await txn.fetchval(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) FROM pg_locks"
        " WHERE locktype = 'advisory' AND granted AND objsubid = 1"
        "   AND ((classid::int8 << 32) | objid::int8) = %s"
        "   AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        (job_id,),
    )


# -- tests -------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_job_runs_once_with_its_payload_and_is_deleted(
    db: Database, start_runner: StartRunner
) -> None:
    """A queued job runs once, its handler gets the payload with JSON types
    intact, and its row is gone once it succeeded."""
    payload = {
        "s": "héllo",
        "i": 2**40,
        "f": 1.5,
        "t": True,
        "z": False,
        "n": None,
        "l": [1, "two", [3.0]],
        "o": {"k": {"deep": []}},
    }
    seen: list[Any] = []

    async def handler(p: Any) -> None:
        seen.append(p)

    await start_runner({"echo": handler})
    await enqueue(db, "echo", payload)
    await eventually(lambda: seen, "the job runs")
    await eventually(lambda: _empty(db), "its row is deleted")
    await sleep(0.3)  # a few poll and rescue rounds
    assert seen == [payload]
    assert type(seen[0]["f"]) is float and type(seen[0]["i"]) is int


async def _empty(db: Database) -> bool:
    return not await rows(db)


@pytest_twisted.ensureDeferred
async def test_enqueue_in_rolled_back_transaction_leaves_nothing(
    db: Database, start_runner: StartRunner
) -> None:
    """A job enqueued in a transaction that rolls back does not exist and never runs."""
    ran: list[Any] = []

    async def handler(p: Any) -> None:
        ran.append(p)

    class Abort(Exception):
        pass

    async def enqueue_then_fail_txn(txn: Txn) -> None:
        await store.enqueue_txn(txn, "echo", {"x": 1})
        raise Abort()

    await start_runner({"echo": handler})
    with pytest.raises(Abort):
        await db.run_interaction("test rollback", enqueue_then_fail_txn)
    await sleep(0.3)
    assert await rows(db) == []
    assert ran == []


async def quiet_runner(start_runner: StartRunner) -> tuple[JobRunner, Deferred[float]]:
    """A runner whose poll is an hour away, past its first (empty) claim, and
    when its first job runs: only a NOTIFY can wake it."""
    ran: Deferred[float] = Deferred()

    async def handler(p: Any) -> None:
        ran.callback(time.monotonic())

    runner = await start_runner({"echo": handler}, poll_interval=3600, rescue_interval=3600)
    await sleep(0.3)  # the claim made at start has long found nothing
    assert runner._session is not None
    return runner, ran


async def runs_within_a_second(ran: Deferred[float], enqueued: float) -> None:
    await eventually(lambda: ran.called, "the job runs", timeout=2.0)
    assert (await ran) - enqueued < 1.0


@pytest_twisted.ensureDeferred
async def test_notify_wakes_an_idle_runner_at_once(db: Database, start_runner: StartRunner) -> None:
    """An idle runner runs a new job within a second: the commit's NOTIFY wakes it."""
    _, ran = await quiet_runner(start_runner)
    enqueued = time.monotonic()
    await enqueue(db, "echo", {})
    await runs_within_a_second(ran, enqueued)


@pytest_twisted.ensureDeferred
async def test_notify_during_a_query_on_the_session_wakes_the_runner_at_once(
    db: Database, start_runner: StartRunner
) -> None:
    """A NOTIFY committed while the runner's session runs a query wakes the
    runner as soon as that query ends, not at the next poll."""
    runner, ran = await quiet_runner(start_runner)
    busy = runner._session.runOperation("SELECT pg_sleep(0.3)")
    await sleep(0.1)  # the session's backend is inside pg_sleep now
    enqueued = time.monotonic()
    await enqueue(db, "echo", {})
    await busy
    await runs_within_a_second(ran, enqueued)


@pytest_twisted.ensureDeferred
async def test_notify_read_along_with_a_query_result_wakes_the_runner_at_once(
    dsn: str, start_runner: StartRunner
) -> None:
    """A NOTIFY that reaches the runner's session in the same read as the
    result of a query (the reactor was busy meanwhile) wakes the runner at
    once, not at the next poll."""
    runner, ran = await quiet_runner(start_runner)
    busy = runner._session.runOperation("SELECT 1")  # sent before this returns
    # Block the reactor: the backend answers, goes idle, and then sends the
    # NOTIFY of a job committed elsewhere right behind its ReadyForQuery.
    time.sleep(0.1)
    enqueued = time.monotonic()
    query(
        dsn,
        "WITH job AS (INSERT INTO jobs (kind, payload) VALUES ('echo', '{}') RETURNING id)"
        " SELECT pg_notify(%s, '') FROM job",
        (store.CHANNEL,),
    )
    time.sleep(0.1)
    await busy
    await runs_within_a_second(ran, enqueued)


@pytest_twisted.ensureDeferred
async def test_new_jobs_are_due_whatever_the_runner_clock_says(
    db: Database, start_runner: StartRunner
) -> None:
    """A runner whose clock is behind the database's still runs a newly queued
    job at once: "due now" does not depend on two clocks agreeing."""
    clock = task.Clock()
    clock.advance(time.time() - 60)
    ran: list[Any] = []

    async def handler(p: Any) -> None:
        ran.append(p)

    await start_runner({"echo": handler}, clock=clock, poll_interval=3600)
    await enqueue(db, "echo", {"x": 1})
    await eventually(lambda: ran, "the job runs", timeout=2.0)


@pytest_twisted.ensureDeferred
async def test_failing_job_is_retried_with_backoff_then_failed(
    db: Database, start_runner: StartRunner
) -> None:
    """A failed attempt is due again after backoff_base, doubling each time;
    after max_attempts the job stays 'failed' with its last error and never
    runs again."""
    clock = task.Clock()
    clock.advance(time.time())
    attempts: list[Any] = []

    async def handler(p: Any) -> None:
        attempts.append(p)
        raise ValueError(f"boom {len(attempts)}")

    runner = await start_runner(
        {"flaky": handler},
        clock=clock,
        backoff_base=5.0,
        poll_interval=3600,
        rescue_interval=3600,
    )
    job_id = await enqueue(db, "flaky", {"x": 1}, max_attempts=3)

    async def recorded(attempt: int) -> dict[str, Any] | None:
        [row] = await rows(db)
        return row if row["attempts"] == attempt and row["state"] != "running" else None

    row = await eventually(lambda: recorded(1), "attempt 1 is recorded")
    assert row["id"] == job_id
    assert row["state"] == "pending"
    assert row["claimed_by"] is None
    assert row["run_at"] == pytest.approx(clock.seconds() + 5.0, abs=0.01)
    assert "boom 1" in row["last_error"]

    clock.advance(4.9)
    runner.wake()
    await sleep(0.2)
    assert len(attempts) == 1, "not due before its backoff"

    clock.advance(0.2)
    runner.wake()
    row = await eventually(lambda: recorded(2), "attempt 2 runs and is recorded")
    assert row["state"] == "pending"
    assert row["run_at"] == pytest.approx(clock.seconds() + 10.0, abs=0.01)
    assert "boom 2" in row["last_error"]

    clock.advance(10.1)
    runner.wake()
    row = await eventually(lambda: recorded(3), "attempt 3 runs and is recorded")
    assert row["state"] == "failed"
    assert row["attempts"] == row["max_attempts"] == 3
    assert "boom 3" in row["last_error"]

    clock.advance(100_000)
    runner.wake()
    await sleep(0.3)
    assert len(attempts) == 3
    [row] = await rows(db)
    assert (row["state"], row["attempts"]) == ("failed", 3)


@pytest_twisted.ensureDeferred
async def test_job_of_a_live_runner_is_not_rescued(db: Database, start_runner: StartRunner) -> None:
    """A job 'running' under a live runner stays with it: neither another
    runner's rescue nor its own requeues or runs it again."""
    gate = Gate()
    calls_a: list[Any] = []
    calls_b: list[Any] = []

    async def slow(p: Any) -> None:
        calls_a.append(p)
        await gate.wait()

    async def other(p: Any) -> None:
        calls_b.append(p)

    try:
        a = await start_runner({"work": slow}, rescue_interval=0.05)
        await enqueue(db, "work", {})
        await eventually(lambda: calls_a, "runner A starts the job")
        await start_runner({"work": other}, rescue_interval=0.05, poll_interval=0.05)
        await sleep(0.4)
        [row] = await rows(db)
        assert (row["state"], row["claimed_by"], row["attempts"]) == ("running", a.node, 1)
        assert calls_b == [] and len(calls_a) == 1
    finally:
        gate.open()
    await eventually(lambda: _empty(db), "runner A finishes the job")
    assert calls_b == [] and len(calls_a) == 1


@pytest_twisted.ensureDeferred
async def test_job_of_a_dead_worker_is_rescued_and_run_once(
    db: Database, start_runner: StartRunner
) -> None:
    """When the session of the runner running a job dies without recording an
    outcome, another runner requeues the job and runs it exactly once; the
    old worker's late outcome then changes nothing."""
    gate_a, gate_b = Gate(), Gate()
    calls_a: list[Any] = []
    calls_b: list[Any] = []

    async def stuck(p: Any) -> None:
        calls_a.append(p)
        await gate_a.wait()

    async def rescuer(p: Any) -> None:
        calls_b.append(p)
        await gate_b.wait()

    try:
        # Concurrency 1: A stays busy with its lost job and cannot take it back.
        a = await start_runner({"work": stuck}, concurrency=1)
        job_id = await enqueue(db, "work", {"n": 1})
        await eventually(lambda: calls_a, "runner A starts the job")
        b = await start_runner({"work": rescuer}, rescue_interval=0.05)

        killed = await db.run_interaction("test kill", _terminate_lock_holder_txn, job_id)
        assert killed == 1

        await eventually(lambda: calls_b, "runner B rescues and starts the job")
        [row] = await rows(db)
        assert (row["state"], row["claimed_by"], row["attempts"]) == ("running", b.node, 2)

        # A's handler ends after all (the process was not dead after all, only
        # its connection): its failure must not requeue what B is running.
        gate_a.fail(RuntimeError("too late"))
        await sleep(0.3)
        [row] = await rows(db)
        assert (row["state"], row["claimed_by"], row["attempts"]) == ("running", b.node, 2)

        gate_b.open()
        await eventually(lambda: _empty(db), "runner B finishes the job")
        await sleep(0.3)
        assert calls_b == [{"n": 1}] and calls_a == [{"n": 1}]
        assert a.node != b.node
    finally:
        gate_a.open()
        gate_b.open()


@pytest_twisted.ensureDeferred
async def test_two_runners_never_run_the_same_job(db: Database, start_runner: StartRunner) -> None:
    """Two runners on one database run each of 100 jobs exactly once between
    them, and both take a share."""
    ran: dict[str, list[int]] = {"a": [], "b": []}

    def handler_for(name: str) -> Callable[[Any], Awaitable[None]]:
        async def handler(p: Any) -> None:
            ran[name].append(p["n"])
            await sleep(random.uniform(0, 0.01))

        return handler

    await start_runner({"work": handler_for("a")}, concurrency=4)
    await start_runner({"work": handler_for("b")}, concurrency=4)
    await db.run_interaction("test enqueue", _enqueue_many_txn, "work", 100)
    await eventually(lambda: _empty(db), "the queue drains", timeout=10.0)
    await sleep(0.2)
    everything = ran["a"] + ran["b"]
    assert sorted(everything) == list(range(100))
    assert ran["a"] and ran["b"]


@pytest_twisted.ensureDeferred
async def test_jobs_without_a_handler_are_left_alone(
    db: Database, start_runner: StartRunner
) -> None:
    """A runner leaves jobs of kinds it has no handler for untouched."""
    ran: list[Any] = []

    async def handler(p: Any) -> None:
        ran.append(p)

    await start_runner({"mine": handler})
    other = await enqueue(db, "theirs", {"x": 1})
    await enqueue(db, "mine", {"y": 2})
    await eventually(lambda: ran, "the runner's own job runs")
    await sleep(0.3)
    [row] = await rows(db)
    assert row["id"] == other
    assert (row["kind"], row["state"], row["attempts"], row["claimed_by"]) == (
        "theirs",
        "pending",
        0,
        None,
    )
    assert ran == [{"y": 2}]


@pytest_twisted.ensureDeferred
async def test_stop_waits_for_a_running_job(db: Database, start_runner: StartRunner) -> None:
    """stop() lets a job that is running finish and record its outcome."""
    started: list[Any] = []

    async def handler(p: Any) -> None:
        started.append(p)
        await sleep(0.3)

    runner = await start_runner({"work": handler}, stop_timeout=5.0)
    await enqueue(db, "work", {})
    await eventually(lambda: started, "the job starts")
    before = time.monotonic()
    await runner.stop()
    assert 0.1 < time.monotonic() - before < 2.0
    assert await rows(db) == []


@pytest_twisted.ensureDeferred
async def test_stop_gives_up_after_stop_timeout_and_next_runner_rescues(
    db: Database, start_runner: StartRunner
) -> None:
    """stop() waits no longer than stop_timeout for a job, then closes; the job
    it left running is run by the next runner."""
    gate = Gate()
    calls: list[Any] = []
    later: list[Any] = []

    async def stuck(p: Any) -> None:
        calls.append(p)
        await gate.wait()

    async def handler(p: Any) -> None:
        later.append(p)

    try:
        runner = await start_runner({"work": stuck}, stop_timeout=0.3)
        await enqueue(db, "work", {"n": 7})
        await eventually(lambda: calls, "the job starts")
        before = time.monotonic()
        await runner.stop()
        assert 0.25 < time.monotonic() - before < 2.0
        [row] = await rows(db)
        assert row["state"] == "running"

        await start_runner({"work": handler})
        await eventually(lambda: _empty(db), "the next runner rescues and runs it")
        assert later == [{"n": 7}]
    finally:
        gate.open()
    await sleep(0.1)  # the first runner's late outcome is dropped quietly
    assert await rows(db) == []


async def _backends_txn(txn: Txn) -> int:
    return await txn.fetchval(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND backend_type = 'client backend'"
    )


async def _hold_job_lock_txn(txn: Txn, job_id: int, held: Deferred[None], gate: Gate) -> None:
    await txn.execute("SELECT pg_advisory_xact_lock(%s)", (job_id,))
    held.callback(None)
    await gate.wait()


@pytest_twisted.ensureDeferred
async def test_stop_closes_the_session_for_good(db: Database, start_runner: StartRunner) -> None:
    """stop() closes the runner's database session for good, even when it has
    to cut a claim short: nothing reconnects behind its back."""
    gate = Gate()
    held: Deferred[None] = Deferred()
    ran: list[Any] = []

    async def handler(p: Any) -> None:
        ran.append(p)

    pool_only = await db.run_interaction("test backends", _backends_txn)
    try:
        job_id = await enqueue(db, "work", {})
        # Another session holds the job's lock, so the claim hangs on it.
        holding = db.run_interaction("test hold", _hold_job_lock_txn, job_id, held, gate)
        await held
        runner = await start_runner({"work": handler}, stop_timeout=0.3)
        assert await db.run_interaction("test backends", _backends_txn) == pool_only + 1
        await sleep(0.1)
        await runner.stop()
    finally:
        gate.open()
    await holding

    async def runner_gone() -> bool:
        return await db.run_interaction("test backends", _backends_txn) == pool_only

    await eventually(runner_gone, "the runner's backend ends")
    await sleep(0.6)  # longer than the detector's first reconnection delay
    assert await runner_gone()
    assert ran == []
    [row] = await rows(db)
    assert (row["state"], row["attempts"]) == ("pending", 0)


async def _set_attempts_txn(txn: Txn, job_id: int, attempts: int) -> None:
    await txn.execute("UPDATE jobs SET attempts = %s WHERE id = %s", (attempts, job_id))


@pytest_twisted.ensureDeferred
async def test_backoff_never_exceeds_backoff_cap(db: Database, start_runner: StartRunner) -> None:
    """However many attempts a job has had, its next retry is at most
    backoff_cap away (and computing it does not overflow)."""
    clock = task.Clock()
    clock.advance(time.time())

    async def handler(p: Any) -> None:
        raise ValueError("still broken")

    job_id = await enqueue(db, "flaky", {}, max_attempts=5000)
    await db.run_interaction("test attempts", _set_attempts_txn, job_id, 2000)
    await start_runner({"flaky": handler}, clock=clock, backoff_cap=60.0)

    async def recorded() -> dict[str, Any] | None:
        [row] = await rows(db)
        return row if row["attempts"] == 2001 and row["state"] != "running" else None

    row = await eventually(recorded, "the failed attempt is recorded")
    assert row["state"] == "pending"
    assert row["run_at"] == pytest.approx(clock.seconds() + 60.0, abs=0.01)


@pytest_twisted.ensureDeferred
async def test_handler_paces_its_own_retries(db: Database, start_runner: StartRunner) -> None:
    """A handler that raises RetryAt(delay) is due again after that delay,
    not the runner's backoff, and knows which attempt it is on."""
    clock = task.Clock()
    clock.advance(time.time())
    seen: list[int] = []

    async def handler(p: Any) -> None:
        seen.append(current_attempt())
        raise RetryAt(1234.0, "come back later")

    await start_runner({"paced": handler}, clock=clock, backoff_base=5.0)
    await enqueue(db, "paced", {}, max_attempts=2)

    async def recorded() -> dict[str, Any] | None:
        [row] = await rows(db)
        return row if row["attempts"] == 1 and row["state"] == "pending" else None

    row = await eventually(recorded, "the attempt is recorded")
    assert row["run_at"] == pytest.approx(clock.seconds() + 1234.0, abs=0.01)
    assert "come back later" in row["last_error"]
    clock.advance(1234.0)
    await eventually(lambda: len(seen) == 2, "the second attempt")
    [row] = await eventually(lambda: _failed(db), "the last attempt fails the job")
    assert seen == [1, 2]


async def _failed(db: Database) -> list[dict[str, Any]]:
    return [row for row in await rows(db) if row["state"] == "failed"]


@pytest_twisted.ensureDeferred
async def test_handler_gives_up(db: Database, start_runner: StartRunner) -> None:
    """A handler that raises GiveUp fails its job at once, attempts left or
    not, with the reason as its last error."""
    calls: list[Any] = []

    async def handler(p: Any) -> None:
        calls.append(p)
        raise GiveUp("the server said 404")

    await start_runner({"doomed": handler})
    await enqueue(db, "doomed", {"n": 1}, max_attempts=10)
    [row] = await eventually(lambda: _failed(db), "the job fails")
    assert (row["attempts"], row["last_error"]) == (1, "gave up: the server said 404")
    await sleep(0.3)
    assert calls == [{"n": 1}]
