"""Notifications: who is notified of mentions, reblogs, favourites, follows
and subscribed posts, and who is not (blocks, mutes, settings, visibility);
the notification endpoints, their pagination, and the notification settings."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted

from pleromad.db.pool import Txn
from pleromad.domain import lifecycle
from pleromad.domain import notifications as hooks
from pleromad.model import User
from pleromad.runtime import Runtime
from pleromad.web.root import build_gateway
from tests.conftest import Client
from tests.helpers import query
from tests.test_accounts import MASTO_DATE, answer, bearer, make_user, set_user

NOTIFICATIONS = "/api/v1/notifications"
SETTINGS = "/api/pleroma/notification_settings"
READ = "/api/pleroma/notifications/read"

# -- the social graph and statuses, written directly --------------------------------


async def follow(rt: Runtime, follower: User, followee: User, state: str = "accepted") -> None:
    async def txn(t: Txn) -> None:
        await t.execute(
            "INSERT INTO follows (follower_id, followee_id, state) VALUES (%s, %s, %s)",
            (follower.id, followee.id, state),
        )
        await hooks.on_follow_txn(t, follower.id, followee.id)

    await rt.db.run_interaction("follow", txn)


async def relate(rt: Runtime, table: str, subject: User, object_: User, **extra: Any) -> None:
    """A block, mute or subscription row of ``subject`` about ``object_``."""
    columns = {
        "blocks": ("blocker_id", "blocked_id"),
        "mutes": ("muter_id", "muted_id"),
        "subscriptions": ("subscriber_id", "target_id"),
        "follows": ("follower_id", "followee_id"),
    }[table]
    names = ", ".join((*columns, *extra))
    marks = ", ".join(["%s"] * (2 + len(extra)))

    async def txn(t: Txn) -> None:
        await t.execute(
            f"INSERT INTO {table} ({names}) VALUES ({marks})",
            (subject.id, object_.id, *extra.values()),
        )

    await rt.db.run_interaction("relate", txn)


async def post(
    rt: Runtime,
    author: User,
    visibility: str = "public",
    mentions: tuple[User, ...] = (),
    reply_to: int | None = None,
    text: str = "hello",
) -> int:
    """A status as the statuses capability writes it, notifying in its transaction."""

    async def txn(t: Txn) -> int:
        status_id = await t.fetchval(
            "INSERT INTO statuses (id, account_id, conversation_id, visibility, in_reply_to_id,"
            " source, content) SELECT i, %s, i, %s, %s, %s, %s FROM next_id() i RETURNING id",
            (author.id, visibility, reply_to, text, f"<p>{text}</p>"),
        )
        for user in mentions:
            await t.execute(
                "INSERT INTO status_mentions (status_id, account_id) VALUES (%s, %s)",
                (status_id, user.id),
            )
        await hooks.on_status_txn(t, status_id)
        return status_id

    return await rt.db.run_interaction("post", txn)


async def favourite(rt: Runtime, actor: User, status_id: int) -> None:
    async def txn(t: Txn) -> None:
        await t.execute(
            "INSERT INTO favourites (account_id, status_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            (actor.id, status_id),
        )
        await hooks.on_favourite_txn(t, actor.id, status_id)

    await rt.db.run_interaction("favourite", txn)


async def reblog(rt: Runtime, actor: User, status_id: int) -> int:
    async def txn(t: Txn) -> int:
        reblog_id = await t.fetchval(
            "INSERT INTO statuses (id, account_id, conversation_id, visibility, reblog_of_id)"
            " SELECT i, %s, i, 'public', %s FROM next_id() i RETURNING id",
            (actor.id, status_id),
        )
        await hooks.on_reblog_txn(t, actor.id, status_id)
        return reblog_id

    return await rt.db.run_interaction("reblog", txn)


def received(rt: Runtime, user: User) -> list[tuple[Any, ...]]:
    """(type, actor id, status id) of every notification row ``user`` has, oldest first."""
    return [
        tuple(row)
        for row in query(
            rt.db.dsn,
            "SELECT type, actor_id, status_id FROM notifications WHERE user_id = %s ORDER BY id",
            (user.id,),
        )
    ]


async def people(rt: Runtime, *nicknames: str) -> list[User]:
    return [await make_user(rt, nickname) for nickname in nicknames]


# -- each type is created ------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_mentions_notify_each_mentioned_account_once(rt: Runtime) -> None:
    """A new status gives every account it mentions one ``mention`` about it."""
    alice, bob, carol = await people(rt, "alice", "bob", "carol")
    status_id = await post(rt, alice, mentions=(bob, carol))
    assert received(rt, bob) == [("mention", alice.id, status_id)]
    assert received(rt, carol) == [("mention", alice.id, status_id)]
    assert received(rt, alice) == []


@pytest_twisted.ensureDeferred
async def test_favourites_and_reblogs_notify_the_author(rt: Runtime) -> None:
    """A favourite or a reblog notifies the original's author, about the original."""
    alice, bob = await people(rt, "alice", "bob")
    status_id = await post(rt, alice)
    await favourite(rt, bob, status_id)
    await reblog(rt, bob, status_id)
    assert received(rt, alice) == [
        ("favourite", bob.id, status_id), ("reblog", bob.id, status_id),
    ]  # fmt: skip
    assert received(rt, bob) == []


