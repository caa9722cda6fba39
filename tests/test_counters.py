"""The counts accounts and statuses show are kept by the writes (migration
0030), and equal a recount after any mix of writes and deletes."""

from __future__ import annotations

import random
from typing import Any

import pytest_twisted

from pleromad.db.pool import Txn
from pleromad.domain import lifecycle, relationships, statuses
from pleromad.domain.statuses import StatusForm
from pleromad.errors import ApiError
from pleromad.model import NewStatus, User
from pleromad.runtime import Runtime
from pleromad.store import favourites as favourites_store
from pleromad.store import relationships as relationships_store
from pleromad.store import statuses as statuses_store
from pleromad.store import users
from tests.helpers import query
from tests.test_accounts import make_user

# The definitions, written out apart from the migration's: what the
# renderers counted on every request before the counters existed.
_ACTIVE = "NOT EXISTS (SELECT 1 FROM users x WHERE x.id = {0} AND (x.deactivated OR x.deleted))"
RECOUNT_ACCOUNTS = (
    "SELECT u.id,"
    " (SELECT count(*) FROM statuses s WHERE s.account_id = u.id AND s.reblog_of_id IS NULL"
    "  AND s.visibility IN ('public', 'unlisted')),"
    " (SELECT count(*) FROM follows f WHERE f.followee_id = u.id AND f.state = 'accepted'"
    f"  AND {_ACTIVE.format('f.follower_id')}),"
    " (SELECT count(*) FROM follows f WHERE f.follower_id = u.id AND f.state = 'accepted'"
    f"  AND {_ACTIVE.format('f.followee_id')})"
    " FROM users u ORDER BY u.id"
)
RECOUNT_STATUSES = (
    "SELECT s.id,"
    " (SELECT count(*) FROM statuses r WHERE r.in_reply_to_id = s.id"
    f"  AND r.visibility IN ('public', 'unlisted') AND {_ACTIVE.format('r.account_id')}),"
    " (SELECT count(*) FROM statuses b WHERE b.reblog_of_id = s.id"
    f"  AND {_ACTIVE.format('b.account_id')}),"
    " (SELECT count(*) FROM favourites f WHERE f.status_id = s.id"
    f"  AND {_ACTIVE.format('f.account_id')})"
    " FROM statuses s ORDER BY s.id"
)
KEPT_ACCOUNTS = (
    "SELECT u.id, c.statuses, c.followers, c.following"
    " FROM users u LEFT JOIN account_counts c ON c.user_id = u.id ORDER BY u.id"
)
KEPT_STATUSES = (
    "SELECT s.id, c.replies, c.reblogs, c.favourites"
    " FROM statuses s LEFT JOIN status_counts c ON c.status_id = s.id ORDER BY s.id"
)
VISIBILITIES = ("public", "unlisted", "private", "direct")


async def _fetch_txn(txn: Txn, sql: str) -> list[dict[str, Any]]:
    return await txn.fetchall(sql)


def assert_counters_exact(dsn: str) -> None:
    assert query(dsn, KEPT_ACCOUNTS) == query(dsn, RECOUNT_ACCOUNTS)
    assert query(dsn, KEPT_STATUSES) == query(dsn, RECOUNT_STATUSES)


