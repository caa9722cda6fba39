"""Reports: Mastodon's POST /api/v1/reports and the Admin API's reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest_twisted

from pleromad.domain.reports import apply_flag
from pleromad.runtime import Runtime
from tests.conftest import Client
from tests.helpers import query
from tests.test_activitypub import remote_user
from tests.test_admin import ADMIN, NOT_FOUND, Cast, bearer, cast
from tests.test_auth import make_token, make_user

REPORTS = "SELECT state, comment, category FROM reports ORDER BY id"


@dataclass
class Scene:
    people: Cast
    as_alice: dict[str, str]
    as_bob: dict[str, str]
    bob_id: str
    status: str


async def post(client: Client, headers: dict[str, str], text: str, visibility: str) -> str:
    r = await client.post(
        "/api/v1/statuses", headers=headers, json={"status": text, "visibility": visibility}
    )
    assert r.code == 200
    return (await r.json())["id"]


async def scene(rt: Runtime, client: Client) -> Scene:
    """The admin cast, bob, and a public post of bob's."""
    people = await cast(rt)
    bob = await make_user(rt, "bob")
    as_bob = bearer(await make_token(rt, bob, ["read", "write"]))
    return Scene(
        people=people,
        as_alice=bearer(await make_token(rt, people.alice, ["read", "write"])),
        as_bob=as_bob,
        bob_id=str(bob.id),
        status=await post(client, as_bob, "rude words", "public"),
    )


async def report(client: Client, s: Scene, **data: Any) -> Any:
    r = await client.post(
        "/api/v1/reports", headers=s.as_alice, json={"account_id": s.bob_id, **data}
    )
    return r.code, await r.json()


@pytest_twisted.ensureDeferred
async def test_the_reporter_sees_only_what_it_sent(rt: Runtime, client: Client) -> None:
    """The reporter gets Mastodon's Report entity: what it reported, nothing
    about the report's state or who handles it."""
    s = await scene(rt, client)
    code, body = await report(client, s, status_ids=[s.status], comment="spam!", forward=True)
    assert code == 200, body
    assert set(body) == {
        "id",
        "action_taken",
        "action_taken_at",
        "category",
        "comment",
        "forwarded",
        "created_at",
        "status_ids",
        "rule_ids",
        "target_account",
    }
    assert (body["status_ids"], body["comment"], body["category"]) == ([s.status], "spam!", "other")
    assert body["forwarded"] is False  # bob is local: nothing to forward
    assert body["target_account"]["acct"] == "bob"


@pytest_twisted.ensureDeferred
async def test_a_forwarded_report_flags_the_remote_account_to_its_server(
    rt: Runtime, client: Client
) -> None:
    """forward=true about a remote account queues one Flag of it, from the
    instance actor, to its server's shared inbox; without forward, none."""
    s = await scene(rt, client)
    remote_id = remote_user(rt, "troll")
    code, body = await report(client, s, account_id=str(remote_id), comment="spam")
    assert code == 200 and body["forwarded"] is False
    assert query(rt.db.dsn, "SELECT count(*) FROM jobs WHERE kind = 'federation.deliver'") == [(0,)]
    code, body = await report(
        client, s, account_id=str(remote_id), comment="really spam", forward=True
    )
    assert code == 200 and body["forwarded"] is True
    [(payload,)] = query(rt.db.dsn, "SELECT payload FROM jobs WHERE kind = 'federation.deliver'")
    flag = payload["activity"]
    assert payload["inbox"] == "https://remote.example/inbox"
    assert (flag["type"], flag["object"], flag["content"]) == (
        "Flag",
        ["https://remote.example/users/troll"],
        "really spam",
    )
    assert flag["actor"] == rt.config.server.base_url + "/internal/fetch"


