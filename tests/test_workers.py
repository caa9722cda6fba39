"""The CPU pool: CPU-heavy work on a bounded number of threads, each kind
queued up to its bound and refused past it with 503 and Retry-After."""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import defer, reactor
from twisted.internet.task import deferLater

from pleromad.auth.passwords import PasswordHasher
from pleromad.captcha.providers import NativeProvider
from pleromad.federation.keys import generate_key_pair
from pleromad.runtime import Runtime
from pleromad.web.root import build_gateway
from pleromad.workers import BUSY, CPU, NICENESS, Busy, CpuPool, WorkQueue, cpu_threads
from tests.conftest import Client
from tests.helpers import query
from tests.test_accounts import make_user
from tests.test_captcha import enabled
from tests.test_media import assert_nothing_stored, image_bytes, someone, upload
from tests.test_oauth import PASSWORD, client_auth, register

# One thread, shared by the tests here so that none leaves an idle one behind.
POOL = CpuPool(1)


@asynccontextmanager
async def occupied(queue: WorkQueue) -> AsyncIterator[None]:
    """``queue`` with one piece of work running until the block ends; on
    leaving, that work has ended and left the queue, so that what follows
    finds room in it."""
    release = threading.Event()
    running = queue.run(release.wait)
    try:
        yield
    finally:
        release.set()
        await running


def test_threads_leave_a_cpu_to_the_reactor() -> None:
    """The pool has one thread fewer than the CPUs the process may run on, and at least one."""
    assert cpu_threads() == max(1, len(os.sched_getaffinity(0)) - 1)


@pytest_twisted.ensureDeferred
async def test_pool_threads_yield_to_the_reactor_thread() -> None:
    """Work runs ten nice levels below the reactor thread (at most at 19)."""

    def niceness() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    assert await POOL.run(niceness) == min(niceness() + NICENESS, 19)


