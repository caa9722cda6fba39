"""Following a list of accounts at once (DECISIONS 10).

The list is a Mastodon "following" CSV export or any text of account
addresses: each line's first CSV field, split on whitespace, gives accounts;
the export's header line (``Account address,...``) and a leading ``@`` are
ignored, and any line ending will do.  Only local accounts (``nick`` or
``nick@our-host``) can be followed; others are dropped, as are accounts that
turn out not to be followable when the job runs (unknown, deactivated,
blocking or blocked, already followed).

The request is answered at once; the follows are made by a durable job
(:data:`FOLLOW_IMPORT_JOB`).  Each follow is an upsert under the pair's lock,
so a job that is cut short (a kill -9) and run again follows every account
exactly once and notifies each followed account once.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from twisted.internet.threads import deferToThread

from pleromad.config import Config
from pleromad.db.pool import Txn
from pleromad.domain import relationships
from pleromad.domain.profile import local_nickname
from pleromad.domain.registration import NICKNAME_MAX
from pleromad.errors import ApiError, NotFound
from pleromad.model import User
from pleromad.store import jobs, users
from pleromad.store import relationships as store

if TYPE_CHECKING:
    from pleromad.jobs import Handler
    from pleromad.runtime import Runtime

FOLLOW_IMPORT_JOB = "follow_import"

# More accounts than this in one list: 413, and nothing is queued.
MAX_ACCOUNTS = 20_000

HEADER = "account address"

# Accounts followed per transaction by the job.
_BATCH = 200

# Lists longer than this (in characters) are parsed off the reactor thread.
_THREAD_THRESHOLD = 64 * 1024


class TooManyAccounts(ApiError):
    status = 413

    def __init__(self) -> None:
        super().__init__(f"Too many accounts: at most {MAX_ACCOUNTS} can be imported at once")


def parse_addresses(text: str) -> list[str]:
    """Every account address the list gives, in order, without its leading
    ``@``; duplicates and remote addresses included."""
    addresses: list[str] = []
    for line in text.splitlines():
        field = _first_field(line)
        if field.strip().lower() == HEADER:
            continue
        addresses += [word.removeprefix("@") for word in field.split()]
    return [address for address in addresses if address]


def _first_field(line: str) -> str:
    if '"' not in line:
        return line.split(",", 1)[0]
    try:
        fields = next(csv.reader([line]), [""])
    except csv.Error:  # a field past the csv module's size limit
        return line.split(",", 1)[0]
    return fields[0] if fields else ""


def local_nicknames(addresses: list[str], base_url: str) -> list[str]:
    """The local accounts' nicknames among ``addresses``, in order, once each."""
    seen: dict[str, str] = {}
    for address in addresses:
        nickname = local_nickname(address, base_url)
        if (
            nickname
            and "@" not in nickname
            and "\x00" not in nickname
            and len(nickname) <= NICKNAME_MAX
        ):
            seen.setdefault(nickname.lower(), nickname)
    return list(seen.values())


async def start_import(rt: Runtime, follower: User, text: str) -> None:
    """Queue the follows of the local accounts ``text`` lists; TooManyAccounts
    (and nothing queued) past :data:`MAX_ACCOUNTS`."""
    if len(text) > _THREAD_THRESHOLD:
        addresses = await deferToThread(parse_addresses, text)
    else:
        addresses = parse_addresses(text)
    if len(addresses) > MAX_ACCOUNTS:
        raise TooManyAccounts()
    nicknames = local_nicknames(addresses, rt.config.server.base_url)
    if nicknames:
        await rt.db.run_interaction("queue follow import", _queue_txn, follower.id, nicknames)


async def _queue_txn(txn: Txn, follower_id: int, nicknames: list[str]) -> None:
    await jobs.enqueue_txn(
        txn, FOLLOW_IMPORT_JOB, {"follower_id": follower_id, "nicknames": nicknames}
    )


async def run_import(rt: Runtime, follower_id: int, nicknames: list[str]) -> int:
    """Follow each of ``nicknames`` that can be followed; the number of
    follows (or requests) this run added.  Safe to run again."""
    added = 0
    for start in range(0, len(nicknames), _BATCH):
        batch = nicknames[start : start + _BATCH]
        done = await rt.db.run_interaction(
            "follow import", _follow_batch_txn, follower_id, batch, rt.config
        )
        if done is None:
            break  # the follower is gone: nothing more to do
        added += done
    return added


async def _follow_batch_txn(
    txn: Txn, follower_id: int, nicknames: list[str], config: Config
) -> int | None:
    follower = await users.get_user_txn(txn, follower_id)
    if follower is None or follower.deleted or follower.deactivated:
        return None
    found = await store.get_users_by_nicknames_txn(txn, nicknames)
    targets = {u.nickname.lower(): u for u in found}
    added = 0
    for nickname in nicknames:
        target = targets.get(nickname.lower())
        if target is None or target.id == follower.id:
            continue
        try:
            if await relationships.follow_txn(txn, follower, target.id, None, config):
                added += 1
        except (NotFound, relationships.FollowRefused):
            continue  # not followable: skipped silently (DECISIONS 10)
    return added


def handlers(rt: Runtime) -> dict[str, Handler]:
    """The job handlers of this module, by kind, for the daemon's JobRunner."""

    async def follow_import_job(payload: Mapping[str, Any]) -> None:
        await run_import(rt, int(payload["follower_id"]), list(payload["nicknames"]))

    return {FOLLOW_IMPORT_JOB: follow_import_job}
