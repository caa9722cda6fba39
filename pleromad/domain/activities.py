"""What every applier of a received activity shares (see
:mod:`pleromad.domain.inbox`): its signature, how it declines an activity,
and reading the ids an activity names."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from pleromad.db.pool import Txn
from pleromad.model import User
from pleromad.store import remote_actors as actors_store

if TYPE_CHECKING:
    from pleromad.runtime import Runtime

# ``applier(rt, activity, actor)``: apply ``activity`` (checked: signed by
# ``actor``, its ids on the actor's host) or raise Dropped.
Applier = Callable[["Runtime", dict[str, Any], User], Awaitable[None]]


class Dropped(Exception):
    """An activity acknowledged but not applied; the message says why."""


def object_id(value: Any) -> str | None:
    """The id an object property holds: the string, or an embedded object's id."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) else None


async def local_account_txn(txn: Txn, ap_id: str | None) -> User:
    """The live local account ``ap_id`` names, or Dropped."""
    known = None if ap_id is None else await actors_store.get_by_ap_id_txn(txn, ap_id)
    if known is None or not known.user.local or known.user.deleted:
        raise Dropped(f"{ap_id!r} is not an account here")
    return known.user