@pytest_twisted.ensureDeferred
async def test_favouriting_a_reblog_notifies_about_the_original(rt: Runtime) -> None:
    """A favourite given through a reblog row counts for the original status."""
    alice, bob, carol = await people(rt, "alice", "bob", "carol")
    status_id = await post(rt, alice)
    reblog_id = await reblog(rt, bob, status_id)
    await rt.db.run_interaction("favourite", hooks.on_favourite_txn, carol.id, reblog_id)
    assert received(rt, alice)[-1] == ("favourite", carol.id, status_id)
    assert received(rt, bob) == []


@pytest_twisted.ensureDeferred
async def test_a_favourite_repeated_is_notified_once(rt: Runtime) -> None:
    """Favouriting (or reblogging) the same status again, after undoing it,
    does not notify the author a second time."""
    alice, bob = await people(rt, "alice", "bob")
    status_id = await post(rt, alice)
    await favourite(rt, bob, status_id)
    query(rt.db.dsn, "DELETE FROM favourites")
    await favourite(rt, bob, status_id)
    assert received(rt, alice) == [("favourite", bob.id, status_id)]


@pytest_twisted.ensureDeferred
async def test_follows_and_follow_requests_notify_the_followed(rt: Runtime) -> None:
    """A follow, and a follow request to a locked account, notify the
    followed account with a ``follow`` that has no status."""
    alice, bob, carol = await people(rt, "alice", "bob", "carol")
    await set_user(rt, carol, locked=True)
    await follow(rt, bob, alice)
    await follow(rt, bob, carol, state="pending")
    assert received(rt, alice) == [("follow", bob.id, None)]
    assert received(rt, carol) == [("follow", bob.id, None)]


@pytest_twisted.ensureDeferred
async def test_a_repeated_follow_is_not_notified_again_while_recent(rt: Runtime) -> None:
    """Follow, unfollow, follow again: one notification while the first is
    among the 20 latest, a new one after that."""
    alice, bob, carol = await people(rt, "alice", "bob", "carol")
    await follow(rt, bob, alice)
    query(rt.db.dsn, "DELETE FROM follows")
    await follow(rt, bob, alice)
    assert received(rt, alice) == [("follow", bob.id, None)]
    for _ in range(20):
        await post(rt, carol, mentions=(alice,))
    query(rt.db.dsn, "DELETE FROM follows")
    await follow(rt, bob, alice)
    assert received(rt, alice).count(("follow", bob.id, None)) == 2


@pytest_twisted.ensureDeferred
async def test_subscribers_are_notified_of_top_level_posts_only(rt: Runtime) -> None:
    """Subscribers get a ``mention`` for each new top-level status of the
    account; a reply (a status with a parent) notifies only those it mentions."""
    alice, bob, carol = await people(rt, "alice", "bob", "carol")
    await relate(rt, "subscriptions", bob, alice)
    top = await post(rt, alice)
    reply = await post(rt, alice, reply_to=top, mentions=(carol,))
    assert received(rt, bob) == [("mention", alice.id, top)]
    assert received(rt, carol) == [("mention", alice.id, reply)]


