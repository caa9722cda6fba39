"""Prepared statements and rows kept by version, on a real pool (pleromad.db)."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted

from pleromad.db import prepared
from pleromad.db.pool import Database, Txn

SUM = "SELECT %(a)s::int + %(b)s::int + %(a)s::int AS n"


def test_placeholders_become_numbered_parameters() -> None:
    """psycopg2's placeholders become $1, $2, ...: a name used twice is one
    parameter, positional ones are numbered in order, %% is a percent sign."""
    assert prepared.positional(SUM) == (
        "SELECT $1::int + $2::int + $1::int AS n",
        ("a", "b"),
    )
    assert prepared.positional("SELECT %s, %s WHERE x LIKE 'a%%'") == (
        "SELECT $1, $2 WHERE x LIKE 'a%'",
        (0, 1),
    )
    assert prepared.arguments(("a", "b"), {"a": 1, "b": 2, "unused": 3}) == (1, 2)
    assert prepared.execute_call("p", 2) == "EXECUTE p(%s, %s)"
    assert prepared.execute_call("p", 0) == "EXECUTE p"


# A pool of one connection, so that every call meets the same session.
one_session = pytest.mark.parametrize("db", [1], indirect=True)


async def _prepared(txn: Txn) -> list[str]:
    rows = await txn.fetchall("SELECT statement FROM pg_prepared_statements ORDER BY name")
    return [row["statement"] for row in rows]


async def _sum_txn(txn: Txn, a: int, b: int) -> Any:
    rows = await txn.fetchall(SUM, {"a": a, "b": b}, prepared=True)
    return rows[0]["n"]


@one_session
@pytest_twisted.ensureDeferred
async def test_a_read_outside_a_transaction_is_prepared_once(db: Database) -> None:
    """A statement run with ``prepared`` outside a transaction is prepared on
    its connection the first time and executed with each call's values
    after that; inside a transaction it is run as it is."""
    assert await db.run_reads("sum", _sum_txn, 1, 2) == 4
    assert await db.run_reads("sum", _sum_txn, 10, 20) == 40
    assert await db.run_query("sum", SUM, {"a": 5, "b": 0}, prepared=True) == [{"n": 10}]
    statements = await db.run_reads("prepared", _prepared)
    assert statements == [
        f"PREPARE {prepared.name_for(SUM)} AS SELECT $1::int + $2::int + $1::int AS n"
    ]

    async def other_txn(txn: Txn) -> Any:
        return await txn.fetchall("SELECT %s::int AS n", (7,), prepared=True)

    assert await db.run_interaction("other", other_txn) == [{"n": 7}]
    assert await db.run_reads("prepared", _prepared) == statements


@one_session
@pytest_twisted.ensureDeferred
async def test_statements_the_session_forgot_run_as_they_are(db: Database) -> None:
    """When the session no longer holds what was prepared on it (DISCARD ALL
    by a pooler, say), the statement is answered all the same, and
    prepared again the next time."""
    assert await db.run_reads("sum", _sum_txn, 1, 1) == 3

    async def discard_txn(txn: Txn) -> None:
        await txn.execute("DISCARD ALL")

    await db.run_reads("discard", discard_txn)
    assert await db.run_reads("prepared", _prepared) == []
    assert await db.run_reads("sum", _sum_txn, 2, 2) == 6
    assert await db.run_reads("sum", _sum_txn, 3, 3) == 9
    assert len(await db.run_reads("prepared", _prepared)) == 1


@one_session
@pytest_twisted.ensureDeferred
async def test_a_statements_name_says_which_statement_it_is(db: Database) -> None:
    """Behind a pooler, a connection's EXECUTE can reach a session where
    another connection prepared its own statements: it finds its own
    statement there or none (and is then run as it is), never another one
    under the same name; and a PREPARE of a name the session holds already
    (the same text) is taken as done."""
    other = "SELECT %s::int * 100 AS n"
    assert prepared.name_for(SUM) != prepared.name_for(other)
    assert await db.run_query("other", other, (2,), prepared=True) == [{"n": 200}]

    async def believe_txn(txn: Txn) -> None:
        # As if SUM had been prepared on the session the pooler handed out before.
        prepared.statements(txn._cursor.connection).add(SUM)

    await db.run_reads("believe", believe_txn)
    assert await db.run_reads("sum", _sum_txn, 1, 2) == 4

    async def prepare_behind_txn(txn: Txn) -> None:
        # Another client of the pooler prepared SUM on this session.
        text, _ = prepared.positional(SUM)
        await txn.execute(f"PREPARE {prepared.name_for(SUM)} AS {text}")

    await db.run_reads("prepare behind", prepare_behind_txn)
    assert await db.run_reads("sum", _sum_txn, 2, 3) == 7
    assert await db.run_reads("sum", _sum_txn, 3, 3) == 9
    assert len(await db.run_reads("prepared", _prepared)) == 1


@one_session
@pytest_twisted.ensureDeferred
async def test_a_session_holds_a_bounded_number_of_statements(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past ``PREPARED_MAX`` statements on a session, all are deallocated
    and the new one prepared alone."""
    monkeypatch.setattr(prepared, "PREPARED_MAX", 2)
    for n in range(3):
        assert await db.run_query("n", f"SELECT %s::int + {n} AS n", (1,), prepared=True) == [
            {"n": 1 + n}
        ]
    assert await db.run_reads("prepared", _prepared) == [
        f"PREPARE {prepared.name_for('SELECT %s::int + 2 AS n')} AS SELECT $1::int + 2 AS n"
    ]


@one_session
@pytest_twisted.ensureDeferred
async def test_rows_are_kept_only_from_reads_outside_a_transaction(db: Database) -> None:
    """What a store makes of a row is kept for later reads at the same
    version, from reads outside a transaction; inside one, where a row
    written twice keeps one version, nothing is kept."""

    async def keep_txn(txn: Txn, value: str) -> Any:
        txn.keep("thing", 1, 10, value)
        return txn.kept("thing", 1, 10)

    assert await db.run_interaction("keep", keep_txn, "inside") is None
    assert await db.run_reads("keep", keep_txn, "outside") == "outside"

    async def look_txn(txn: Txn, version: int) -> Any:
        return txn.kept("thing", 1, version)

    assert await db.run_interaction("look", look_txn, 10) == "outside"
    assert await db.run_reads("look", look_txn, 11) is None
