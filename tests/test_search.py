"""GET /api/v2/search: statuses found by their words, never beyond what the reader may see."""

from __future__ import annotations

from typing import Any

import pytest_twisted

from pleromad.runtime import Runtime
from tests.conftest import Client
from tests.test_auth import make_token, make_user


async def post(client: Client, auth: dict[str, str], text: str, visibility: str) -> str:
    response = await client.post(
        "/api/v1/statuses", headers=auth, json={"status": text, "visibility": visibility}
    )
    assert response.code == 200, await response.text()
    return (await response.json())["id"]


async def found(client: Client, query: str, auth: dict[str, str] | None = None) -> list[Any]:
    response = await client.get(
        "/api/v2/search", params={"q": query, "type": "statuses"}, headers=auth or {}
    )
    assert response.code == 200
    return [status["id"] for status in (await response.json())["statuses"]]


@pytest_twisted.ensureDeferred
async def test_statuses_are_found_by_their_words_within_visibility(
    rt: Runtime, client: Client
) -> None:
    """Every word of the query must occur; newest first; a private status is
    found by its author but by no stranger or anonymous reader."""
    alice = await make_user(rt, "alice")
    bob = await make_user(rt, "bob")
    as_alice = {
        "Authorization": f"Bearer {(await make_token(rt, alice, ['read', 'write'])).access_token}"
    }
    as_bob = {
        "Authorization": f"Bearer {(await make_token(rt, bob, ['read', 'write'])).access_token}"
    }
    older = await post(client, as_alice, "Cheese and crackers for lunch", "public")
    newer = await post(client, as_alice, "More cheese, said the mouse", "unlisted")
    secret = await post(client, as_alice, "Secret cheese stash", "private")
    await post(client, as_alice, "Nothing to see here", "public")
    assert await found(client, "cheese") == [newer, older]
    assert await found(client, "CHEESE crackers") == [older]
    assert await found(client, "cheese", as_bob) == [newer, older]
    assert await found(client, "cheese", as_alice) == [secret, newer, older]
    assert await found(client, "cheddar") == []