@pytest_twisted.ensureDeferred
async def test_a_subscriber_who_is_mentioned_gets_one_notification(rt: Runtime) -> None:
    """Recipients are de-duplicated: mentioned and subscribed is one notification."""
    alice, bob = await people(rt, "alice", "bob")
    await relate(rt, "subscriptions", bob, alice)
    status_id = await post(rt, alice, mentions=(bob,))
    assert received(rt, bob) == [("mention", alice.id, status_id)]


@pytest_twisted.ensureDeferred
async def test_subscribers_see_only_what_they_may_see(rt: Runtime) -> None:
    """A subscriber is notified of a private post only as an accepted
    follower, and of a direct post only when it is addressed to them."""
    alice, follower, requester, stranger = await people(
        rt, "alice", "follower", "requester", "stranger"
    )
    await follow(rt, follower, alice)
    await follow(rt, requester, alice, state="pending")
    for subscriber in (follower, requester, stranger):
        await relate(rt, "subscriptions", subscriber, alice)
    private = await post(rt, alice, "private")
    direct = await post(rt, alice, "direct", mentions=(stranger,))
    unlisted = await post(rt, alice, "unlisted")
    assert received(rt, follower) == [
        ("mention", alice.id, private),
        ("mention", alice.id, unlisted),
    ]
    assert received(rt, requester) == [("mention", alice.id, unlisted)]
    assert received(rt, stranger) == [
        ("mention", alice.id, direct),
        ("mention", alice.id, unlisted),
    ]


@pytest_twisted.ensureDeferred
async def test_reblogs_are_not_statuses_that_notify(rt: Runtime) -> None:
    """A reblog row given to the status hook notifies no subscriber or mention."""
    alice, bob, carol = await people(rt, "alice", "bob", "carol")
    await relate(rt, "subscriptions", carol, bob)
    status_id = await post(rt, alice)
    reblog_id = await reblog(rt, bob, status_id)
    await rt.db.run_interaction("status hook", hooks.on_status_txn, reblog_id)
    assert received(rt, carol) == []


# -- who is never notified -----------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_the_actor_is_never_notified_of_itself(rt: Runtime) -> None:
    """Mentioning, favouriting and reblogging oneself notifies nobody."""
    (alice,) = await people(rt, "alice")
    status_id = await post(rt, alice, mentions=(alice,))
    await favourite(rt, alice, status_id)
    await reblog(rt, alice, status_id)
    assert received(rt, alice) == []


@pytest_twisted.ensureDeferred
async def test_deactivated_deleted_and_remote_accounts_are_not_notified(rt: Runtime) -> None:
    """Nothing is created for a deactivated, deleted or remote recipient."""
    alice, asleep, gone, remote = await people(rt, "alice", "asleep", "gone", "remote")
    asleeps_status = await post(rt, asleep)
    await set_user(rt, asleep, deactivated=True)
    await lifecycle.delete_account(rt, gone.id)
    query(rt.db.dsn, "UPDATE users SET local = false WHERE id = %s", (remote.id,))
    await post(rt, alice, mentions=(asleep, gone, remote))
    await follow(rt, alice, asleep)
    await follow(rt, alice, remote)
    await favourite(rt, alice, asleeps_status)
    assert received(rt, asleep) == received(rt, gone) == received(rt, remote) == []


@pytest_twisted.ensureDeferred
async def test_blocks_prevent_notifications(rt: Runtime) -> None:
    """An account that blocks the actor gets no notification of any type from it."""
    alice, bob = await people(rt, "alice", "bob")
    await relate(rt, "blocks", alice, bob)
    status_id = await post(rt, alice)
    await post(rt, bob, mentions=(alice,))
    await favourite(rt, bob, status_id)
    await reblog(rt, bob, status_id)
    await follow(rt, bob, alice)
    assert received(rt, alice) == []


@pytest_twisted.ensureDeferred
async def test_mutes_with_notifications_prevent_them(rt: Runtime) -> None:
    """Muting an account with notifications silences it; muting it without
    notifications does not."""
    alice, bob, carol = await people(rt, "alice", "bob", "carol")
    await relate(rt, "mutes", alice, bob, notifications=True)
    await relate(rt, "mutes", alice, carol, notifications=False)
    await post(rt, bob, mentions=(alice,))
    from_carol = await post(rt, carol, mentions=(alice,))
    assert received(rt, alice) == [("mention", carol.id, from_carol)]


