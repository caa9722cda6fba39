"""Invite tokens: what lets someone register while registrations are closed.

An invite's type follows from the limits it was created with, as in Pleroma:
both ``max_use`` and ``expires_at`` make it ``reusable_date_limited``, only
``expires_at`` ``date_limited``, only ``max_use`` ``reusable``, neither
``one_time``.  ``expires_at`` is a UTC date, valid through that whole day.
Revoking an invite marks it used, which no type comes back from.

Tokens are kept in clear (unlike OAuth secrets): the operator lists them to
hand them out again.
"""

from __future__ import annotations

import re
import secrets
from datetime import date
from typing import Any

from pleromad.db.pool import Txn
from pleromad.model import Invite, Verdict

_COLUMNS = "id, token, max_use, uses, expires_at, used, created_at"


def _invite(row: dict[str, Any] | None) -> Invite | None:
    return None if row is None else Invite(**row)


# max_use is a PostgreSQL integer.
MAX_USE_LIMIT = 2**31 - 1


def valid_max_use(value: int) -> bool:
    """The one rule for ``max_use``, wherever it comes from."""
    return 1 <= value <= MAX_USE_LIMIT


async def create_invite_txn(
    txn: Txn, *, max_use: int | None = None, expires_at: date | None = None
) -> Invite:
    """A new invite with a fresh random token; ``max_use`` must be valid."""
    if max_use is not None and not valid_max_use(max_use):
        raise ValueError(f"max_use out of range: {max_use}")
    row = await txn.fetchone(
        f"INSERT INTO invites (token, max_use, expires_at) VALUES (%s, %s, %s)"
        f" RETURNING {_COLUMNS}",
        # Hex: a token starting with "-" would read as an option on ctl's command line.
        (secrets.token_hex(16), max_use, expires_at),
    )
    assert row is not None
    return Invite(**row)


async def list_invites_txn(txn: Txn) -> list[Invite]:
    """Every invite, oldest first."""
    rows = await txn.fetchall(f"SELECT {_COLUMNS} FROM invites ORDER BY id")
    return [Invite(**row) for row in rows]


async def get_invite_txn(txn: Txn, token: str) -> Invite | None:
    return _invite(await txn.fetchone(f"SELECT {_COLUMNS} FROM invites WHERE token = %s", (token,)))


async def revoke_invite_txn(txn: Txn, token: str) -> Invite | None:
    """Mark the invite used for good; the invite as it is now, or None if unknown."""
    return _invite(
        await txn.fetchone(
            f"UPDATE invites SET used = true WHERE token = %s RETURNING {_COLUMNS}", (token,)
        )
    )


async def consume_invite_txn(txn: Txn, token: str, today: date) -> Verdict:
    """Use the invite for one registration, in the caller's transaction (the
    one that creates the account, so a failed registration leaves it unused).

    ``invalid`` for an unknown token, ``expired`` for one no longer valid;
    nothing changes then.  The row is locked until the caller commits, so two
    registrations racing for the last use cannot both have it.
    """
    invite = _invite(
        await txn.fetchone(f"SELECT {_COLUMNS} FROM invites WHERE token = %s FOR UPDATE", (token,))
    )
    if invite is None:
        return "invalid"
    verdict = invite.verdict(today)
    if verdict != "ok":
        return verdict
    kind = invite.invite_type
    if kind == "one_time":
        await txn.execute("UPDATE invites SET used = true WHERE id = %s", (invite.id,))
    elif kind != "date_limited":  # a date-limited one serves everyone until its day passes
        await txn.execute(
            "UPDATE invites SET uses = uses + 1, used = (uses + 1 >= max_use) WHERE id = %s",
            (invite.id,),
        )
    return "ok"


class BadExpiry(ValueError):
    """An invite expiry that is not a date ``YYYY-MM-DD``, or is in the past
    (``past`` tells which)."""

    def __init__(self, past: bool) -> None:
        super().__init__("in the past" if past else "not a date YYYY-MM-DD")
        self.past = past


_DATE = re.compile(r"\A\d{4}-\d{2}-\d{2}\Z")


def parse_expiry(text: str, today: date) -> date:
    """The day an invite given ``text`` expires; BadExpiry otherwise.
    ctl and the Admin API share this rule and phrase its refusals their way."""
    try:
        if not _DATE.match(text):
            raise ValueError(text)
        day = date.fromisoformat(text)
    except ValueError:
        raise BadExpiry(past=False) from None
    if day < today:
        raise BadExpiry(past=True)
    return day