@pytest_twisted.ensureDeferred
async def test_bad_reports_are_refused_and_nothing_is_filed(
    rt: Runtime, client: Client, dsn: str
) -> None:
    """An unknown account, a status that is not the account's, one the
    reporter cannot see, or not a status id at all is 404; an unknown
    category or an overlong comment 422; nothing is filed."""
    s = await scene(rt, client)
    private = await post(client, s.as_bob, "secret", "private")
    mine = await post(client, s.as_alice, "mine", "public")
    for data, code in (
        ({"account_id": "999999"}, 404),
        ({"account_id": "nope"}, 404),
        ({"status_ids": [mine]}, 404),
        ({"status_ids": [private]}, 404),
        ({"status_ids": ["not-a-status"]}, 404),
        ({"category": "rudeness"}, 422),
        ({"comment": "x" * 1001}, 422),
        ({"account_id": None}, 400),
    ):
        got, body = await report(client, s, **data)
        assert (data, got) == (data, code), body
        assert "error" in body
    assert query(dsn, "SELECT count(*) FROM reports") == [(0,)]


@pytest_twisted.ensureDeferred
async def test_moderators_list_show_and_resolve_reports(
    rt: Runtime, client: Client, dsn: str
) -> None:
    """Admins and moderators list reports newest first (with `state` and
    pages), see one with the reported account, the reporter and the statuses
    as they were (the author deleting one hides nothing), and change the
    state of several at once; each change is in the moderation log."""
    s = await scene(rt, client)
    _, first = await report(client, s, status_ids=[s.status], comment="one")
    _, second = await report(client, s, comment="two", category="spam")
    r = await client.request("DELETE", f"/api/v1/statuses/{s.status}", headers=s.as_bob)
    assert r.code == 200

    r = await client.get(f"{ADMIN}/reports", headers=s.people.as_moderator)
    assert r.code == 200
    body = await r.json()
    assert body["totals"] == 2
    assert [x["id"] for x in body["reports"]] == [second["id"], first["id"]]
    shown = body["reports"][1]
    assert shown["state"] == "open" and shown["content"] == "one"
    assert shown["account"]["nickname"] == "bob" and shown["actor"]["nickname"] == "alice"
    assert [x["content"] for x in shown["statuses"]] == ["rude words"]
    assert shown["notes"] == []

    r = await client.get(f"{ADMIN}/reports/{first['id']}", headers=s.people.as_admin)
    assert (r.code, await r.json()) == (200, shown)

    r = await client.request(
        "PATCH",
        f"{ADMIN}/reports",
        headers=s.people.as_moderator,
        json={
            "reports": [
                {"id": first["id"], "state": "resolved"},
                {"id": second["id"], "state": "closed"},
            ]
        },
    )
    assert r.code == 204
    assert query(dsn, REPORTS) == [("resolved", "one", "other"), ("closed", "two", "spam")]
    r = await client.get(
        f"{ADMIN}/reports", headers=s.people.as_admin, params={"state": "closed", "page_size": "1"}
    )
    assert [x["id"] for x in (await r.json())["reports"]] == [second["id"]]
    assert query(dsn, "SELECT message FROM moderation_log ORDER BY id") == [
        (f"@mod updated report #{first['id']} (on user @bob) with 'resolved' state",),
        (f"@mod updated report #{second['id']} (on user @bob) with 'closed' state",),
    ]


@pytest_twisted.ensureDeferred
async def test_malformed_report_changes_are_refused(rt: Runtime, client: Client, dsn: str) -> None:
    """An unknown state is 400, an unknown report 404, a note on a closed
    report 400; nothing changes."""
    s = await scene(rt, client)
    _, filed = await report(client, s)
    for reports, code in (
        ([{"id": filed["id"], "state": "resolved"}, {"id": filed["id"], "state": "x"}], 400),
        ([{"id": filed["id"], "state": "resolved"}, {"id": "12345", "state": "closed"}], 404),
        ([], 400),
        ("nope", 400),
    ):
        r = await client.request(
            "PATCH", f"{ADMIN}/reports", headers=s.people.as_admin, json={"reports": reports}
        )
        assert (reports, r.code) == (reports, code)
    for params in ({"state": "x"}, {"page": "0"}):
        r = await client.get(f"{ADMIN}/reports", headers=s.people.as_admin, params=params)
        assert r.code == 400
    for ref in ("12345", "x"):
        r = await client.get(f"{ADMIN}/reports/{ref}", headers=s.people.as_admin)
        assert (r.code, await r.json()) == (404, NOT_FOUND)
    assert query(dsn, REPORTS) == [("open", "", "other")]
    await rt.db.run_interaction(
        "close", lambda txn: txn.execute("UPDATE reports SET state = 'closed'")
    )
    r = await client.post(
        f"{ADMIN}/reports/{filed['id']}/notes", headers=s.people.as_admin, json={"content": "hm"}
    )
    assert (r.code, await r.json()) == (400, {"error": "The report is closed"})
    assert query(dsn, "SELECT count(*) FROM report_notes") == [(0,)]