@pytest_twisted.ensureDeferred
async def test_a_direct_status_notifies_only_who_may_see_it(rt: Runtime) -> None:
    """A direct or private status never notifies a mentioned account that the
    author blocks (it may not see the status)."""
    alice, bob = await people(rt, "alice", "bob")
    await relate(rt, "blocks", alice, bob)
    await post(rt, alice, "direct", mentions=(bob,))
    await post(rt, alice, "private", mentions=(bob,))
    assert received(rt, bob) == []


# Per setting turned off: an actor it excludes, and one it does not.
SETTING_CASES = {
    "followers": ("follower", "stranger"),
    "non_followers": ("stranger", "follower"),
    "follows": ("followed", "stranger"),
    "non_follows": ("stranger", "followed"),
    "local": ("stranger", "remote"),
    "remote": ("remote", "stranger"),
}


async def actor_who_is(rt: Runtime, relation: str, recipient: User, nickname: str) -> User:
    """An account that is ``recipient``'s follower, followed account, a
    stranger to it, or a remote stranger."""
    (actor,) = await people(rt, nickname)
    if relation == "follower":
        await relate(rt, "follows", actor, recipient)
    elif relation == "followed":
        await relate(rt, "follows", recipient, actor)
    elif relation == "remote":
        query(rt.db.dsn, "UPDATE users SET local = false WHERE id = %s", (actor.id,))
    return actor


@pytest.mark.parametrize("setting", sorted(SETTING_CASES))
@pytest_twisted.ensureDeferred
async def test_each_setting_excludes_its_accounts(rt: Runtime, setting: str) -> None:
    """A setting turned off suppresses notifications from the accounts it
    names (DECISIONS 20), whether they mention, favourite or reblog, and
    from no others."""
    (alice,) = await people(rt, "alice")
    excluded_relation, included_relation = SETTING_CASES[setting]
    excluded = await actor_who_is(rt, excluded_relation, alice, "excluded")
    included = await actor_who_is(rt, included_relation, alice, "included")
    await set_user(rt, alice, notification_settings={setting: False})
    status_id = await post(rt, alice)
    for actor in (excluded, included):
        await post(rt, actor, mentions=(alice,))
        await favourite(rt, actor, status_id)
        await reblog(rt, actor, status_id)
    assert {actor for _, actor, _ in received(rt, alice)} == {included.id}


@pytest_twisted.ensureDeferred
async def test_pending_follow_requests_do_not_make_followers(rt: Runtime) -> None:
    """A pending follow request does not make its sender a follower for
    ``followers: false``: the request is notified."""
    alice, requester = await people(rt, "alice", "requester")
    await set_user(rt, alice, locked=True, notification_settings={"followers": False})
    await follow(rt, requester, alice, state="pending")
    assert received(rt, alice) == [("follow", requester.id, None)]


@pytest_twisted.ensureDeferred
async def test_deleting_an_account_removes_its_notifications(rt: Runtime) -> None:
    """Account deletion removes the notifications it received and those it
    caused; the step can run again."""
    alice, bob, carol = await people(rt, "alice", "bob", "carol")
    status_id = await post(rt, carol, mentions=(alice, bob))
    await follow(rt, alice, bob)
    await post(rt, bob, mentions=(alice,))
    await favourite(rt, bob, status_id)
    await lifecycle.delete_account(rt, alice.id)
    await lifecycle.remove_content(rt, alice.id)
    await lifecycle.remove_content(rt, alice.id)
    assert query(
        rt.db.dsn, "SELECT count(*) FROM notifications WHERE %s IN (user_id, actor_id)", (alice.id,)
    ) == [(0,)]
    assert received(rt, bob) == [("mention", carol.id, status_id)]
    assert received(rt, carol) == [("favourite", bob.id, status_id)]


# -- the endpoints ---------------------------------------------------------------------------


@pytest.fixture
def api(rt: Runtime, serve: Any) -> Client:
    """The whole tree."""
    return serve(build_gateway(rt))


def stored_settings(rt: Runtime, user: User) -> dict[str, Any]:
    return query(rt.db.dsn, "SELECT notification_settings FROM users WHERE id = %s", (user.id,))[0][
        0
    ]


