"""Reports to the moderators, the statuses they name as they were, and the
moderators' notes on them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from psycopg2.extras import Json

from pleromad.db.pool import Txn

STATES = ("open", "resolved", "closed")


@dataclass(frozen=True)
class Report:
    id: int
    actor_id: int
    account_id: int
    comment: str
    category: str
    rule_ids: list[str]
    forwarded: bool
    state: str
    ap_id: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Note:
    id: int
    report_id: int
    user_id: int
    content: str
    created_at: datetime


_COLUMNS = ", ".join(f.name for f in fields(Report))
_NOTE_COLUMNS = ", ".join(f.name for f in fields(Note))


async def create_report_txn(
    txn: Txn,
    *,
    actor_id: int,
    account_id: int,
    comment: str,
    category: str,
    rule_ids: Sequence[str],
    forwarded: bool,
    snapshots: Sequence[tuple[int, dict[str, Any]]],
    ap_id: str | None = None,
) -> Report:
    """Insert a report with the snapshots of its statuses, in order."""
    row = await txn.fetchone(
        "INSERT INTO reports (actor_id, account_id, comment, category, rule_ids, forwarded, ap_id)"
        f" VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING {_COLUMNS}",
        (actor_id, account_id, comment, category, list(rule_ids), forwarded, ap_id),
    )
    assert row is not None
    report = Report(**row)
    for position, (status_id, snapshot) in enumerate(snapshots):
        await txn.execute(
            "INSERT INTO report_statuses (report_id, status_id, position, snapshot)"
            " VALUES (%s, %s, %s, %s)",
            (report.id, status_id, position, Json(snapshot)),
        )
    return report


async def get_report_txn(txn: Txn, report_id: int, *, for_update: bool = False) -> Report | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await txn.fetchone(f"SELECT {_COLUMNS} FROM reports WHERE id = %s{lock}", (report_id,))
    return None if row is None else Report(**row)


async def get_by_ap_id_txn(txn: Txn, ap_id: str) -> Report | None:
    row = await txn.fetchone(f"SELECT {_COLUMNS} FROM reports WHERE ap_id = %s", (ap_id,))
    return None if row is None else Report(**row)


async def list_reports_txn(
    txn: Txn, state: str | None, limit: int, offset: int
) -> tuple[list[Report], int]:
    """One page of reports, newest first, and how many there are (in ``state``)."""
    where = "state = %(state)s" if state else "true"
    args = {"state": state, "limit": limit, "offset": offset}
    total = await txn.fetchval(f"SELECT count(*) FROM reports WHERE {where}", args)
    rows = await txn.fetchall(
        f"SELECT {_COLUMNS} FROM reports WHERE {where}"
        " ORDER BY id DESC LIMIT %(limit)s OFFSET %(offset)s",
        args,
    )
    return [Report(**row) for row in rows], int(total)


async def snapshots_txn(txn: Txn, report_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """The reported statuses of each report, as they were, in order."""
    rows = await txn.fetchall(
        "SELECT report_id, snapshot FROM report_statuses WHERE report_id = ANY(%s::bigint[])"
        " ORDER BY report_id, position",
        (list(report_ids),),
    )
    found: dict[int, list[dict[str, Any]]] = {i: [] for i in report_ids}
    for row in rows:
        found[row["report_id"]].append(row["snapshot"])
    return found


async def notes_txn(txn: Txn, report_ids: Sequence[int]) -> dict[int, list[Note]]:
    rows = await txn.fetchall(
        f"SELECT {_NOTE_COLUMNS} FROM report_notes WHERE report_id = ANY(%s::bigint[])"
        " ORDER BY report_id, id",
        (list(report_ids),),
    )
    found: dict[int, list[Note]] = {i: [] for i in report_ids}
    for row in rows:
        found[row["report_id"]].append(Note(**row))
    return found


async def set_state_txn(txn: Txn, report_id: int, state: str) -> None:
    await txn.execute(
        "UPDATE reports SET state = %s, updated_at = now() WHERE id = %s", (state, report_id)
    )


async def add_note_txn(txn: Txn, report_id: int, user_id: int, content: str) -> Note:
    row = await txn.fetchone(
        f"INSERT INTO report_notes (report_id, user_id, content) VALUES (%s, %s, %s)"
        f" RETURNING {_NOTE_COLUMNS}",
        (report_id, user_id, content),
    )
    assert row is not None
    return Note(**row)


async def delete_note_txn(txn: Txn, report_id: int, note_id: int) -> Note | None:
    row = await txn.fetchone(
        f"DELETE FROM report_notes WHERE report_id = %s AND id = %s RETURNING {_NOTE_COLUMNS}",
        (report_id, note_id),
    )
    return None if row is None else Note(**row)
