"""The jobs table; the protocol around it is described in pleromad.jobs."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any

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
    job_id: int = await txn.fetchval(
        "INSERT INTO jobs (kind, payload, max_attempts) VALUES (%s, %s, %s) RETURNING id",
        (kind, json.dumps(payload), max_attempts),
    )
    await txn.execute("SELECT pg_notify(%s, '')", (CHANNEL,))
    return job_id


async def enqueue_once_txn(
    txn: Txn, kind: str, key: str, payload: Mapping[str, Any], *, max_attempts: int = 10
) -> bool:
    """Queue a job unless one of ``kind`` for ``key`` is already queued,
    running or waiting for a retry: False when it is (the unique index of
    migration 0025 settles two callers racing)."""
    job_id = await txn.fetchval(
        "INSERT INTO jobs (kind, payload, max_attempts, dedup_key)"
        " SELECT %(kind)s, %(payload)s, %(max_attempts)s, %(key)s"
        " WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE kind = %(kind)s"
        "                   AND dedup_key = %(key)s AND state IN ('pending', 'running'))"
        " ON CONFLICT (kind, dedup_key)"
        " WHERE dedup_key IS NOT NULL AND state = 'pending' AND attempts = 0 DO NOTHING"
        " RETURNING id",
        {"kind": kind, "payload": json.dumps(payload), "max_attempts": max_attempts, "key": key},
    )
    if job_id is None:
        return False
    await txn.execute("SELECT pg_notify(%s, '')", (CHANNEL,))
    return True


async def claim_txn(txn: Txn, node: str, kinds: Sequence[str], now: float) -> dict[str, Any] | None:
    """Take the oldest due job of one of ``kinds``, holding its advisory lock
    on this session; the returned row has this attempt's number."""
    row = await txn.fetchone(
        "UPDATE jobs SET state = 'running', attempts = attempts + 1, claimed_by = %(node)s"
        " WHERE id = (SELECT id FROM jobs"
        "             WHERE state = 'pending' AND kind = ANY(%(kinds)s)"
        "               AND (run_at IS NULL OR run_at <= to_timestamp(%(now)s))"
        "               AND attempts < max_attempts"
        "             ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)"
        " RETURNING id, kind, payload, attempts, max_attempts",
        {"node": node, "kinds": list(kinds), "now": now},
    )
    if row is None:
        return None
    # Last, so that nothing but COMMIT can fail once the session holds the
    # lock (a session lock outlives a rollback).  Blocking, not "try": a
    # rescuer may still hold its transaction lock on this id for the instant
    # between its commit becoming visible and its locks being released.
    await txn.execute("SELECT pg_advisory_lock(%s)", (row["id"],))
    return row


async def save_progress_txn(
    txn: Txn, job_id: int, attempt: int, progress: Mapping[str, Any]
) -> bool:
    """Merge ``progress`` into the running job's payload, in the caller's
    transaction, so that a later attempt resumes from it; False (nothing
    written) when this attempt no longer owns the job."""
    saved = await txn.execute(
        "UPDATE jobs SET payload = payload || %s::jsonb"
        " WHERE id = %s AND state = 'running' AND attempts = %s",
        (json.dumps(progress), job_id, attempt),
    )
    return saved > 0


async def finish_txn(txn: Txn, job_id: int, node: str, attempt: int) -> bool:
    """Delete a job that succeeded; False when this attempt had lost its claim
    (its session dropped and another node took the job over)."""
    done = await txn.execute(
        "DELETE FROM jobs WHERE id = %s AND state = 'running'"
        " AND claimed_by = %s AND attempts = %s",
        (job_id, node, attempt),
    )
    return await _release_txn(txn, job_id, done)


async def fail_txn(
    txn: Txn, job_id: int, node: str, attempt: int, error: str, retry_at: float | None
) -> bool:
    """Record a failed attempt: due again at ``retry_at``, or failed for good
    when it is None.  False when this attempt had lost its claim."""
    done = await txn.execute(
        "UPDATE jobs SET state = CASE WHEN %(retry)s IS NULL THEN 'failed' ELSE 'pending' END,"
        " run_at = COALESCE(to_timestamp(%(retry)s), run_at),"
        " claimed_by = NULL, last_error = %(error)s"
        " WHERE id = %(id)s AND state = 'running'"
        "   AND claimed_by = %(node)s AND attempts = %(attempt)s",
        {"retry": retry_at, "error": error, "id": job_id, "node": node, "attempt": attempt},
    )
    return await _release_txn(txn, job_id, done)


async def _release_txn(txn: Txn, job_id: int, recorded: int) -> bool:
    if not recorded:
        # The attempt had lost the job, so this session does not hold its
        # lock, unless it claimed the job again since: then the lock is the
        # new attempt's to release.
        return False
    await txn.execute("SELECT pg_advisory_unlock(%s)", (job_id,))
    return True


async def rescue_txn(txn: Txn, mine: Collection[int]) -> list[int]:
    """Put back in the queue the jobs left 'running' by workers that are gone.

    A live worker holds the advisory lock of each job it runs for as long as
    its session lasts, so a running job whose lock can be taken has no owner.
    ``mine`` are the jobs the caller's own session runs: it could take their
    locks again, being their holder.  A job that had used up its attempts is
    failed instead.
    """
    # The lock is tried on candidates only (a CTE fence): tried on every row
    # it would also lock pending jobs that workers are about to claim.
    rows = await txn.fetchall(
        "WITH candidates AS MATERIALIZED ("
        "    SELECT id FROM jobs WHERE state = 'running' AND id <> ALL(%(mine)s::int8[])"
        "    FOR UPDATE SKIP LOCKED"
        "), orphans AS MATERIALIZED ("
        "    SELECT id FROM candidates WHERE pg_try_advisory_xact_lock(id)"
        ")"
        " UPDATE jobs SET claimed_by = NULL, run_at = NULL,"
        "   state = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'pending' END,"
        "   last_error = 'its worker stopped during attempt ' || attempts"
        " FROM orphans WHERE jobs.id = orphans.id"
        " RETURNING jobs.id",
        {"mine": list(mine)},
    )
    if rows:
        await txn.execute("SELECT pg_notify(%s, '')", (CHANNEL,))
    return [row["id"] for row in rows]


async def queue_txn(txn: Txn, now: float) -> list[dict[str, Any]]:
    """Per kind, the pending jobs and how long the longest-due one has waited
    (seconds; 0 when none is due), for the metrics.  statement_timeout bounds
    it, so that a scrape never weighs on a database with a huge queue."""
    await txn.execute("SET LOCAL statement_timeout = '2s'")
    return await txn.fetchall(
        "SELECT kind, count(*) AS pending,"
        " coalesce(extract(epoch FROM to_timestamp(%(now)s) - min(coalesce(run_at, created_at))"
        "          FILTER (WHERE run_at IS NULL OR run_at <= to_timestamp(%(now)s))), 0)::float8"
        "   AS oldest_due"
        " FROM jobs WHERE state = 'pending' GROUP BY kind",
        {"now": now},
    )
