"""Following a list of accounts at once (DECISIONS 10 and 34).

The list is a Mastodon "following" CSV export or any text of account
addresses: each line's first CSV field, split on whitespace, gives accounts;
the export's header line (``Account address,...``) and a leading ``@`` are
ignored, and any line ending will do.  Local accounts are named by ``nick``
or ``nick@our-host``; with federation, remote ones by ``nick@host`` (found by
WebFinger) or by their actor or profile URL.  Accounts that turn out not to
be followable when the job runs (unknown, deactivated, blocking or blocked,
already followed) are skipped; following a remote one sends its Follow.

The request is answered at once; the follows are made by a durable job
(:data:`FOLLOW_IMPORT_JOB`), one line at a time: each follow is made in the
transaction that records the job's progress in its own row, so a job cut
short (a kill -9) resumes after the last line done, and a follow is an
upsert under the pair's lock besides: every account is followed, and sent
its Follow, once.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from twisted.internet.threads import deferToThread
from twisted.logger import Logger

from pleromad.config import Config
from pleromad.db.pool import Txn
from pleromad.domain import profile, relationships, remote_actors
from pleromad.domain.profile import local_nickname
from pleromad.domain.registration import NICKNAME_MAX
from pleromad.domain.remote_actors import ActorNotFound
from pleromad.errors import ApiError, NotFound
from pleromad.jobs import RetryAt, current_job
from pleromad.model import User
from pleromad.store import jobs, users

if TYPE_CHECKING:
    from pleromad.jobs import Handler
    from pleromad.runtime import Runtime

log = Logger()

FOLLOW_IMPORT_JOB = "follow_import"

# More accounts than this in one list: 413, and nothing is queued.
MAX_ACCOUNTS = 20_000

HEADER = "account address"

# Passes of the job over addresses whose server could not be reached, and
# the wait before the second (doubling after).
MAX_ATTEMPTS = 5
RETRY_DELAY = 60.0

# A longer address is no account's.
_ADDRESS_MAX = 2048

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


def follow_targets(addresses: list[str], base_url: str, *, federating: bool) -> list[str]:
    """The accounts among ``addresses`` to follow, in order, once each: local
    nicknames (``nick``, ``nick@our-host``) and, with federation, remote
    ``nick@host`` addresses and actor or profile URLs (DECISIONS 34)."""
    seen: dict[str, str] = {}
    for address in addresses:
        if "\x00" in address or len(address) > _ADDRESS_MAX:
            continue
        if address.startswith(("https://", "http://")):
            if federating:
                seen.setdefault(address, address)
            continue
        nickname = local_nickname(address, base_url)
        nick, at, host = nickname.rpartition("@")
        if not at:
            if nickname and len(nickname) <= NICKNAME_MAX:
                seen.setdefault(nickname.lower(), nickname)
        elif federating and nick and host and "@" not in nick:
            seen.setdefault(nickname.lower(), f"{nick}@{host.lower()}")
    return list(seen.values())


async def start_import(rt: Runtime, follower: User, text: str) -> None:
    """Queue the follows of the accounts ``text`` lists; TooManyAccounts
    (and nothing queued) past :data:`MAX_ACCOUNTS`."""
    if len(text) > _THREAD_THRESHOLD:
        addresses = await deferToThread(parse_addresses, text)
    else:
        addresses = parse_addresses(text)
    if len(addresses) > MAX_ACCOUNTS:
        raise TooManyAccounts()
    targets = follow_targets(
        addresses, rt.config.server.base_url, federating=rt.config.federation.enabled
    )
    if targets:
        await rt.db.run_interaction("queue follow import", _queue_txn, follower.id, targets)


async def _queue_txn(txn: Txn, follower_id: int, addresses: list[str]) -> None:
    await jobs.enqueue_txn(
        txn,
        FOLLOW_IMPORT_JOB,
        {"follower_id": follower_id, "addresses": addresses},
        max_attempts=MAX_ATTEMPTS,
    )


class _LostJob(Exception):
    """Another worker took the job over: this attempt stops, its last
    follow rolled back."""


async def run_import(
    rt: Runtime, payload: Mapping[str, Any], job: tuple[int, int] | None = None
) -> int:
    """Follow each account the payload lists, from where the last attempt
    got to, and return the number of follows (or requests) added.  Each
    line is resolved (WebFinger for a remote address, outside any
    transaction), then followed in a transaction that also records the
    job's progress (when run as ``job``: id and attempt), so that a killed
    job resumes after the last line done and sends each Follow once.
    Addresses whose server cannot be reached are tried again by a later
    attempt; after the last, or when they name no account, they are
    skipped and logged."""
    follower_id = int(payload["follower_id"])
    # "nicknames": a job queued before remote accounts could be imported.
    addresses = list(payload.get("addresses") or payload.get("nicknames") or [])
    done = int(payload.get("done", 0))
    retry = list(payload.get("retry", []))
    attempt = job[1] if job is not None else MAX_ATTEMPTS
    added = 0
    for index in range(done, len(addresses)):
        address = addresses[index]
        target = await _resolve(rt, address)
        temporary = isinstance(target, ActorNotFound) and target.temporary
        if temporary and attempt < MAX_ATTEMPTS:
            retry.append(address)
        elif isinstance(target, ActorNotFound):
            log.info(
                "follow import of {follower}: skipped {address}: {why}",
                follower=follower_id,
                address=address,
                why=target,
            )
        progress = {"done": index + 1, "retry": retry}
        followee = target if isinstance(target, User) else None
        result = await rt.db.run_interaction(
            "follow import", _follow_txn, follower_id, followee, job, progress, rt.config
        )
        if result is None:
            return added  # the follower is gone: nothing more to do
        added += result
    if retry:
        await rt.db.run_interaction(
            "follow import retry", _next_pass_txn, job, {"addresses": retry, "done": 0, "retry": []}
        )
        raise RetryAt(RETRY_DELAY * 2 ** (attempt - 1), f"{len(retry)} servers unreachable")
    return added


async def _resolve(rt: Runtime, address: str) -> User | ActorNotFound:
    """The account ``address`` names, or why there is none."""
    try:
        if address.startswith(("https://", "http://")):
            return await remote_actors.resolve_actor(rt, address)
        if "@" in address:
            return await remote_actors.resolve_acct(rt, address)
        user = await profile.local_account(rt, address)
    except ActorNotFound as e:
        return e
    return user if user is not None else ActorNotFound(f"no local account {address}")


async def _follow_txn(
    txn: Txn,
    follower_id: int,
    followee: User | None,
    job: tuple[int, int] | None,
    progress: dict[str, Any],
    config: Config,
) -> int | None:
    """Follow ``followee`` (when there is one to follow) and record the
    job's ``progress``, together; None when the follower is gone."""
    follower = await users.get_user_txn(txn, follower_id)
    if follower is None or follower.deleted or follower.deactivated:
        return None
    await _save_txn(txn, job, progress)
    if followee is None or followee.id == follower.id:
        return 0
    try:
        added = await relationships.follow_txn(txn, follower, followee.id, None, config)
    except (NotFound, relationships.FollowRefused):
        return 0  # not followable: skipped silently (DECISIONS 10)
    return int(added)


async def _next_pass_txn(txn: Txn, job: tuple[int, int] | None, progress: dict[str, Any]) -> None:
    await _save_txn(txn, job, progress)


async def _save_txn(txn: Txn, job: tuple[int, int] | None, progress: dict[str, Any]) -> None:
    if job is not None and not await jobs.save_progress_txn(txn, *job, progress):
        raise _LostJob()


def handlers(rt: Runtime) -> dict[str, Handler]:
    """The job handlers of this module, by kind, for the daemon's JobRunner."""

    async def follow_import_job(payload: Mapping[str, Any]) -> None:
        await run_import(rt, payload, current_job())

    return {FOLLOW_IMPORT_JOB: follow_import_job}
