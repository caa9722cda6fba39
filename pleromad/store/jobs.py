"""The jobs table; the protocol around it is described in pleromad.jobs."""

from __future__ import annotations

import json
from typing import Any, Mapping, Sequence

from pleromad.db.pool import Txn

CHANNEL = "pleromad_jobs"


async def enqueue_txn(
    txn: Txn,
    kind: str,
    payload: Mapping[str, Any],
    *,
    max_attempts: int = 10,
) -> int:
    """Queue a job in the caller's transaction: it exists only if that commits,
    and workers are woken at commit."""
    job_id = await txn.fetchval(
        "INSERT INTO jobs (kind, payload, max_attempts) VALUES (%s, %s, %s) RETURNING id",
        (kind, json.dumps(payload), max_attempts),
    )
    await txn.execute("SELECT pg_notify(%s, '')", (CHANNEL,))
    return job_id


async def claim_txn(
    txn: Txn, node: str, kinds: Sequence[str], now: float
) -> dict[str, Any] | None:
    """Take the next due job, holding its advisory lock on this session."""
    row = await txn.fetchone(
        "SELECT id, kind, payload, attempts, max_attempts FROM jobs"
        " WHERE state = 'pending' AND run_at <= to_timestamp(%s) AND kind = ANY(%s)"
        "   AND attempts < max_attempts"
        " ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED",
        (now, list(kinds)),
    )
    if row is None:
        return None
    await txn.execute("SELECT pg_advisory_lock(%s)", (row["id"],))
    await txn.execute(
        "UPDATE jobs SET state = 'running', attempts = attempts + 1, claimed_by = %s"
        " WHERE id = %s",
        (node, row["id"]),
    )
    row["attempts"] += 1
    return row


async def finish_txn(txn: Txn, job_id: int) -> None:
    await txn.execute("DELETE FROM jobs WHERE id = %s", (job_id,))
    await txn.execute("SELECT pg_advisory_unlock(%s)", (job_id,))


async def fail_txn(txn: Txn, job_id: int, error: str, retry_at: float | None) -> None:
    """Record a failed attempt: due again at ``retry_at``, or failed for good."""
    await txn.execute(
        "UPDATE jobs SET state = CASE WHEN %(retry)s IS NULL THEN 'failed' ELSE 'pending' END,"
        " run_at = COALESCE(to_timestamp(%(retry)s), run_at),"
        " claimed_by = NULL, last_error = %(error)s WHERE id = %(id)s",
        {"retry": retry_at, "error": error, "id": job_id},
    )
    await txn.execute("SELECT pg_advisory_unlock(%s)", (job_id,))


async def rescue_txn(txn: Txn, node: str, now: float) -> list[int]:
    """Release jobs left 'running' by nodes that died.

    A live node holds the advisory lock of each job it runs for as long as its
    session lasts, so a running job whose lock can be taken has no owner.
    """
    rows = await txn.fetchall(
        "UPDATE jobs SET claimed_by = NULL, run_at = to_timestamp(%(now)s),"
        " state = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'pending' END,"
        " last_error = COALESCE(last_error, 'its worker stopped while running it')"
        " WHERE id IN (SELECT id FROM jobs WHERE state = 'running'"
        "              AND claimed_by IS DISTINCT FROM %(node)s FOR UPDATE SKIP LOCKED)"
        "   AND pg_try_advisory_xact_lock(id)"
        " RETURNING id",
        {"now": now, "node": node},
    )
    return [row["id"] for row in rows]

