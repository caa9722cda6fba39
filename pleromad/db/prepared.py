"""Server-side prepared statements for the hottest reads.

The statement that loads a page of statuses takes PostgreSQL longer to
parse and plan (about 1.5 ms) than to run (about 0.5 ms), on every request.
Prepared once per connection, it is parsed once; after five runs
PostgreSQL compares the plan it would keep for any parameters (the generic
plan) with those it made for each run's values, and keeps the generic one
when it is no worse: planning is then gone as well.  Statements opt in
(``prepared=True``), each checked by the tests, because a prepared
statement must be able to infer every parameter's type from its context.

A connection's statements are remembered by the psycopg2 connection they
were prepared on, so a reconnected connection (a new session) starts
afresh.  Only statements run outside a transaction are prepared: if the
server forgot them after all (``DISCARD ALL`` by a pooler, a table changed
under a kept plan), the statement is run again as it is, which inside a
transaction would already have been aborted.

A statement's name is made from its text, never from the order statements
were first used in: behind a pooler that hands one client's statements to
another client's server session (PgBouncer's transaction mode), an
``EXECUTE`` then finds the very statement it means or none at all, never
another client's statement of the same name run with its values.
"""

from __future__ import annotations

import functools
import hashlib
import re
import weakref
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

# At most this many statements are kept prepared on one connection (a
# generic plan of a page loader holds some 100 kB in its server process);
# past that they are all deallocated and prepared again as they are used.
PREPARED_MAX = 64

# SQLSTATEs of an EXECUTE whose statement the session no longer holds as
# prepared: invalid_sql_statement_name, feature_not_supported (a kept plan
# whose result type changed).
FORGOTTEN = frozenset({"26000", "0A000"})

# The SQLSTATE of a PREPARE whose name the session holds already
# (duplicate_prepared_statement): the same text, prepared through a pooler
# by another connection of the pool, or by this one before a reconnection
# the pooler hid.
ALREADY_PREPARED = "42P05"

_PLACEHOLDER = re.compile(r"%%|%\((\w+)\)s|%s")


@functools.lru_cache(maxsize=1024)
def positional(sql: str) -> tuple[str, tuple[Hashable, ...]]:
    """``sql`` with psycopg2's placeholders (``%(name)s`` or ``%s``) written
    as PostgreSQL's ``$1, $2, ...``, and which argument each stands for (a
    name, or a position); a name used twice is one parameter."""
    keys: list[Hashable] = []
    positions = 0

    def number(match: re.Match[str]) -> str:
        nonlocal positions
        if match.group(0) == "%%":
            return "%"
        key: Hashable
        if match.group(1) is None:
            key, positions = positions, positions + 1
        else:
            key = match.group(1)
        if key not in keys:
            keys.append(key)
        return f"${keys.index(key) + 1}"

    return _PLACEHOLDER.sub(number, sql), tuple(keys)


def arguments(
    keys: tuple[Hashable, ...], args: Mapping[str, Any] | Sequence[Any] | None
) -> tuple[Any, ...]:
    """The values for ``EXECUTE``, in parameter order."""
    if not keys:
        return ()
    assert args is not None
    values: Any = args  # a mapping for named keys, a sequence for positions
    return tuple(values[key] for key in keys)


def execute_call(name: str, count: int) -> str:
    """``EXECUTE name(%s, ...)`` for ``count`` values, as psycopg2 fills them."""
    return f"EXECUTE {name}({', '.join(['%s'] * count)})" if count else f"EXECUTE {name}"


class Statements:
    """The SQL texts prepared on one session (each under :func:`name_for`)."""

    def __init__(self) -> None:
        self._texts: set[str] = set()

    def holds(self, sql: str) -> bool:
        return sql in self._texts

    def full(self) -> bool:
        return len(self._texts) >= PREPARED_MAX

    def add(self, sql: str) -> None:
        self._texts.add(sql)

    def clear(self) -> None:
        self._texts.clear()


@functools.lru_cache(maxsize=1024)
def name_for(sql: str) -> str:
    """The name ``sql`` is prepared under on every session: its text's digest."""
    return "pleromad_" + hashlib.blake2b(sql.encode(), digest_size=8).hexdigest()


_SESSIONS: weakref.WeakKeyDictionary[Any, Statements] = weakref.WeakKeyDictionary()


def statements(connection: Any) -> Statements:
    """What has been prepared on the psycopg2 ``connection``'s session."""
    known = _SESSIONS.get(connection)
    if known is None:
        known = _SESSIONS[connection] = Statements()
    return known