@pytest_twisted.ensureDeferred
async def test_settings_take_each_boolean_spelling(rt: Runtime, api: Client) -> None:
    """PUT notification_settings takes true/false, 1/0, "1"/"0", "on"/"off"
    as JSON or form values, keeps the settings not given, ignores other
    parameters and answers {"status": "success"}."""
    (alice,) = await people(rt, "alice")
    auth = await bearer(rt, alice)
    cases = [
        ({"followers": False, "follows": "false", "local": 0}, "json"),
        ({"remote": "0", "non_followers": "off", "non_follows": "on", "other": "x"}, "form"),
    ]
    for body, encoding in cases:
        kwargs = {"json": body} if encoding == "json" else {"data": body}
        response = await api.put(SETTINGS, headers=auth, **kwargs)
        assert await answer(response) == (200, {"status": "success"})
    assert stored_settings(rt, alice) == {
        "followers": False, "follows": False, "local": False, "remote": False,
        "non_followers": False, "non_follows": True,
    }  # fmt: skip
    for body in ({"followers": True}, {"follows": "true"}, {"local": 1}, {"remote": "1"}):
        assert (await api.put(SETTINGS, headers=auth, json=body)).code == 200
    assert stored_settings(rt, alice) == {
        "followers": True, "follows": True, "local": True, "remote": True,
        "non_followers": False, "non_follows": True,
    }  # fmt: skip
    response = await api.get("/api/v1/accounts/verify_credentials", headers=auth)
    assert (await response.json())["pleroma"]["notification_settings"]["non_followers"] is False


@pytest.mark.parametrize("value", ["yes", "", "2", 2, None, [True], {"a": 1}, "truthy"])
@pytest_twisted.ensureDeferred
async def test_settings_refuse_anything_else(rt: Runtime, api: Client, value: Any) -> None:
    """Any other value is a 400 and changes nothing, not even the valid
    settings sent with it."""
    (alice,) = await people(rt, "alice")
    auth = await bearer(rt, alice)
    body = {"follows": False, "followers": value}
    response = await api.put(SETTINGS, headers=auth, json=body)
    if value is None:  # JSON null is "not given"
        assert response.code == 200
        return
    code, error = await answer(response)
    assert code == 400 and "followers" in error["error"]
    assert stored_settings(rt, alice) == {}


@pytest_twisted.ensureDeferred
async def test_settings_need_the_write_scope(rt: Runtime, api: Client) -> None:
    """A read-only token may not change the settings; no credentials is 403."""
    (alice,) = await people(rt, "alice")
    auth = await bearer(rt, alice, ["read"])
    response = await api.put(SETTINGS, headers=auth, json={"follows": False})
    assert await answer(response) == (403, {"error": "Insufficient permissions: write."})
    assert (await api.put(SETTINGS, json={"follows": False})).code == 403
    assert stored_settings(rt, alice) == {}


async def listed(
    api: Client, auth: dict[str, str], path: str = NOTIFICATIONS, **params: Any
) -> Any:
    response = await api.get(path, headers=auth, params=params)
    assert response.code == 200, await response.text()
    return response, await response.json()


def ids_of(body: list[dict[str, Any]]) -> list[str]:
    return [n["id"] for n in body]


async def followed_by_many(rt: Runtime, target: User, count: int) -> list[User]:
    """``count`` new accounts follow ``target``, oldest first."""
    followers = await people(rt, *(f"fan{i}" for i in range(count)))
    for fan in followers:
        await follow(rt, fan, target)
    return followers


def notification_ids(rt: Runtime, user: User) -> list[str]:
    """Every notification id of ``user``, newest first, as the API writes them."""
    rows = query(
        rt.db.dsn, "SELECT id FROM notifications WHERE user_id = %s ORDER BY id DESC", (user.id,)
    )
    return [str(row[0]) for row in rows]


