"""Idempotency-Key on every POST, PUT and PATCH of a user (DECISIONS 26):
replays, what is not remembered, expiry, concurrent requests, a request in
progress, the statuses' exactly-once path and the document's word for it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
import pytest_twisted
from twisted.internet.defer import CancelledError, Deferred, gatherResults
from twisted.internet.task import Clock

from pleromad.db.pool import DatabaseUnavailable
from pleromad.domain import idempotency, relationships, statuses
from pleromad.domain.statuses import StatusForm
from pleromad.model import Claim
from pleromad.runtime import Runtime
from pleromad.web.root import build_gateway, served_routes
from tests import contract
from tests.conftest import Answer, Client
from tests.helpers import eventually, query
from tests.test_accounts import bearer, make_user
from tests.test_media import MEDIA_V1, image_bytes
from tests.test_relationships import follow_state

ACCOUNTS = "/api/v1/accounts"
REPLAYED = "idempotent-replayed"
IN_PROGRESS = {"error": "A request with this Idempotency-Key is in progress"}


def count(rt: Runtime, sql: str, args: Any = None) -> int:
    return query(rt.db.dsn, sql, args)[0][0]


def keys(rt: Runtime) -> int:
    return count(rt, "SELECT count(*) FROM idempotency_keys")


def header(response: Answer, name: str) -> list[str] | None:
    return response.headers.getRawHeaders(name)


def keyed(headers: dict[str, str], key: str | list[str]) -> dict[str, Any]:
    return {**headers, "Idempotency-Key": key}


def follow(client: Client, headers: dict[str, Any], account_id: int | str) -> Deferred[Answer]:
    return client.post(f"{ACCOUNTS}/{account_id}/follow", headers=headers)


def upload(client: Client, headers: dict[str, Any]) -> Deferred[Answer]:
    return client.post(
        MEDIA_V1, headers=headers, files={"file": ("pic.png", "image/png", image_bytes())}
    )


def describe(client: Client, headers: dict[str, Any], media_id: str, text: str) -> Deferred[Answer]:
    return client.put(f"{MEDIA_V1}/{media_id}", headers=headers, data={"description": text})


@pytest_twisted.ensureDeferred
async def test_a_follow_sent_again_is_the_first_answer_and_runs_once(
    rt: Runtime, client: Client
) -> None:
    """The replay answers the first Relationship with ``Idempotent-Replayed``
    (and the first request's id) and does not run: an unfollow in between
    stays, no second notification."""
    alice, bob = await make_user(rt, "alice"), await make_user(rt, "bob")
    plain = await bearer(rt, alice)
    with_key = keyed(plain, "follow-1")
    first = await follow(client, with_key, bob.id)
    assert first.code == 200 and (await first.json())["following"] is True
    assert header(first, "idempotency-key") == ["follow-1"]
    assert header(first, REPLAYED) is None
    notified = "SELECT count(*) FROM notifications WHERE user_id = %s"
    assert count(rt, notified, (bob.id,)) == 1

    assert (await client.post(f"{ACCOUNTS}/{bob.id}/unfollow", headers=plain)).code == 200
    again = await follow(client, with_key, bob.id)
    assert again.code == 200 and await again.json() == await first.json()
    assert header(again, "idempotency-key") == ["follow-1"]
    assert header(again, REPLAYED) == ["true"]
    assert follow_state(rt, alice, bob) is None
    assert count(rt, notified, (bob.id,)) == 1
    # Both name the request that answered first, as the reference does.
    [first_id] = header(first, "x-request-id")
    assert header(first, "x-original-request-id") == [first_id]
    assert header(again, "x-original-request-id") == [first_id]
    assert header(again, "x-request-id") != [first_id]


@pytest_twisted.ensureDeferred
async def test_a_put_sent_again_is_the_first_answer(rt: Runtime, client: Client) -> None:
    """PUT /api/v1/media/:id under a key: the replay answers the first
    description although another was set since, and sets nothing."""
    alice = await make_user(rt, "alice")
    plain = await bearer(rt, alice)
    media_id = (await (await upload(client, plain)).json())["id"]
    with_key = keyed(plain, "put-1")
    first = await describe(client, with_key, media_id, "first")
    assert first.code == 200 and (await first.json())["description"] == "first"
    assert (await describe(client, plain, media_id, "second")).code == 200
    again = await describe(client, with_key, media_id, "third")
    assert again.code == 200 and await again.json() == await first.json()
    assert header(again, REPLAYED) == ["true"]
    stored = "SELECT description FROM media WHERE id = %s"
    assert query(rt.db.dsn, stored, (int(media_id),)) == [("second",)]


@pytest_twisted.ensureDeferred
async def test_keys_are_per_user_and_request(rt: Runtime, client: Client) -> None:
    """The same key from another user, or to another route or path, runs."""
    alice, bob, carol = [await make_user(rt, n) for n in ("alice", "bob", "carol")]
    as_alice = keyed(await bearer(rt, alice), "same")
    as_bob = keyed(await bearer(rt, bob), "same")
    assert (await follow(client, as_alice, carol.id)).code == 200
    by_bob = await follow(client, as_bob, carol.id)
    assert by_bob.code == 200 and header(by_bob, REPLAYED) is None
    assert follow_state(rt, bob, carol) == "accepted"
    elsewhere = await follow(client, as_alice, bob.id)
    assert elsewhere.code == 200 and header(elsewhere, REPLAYED) is None
    assert follow_state(rt, alice, bob) == "accepted"
    muted = await client.post(f"{ACCOUNTS}/{carol.id}/mute", headers=as_alice)
    assert (await muted.json())["muting"] is True and header(muted, REPLAYED) is None
    assert keys(rt) == 4


@pytest_twisted.ensureDeferred
async def test_what_is_not_remembered(rt: Runtime, client: Client) -> None:
    """Two Idempotency-Key headers, an empty one, and anonymous requests run
    every time and leave no key; a key over 512 characters is a 400."""
    alice = await make_user(rt, "alice")
    plain = await bearer(rt, alice)
    media_id = (await (await upload(client, plain)).json())["id"]
    for sent in (["a", "b"], ["a", "a"], ""):
        for text in ("one", "two"):
            response = await describe(client, keyed(plain, sent), media_id, text)
            assert (await response.json())["description"] == text
            assert header(response, "idempotency-key") is None
    apps = []
    for _ in range(2):
        response = await client.post(
            "/api/v1/apps",
            headers={"Idempotency-Key": "anon"},
            data={"client_name": "x", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob"},
        )
        assert response.code == 200 and header(response, "idempotency-key") is None
        apps.append((await response.json())["client_id"])
    assert apps[0] != apps[1]
    assert keys(rt) == 0

    oversized = await describe(client, keyed(plain, "k" * 513), media_id, "three")
    assert (oversized.code, await oversized.json()) == (400, {"error": "Invalid Idempotency-Key"})
    longest = await describe(client, keyed(plain, "k" * 512), media_id, "four")
    assert longest.code == 200 and keys(rt) == 1


@pytest_twisted.ensureDeferred
async def test_a_refused_request_does_not_use_up_its_key(rt: Runtime, client: Client) -> None:
    """Only answers below 400 are remembered: after a 404 the same key runs."""
    alice, bob = await make_user(rt, "alice"), await make_user(rt, "bob")
    with_key = keyed(await bearer(rt, alice), "k")
    assert (await follow(client, with_key, "999999999")).code == 404
    assert keys(rt) == 0
    retried = await follow(client, with_key, bob.id)
    assert retried.code == 200 and header(retried, REPLAYED) is None
    assert follow_state(rt, alice, bob) == "accepted"


@pytest_twisted.ensureDeferred
async def test_failures_of_ours_are_not_remembered(
    rt: Runtime, client: Client, serve: Callable[..., Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 503 (database unavailable) or a 500 frees the key: the retry runs."""
    alice, bob = await make_user(rt, "alice"), await make_user(rt, "bob")
    with_key = keyed(await bearer(rt, alice), "k")
    real_follow = relationships.follow

    async def unavailable(*args: Any) -> Any:
        raise DatabaseUnavailable("down for the test")

    async def broken(*args: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(relationships, "follow", unavailable)
    assert (await follow(client, with_key, bob.id)).code == 503
    monkeypatch.setattr(relationships, "follow", broken)
    # 500 is no documented answer: this client does not check the contract.
    unchecked = serve(build_gateway(rt), contract=False)
    assert (await follow(unchecked, with_key, bob.id)).code == 500
    assert keys(rt) == 0

    monkeypatch.setattr(relationships, "follow", real_follow)
    retried = await follow(client, with_key, bob.id)
    assert retried.code == 200 and header(retried, REPLAYED) is None
    assert follow_state(rt, alice, bob) == "accepted"


@pytest_twisted.ensureDeferred
async def test_answers_are_kept_six_hours(
    rt: Runtime, serve: Callable[..., Client], clock: Clock
) -> None:
    """By the runtime's clock (advanced, not slept): replayed until 6 hours
    have passed, then the key runs again; housekeeping deletes it."""
    rt = replace(rt, clock=clock)
    client = serve(build_gateway(rt))
    alice, bob = await make_user(rt, "alice"), await make_user(rt, "bob")
    plain = await bearer(rt, alice)
    with_key = keyed(plain, "k")
    assert (await follow(client, with_key, bob.id)).code == 200
    await client.post(f"{ACCOUNTS}/{bob.id}/unfollow", headers=plain)

    clock.advance(6 * 3600 - 1)
    assert header(await follow(client, with_key, bob.id), REPLAYED) == ["true"]
    assert await idempotency.purge(rt) == 0
    clock.advance(1)
    assert await idempotency.purge(rt) == 1
    later = await follow(client, with_key, bob.id)
    assert later.code == 200 and header(later, REPLAYED) is None
    assert follow_state(rt, alice, bob) == "accepted"


@pytest_twisted.ensureDeferred
async def test_concurrent_requests_under_one_key_run_once(rt: Runtime, client: Client) -> None:
    """Uploads and posts sent together under one key: one effect each; the
    others wait for its answer and replay it."""
    alice = await make_user(rt, "alice")
    plain = await bearer(rt, alice)
    uploads = await gatherResults([upload(client, keyed(plain, "up")) for _ in range(5)])
    posts = await gatherResults(
        [
            client.post("/api/v1/statuses", headers=keyed(plain, "post"), json={"status": "x"})
            for _ in range(5)
        ]
    )
    for answers, table in ((uploads, "media"), (posts, "statuses")):
        assert [a.code for a in answers] == [200] * 5
        assert len({(await a.json())["id"] for a in answers}) == 1
        assert [header(a, REPLAYED) for a in answers].count(None) == 1
        assert count(rt, f"SELECT count(*) FROM {table}") == 1


@pytest_twisted.ensureDeferred
async def test_a_key_in_progress_is_a_409_until_its_lease_ends(
    rt: Runtime, serve: Callable[..., Client], clock: Clock
) -> None:
    """A request finding its key claimed and unanswered waits WAIT_SECONDS
    (by the runtime's clock), then answers 409 without running; a claim left
    unanswered for LEASE_SECONDS (its request died) is taken over."""
    rt = replace(rt, clock=clock)
    client = serve(build_gateway(rt))
    alice, bob = await make_user(rt, "alice"), await make_user(rt, "bob")
    with_key = keyed(await bearer(rt, alice), "k")
    query(
        rt.db.dsn,
        "INSERT INTO idempotency_keys (user_id, key, request, created_at)"
        " VALUES (%s, 'k', %s, to_timestamp(%s))",
        (alice.id, f"POST {ACCOUNTS}/{bob.id}/follow", clock.seconds()),
    )
    assert clock.getDelayedCalls() == []
    waiting = follow(client, with_key, bob.id)
    await eventually(clock.getDelayedCalls, "the request polls for the key's answer")
    clock.advance(idempotency.WAIT_SECONDS)
    waited = await waiting
    assert (waited.code, await waited.json()) == (409, IN_PROGRESS)
    assert follow_state(rt, alice, bob) is None

    clock.advance(idempotency.LEASE_SECONDS)
    taken_over = await follow(client, with_key, bob.id)
    assert taken_over.code == 200 and header(taken_over, REPLAYED) is None
    assert follow_state(rt, alice, bob) == "accepted"


@pytest_twisted.ensureDeferred
async def test_a_request_whose_client_went_away_still_answers_the_retry(rt: Runtime) -> None:
    """Cancelled (the connection was lost), a request under a key runs to
    its end all the same, and the retry gets its answer."""
    alice = await make_user(rt, "alice")
    gate: Deferred[None] = Deferred()

    async def slow(claim: Claim) -> idempotency.Answer:
        await gate
        return idempotency.Answer(200, '"done"')

    async def never(claim: Claim) -> idempotency.Answer:
        raise AssertionError("run again")

    first = Deferred.fromCoroutine(
        idempotency.once(rt, alice.id, "k", "POST /x", slow, request_id="a")
    )
    await eventually(lambda: keys(rt) == 1, "the key claimed")
    first.cancel()
    with pytest.raises(CancelledError):
        await first
    gate.callback(None)
    await eventually(
        lambda: query(rt.db.dsn, "SELECT status, body FROM idempotency_keys") == [(200, '"done"')],
        "the answer remembered",
    )
    retry = await idempotency.once(rt, alice.id, "k", "POST /x", never, request_id="b")
    assert (retry.status, retry.body, retry.replayed) == (200, '"done"', True)


@pytest_twisted.ensureDeferred
async def test_a_post_whose_claim_was_taken_over_is_rolled_back(rt: Runtime) -> None:
    """The status and its remembered answer commit together: a claim no
    longer held (taken over after its lease) posts nothing."""
    alice = await make_user(rt, "alice")
    lost = Claim(alice.id, "k", "POST /api/v1/statuses", token=1)
    with pytest.raises(idempotency.InProgress):
        await statuses.post_status(rt, alice, StatusForm(status="x"), render=repr, claim=lost)
    assert count(rt, "SELECT count(*) FROM statuses") == 0


def test_the_document_names_the_header_where_it_is_honoured() -> None:
    """Every POST, PUT and PATCH a user may call takes the header and may
    answer 409; the OAuth token routes (outside the reference's API
    pipelines) and routes without a user do not."""
    document = contract.document()
    honoured = set()
    for route in served_routes():
        described = document["paths"][route.path][route.method.lower()]
        names = {p["name"] for p in described.get("parameters", [])}
        takes = route.access is not None and route.access.remembers(route.method)
        assert ("Idempotency-Key" in names) == takes, f"{route.method} {route.path}"
        assert ("409" in described["responses"]) == takes, f"{route.method} {route.path}"
        if takes:
            honoured.add((route.method, route.path))
    assert ("POST", "/api/v1/accounts/{id}/follow") in honoured
    assert ("PUT", "/api/pleroma/notification_settings") in honoured
    assert ("POST", "/api/v1/statuses") in honoured
    for route in ("/oauth/token", "/oauth/revoke", "/auth/sign_out", "/api/v1/apps"):
        assert ("POST", route) not in honoured