@pytest_twisted.ensureDeferred
async def test_work_runs_on_at_most_the_pools_threads() -> None:
    """Work given to a pool of two threads runs two at a time at most, and
    every piece answers its own result."""
    pool = CpuPool(2)
    lock = threading.Lock()
    running, most = 0, 0
    gate = threading.Barrier(2, timeout=10)

    def work(n: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        try:
            gate.wait()  # two run at once, or this times out
        finally:
            with lock:
                running -= 1
        return n * n

    results = await defer.gatherResults([WorkQueue(8, pool).run(work, n) for n in range(6)])
    assert results == [0, 1, 4, 9, 16, 25]
    assert most == 2
    pool.stop()


@pytest_twisted.ensureDeferred
async def test_a_full_queue_refuses_at_once_and_takes_work_again_when_it_drains() -> None:
    """With its bound of work running or waiting, a queue refuses more with
    Busy (503, a whole number of seconds in Retry-After, nothing run); once
    the work is done it takes work again."""
    queue = WorkQueue(2, POOL)
    ran: list[int] = []
    async with occupied(queue):
        waiting = queue.run(ran.append, 1)
        with pytest.raises(Busy) as refused:
            await queue.run(ran.append, 2)
        assert refused.value.status == 503
        assert refused.value.message == BUSY
        assert int(refused.value.headers["Retry-After"]) >= 1
    await waiting
    await queue.run(ran.append, 3)
    assert ran == [1, 3]
    assert queue.pending == 0


@pytest_twisted.ensureDeferred
async def test_key_pairs_wait_for_the_pool_like_hashes() -> None:
    """An actor's key pair, made in a process of its own, still takes a
    pool thread: while every thread is busy, no pair is made."""
    await generate_key_pair()  # the worker process is up
    release = threading.Event()
    holding = [CPU.run(release.wait) for _ in range(CPU.threads)]
    try:
        pair = defer.ensureDeferred(generate_key_pair())
        await deferLater(reactor, 1.0, lambda: None)  # a pair takes well under 0.1 s
        assert not pair.called
    finally:
        release.set()
    await defer.gatherResults(holding)
    assert (await pair).public_key_pem.startswith("-----BEGIN PUBLIC KEY-----")


def busy_passwords(rt: Runtime) -> Runtime:
    return replace(
        rt, passwords=PasswordHasher(time_cost=1, memory_cost=1024, queue=WorkQueue(1, POOL))
    )


def assert_busy(code: int, body: Any, response: Any) -> None:
    assert (code, body) == (503, {"error": BUSY})
    assert int(response.headers.getRawHeaders("retry-after")[0]) >= 1


@pytest_twisted.ensureDeferred
async def test_registration_answers_503_while_hashing_is_full(rt: Runtime, serve: Any) -> None:
    """A sign-up while the password queue is full answers 503 with
    Retry-After and creates no account; once the queue drains the same
    sign-up succeeds."""
    rt = busy_passwords(rt)
    client = serve(build_gateway(rt))
    form = {
        "nickname": "ann",
        "fullname": "Ann",
        "email": "ann@example.org",
        "password": "pw",
        "confirm": "pw",
    }
    async with occupied(rt.passwords.queue):
        response = await client.post("/api/account/register", json=form)
        assert_busy(response.code, await response.json(), response)
        assert query(rt.db.dsn, "SELECT count(*) FROM users")[0][0] == 0
    response = await client.post("/api/account/register", json=form)
    assert response.code == 200, await response.text()


@pytest_twisted.ensureDeferred
async def test_password_login_answers_503_while_hashing_is_full(rt: Runtime, serve: Any) -> None:
    """The password grant while the password queue is full answers 503 with
    Retry-After, issues no token and counts no failed login."""
    rt = busy_passwords(rt)
    await make_user(rt, "alice", password=PASSWORD)
    client = serve(build_gateway(rt))
    app = await register(client)
    data = {"grant_type": "password", "username": "alice", "password": PASSWORD}
    data.update(client_auth(app))
    async with occupied(rt.passwords.queue):
        response = await client.post("/oauth/token", data=data)
        assert_busy(response.code, await response.json(), response)
    assert query(rt.db.dsn, "SELECT count(*) FROM oauth_tokens")[0][0] == 0
    assert query(rt.db.dsn, "SELECT count(*) FROM rate_limits")[0][0] == 0
    assert (await client.post("/oauth/token", data=data)).code == 200


@pytest_twisted.ensureDeferred
async def test_upload_answers_503_while_image_checks_are_full(rt: Runtime, serve: Any) -> None:
    """An image upload while the image queue is full answers 503 with
    Retry-After and stores neither a file nor a row."""
    rt = replace(rt, images=WorkQueue(1, POOL))
    client: Client = serve(build_gateway(rt))
    _, headers = await someone(rt)
    async with occupied(rt.images):
        response = await client.post(
            "/api/v1/media",
            headers=headers,
            files={"file": ("pic.png", "image/png", image_bytes())},
        )
        assert_busy(response.code, await response.json(), response)
        assert_nothing_stored(rt)
    code, body = await upload(client, headers, image_bytes())
    assert code == 200, body


@pytest_twisted.ensureDeferred
async def test_native_captcha_answers_503_while_drawings_are_full(rt: Runtime, serve: Any) -> None:
    """Drawing a native captcha is image work on the CPU pool: while its
    queue is full a challenge is refused with 503 and Retry-After, and none
    is stored; once the queue drains one is drawn again."""
    rt = replace(
        rt,
        config=enabled(rt.config, "native"),
        captcha=NativeProvider(queue=WorkQueue(1, POOL)),
    )
    client: Client = serve(build_gateway(rt))
    async with occupied(rt.captcha.queue):  # type: ignore[attr-defined]
        response = await client.get("/api/pleroma/captcha")
        assert_busy(response.code, await response.json(), response)
        assert query(rt.db.dsn, "SELECT count(*) FROM captchas")[0][0] == 0
    response = await client.get("/api/pleroma/captcha")
    assert response.code == 200
    assert (await response.json())["url"].startswith("data:image/png;base64,")