@pytest_twisted.ensureDeferred
async def test_listing_renders_every_type_newest_first(rt: Runtime, api: Client) -> None:
    """Each notification has a string id, its type, a Mastodon date, the
    actor's Account, is_seen, and for mentions, favourites and reblogs the
    Status concerned (the original for favourites and reblogs)."""
    alice, bob = await people(rt, "alice", "bob")
    mine = await post(rt, alice)
    mention = await post(rt, bob, mentions=(alice,))
    await favourite(rt, bob, mine)
    await reblog(rt, bob, mine)
    await follow(rt, bob, alice)
    _, body = await listed(api, await bearer(rt, alice))
    assert ids_of(body) == notification_ids(rt, alice)
    assert [n["type"] for n in body] == ["follow", "reblog", "favourite", "mention"]
    for n in body:
        assert MASTO_DATE.match(n["created_at"])
        assert n["account"]["id"] == str(bob.id) and n["account"]["acct"] == "bob"
        assert n["pleroma"] == {"is_seen": False}
    follow_n, reblog_n, favourite_n, mention_n = body
    assert set(follow_n) == {"id", "type", "created_at", "account", "pleroma"}
    assert reblog_n["status"]["id"] == favourite_n["status"]["id"] == str(mine)
    assert mention_n["status"]["id"] == str(mention)
    assert mention_n["status"]["account"]["id"] == str(bob.id)


@pytest_twisted.ensureDeferred
async def test_pages_and_link_headers(rt: Runtime, api: Client) -> None:
    """``limit`` with ``max_id`` / ``since_id`` / ``min_id`` walk the list by
    id; the Link header's next (max_id = last) and prev (min_id = first) point
    at the same endpoint with its other parameters."""
    (alice,) = await people(rt, "alice")
    await followed_by_many(rt, alice, 5)
    every = notification_ids(rt, alice)
    auth = await bearer(rt, alice)
    response, body = await listed(api, auth, limit="2", **{"exclude_types[]": "mention"})
    assert ids_of(body) == every[:2]
    (link,) = response.headers.getRawHeaders("link")
    base = f"{rt.config.server.base_url}{NOTIFICATIONS}?"
    assert f'<{base}limit=2&exclude_types%5B%5D=mention&max_id={every[1]}>; rel="next"' in link
    assert f'<{base}limit=2&exclude_types%5B%5D=mention&min_id={every[0]}>; rel="prev"' in link
    _, body = await listed(api, auth, limit="2", max_id=every[1])
    assert ids_of(body) == every[2:4]
    _, body = await listed(api, auth, limit="2", min_id=every[4])
    assert ids_of(body) == every[2:4]
    _, body = await listed(api, auth, limit="2", since_id=every[4])
    assert ids_of(body) == every[:2]
    _, body = await listed(api, auth, max_id=every[3], since_id=every[0])
    assert body == []
    response, body = await listed(api, auth, max_id=every[-1])
    assert body == [] and response.headers.getRawHeaders("link") is None


@pytest_twisted.ensureDeferred
async def test_limit_is_clamped_and_checked(rt: Runtime, api: Client) -> None:
    """``limit`` above 80 reads 80; a limit that is not a number is a 400."""
    (alice,) = await people(rt, "alice")
    await followed_by_many(rt, alice, 3)
    auth = await bearer(rt, alice)
    _, body = await listed(api, auth, limit="1000")
    assert len(body) == 3
    response = await api.get(NOTIFICATIONS, headers=auth, params={"limit": "many"})
    assert response.code == 400
    response = await api.get(NOTIFICATIONS, headers=auth, params={"max_id": "x"})
    assert response.code == 400


@pytest_twisted.ensureDeferred
async def test_exclude_types_in_every_spelling(rt: Runtime, api: Client) -> None:
    """``exclude_types[]`` (and a single ``exclude_types``) leave those types
    out, unknown names are ignored; ``types[]`` keeps only those."""
    alice, bob = await people(rt, "alice", "bob")
    mine = await post(rt, alice)
    await post(rt, bob, mentions=(alice,))
    await favourite(rt, bob, mine)
    await follow(rt, bob, alice)
    auth = await bearer(rt, alice)

    async def types(**params: Any) -> list[str]:
        return [n["type"] for n in (await listed(api, auth, **params))[1]]

    assert await types(**{"exclude_types[]": ["follow", "mention", "poll"]}) == ["favourite"]
    assert await types(exclude_types="follow") == ["favourite", "mention"]
    assert await types(**{"types[]": ["mention", "follow"]}) == ["follow", "mention"]
    response = await api.get(NOTIFICATIONS, headers=auth, json={"exclude_types": ["favourite"]})
    assert [n["type"] for n in await response.json()] == ["follow", "mention"]