class Mix:
    """Random actions of a few local and remote accounts, each through the
    path the API or an inbox job takes."""

    def __init__(self, rt: Runtime, rng: random.Random, accounts: list[User]) -> None:
        self.rt = rt
        self.rng = rng
        self.accounts = accounts

    async def _ids(self, sql: str) -> list[int]:
        rows = await self.rt.db.run_interaction("ids", _fetch_txn, sql)
        return [row["id"] for row in rows]

    async def step(self) -> None:
        gone = set(await self._ids("SELECT id FROM users WHERE deleted OR deactivated"))
        # Only an account that may log in acts (the realm refuses others).
        actor = self.rng.choice([a for a in self.accounts if a.id not in gone])
        other = self.rng.choice(self.accounts)
        posts = await self._ids("SELECT id FROM statuses WHERE reblog_of_id IS NULL")
        target = str(self.rng.choice(posts)) if posts else None
        actions: list[Any] = [self._post, self._post, self._follow, self._follow, self._unfollow]
        if target is not None:
            actions += [self._reply, self._reply, self._favourite, self._unfavourite]
            actions += [self._reblog, self._reblog, self._unreblog, self._delete]
        actions += [self._answer, self._block, self._unblock]
        chance = self.rng.random()
        if chance < 0.01 and len(gone) < len(self.accounts) // 2:
            actions = [self._delete_account]
        elif chance < 0.05:
            actions = [self._activation]
        action = self.rng.choice(actions)
        try:
            await action(actor, other, target)
        except ApiError:
            pass  # refused (not visible, blocked, not one's own ...): nothing changed

    async def _post(self, actor: User, other: User, target: str | None) -> None:
        visibility = self.rng.choice(VISIBILITIES)
        if actor.local:
            form = StatusForm(status=f"hello @{other.nickname}", visibility=visibility)
            await statuses.post_status(self.rt, actor, form, render=lambda loaded: None)
            return
        new_id = await self.rt.db.run_interaction("id", statuses_store.new_id_txn)
        note = NewStatus(
            id=new_id,
            account_id=actor.id,
            in_reply_to_id=int(target) if target else None,
            in_reply_to_account_id=None,
            conversation_id=new_id,
            visibility=visibility,
            content_type="text/html",
            source="",
            content="<p>remote</p>",
            spoiler_text="",
            sensitive=False,
            ap_id=f"https://remote.example/notes/{new_id}",
        )
        await self.rt.db.run_interaction("remote note", statuses_store.insert_status_txn, note)

    async def _reply(self, actor: User, other: User, target: str | None) -> None:
        if not actor.local:
            return await self._post(actor, other, target)
        form = StatusForm(
            status="a reply", visibility=self.rng.choice(VISIBILITIES), in_reply_to_id=target
        )
        await statuses.post_status(self.rt, actor, form, render=lambda loaded: None)

    async def _favourite(self, actor: User, other: User, target: str | None) -> None:
        assert target is not None
        if actor.local:
            await statuses.favourite(self.rt, target, actor)
        else:
            await self.rt.db.run_interaction(
                "remote like", favourites_store.insert_favourite_txn, actor.id, int(target)
            )

    async def _unfavourite(self, actor: User, other: User, target: str | None) -> None:
        mine = await self._ids(
            f"SELECT status_id AS id FROM favourites WHERE account_id = {actor.id}"
        )
        if mine:
            await statuses.unfavourite(self.rt, str(self.rng.choice(mine)), actor)

    async def _reblog(self, actor: User, other: User, target: str | None) -> None:
        shareable = await self._ids(
            "SELECT id FROM statuses WHERE reblog_of_id IS NULL"
            " AND visibility IN ('public', 'unlisted')"
        )
        if shareable:
            await statuses.reblog(self.rt, str(self.rng.choice(shareable)), actor)

    async def _unreblog(self, actor: User, other: User, target: str | None) -> None:
        mine = await self._ids(
            f"SELECT reblog_of_id AS id FROM statuses WHERE account_id = {actor.id}"
            " AND reblog_of_id IS NOT NULL"
        )
        if mine:
            await statuses.unreblog(self.rt, str(self.rng.choice(mine)), actor)

    async def _delete(self, actor: User, other: User, target: str | None) -> None:
        assert target is not None
        if self.rng.random() < 0.7:  # mostly one's own; else as a moderator would
            mine = await self._ids(f"SELECT id FROM statuses WHERE account_id = {actor.id}")
            target = str(self.rng.choice(mine)) if mine else target
        await statuses.delete_status(self.rt, target, actor, godmode=True)

    async def _follow(self, actor: User, other: User, target: str | None) -> None:
        if actor.local:
            await relationships.follow(self.rt, actor, str(other.id), None)
            return
        state = "pending" if other.locked else "accepted"
        await self.rt.db.run_interaction(
            "remote follow", relationships_store.insert_follow_txn, actor.id, other.id, state, True
        )

    async def _unfollow(self, actor: User, other: User, target: str | None) -> None:
        mine = await self._ids(
            f"SELECT followee_id AS id FROM follows WHERE follower_id = {actor.id}"
        )
        if mine:
            await relationships.unfollow(self.rt, actor, str(self.rng.choice(mine)))

    async def _answer(self, actor: User, other: User, target: str | None) -> None:
        waiting = await self._ids(
            f"SELECT follower_id AS id FROM follows WHERE followee_id = {actor.id}"
            " AND state = 'pending'"
        )
        if not waiting:
            return
        requester = str(self.rng.choice(waiting))
        if self.rng.random() < 0.6:
            await relationships.authorize_request(self.rt, actor, requester)
        else:
            await relationships.reject_request(self.rt, actor, requester)

    async def _block(self, actor: User, other: User, target: str | None) -> None:
        await relationships.block(self.rt, actor, str(other.id))

    async def _unblock(self, actor: User, other: User, target: str | None) -> None:
        mine = await self._ids(f"SELECT blocked_id AS id FROM blocks WHERE blocker_id = {actor.id}")
        if mine:
            await relationships.unblock(self.rt, actor, str(self.rng.choice(mine)))

    async def _activation(self, actor: User, other: User, target: str | None) -> None:
        current = await self.rt.db.run_interaction("user", users.get_user_txn, other.id)
        assert current is not None
        await lifecycle.set_activated(self.rt, other.id, current.deactivated)

    async def _delete_account(self, actor: User, other: User, target: str | None) -> None:
        await lifecycle.delete_account(self.rt, actor.id)
        if self.rng.random() < 0.5:  # else its content stays, as while the job waits
            await lifecycle.remove_content(self.rt, actor.id)