@pytest_twisted.ensureDeferred
async def test_report_notes(rt: Runtime, client: Client, dsn: str) -> None:
    """Staff add notes to a report (shown with their author) and delete
    them; an unknown note is 404."""
    s = await scene(rt, client)
    _, filed = await report(client, s)
    notes = f"{ADMIN}/reports/{filed['id']}/notes"
    r = await client.post(notes, headers=s.people.as_moderator, json={"content": "looking"})
    assert r.code == 204
    r = await client.get(f"{ADMIN}/reports/{filed['id']}", headers=s.people.as_admin)
    (note,) = (await r.json())["notes"]
    assert (note["content"], note["user"]["nickname"]) == ("looking", "mod")
    r = await client.request("DELETE", f"{notes}/12345", headers=s.people.as_admin)
    assert (r.code, await r.json()) == (404, NOT_FOUND)
    r = await client.request("DELETE", f"{notes}/{note['id']}", headers=s.people.as_admin)
    assert r.code == 204
    assert query(dsn, "SELECT count(*) FROM report_notes") == [(0,)]
    assert query(dsn, "SELECT message FROM moderation_log ORDER BY id") == [
        (f"@mod added note 'looking' to report #{filed['id']}",),
        (f"@root deleted note 'looking' from report #{filed['id']}",),
    ]


# -- status moderation (here for the scene: bob's posts) ------------------------------


@pytest_twisted.ensureDeferred
async def test_staff_list_statuses_with_godmode(rt: Runtime, client: Client) -> None:
    """`GET .../statuses` lists everyone's statuses newest first: public and
    unlisted ones, private and direct ones with `godmode`, reblogs with
    `with_reblogs`; one status is shown whoever may see it."""
    s = await scene(rt, client)
    private = await post(client, s.as_bob, "secret", "private")
    r = await client.post(f"/api/v1/statuses/{s.status}/reblog", headers=s.as_alice)
    assert r.code == 200

    async def contents(**params: Any) -> list[str]:
        r = await client.get(f"{ADMIN}/statuses", headers=s.people.as_moderator, params=params)
        assert r.code == 200
        return ["reblog" if x["reblog"] else x["content"] for x in await r.json()]

    assert await contents() == ["rude words"]
    assert await contents(godmode="true") == ["secret", "rude words"]
    assert await contents(godmode="1", with_reblogs="1") == ["reblog", "secret", "rude words"]
    assert await contents(godmode="1", page="2", page_size="1") == ["rude words"]
    r = await client.get(f"{ADMIN}/statuses/{private}", headers=s.people.as_admin)
    assert (r.code, (await r.json())["content"]) == (200, "secret")
    for ref in ("123456", "x"):
        r = await client.get(f"{ADMIN}/statuses/{ref}", headers=s.people.as_admin)
        assert (r.code, await r.json()) == (404, NOT_FOUND)