@pytest_twisted.ensureDeferred
async def test_one_notification_is_for_its_owner_only(rt: Runtime, api: Client) -> None:
    """GET /api/v1/notifications/:id shows the reader's notification; another
    account's, an unknown or a malformed id is 404 Record not found."""
    alice, bob = await people(rt, "alice", "bob")
    await follow(rt, bob, alice)
    (nid,) = notification_ids(rt, alice)
    response = await api.get(f"{NOTIFICATIONS}/{nid}", headers=await bearer(rt, alice))
    code, body = await answer(response)
    assert code == 200 and body["id"] == nid and body["type"] == "follow"
    bob_auth = await bearer(rt, bob)
    for other in (nid, "1", "abc", "99999999999999999999999"):
        response = await api.get(f"{NOTIFICATIONS}/{other}", headers=bob_auth)
        assert await answer(response) == (404, {"error": "Record not found"})


@pytest_twisted.ensureDeferred
async def test_reading_marks_seen_for_the_owner_only(rt: Runtime, api: Client) -> None:
    """POST /api/pleroma/notifications/read marks one notification seen
    (again is fine); another account's or an unknown one is 403 "Cannot get
    notification" and stays unseen; it needs the write scope (DECISIONS 15)."""
    alice, bob, carol = await people(rt, "alice", "bob", "carol")
    await follow(rt, bob, alice)
    await follow(rt, carol, alice)
    newest, oldest = notification_ids(rt, alice)
    auth = await bearer(rt, alice)
    for _ in range(2):
        response = await api.post(READ, headers=auth, data={"id": oldest})
        assert await answer(response) == (200, {"status": "success"})
    _, body = await listed(api, auth)
    assert [n["pleroma"]["is_seen"] for n in body] == [False, True]
    bob_auth = await bearer(rt, bob)
    for other in (newest, "12", "x", 2**70):
        response = await api.post(READ, headers=bob_auth, json={"id": other})
        assert await answer(response) == (403, {"error": "Cannot get notification"})
    response = await api.post(READ, headers=auth)
    assert await answer(response) == (400, {"error": "Missing field: id"})
    response = await api.post(READ, headers=await bearer(rt, alice, ["read"]), data={"id": newest})
    assert await answer(response) == (403, {"error": "Insufficient permissions: write."})
    assert query(rt.db.dsn, "SELECT count(*) FROM notifications WHERE seen") == [(1,)]


@pytest_twisted.ensureDeferred
async def test_dismiss_and_clear_touch_only_the_readers_own(rt: Runtime, api: Client) -> None:
    """dismiss (``id``, or in the path) deletes one of the reader's
    notifications, another's is 403 "Cannot dismiss notification"; clear
    deletes all of the reader's and nobody else's; both answer {}."""
    alice, bob, carol, dave = await people(rt, "alice", "bob", "carol", "dave")
    for fan in (bob, carol, dave):
        await follow(rt, fan, alice)
    await follow(rt, alice, bob)
    third, second, first = notification_ids(rt, alice)
    auth = await bearer(rt, alice)
    response = await api.post(f"{NOTIFICATIONS}/dismiss", headers=auth, data={"id": second})
    assert await answer(response) == (200, {})
    response = await api.post(f"{NOTIFICATIONS}/{first}/dismiss", headers=auth)
    assert await answer(response) == (200, {})
    assert notification_ids(rt, alice) == [third]
    bob_auth = await bearer(rt, bob)
    for other in (third, "x"):
        response = await api.post(f"{NOTIFICATIONS}/dismiss", headers=bob_auth, data={"id": other})
        assert await answer(response) == (403, {"error": "Cannot dismiss notification"})
    response = await api.post(f"{NOTIFICATIONS}/dismiss", headers=auth)
    assert await answer(response) == (400, {"error": "Missing field: id"})
    response = await api.post(f"{NOTIFICATIONS}/clear", headers=auth)
    assert await answer(response) == (200, {})
    assert notification_ids(rt, alice) == [] and len(notification_ids(rt, bob)) == 1