@pytest_twisted.ensureDeferred
async def test_counters_equal_a_recount_after_a_random_mix_of_writes(rt: Runtime) -> None:
    """After posts, replies of every visibility, favourites, reblogs, follows,
    requests accepted and rejected, blocks that end follows, status and
    account deletions, deactivations and remote accounts' writes, every
    account's statuses, followers and following and every status' replies,
    reblogs and favourites equal a recount; checked along the way too."""
    accounts = [await make_user(rt, f"user{n}", locked=n % 3 == 0) for n in range(7)]
    for n in range(2):
        remote = await make_user(rt, f"far{n}@remote.example")
        query(rt.db.dsn, "UPDATE users SET local = false WHERE id = %s", (remote.id,))
        accounts.append(await rt.db.run_interaction("user", users.get_user_txn, remote.id))
    mix = Mix(rt, random.Random(14), accounts)
    for n in range(1, 201):
        await mix.step()
        if n % 50 == 0:
            assert_counters_exact(rt.db.dsn)
    kinds = query(
        rt.db.dsn,
        "SELECT count(*) FILTER (WHERE in_reply_to_id IS NOT NULL),"
        " count(*) FILTER (WHERE reblog_of_id IS NOT NULL),"
        " (SELECT count(*) FROM favourites), (SELECT count(*) FROM follows),"
        " (SELECT count(*) FROM users WHERE deactivated OR deleted) FROM statuses",
    )[0]
    assert all(kinds), kinds  # the mix did make every kind of row


@pytest_twisted.ensureDeferred
async def test_recounting_gives_what_the_triggers_kept(rt: Runtime) -> None:
    """counters_recount() (the migration's backfill, and the repair after
    loading rows with the triggers off) rebuilds the same counters; an
    account row deleted outright (by an operator) takes its part with it."""
    accounts = [await make_user(rt, f"user{n}") for n in range(4)]
    mix = Mix(rt, random.Random(30), accounts)
    for _ in range(60):
        await mix.step()
    kept = query(rt.db.dsn, KEPT_ACCOUNTS), query(rt.db.dsn, KEPT_STATUSES)
    query(rt.db.dsn, "SELECT counters_recount()")
    assert (query(rt.db.dsn, KEPT_ACCOUNTS), query(rt.db.dsn, KEPT_STATUSES)) == kept
    query(rt.db.dsn, "DELETE FROM users WHERE id = %s", (accounts[1].id,))
    assert_counters_exact(rt.db.dsn)


@pytest_twisted.ensureDeferred
async def test_statements_of_many_rows_count_each_row(rt: Runtime) -> None:
    """A statement inserting or deleting many rows at once (as an account's
    deletion and its cascades do) moves each counter by the sum of its rows:
    posts, replies of every visibility and reblogs by active and deactivated
    accounts, their favourites and follows, put in and taken out in bulk."""
    accounts = [await make_user(rt, f"user{n}") for n in range(5)]
    ids = [account.id for account in accounts]
    dsn = rt.db.dsn
    query(dsn, "UPDATE users SET deactivated = true WHERE id = %s", (ids[4],))
    query(
        dsn,
        "INSERT INTO statuses (account_id, conversation_id, visibility)"
        " SELECT a, 0, (ARRAY['public', 'unlisted', 'private', 'direct'])[1 + g %% 4]"
        " FROM unnest(%s::bigint[]) a, generate_series(1, 40) g",
        (ids,),
    )
    posts = [row[0] for row in query(dsn, "SELECT id FROM statuses ORDER BY id")]
    first = posts[0]
    query(
        dsn,
        "INSERT INTO statuses (account_id, conversation_id, visibility, in_reply_to_id,"
        " reblog_of_id)"
        " SELECT a, 0, (ARRAY['public', 'unlisted', 'private'])[1 + g %% 3],"
        " CASE WHEN g %% 2 = 0 THEN %s::bigint END,"
        " CASE WHEN g %% 2 = 1 THEN (%s::bigint[])[g] END"
        " FROM unnest(%s::bigint[]) a, generate_series(1, 30) g",
        (first, posts, ids),
    )
    query(
        dsn,
        "INSERT INTO favourites (account_id, status_id)"
        " SELECT a, s.id FROM unnest(%s::bigint[]) a, statuses s WHERE s.id %% 3 = 0",
        (ids,),
    )
    query(
        dsn,
        "INSERT INTO follows (follower_id, followee_id, state)"
        " SELECT a, b, CASE WHEN a %% 2 = 0 THEN 'accepted' ELSE 'pending' END"
        " FROM unnest(%s::bigint[]) a, unnest(%s::bigint[]) b WHERE a <> b",
        (ids, ids),
    )
    assert_counters_exact(dsn)
    query(dsn, "DELETE FROM favourites WHERE status_id % 2 = 0")
    query(dsn, "DELETE FROM follows WHERE follower_id = %s OR followee_id = %s", (ids[0], ids[1]))
    query(dsn, "DELETE FROM statuses WHERE account_id IN (%s, %s)", (ids[2], ids[4]))
    assert_counters_exact(dsn)
    query(dsn, "DELETE FROM statuses WHERE id = %s", (first,))
    assert_counters_exact(dsn)
