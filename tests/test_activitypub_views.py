"""The ActivityPub builders other parts send activities with (pure functions)."""

from __future__ import annotations

from pleromad.views.activitypub import (
    AP_CONTEXT,
    build_accept,
    build_announce,
    build_block,
    build_delete,
    build_follow,
    build_like,
    build_reject,
    build_undo,
    build_update,
    tombstone,
)

A = "https://a.example/users/a"
B = "https://b.example/users/b"
NOTE = "https://b.example/objects/1"


def test_follow_and_its_answers_embed_the_follow_without_its_context() -> None:
    """A Follow goes to the followee; an Accept or Reject embeds the Follow
    (without a second @context) and goes back to its sender."""
    follow = build_follow("https://a.example/activities/1", A, B)
    assert follow == {
        "@context": AP_CONTEXT,
        "id": "https://a.example/activities/1",
        "type": "Follow",
        "actor": A,
        "object": B,
        "to": [B],
        "cc": [],
    }
    for build, kind in ((build_accept, "Accept"), (build_reject, "Reject")):
        answer = build("https://b.example/activities/2", B, follow, A)
        assert (answer["type"], answer["actor"], answer["to"]) == (kind, B, [A])
        assert answer["object"] == {k: v for k, v in follow.items() if k != "@context"}
        assert build("x", B, follow["id"], A)["object"] == follow["id"]


def test_undo_like_announce_block() -> None:
    """Undo embeds what it undoes; a Like goes to the author; an Announce
    carries its addressing and date; a Block names the blocked."""
    like = build_like("https://a.example/activities/3", A, NOTE, B)
    assert (like["type"], like["object"], like["to"]) == ("Like", NOTE, [B])
    assert like["cc"] == [f"{A}/followers"]
    undo = build_undo("https://a.example/activities/4", A, like, to=[B])
    assert undo["type"] == "Undo" and undo["object"]["id"] == like["id"]
    assert "@context" not in undo["object"]
    announce = build_announce("i", A, NOTE, ["p"], [B], "2026-01-01T00:00:00.000Z")
    assert (announce["to"], announce["cc"], announce["published"]) == (
        ["p"],
        [B],
        "2026-01-01T00:00:00.000Z",
    )
    block = build_block("j", A, B)
    assert (block["type"], block["object"], block["to"]) == ("Block", B, [B])


def test_delete_and_update() -> None:
    """Delete takes a Tombstone or an id; Update embeds the new document."""
    delete = build_delete("k", A, tombstone(NOTE), [B], [])
    assert delete["object"] == {"id": NOTE, "type": "Tombstone", "formerType": "Note"}
    assert build_delete("k", A, A, [B], [])["object"] == A
    update = build_update("l", A, {"@context": AP_CONTEXT, "id": A, "type": "Person"}, [B], [])
    assert update["object"] == {"id": A, "type": "Person"}