@pytest_twisted.ensureDeferred
async def test_staff_update_and_delete_statuses(rt: Runtime, client: Client, dsn: str) -> None:
    """PUT changes `sensitive` and `visibility` (an unknown visibility is a
    400, an unknown status a 404, nothing changing); DELETE removes any
    status, even one the moderator cannot see; both are logged."""
    s = await scene(rt, client)
    private = await post(client, s.as_bob, "secret", "direct")
    flags = "SELECT content, sensitive, visibility FROM statuses ORDER BY id"
    before = query(dsn, flags)
    for ref, data, code in (
        (s.status, {"visibility": "friends"}, 400),
        (s.status, {"sensitive": "maybe"}, 400),
        ("123456", {"sensitive": True}, 404),
        ("not-a-status", {"sensitive": True}, 404),
    ):
        r = await client.put(f"{ADMIN}/statuses/{ref}", headers=s.people.as_admin, json=data)
        assert (ref, r.code) == (ref, code)
    assert query(dsn, flags) == before
    r = await client.put(
        f"{ADMIN}/statuses/{s.status}",
        headers=s.people.as_moderator,
        json={"sensitive": True, "visibility": "unlisted"},
    )
    assert r.code == 200
    body = await r.json()
    assert (body["sensitive"], body["visibility"]) == (True, "unlisted")
    r = await client.request("DELETE", f"{ADMIN}/statuses/{private}", headers=s.people.as_moderator)
    assert (r.code, await r.json()) == (200, {})
    r = await client.request("DELETE", f"{ADMIN}/statuses/{private}", headers=s.people.as_admin)
    assert (r.code, await r.json()) == (404, NOT_FOUND)
    assert query(dsn, flags) == [("rude words", True, "unlisted")]
    assert query(dsn, "SELECT message FROM moderation_log ORDER BY id") == [
        (f"@mod updated status ID {s.status}, set sensitive: 'true', visibility: 'unlisted'",),
        (f"@mod deleted status ID {private}",),
    ]


@pytest_twisted.ensureDeferred
async def test_staff_are_notified_of_new_reports(rt: Runtime, client: Client) -> None:
    """Every admin and moderator gets a `pleroma:report` notification whose
    `report` is the report as moderators see it; the reporter and the
    reported account get nothing."""
    s = await scene(rt, client)
    _, filed = await report(client, s, status_ids=[s.status], comment="look")

    async def notifications(headers: dict[str, str]) -> list[Any]:
        r = await client.get("/api/v1/notifications", headers=headers)
        assert r.code == 200
        return await r.json()

    for headers in (s.people.as_admin, s.people.as_moderator):
        (notification,) = await notifications(headers)
        assert notification["type"] == "pleroma:report"
        assert notification["account"]["acct"] == "alice"
        assert notification["report"]["id"] == filed["id"]
        assert notification["report"]["content"] == "look"
    assert await notifications(s.as_alice) == []
    assert await notifications(s.as_bob) == []


@pytest_twisted.ensureDeferred
async def test_an_incoming_flag_becomes_a_report(rt: Runtime, client: Client, dsn: str) -> None:
    """A Flag naming one of our accounts (and its statuses, by their Note
    ids) is filed as a report by its actor, with its content as the
    comment; the same Flag again files nothing more, and a Flag naming
    nobody of ours is dropped."""
    s = await scene(rt, client)
    ((bob_ap_id, uuid),) = query(
        dsn,
        "SELECT u.ap_id, s.object_uuid::text FROM statuses s JOIN users u ON u.id = s.account_id"
        " WHERE s.id = %s",
        (int(s.status),),
    )
    flag = {
        "type": "Flag",
        "id": "https://remote.example/flags/1",
        "object": [bob_ap_id, f"{rt.config.server.base_url}/objects/{uuid}"],
        "content": "from afar",
    }
    await apply_flag(rt, flag, s.people.alice)
    await apply_flag(rt, flag, s.people.alice)
    await apply_flag(
        rt, {**flag, "id": "https://remote.example/flags/2", "object": []}, s.people.alice
    )
    assert query(dsn, REPORTS) == [("open", "from afar", "other")]
    r = await client.get(f"{ADMIN}/reports", headers=s.people.as_admin)
    (shown,) = (await r.json())["reports"]
    assert shown["account"]["nickname"] == "bob"
    assert [x["id"] for x in shown["statuses"]] == [s.status]
