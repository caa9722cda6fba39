"""Reports to the moderators, the statuses they name as they were, and the
moderators' notes on them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from psycopg2.extras import Json

from pleromad.db.pool import Txn
from pleromad.model import Note, Report, ShownReport
from pleromad.store.relationships import get_users_by_ids_txn

STATES = ("open", "resolved", "closed")


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
    """Insert a report with the snapshots of its statuses (in order) and
    notify every active local admin and moderator but the reporter."""
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
    await txn.execute(
        "INSERT INTO notifications (user_id, type, actor_id, report_id)"
        " SELECT u.id, 'pleroma:report', %(actor)s, %(report)s FROM users u"
        " WHERE (u.is_admin OR u.is_moderator) AND u.local AND NOT u.deactivated"
        " AND NOT u.deleted AND u.id <> %(actor)s",
        {"actor": actor_id, "report": report.id},
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


async def shown_txn(txn: Txn, found: Sequence[Report]) -> list[ShownReport]:
    """``found`` with the accounts, kept statuses and notes they show."""
    ids = [r.id for r in found]
    snapshots = await snapshots_txn(txn, ids)
    notes = await notes_txn(txn, ids)
    people = {r.account_id for r in found} | {r.actor_id for r in found}
    people.update(n.user_id for ns in notes.values() for n in ns)
    users = {u.id: u for u in await get_users_by_ids_txn(txn, sorted(people))}
    return [
        ShownReport(
            report=r,
            account=users[r.account_id],
            actor=users[r.actor_id],
            statuses=snapshots[r.id],
            notes=[(n, users[n.user_id]) for n in notes[r.id]],
        )
        for r in found
    ]


async def shown_by_id_txn(txn: Txn, report_ids: Sequence[int]) -> dict[int, ShownReport]:
    rows = await txn.fetchall(
        f"SELECT {_COLUMNS} FROM reports WHERE id = ANY(%s::bigint[])", (list(report_ids),)
    )
    return {s.report.id: s for s in await shown_txn(txn, [Report(**row) for row in rows])}
