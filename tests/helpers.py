"""Small helpers several test modules share."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg2
from twisted.internet import reactor, task
from twisted.internet.defer import Deferred


def sleep(seconds: float) -> Deferred[None]:
    return task.deferLater(reactor, seconds, lambda: None)


async def eventually(
    check: Callable[[], Any], what: str = "condition", timeout: float = 5.0
) -> Any:
    """Poll ``check`` (sync or async) until it returns something true;
    fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await sleep(0.02)


def query(dsn: str, sql: str, args: Any = None) -> list[tuple[Any, ...]]:
    """Run one statement on a connection of its own (autocommit), outside the pool."""
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def process_state(pid: int) -> str | None:
    """The /proc state letter of ``pid`` ("Z" for a zombie), or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0]
    except OSError:
        return None


def is_alive(pid: int) -> bool:
    """Whether ``pid`` runs: neither gone nor a zombie waiting for its parent."""
    return process_state(pid) not in (None, "Z")