@pytest_twisted.ensureDeferred
async def test_endpoints_need_credentials_and_the_read_scope(rt: Runtime, api: Client) -> None:
    """Every notification endpoint is 403 without credentials or the read scope."""
    (alice,) = await people(rt, "alice")
    write_only = await bearer(rt, alice, ["write"])
    calls = [
        ("GET", NOTIFICATIONS), ("GET", f"{NOTIFICATIONS}/1"), ("POST", f"{NOTIFICATIONS}/clear"),
        ("POST", f"{NOTIFICATIONS}/dismiss"),
    ]  # fmt: skip
    for method, path in calls:
        response = await api.request(method, path)
        assert await answer(response) == (403, {"error": "Invalid credentials."})
        response = await api.request(method, path, headers=write_only)
        assert await answer(response) == (403, {"error": "Insufficient permissions: read."})


@pytest_twisted.ensureDeferred
async def test_listing_hides_what_the_reader_should_not_see(rt: Runtime, api: Client) -> None:
    """Listed and fetched notifications leave out actors since deactivated,
    actors since blocked or muted (unless ``with_muted``), and statuses the
    reader may no longer see (a private post after unfollowing)."""
    alice, bob, carol, dave = await people(rt, "alice", "bob", "carol", "dave")
    await follow(rt, alice, dave)
    await relate(rt, "subscriptions", alice, dave)
    await post(rt, dave, "private")
    await follow(rt, bob, alice)
    await follow(rt, carol, alice)
    assert len(notification_ids(rt, alice)) == 3
    auth = await bearer(rt, alice)
    query(rt.db.dsn, "DELETE FROM follows WHERE follower_id = %s", (alice.id,))
    await set_user(rt, bob, deactivated=True)
    await relate(rt, "mutes", alice, carol, notifications=True)
    _, body = await listed(api, auth)
    assert body == []
    _, body = await listed(api, auth, with_muted="true")
    assert [n["account"]["id"] for n in body] == [str(carol.id)]
    for nid in notification_ids(rt, alice):
        response = await api.get(f"{NOTIFICATIONS}/{nid}", headers=auth)
        assert response.code == (200 if nid == body[0]["id"] else 404)


@pytest_twisted.ensureDeferred
async def test_the_social_endpoints_notify(rt: Runtime, api: Client) -> None:
    """Posting with a mention, favouriting, reblogging, following and
    subscribing through the API notify as the hooks promise: the mentioned,
    the author, the followed and the subscribers; a private post reaches
    neither a mentioned account it blocks nor a subscriber who may not see it."""
    alice, bob, carol, dave = await people(rt, "alice", "bob", "carol", "dave")
    alice_auth, bob_auth, carol_auth, dave_auth = [
        await bearer(rt, u) for u in (alice, bob, carol, dave)
    ]

    async def call(path: str, auth: dict[str, str], **data: Any) -> Any:
        response = await api.post(path, headers=auth, json=data)
        assert response.code == 200, await response.text()
        return await response.json()

    await call(f"/api/v1/pleroma/accounts/{alice.id}/subscribe", carol_auth)
    await call(f"/api/v1/accounts/{alice.id}/follow", bob_auth)
    status = await call("/api/v1/statuses", alice_auth, status="hi @bob")
    await call(f"/api/v1/statuses/{status['id']}/favourite", bob_auth)
    await call(f"/api/v1/statuses/{status['id']}/reblog", bob_auth)
    await call(f"/api/v1/accounts/{dave.id}/block", alice_auth)
    await call("/api/v1/statuses", alice_auth, status="hush @dave", visibility="private")
    await call("/api/v1/statuses", alice_auth, status="@bob a reply", in_reply_to_id=status["id"])
    _, body = await listed(api, alice_auth)
    assert [(n["type"], n["account"]["acct"]) for n in body] == [
        ("reblog", "bob"), ("favourite", "bob"), ("follow", "bob"),
    ]  # fmt: skip
    assert body[0]["status"]["reblogged"] is False and body[0]["status"]["reblogs_count"] == 1
    _, body = await listed(api, bob_auth)
    assert [n["status"]["content"] for n in body][-1].startswith("hi ")
    assert [n["status"]["in_reply_to_id"] for n in body] == [status["id"], None]
    _, body = await listed(api, carol_auth)
    assert [n["status"]["id"] for n in body] == [status["id"]]
    assert (await listed(api, dave_auth))[1] == []
    assert received(rt, dave) == []
