"""Captcha answers, consumed atomically by the first attempt."""

from __future__ import annotations

from typing import Any

from pleromad.db.pool import Txn


async def save_txn(txn: Txn, token: str, provider: str, answer: str, expires_at: float) -> None:
    await txn.execute(
        "INSERT INTO captchas (token, provider, answer, expires_at)"
        " VALUES (%s, %s, %s, to_timestamp(%s))"
        " ON CONFLICT (token) DO UPDATE SET provider = EXCLUDED.provider,"
        " answer = EXCLUDED.answer, expires_at = EXCLUDED.expires_at, used = false",
        (token, provider, answer, expires_at),
    )


async def consume_txn(txn: Txn, token: str, now: float) -> dict[str, Any]:
    """Use the token up, right answer or wrong: ``{"state": "fresh" | "used" |
    "expired" | "unknown", "provider", "answer"}``.  Only one caller on any
    node ever sees a token fresh."""
    row = await txn.fetchone(
        "UPDATE captchas SET used = true WHERE token = %s AND NOT used"
        " RETURNING provider, answer, expires_at <= to_timestamp(%s) AS expired",
        (token, now),
    )
    if row is not None:
        state = "expired" if row["expired"] else "fresh"
        return {"state": state, "provider": row["provider"], "answer": row["answer"]}
    known = await txn.fetchval("SELECT true FROM captchas WHERE token = %s", (token,))
    return {"state": "used" if known else "unknown", "provider": None, "answer": None}


async def purge_txn(txn: Txn, now: float) -> int:
    """Forget answers that can no longer be used (expired a minute ago)."""
    return await txn.execute(
        "DELETE FROM captchas WHERE expires_at < to_timestamp(%s) - interval '1 minute'",
        (now,),
    )
